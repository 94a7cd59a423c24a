//! The read of interaction files: each file inflated on one thread, its chunks of lines parsed on several,
//! and merged into one [`RawTable`] in input order on the calling thread, with every line accounted for.
//!
//! Design: parsing is parallel and interning serial. A worker turns a chunk into records whose raw ids sit in
//! the chunk's arena with their hashes; the merge numbers them in chunk order, so the table is the same for
//! any thread count. A file's format (given or detected) and its first line fix the parser before the first
//! chunk is handed out. Counts reconcile: `lines = data_lines + blank_lines + header_lines + bad_lines`, where
//! a line is a record's line: a quoted field holding line feeds (a table, [`Framing::Quoted`]) makes one
//! record of several physical lines, counted once; messages name the physical line the record starts on. For
//! those formats the chunks are cut again here, after the last line feed outside quotes, so that a record never
//! straddles two chunks. A Parquet table is read by row groups (`read/parquet.rs`), a row counted as a line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::sync::Mutex;

use serde::Serialize;

use super::detect::{detect, first_lines};
use super::formats::table::{last_record_end, records, Records};
use super::formats::{bad, BadLine, Format, Framing, LineFormat, SeqLines};
use super::intern::{id_hash, RawTable, Table};
use super::{OnBadLine, ReadOptions};
use crate::error::{Error, Result};
use crate::input::{line_body, lines, Chunk, LineChunks, Lines, Progress};
use crate::json::Scanner;

/// Bad lines of one reason.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BadReason {
    /// How many lines.
    pub count: u64,
    /// The first few, as `file:line: detail`.
    pub first: Vec<String>,
}

/// What one input file held.
#[derive(Debug, Clone, Serialize)]
pub struct FileStats {
    /// The path as given.
    pub path: String,
    /// The format it was read as.
    pub format: Format,
    /// Whether it was gzip.
    pub gzip: bool,
    /// Its size on disk.
    pub bytes: u64,
    /// Lines read (a final line without newline counts; a record whose quoted field holds line feeds is one
    /// line; a Parquet row is a line).
    pub lines: u64,
    /// Records produced.
    pub records: u64,
    /// Lines skipped as bad.
    pub bad_lines: u64,
    /// How the records were read from each line: the columns (or JSON keys) for user, item, rating and
    /// timestamp, in the file's order.
    pub columns: String,
    /// Where that reading comes from: `position` (ratings CSV, sequence lines, ratings.dat), `header` (RecBole,
    /// tables) or `key` (JSON).
    pub columns_by: &'static str,
}

/// Counts from reading, reconciled: `lines = data_lines + blank_lines + header_lines + bad_lines`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ReadStats {
    /// Every line of every input.
    pub lines_read: u64,
    /// Lines that produced records.
    pub data_lines: u64,
    /// Empty or whitespace-only lines (ignored).
    pub blank_lines: u64,
    /// Header lines (RecBole, tables).
    pub header_lines: u64,
    /// Lines skipped as bad (only with `--on-bad-line skip`).
    pub bad_lines: u64,
    /// Bad lines by reason.
    pub bad_line_reasons: BTreeMap<String, BadReason>,
    /// Records produced (a sequence line yields several).
    pub records: u64,
    /// Records whose timestamp had a fraction that was dropped (float timestamps, ISO-8601 fractions finer than
    /// the file's unit).
    pub timestamps_truncated: u64,
    /// Records whose file has no timestamp column, ordered by their position instead.
    pub timestamps_from_position: u64,
    /// Per input file (`inputs` in stats.json).
    #[serde(rename = "inputs")]
    pub files: Vec<FileStats>,
}

const FIRST_BAD_KEPT: usize = 5;

/// One record of a parsed chunk; its raw ids live in the chunk's arena (`user_start..user_end`, then the
/// item up to `item_end`) with their [`id_hash`]es. `ts` is `None` when the file has no timestamps (the
/// position is used).
struct ParsedRec {
    user_start: u32,
    user_end: u32,
    item_end: u32,
    user_hash: u64,
    item_hash: u64,
    ts: Option<i64>,
    rating: f32,
}

/// What a worker made of one chunk of lines; merged into the table in input order.
#[derive(Default)]
pub(crate) struct ParsedChunk {
    /// Physical lines (what line numbers count).
    lines: u64,
    /// Line feeds inside quoted fields (`lines - joined` is the lines the counts see).
    joined: u64,
    blank: u64,
    header: u64,
    data: u64,
    /// Records whose timestamp had a fraction that was dropped.
    pub truncated: u64,
    arena: String,
    recs: Vec<ParsedRec>,
    /// Bad lines: (1-based line index inside the chunk, what is wrong).
    bad: Vec<(u64, BadLine)>,
}

impl ParsedChunk {
    /// Counts a line (a Parquet row) that gave a record.
    pub fn line_ok(&mut self) {
        self.lines += 1;
        self.data += 1;
    }

    /// Counts a bad line (a Parquet row).
    pub fn line_bad(&mut self, b: BadLine) {
        self.lines += 1;
        self.bad.push((self.lines, b));
    }

    /// Adds one record.
    pub fn push(&mut self, user: &str, item: &str, ts: Option<i64>, rating: f32) {
        let user_start = self.arena.len() as u32;
        self.arena.push_str(user);
        let user_end = self.arena.len() as u32;
        self.arena.push_str(item);
        let (user_hash, item_hash) = (id_hash(user), id_hash(item));
        self.recs.push(ParsedRec {
            user_start,
            user_end,
            item_end: self.arena.len() as u32,
            user_hash,
            item_hash,
            ts,
            rating,
        });
    }
}

/// Reads every file, in order, into one table.
pub fn read_interactions(
    paths: &[PathBuf],
    opts: &ReadOptions,
    progress: Option<Arc<Progress>>,
) -> Result<(Table, ReadStats)> {
    if paths.is_empty() {
        return Err(Error::InvalidArgument("no input file given".into()));
    }
    // Check every path before the long read starts, so a typo in the last one fails at once.
    let mut sizes = Vec::with_capacity(paths.len());
    let parquet_ok = matches!(opts.format, None | Some(Format::Table));
    for p in paths {
        let size = crate::input::check_file(p, parquet_ok)?;
        sizes.push(size);
        if let Some(pr) = &progress {
            pr.add_total(size);
        }
    }
    let mut table = RawTable::default();
    let mut stats = ReadStats::default();
    for (path, size) in paths.iter().zip(sizes) {
        read_one(path, size, opts, progress.clone(), &mut table, &mut stats)?;
    }
    crate::limits::release_free_memory();
    Ok((table.finish(), stats))
}

/// One parse job: chunk number, its bytes, the parser, the header line inside it (if any), whether it starts
/// the file.
type Job = (u64, Vec<u8>, Arc<dyn LineFormat>, Framing, Option<u64>, bool);

/// Reads one file: a reader thread inflates, `threads` workers parse chunks, this thread merges them in order.
fn read_one(
    path: &Path,
    size: u64,
    opts: &ReadOptions,
    progress: Option<Arc<Progress>>,
    table: &mut RawTable,
    stats: &mut ReadStats,
) -> Result<()> {
    let parquet = crate::input::is_parquet(path)?;
    let mut merger = Merger {
        path,
        policy: opts.on_bad_line,
        table,
        stats,
        file: FileStats {
            path: path.display().to_string(),
            format: opts.format.unwrap_or(if parquet { Format::Table } else { Format::AmazonJson }),
            gzip: false,
            bytes: size,
            lines: 0,
            records: 0,
            bad_lines: 0,
            columns: String::new(),
            columns_by: "",
        },
        line_base: 0,
        lines: 0,
    };
    let records_before = merger.table.len() as u64;
    if parquet {
        opts.check_for(Format::Table).map_err(|e| Error::format(path, 0, e))?;
        let columns = super::parquet::read(path, opts, progress, |chunk| merger.merge(chunk))?;
        merger.file.columns = columns;
        merger.file.columns_by = "header";
        merger.finish(records_before);
        return Ok(());
    }
    let mut chunks = LineChunks::spawn(path, progress, opts.max_line_bytes)?;
    merger.file.gzip = chunks.gzip;
    let workers = rayon::current_num_threads().max(1);
    let stop_at_first_bad = opts.on_bad_line == OnBadLine::Fail;
    let max_line = opts.max_line_bytes;

    std::thread::scope(|scope| -> Result<()> {
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<(u64, Vec<u8>, ParsedChunk)>();
        for _ in 0..workers {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            scope.spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((seq, buf, parser, framing, header_at, file_start)) = job else {
                    return;
                };
                let parsed = parse_chunk(&*parser, framing, &buf, header_at, file_start, stop_at_first_bad, max_line);
                if done_tx.send((seq, buf, parsed)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);

        let mut parser: Option<Arc<dyn LineFormat>> = None;
        let mut framing = Framing::Lines;
        // Framing::Quoted: the bytes after the last record end seen (the start of a record), and whether a
        // quote is open at their end.
        let (mut carry, mut carry_quoted): (Vec<u8>, bool) = (Vec::new(), false);
        let (mut sent, mut merged) = (0u64, 0u64);
        let mut waiting: BTreeMap<u64, (Vec<u8>, ParsedChunk)> = BTreeMap::new();
        let mut broken: Option<String> = None;
        // The header's 1-based line, counted from the start of the next job: a quoted file's first record can be
        // carried past the chunk it was detected in (into a later job, or the file's last one).
        let mut pending_header: Option<u64> = None;
        while let Some(chunk) = chunks.next_chunk() {
            let buf = match chunk {
                Chunk::Lines(buf) => buf,
                Chunk::Broken(reason) => {
                    broken = Some(reason);
                    break;
                }
            };
            // The bytes handed out next (the carry of a quoted file first) start the file when nothing was handed out.
            let file_start = sent == 0 && merger.line_base == 0;
            if parser.is_none() {
                match first_lines(&buf, file_start) {
                    None => {
                        // Nothing to detect from yet: the chunk's lines are blank or not UTF-8, so no parser
                        // is called and any will do.
                        let parsed =
                            parse_chunk(&SeqLines, Framing::Lines, &buf, None, file_start, stop_at_first_bad, max_line);
                        waiting.insert(sent, (buf, parsed));
                        sent += 1;
                        merge_ready(&chunks, &mut waiting, &mut merged, &mut merger)?;
                        continue;
                    }
                    Some((idx, text, next)) => {
                        let format = match opts.format {
                            Some(f) => f,
                            None => detect(path, &text)?,
                        };
                        merger.file.format = format;
                        let at = |e: String| Error::format(path, merger.line_base + idx, e);
                        opts.check_for(format).map_err(|e| Error::format(path, 0, e))?;
                        let opened = (format.spec().open)(&text, next.as_deref(), opts).map_err(at)?;
                        merger.file.columns = opened.columns;
                        merger.file.columns_by = opened.columns_by;
                        pending_header = opened.header.then_some(idx);
                        framing = opened.framing;
                        parser = Some(Arc::from(opened.parser));
                    }
                }
            }
            let Some(p) = &parser else { continue };
            let mut too_long = false;
            let buf = if framing == Framing::Quoted {
                let (cut, quoted_end) = last_record_end(&buf, carry_quoted);
                carry_quoted = quoted_end;
                match cut {
                    None => {
                        carry.extend_from_slice(&buf);
                        chunks.give_back(buf);
                        // A record longer than the limit (an unterminated quote, most often): handed on as it is,
                        // so that the parser names its first line; the read stops there.
                        if carry.len() <= max_line {
                            continue;
                        }
                        too_long = true;
                        std::mem::take(&mut carry)
                    }
                    Some(c) if carry.is_empty() => {
                        let mut buf = buf;
                        carry.extend_from_slice(&buf[c..]);
                        buf.truncate(c);
                        buf
                    }
                    Some(c) => {
                        let mut job = std::mem::take(&mut carry);
                        job.extend_from_slice(&buf[..c]);
                        carry.extend_from_slice(&buf[c..]);
                        chunks.give_back(buf);
                        job
                    }
                }
            } else {
                buf
            };
            let header_at = header_in(&mut pending_header, &buf);
            if job_tx.send((sent, buf, p.clone(), framing, header_at, file_start)).is_err() {
                break;
            }
            sent += 1;
            while let Ok((seq, buf, parsed)) = done_rx.try_recv() {
                waiting.insert(seq, (buf, parsed));
            }
            merge_ready(&chunks, &mut waiting, &mut merged, &mut merger)?;
            if too_long {
                break;
            }
        }
        // The last record of a quoted file (no line feed after it, or a quote left open).
        if !carry.is_empty() && broken.is_none() {
            if let Some(p) = &parser {
                let file_start = sent == 0 && merger.line_base == 0;
                let header_at = header_in(&mut pending_header, &carry);
                if job_tx.send((sent, carry, p.clone(), framing, header_at, file_start)).is_ok() {
                    sent += 1;
                }
            }
        }
        drop(job_tx);
        while merged < sent {
            match done_rx.recv() {
                Ok((seq, buf, parsed)) => {
                    waiting.insert(seq, (buf, parsed));
                    merge_ready(&chunks, &mut waiting, &mut merged, &mut merger)?;
                }
                Err(_) => break,
            }
        }
        if let Some(reason) = broken {
            return Err(Error::format(path, merger.line_base + 1, reason));
        }
        Ok(())
    })?;

    merger.finish(records_before);
    Ok(())
}

/// Merges the parsed chunks that are next in input order, handing their buffers back to the reader.
fn merge_ready(
    chunks: &LineChunks,
    waiting: &mut BTreeMap<u64, (Vec<u8>, ParsedChunk)>,
    merged: &mut u64,
    merger: &mut Merger<'_>,
) -> Result<()> {
    while let Some((buf, parsed)) = waiting.remove(merged) {
        merger.merge(parsed)?;
        chunks.give_back(buf);
        *merged += 1;
    }
    Ok(())
}

/// Merges parsed chunks into the table, in input order, turning chunk-relative line numbers into file ones.
struct Merger<'a> {
    path: &'a Path,
    policy: OnBadLine,
    table: &'a mut RawTable,
    stats: &'a mut ReadStats,
    file: FileStats,
    /// Physical lines of this file merged so far (what line numbers count from).
    line_base: u64,
    /// Lines of this file merged so far as the counts see them (a quoted record of several lines is one).
    lines: u64,
}

impl Merger<'_> {
    /// Records the file's counts in the read's statistics.
    fn finish(self, records_before: u64) {
        let Merger { mut file, table, stats, lines, .. } = self;
        file.lines = lines;
        file.records = table.len() as u64 - records_before;
        stats.lines_read += lines;
        stats.records += file.records;
        stats.files.push(file);
    }

    fn merge(&mut self, chunk: ParsedChunk) -> Result<()> {
        if self.table.len() + chunk.recs.len() > crate::limits::MAX_RECORDS {
            return Err(Error::format(
                self.path,
                self.line_base + 1,
                format!(
                    "more than {} records in all inputs together, the most one preparation holds (rows are numbered in 32 bits)",
                    crate::limits::MAX_RECORDS
                ),
            ));
        }
        for (idx, b) in chunk.bad {
            let line = self.line_base + idx;
            if self.policy == OnBadLine::Fail || b.fatal {
                return Err(Error::format(self.path, line, b.detail));
            }
            self.stats.bad_lines += 1;
            self.file.bad_lines += 1;
            let entry = self.stats.bad_line_reasons.entry(b.reason.to_string()).or_default();
            entry.count += 1;
            if entry.first.len() < FIRST_BAD_KEPT {
                entry.first.push(format!("{}:{line}: {}", self.path.display(), b.detail));
            }
        }
        for r in &chunk.recs {
            let user = &chunk.arena[r.user_start as usize..r.user_end as usize];
            let item = &chunk.arena[r.user_end as usize..r.item_end as usize];
            let ts = match r.ts {
                Some(ts) => ts,
                None => {
                    self.stats.timestamps_from_position += 1;
                    self.table.len() as i64
                }
            };
            self.table.push((user, r.user_hash), (item, r.item_hash), ts, r.rating);
        }
        self.stats.blank_lines += chunk.blank;
        self.stats.header_lines += chunk.header;
        self.stats.data_lines += chunk.data;
        self.stats.timestamps_truncated += chunk.truncated;
        self.line_base += chunk.lines;
        self.lines += chunk.lines - chunk.joined;
        Ok(())
    }
}

/// The units a chunk is cut into: lines, or quoted records (with their inner line feeds and whether a quote is
/// left open at the end of the chunk).
enum Units<'a> {
    Lines(Lines<'a>),
    Records(Records<'a>),
}

impl<'a> Iterator for Units<'a> {
    type Item = (&'a [u8], u64, bool);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Units::Lines(l) => l.next().map(|line| (line, 0, false)),
            Units::Records(r) => r.next(),
        }
    }
}

/// The header's line within `job` when the job holds it (and it is no longer pending); otherwise the pending line
/// moves past the job's lines.
fn header_in(pending: &mut Option<u64>, job: &[u8]) -> Option<u64> {
    let h = (*pending)?;
    let lines = memchr::memchr_iter(b'\n', job).count() as u64 + u64::from(job.last().is_some_and(|&b| b != b'\n'));
    if h <= lines {
        *pending = None;
        Some(h)
    } else {
        *pending = Some(h - lines);
        None
    }
}

/// Parses the lines (or quoted records) of one chunk (any thread). With `stop_at_first_bad`, stops at the first
/// bad line. A line longer than `max_line` bytes stops it in either mode (a fatal bad line), as does a quote
/// that the end of the file leaves open.
fn parse_chunk(
    parser: &dyn LineFormat,
    framing: Framing,
    buf: &[u8],
    header_at: Option<u64>,
    file_start: bool,
    stop_at_first_bad: bool,
    max_line: usize,
) -> ParsedChunk {
    let mut out = ParsedChunk::default();
    let mut scanner = Scanner::new();
    let units = match framing {
        Framing::Lines => Units::Lines(lines(buf)),
        Framing::Quoted => Units::Records(records(buf)),
    };
    for (raw, inner, open) in units {
        let at = out.lines + 1;
        out.lines += 1 + inner;
        out.joined += inner;
        if raw.strip_suffix(b"\n").unwrap_or(raw).len() > max_line {
            out.bad
                .push((at, BadLine { reason: "line too long", detail: crate::input::too_long(max_line), fatal: true }));
            break;
        }
        let line = line_body(raw, file_start && at == 1);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            out.blank += 1;
            continue;
        }
        if header_at == Some(at) {
            out.header += 1;
            continue;
        }
        if open {
            let detail = format!(
                "unterminated quoted field: a double quote opened in this record is never closed ({} lines to the \
                 end of the file are inside it)",
                inner + 1
            );
            out.bad.push((at, BadLine { reason: "invalid quoting", detail, fatal: true }));
            break;
        }
        let outcome = match std::str::from_utf8(line) {
            Err(e) => Err(bad("invalid UTF-8", format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1))),
            Ok(text) => parser.parse(&mut scanner, text, &mut out),
        };
        match outcome {
            Ok(()) => out.data += 1,
            Err(b) => {
                out.bad.push((at, b));
                if stop_at_first_bad {
                    break;
                }
            }
        }
    }
    out
}
