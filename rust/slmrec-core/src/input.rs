//! Input streams: a file, gzip or not, delivered as chunks of whole lines from a background thread.
//!
//! Design: decompression and parsing overlap. A reader thread inflates (multi-member gzip, detected by its
//! magic bytes, not by the file name) into ~1 MiB buffers cut at the last newline and hands them over a
//! bounded channel, so memory stays constant whatever the file size; buffers are recycled. A truncated or
//! corrupt gzip stream is an error at the point it is found, never an early end of file.

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
    fn add_done(&self, n: u64) {
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

/// Opens `path` for reading, checking it is a regular, readable file. Returns the file and its size.
pub fn open_file(path: &Path) -> Result<(File, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::format(path, 0, "is a directory, expected a file"));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok((file, meta.len()))
}

/// Whether the file starts with the gzip magic bytes.
fn is_gzip(file: &mut File, path: &Path) -> Result<bool> {
    use std::io::{Seek, SeekFrom};
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// A readable, decompressed view of `path`, and whether it was gzip.
pub fn open_stream(path: &Path, progress: Option<Arc<Progress>>) -> Result<(Box<dyn Read + Send>, bool)> {
    let (mut file, _) = open_file(path)?;
    let gz = is_gzip(&mut file, path)?;
    let counted = Counting { inner: file, progress };
    let reader: Box<dyn Read + Send> = if gz {
        Box::new(MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, counted)))
    } else {
        Box::new(counted)
    };
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
    /// Starts reading `path` on a background thread.
    pub fn spawn(path: &Path, progress: Option<Arc<Progress>>) -> Result<Self> {
        let (reader, gzip) = open_stream(path, progress)?;
        let (tx, rx) = mpsc::sync_channel::<Chunk>(IN_FLIGHT);
        let (recycle, spare) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        let handle = std::thread::Builder::new()
            .name("slmrec-read".into())
            .spawn(move || produce(reader, tx, spare))
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

fn produce(mut reader: Box<dyn Read + Send>, tx: SyncSender<Chunk>, spare: Receiver<Vec<u8>>) {
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
        // Fill to CHUNK_BYTES, then keep going until the chunk holds at least one newline (long lines).
        let mut eof = false;
        loop {
            let have = len;
            let want = if have < CHUNK_BYTES { CHUNK_BYTES - have } else { CHUNK_BYTES };
            if buf.len() < have + want {
                buf.resize(have + want, 0);
            }
            let (n, err) = read_full(&mut reader, &mut buf[have..have + want]);
            len = have + n;
            if let Some(e) = err {
                // Hand over the whole lines decoded before the break, so the error names the right line.
                if let Some(last) = memchr::memrchr(b'\n', &buf[..len]) {
                    buf.truncate(last + 1);
                    if tx.send(Chunk::Lines(buf)).is_err() {
                        return;
                    }
                }
                let _ = tx.send(Chunk::Broken(describe(&e)));
                return;
            }
            if n < want {
                eof = true;
                break;
            }
            if len >= CHUNK_BYTES && memchr::memrchr(b'\n', &buf[have..len]).is_some() {
                break;
            }
        }
        buf.truncate(len);
        if !eof {
            if let Some(last) = memchr::memrchr(b'\n', &buf) {
                tail.extend_from_slice(&buf[last + 1..]);
                buf.truncate(last + 1);
            }
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
