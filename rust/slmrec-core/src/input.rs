//! Input streams: a file, gzip or not, delivered as chunks of whole lines from a background thread.
//!
//! Design: decompression and parsing overlap. A reader thread inflates (multi-member gzip, detected by its
//! magic bytes, not by the file name) into ~1 MiB buffers cut at the last newline and hands them over a
//! bounded channel, so memory stays constant whatever the file size; buffers are recycled. A truncated or
//! corrupt gzip stream is an error at the point it is found, never an early end of file. [`lines`] splits a
//! chunk into its lines.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// How many bytes a chunk holds before it is cut at a newline.
pub const CHUNK_BYTES: usize = 1 << 20;
const IN_FLIGHT: usize = 4;

/// Bytes read so far (compressed, as on disk) out of a known total, shared with whoever draws progress.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// A fresh counter.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Bytes read so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
    /// Bytes to read in all (the sum of the input files' sizes).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    /// Adds to the total.
    pub fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }
    /// Adds to the bytes read.
    pub fn add_done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

struct Counting<R> {
    inner: R,
    progress: Option<Arc<Progress>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.add_done(n as u64);
        }
        Ok(n)
    }
}

/// Opens `path` for reading, checking it is a file (not a directory) that can be opened, and that it is not in a
/// format no reader here takes (bzip2, xz, zstd, zip, and Parquet unless `parquet_ok`: told by their magic
/// bytes). Returns its size (0 for a pipe or a device: those are read as streams, opened once and never sought,
/// so that no byte is lost; they are sniffed when their stream starts).
pub fn check_file(path: &Path, parquet_ok: bool) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::format(path, 0, "is a directory, expected a file"));
    }
    if meta.is_file() {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let (head, got) = read_head(&mut file, path)?;
        if parquet_ok && parquet_magic(&head[..got]) {
            return Ok(meta.len());
        }
        if let Some(reason) = unsupported(&head[..got], path) {
            return Err(Error::format(path, 0, reason));
        }
    }
    Ok(if meta.is_file() { meta.len() } else { 0 })
}

/// Whether `path` is a regular file that starts with Parquet's magic bytes (a pipe is never sniffed here: it
/// is read as a text stream, which refuses Parquet with a message).
pub fn is_parquet(path: &Path) -> Result<bool> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Ok(false);
    }
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let (head, got) = read_head(&mut file, path)?;
    Ok(parquet_magic(&head[..got]))
}

/// Parquet's `PAR1`, confirmed by a binary byte after it (so that a text file whose first id is `PAR1` is text).
fn parquet_magic(head: &[u8]) -> bool {
    head.starts_with(b"PAR1") && head.get(4).is_none_or(|&b| !(b.is_ascii_graphic() || b.is_ascii_whitespace()))
}

/// Opens `path` for reading, checking it is not a directory. Returns the file and its size (0 when it is not a
/// regular file: a pipe, `/dev/stdin`, a device).
pub fn open_file(path: &Path) -> Result<(File, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::format(path, 0, "is a directory, expected a file"));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok((file, if meta.is_file() { meta.len() } else { 0 }))
}

/// How many leading bytes are sniffed for a format's magic number.
const HEAD: usize = 6;

/// Reads up to [`HEAD`] bytes (fewer only at the end of the stream).
fn read_head(r: &mut impl Read, path: &Path) -> Result<([u8; HEAD], usize)> {
    let mut head = [0u8; HEAD];
    let mut got = 0;
    while got < HEAD {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok((head, got))
}

/// Why a file that starts with `head` cannot be read here, when its magic bytes name a format we do not take.
/// The short magic numbers are confirmed by the byte after them, so that a text file whose first id happens to
/// start with `PAR1` or `BZh` is still read: Parquet's `PAR1` is followed by binary page data, bzip2's `BZh` by
/// a block size digit and the first bytes of a block (or end-of-stream) marker.
fn unsupported(head: &[u8], path: &Path) -> Option<String> {
    let f = path.display();
    let compressed = |what: &str, cmd: &str| {
        Some(format!(
            "is {what}-compressed; slmrec-prep reads plain or gzip-compressed text: decompress it first ({cmd} {f}), \
             or recompress it with gzip"
        ))
    };
    if parquet_magic(head) {
        Some(
            "is a Parquet file; Parquet is read by the table format only (--format table, or no --format), from a \
             regular file (not a pipe), and not as metadata"
                .into(),
        )
    } else if head.starts_with(b"BZh")
        && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d))
        && matches!(head.get(4..6), Some([0x31, 0x41]) | Some([0x17, 0x72]))
    {
        compressed("bzip2", "bunzip2 -k")
    } else if head.starts_with(&[0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) {
        compressed("xz", "xz -dk")
    } else if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        compressed("zstd", "zstd -d")
    } else if head.starts_with(b"PK\x03\x04") {
        Some(format!("is a zip archive; extract it first (unzip {f})"))
    } else {
        None
    }
}

/// A readable, decompressed view of `path`, and whether it was gzip.
///
/// The magic bytes are read from the stream and put back in front of it (never by seeking), so a pipe or
/// `/dev/stdin` reads like a file.
pub fn open_stream(path: &Path, progress: Option<Arc<Progress>>) -> Result<(Box<dyn Read + Send>, bool)> {
    let (file, _) = open_file(path)?;
    let mut counted = Counting { inner: file, progress };
    let (head, got) = read_head(&mut counted, path)?;
    if let Some(reason) = unsupported(&head[..got], path) {
        return Err(Error::format(path, 0, reason));
    }
    let gz = got >= 2 && head[..2] == [0x1f, 0x8b];
    let whole = io::Cursor::new(head[..got].to_vec()).chain(counted);
    let reader: Box<dyn Read + Send> =
        if gz { Box::new(MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, whole))) } else { Box::new(whole) };
    Ok((reader, gz))
}

/// A message from the reader thread.
pub enum Chunk {
    /// Whole lines (the last one may lack its newline only at the end of the file).
    Lines(Vec<u8>),
    /// The stream broke: the reason.
    Broken(String),
}

/// Whole-line chunks of one file, produced on a background thread.
pub struct LineChunks {
    rx: Option<Receiver<Chunk>>,
    recycle: SyncSender<Vec<u8>>,
    handle: Option<JoinHandle<()>>,
    /// The file being read.
    pub path: PathBuf,
    /// Whether the file is gzip-compressed.
    pub gzip: bool,
}

impl LineChunks {
    /// Starts reading `path` on a background thread. A line longer than `max_line` bytes (the bytes before its
    /// line feed) ends the stream with [`Chunk::Broken`] once `max_line` bytes of it are buffered, after the whole
    /// lines before it: memory stays within `max_line` plus two chunks whatever the input.
    pub fn spawn(path: &Path, progress: Option<Arc<Progress>>, max_line: usize) -> Result<Self> {
        let (reader, gzip) = open_stream(path, progress)?;
        let (tx, rx) = mpsc::sync_channel::<Chunk>(IN_FLIGHT);
        let (recycle, spare) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("slmrec-read".into())
            .spawn(move || produce(reader, tx, spare, max_line.max(1)))
            .map_err(|e| Error::io(path, e))?;
        Ok(Self { rx: Some(rx), recycle, handle: Some(handle), path: path.to_path_buf(), gzip })
    }

    /// The next chunk, or `None` at the end of the file.
    pub fn next_chunk(&mut self) -> Option<Chunk> {
        self.rx.as_ref().and_then(|rx| rx.recv().ok())
    }

    /// Hands a consumed buffer back to the reader for reuse.
    pub fn give_back(&self, buf: Vec<u8>) {
        let _ = self.recycle.try_send(buf);
    }
}

impl Drop for LineChunks {
    fn drop(&mut self) {
        // Closing the receiver makes the producer's next send fail, so it stops.
        self.rx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The reason a stream stops at a line longer than `max` bytes.
pub fn too_long(max: usize) -> String {
    format!("line longer than {max} bytes (the limit is --max-line-bytes / max_line_bytes)")
}

fn produce(mut reader: Box<dyn Read + Send>, tx: SyncSender<Chunk>, spare: Receiver<Vec<u8>>, max_line: usize) {
    let mut tail: Vec<u8> = Vec::new();
    loop {
        // A recycled buffer comes back with its bytes initialised: reading over them needs no zeroing, so
        // `len` (the bytes filled so far) is tracked apart from `buf.len()` until the chunk is sent.
        let mut buf = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES + (1 << 16)));
        let mut len = tail.len();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        buf[..len].copy_from_slice(&tail);
        tail.clear();
        // Where the line being read starts (the carried-over tail is the start of an unterminated line).
        let mut line_start = 0;
        // Fill to CHUNK_BYTES, then keep going until the chunk holds at least one newline (long lines), but never
        // past a line of `max_line` bytes.
        let mut eof = false;
        loop {
            let have = len;
            let want = if have < CHUNK_BYTES { CHUNK_BYTES - have } else { CHUNK_BYTES };
            if buf.len() < have + want {
                buf.resize(have + want, 0);
            }
            let (n, err) = read_full(&mut reader, &mut buf[have..have + want]);
            len = have + n;
            if let Some(last) = memchr::memrchr(b'\n', &buf[have..len]) {
                line_start = have + last + 1;
            }
            let long = len - line_start > max_line;
            if long || err.is_some() {
                // Hand over the whole lines decoded before the break, so the error names the right line.
                if let Some(last) = memchr::memrchr(b'\n', &buf[..len]) {
                    buf.truncate(last + 1);
                    if tx.send(Chunk::Lines(buf)).is_err() {
                        return;
                    }
                }
                let reason = match err {
                    Some(e) if !long => describe(&e),
                    _ => too_long(max_line),
                };
                let _ = tx.send(Chunk::Broken(reason));
                return;
            }
            if n < want {
                eof = true;
                break;
            }
            if len >= CHUNK_BYTES && line_start > 0 {
                break;
            }
        }
        buf.truncate(len);
        if !eof && line_start > 0 {
            tail.extend_from_slice(&buf[line_start..]);
            buf.truncate(line_start);
        }
        if !buf.is_empty() && tx.send(Chunk::Lines(buf)).is_err() {
            return;
        }
        if eof {
            return;
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read and the error that stopped it, if any.
fn read_full(reader: &mut dyn Read, mut buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while !buf.is_empty() {
        match reader.read(buf) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                buf = &mut buf[k..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "truncated gzip stream (the file ends inside a compressed member)".into(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
            format!("corrupt gzip stream: {e}")
        }
        _ => format!("read error: {e}"),
    }
}

/// The lines of `buf`, each with its newline (the last one may lack it): `split_inclusive` on b'\n', found
/// with `memchr` instead of a byte-at-a-time predicate.
pub fn lines(buf: &[u8]) -> Lines<'_> {
    Lines { rest: buf }
}

pub struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', self.rest).map_or(self.rest.len(), |nl| nl + 1);
        let (line, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(line)
    }
}

/// A line without its newline (LF or CRLF), and without a UTF-8 byte-order mark when it starts the file.
pub fn line_body(raw: &[u8], file_start: bool) -> &[u8] {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if file_start {
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `produce` over `reader` with `max_line`; returns what it sent.
    fn chunks(reader: impl Read + Send + 'static, max_line: usize) -> Vec<std::result::Result<Vec<u8>, String>> {
        let (tx, rx) = mpsc::sync_channel::<Chunk>(IN_FLIGHT);
        let (_recycle, spare) = mpsc::sync_channel::<Vec<u8>>(1);
        let h = std::thread::spawn(move || produce(Box::new(reader), tx, spare, max_line));
        let got = rx
            .iter()
            .map(|c| match c {
                Chunk::Lines(b) => Ok(b),
                Chunk::Broken(r) => Err(r),
            })
            .collect();
        h.join().expect("the producer thread");
        got
    }

    #[test]
    fn a_line_over_the_limit_ends_the_stream_after_the_lines_before_it() {
        // Unterminated at the end of what was read: cut after the whole lines before it.
        let data = [&b"ab\ncd\n"[..], &[b'x'; 100]].concat();
        assert_eq!(chunks(io::Cursor::new(data), 10), vec![Ok(b"ab\ncd\n".to_vec()), Err(too_long(10))]);
        // A long line that ends inside the chunk is handed on whole (bounded by the chunk): the parser names it.
        let data = [&b"ab\n"[..], &[b'x'; 100], b"\nef\n"].concat();
        assert_eq!(chunks(io::Cursor::new(data.clone()), 10), vec![Ok(data)]);
        // At the limit exactly (the bytes before the line feed), and an unterminated last line at the limit.
        let data = [&[b'x'; 10][..], b"\n", &[b'y'; 10]].concat();
        assert_eq!(chunks(io::Cursor::new(data.clone()), 10), vec![Ok(data)]);
        // One byte over, unterminated.
        assert_eq!(chunks(io::Cursor::new(vec![b'z'; 11]), 10), vec![Err(too_long(10))]);
    }

    #[test]
    fn an_endless_line_is_stopped_with_bounded_memory() {
        // `/dev/zero` as a reader: without the limit this grows until memory runs out.
        let started = std::time::Instant::now();
        let got = chunks(io::repeat(0), 3 << 20);
        assert_eq!(got, vec![Err(too_long(3 << 20))]);
        assert!(started.elapsed().as_secs() < 20);
        // Endless short lines are not a long line: the stream goes on chunk by chunk (taken here: 3 chunks).
        let (tx, rx) = mpsc::sync_channel::<Chunk>(IN_FLIGHT);
        let (_recycle, spare) = mpsc::sync_channel::<Vec<u8>>(1);
        let h = std::thread::spawn(move || produce(Box::new(io::repeat(b'\n')), tx, spare, 10));
        for _ in 0..3 {
            assert!(matches!(rx.recv(), Ok(Chunk::Lines(b)) if b.len() <= 2 * CHUNK_BYTES));
        }
        drop(rx);
        h.join().expect("the producer thread");
    }

    #[test]
    fn magic_bytes_name_the_formats_we_do_not_read() {
        let p = Path::new("F");
        let said = |head: &[u8]| unsupported(head, p).unwrap_or_default();
        assert!(said(b"PAR1\x15\x04").starts_with("is a Parquet file"));
        assert!(said(b"BZh91A").contains("(bunzip2 -k F)"));
        assert!(
            said(&[0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]).contains("is xz-compressed; ")
                && said(&[0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]).contains("(xz -dk F)")
        );
        assert!(said(&[0x28, 0xB5, 0x2F, 0xFD, 0, 0]).contains("(zstd -d F)"));
        assert!(said(b"PK\x03\x04ab").contains("zip archive"));
        // Text that starts like a magic number is text.
        for ok in
            [&b""[..], b"{", b"\x1f\x8b\x08", b"a,U1,5,1", b"PAR", b"BZ", b"PAR1-X", b"PAR1 ", b"BZh9,U", b"BZhx12"]
        {
            assert_eq!(unsupported(ok, p), None, "{ok:?}");
        }
    }

    #[test]
    fn lines_split_like_split_inclusive() {
        for buf in [&b""[..], b"\n", b"\n\n", b"a", b"a\n", b"a\nbc", b"a\r\nbc\n\nd", b"\n\nxyz\n"] {
            let want: Vec<&[u8]> = buf.split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(lines(buf).collect::<Vec<_>>(), want, "{buf:?}");
        }
    }
}
