//! Readers for the interaction formats: Amazon review JSON lines (2018 and 2014), Amazon ratings CSV,
//! RecBole atomic `.inter` files and sequence lines; plus Amazon metadata.
//!
//! Design: every reader turns a line into (user, item, timestamp, rating) and pushes it into one
//! [`RawTable`], interning raw ids to dense first-seen numbers as it goes; input order is the row index, so
//! several files read in argument order form one stream. Bad lines either stop the run with
//! `file:line: reason` or are counted by reason (with their first line numbers): nothing is dropped
//! without a count.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc;
use std::sync::Arc;
use std::sync::Mutex;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::input::{Chunk, LineChunks, Progress};
use crate::json::{Field, Scanner};

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    /// Amazon review JSON lines (2018 or 2014): reviewerID, asin, unixReviewTime, overall.
    #[serde(rename = "amazon-json")]
    AmazonJson,
    /// Amazon ratings CSV without header, read by position: item,user,rating,timestamp ([`CSV_COLUMNS`]).
    #[serde(rename = "ratings-csv")]
    RatingsCsv,
    /// RecBole atomic `.inter` file: tab-separated with a typed header.
    #[serde(rename = "recbole")]
    RecboleInter,
    /// One user per line: `user item item ...`; timestamps are the positions.
    #[serde(rename = "seq")]
    SeqLines,
}

impl Format {
    /// The names accepted by `--format`.
    pub const NAMES: &'static str = "amazon-json, ratings-csv, recbole, seq";

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Format::AmazonJson => "amazon-json",
            Format::RatingsCsv => "ratings-csv",
            Format::RecboleInter => "recbole",
            Format::SeqLines => "seq",
        }
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "amazon-json" | "json" => Format::AmazonJson,
            "ratings-csv" | "csv" => Format::RatingsCsv,
            "recbole" | "inter" => Format::RecboleInter,
            "seq" | "sequence-lines" => Format::SeqLines,
            _ => {
                return Err(Error::InvalidArgument(format!("unknown format {s:?}; expected one of {}", Format::NAMES)))
            }
        })
    }
}

/// The columns of a ratings CSV, by position (Amazon's order; a file in another order needs another reader).
pub const CSV_COLUMNS: &str = "item,user,rating,timestamp";

/// What to do with a line that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBadLine {
    /// Stop with `file:line: reason`.
    #[default]
    Fail,
    /// Count it by reason and go on.
    Skip,
}

impl FromStr for OnBadLine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fail" => Ok(OnBadLine::Fail),
            "skip" => Ok(OnBadLine::Skip),
            _ => Err(Error::InvalidArgument(format!("unknown on-bad-line policy {s:?}; expected fail or skip"))),
        }
    }
}

/// Raw ids interned to dense numbers in first-seen order.
///
/// Design: interning is the one serial step of the read (records must be numbered in input order), so it does
/// as little as possible there. The parse workers hash each id ([`id_hash`]); the merge thread only probes a
/// [`HashTable`] with that hash. Ids of up to 16 bytes (Amazon's reviewerIDs and asins, numeric ids) are kept
/// in the table's slots themselves, so a probe compares two 16-byte arrays in place instead of following a
/// pointer to the key (a cache miss per record, as users come in no order). The last key is remembered:
/// dumps come grouped (Amazon lines by asin, sequence lines by user), so the same id often repeats on
/// consecutive records and skips the probe.
#[derive(Debug, Default)]
pub struct Interner {
    table: HashTable<Slot>,
    names: Vec<Box<str>>,
    hashes: Vec<u64>,
    last: Option<(u64, Slot)>,
}

/// A key in the interner's table: its number, its length and, when it has at most 16 bytes, the key itself
/// (zero-padded).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Slot {
    id: u32,
    len: u32,
    short: [u8; 16],
}

impl Slot {
    /// `key`'s length and inline bytes (zeros when the key is longer than 16 bytes: compared in `names`).
    #[inline]
    fn of(key: &str) -> Slot {
        let mut short = [0u8; 16];
        if key.len() <= 16 {
            short[..key.len()].copy_from_slice(key.as_bytes());
        }
        Slot { id: 0, len: key.len() as u32, short }
    }

    /// Whether this slot holds `key`, whose [`Slot::of`] is `probe`.
    #[inline]
    fn holds(&self, probe: &Slot, key: &str, names: &[Box<str>]) -> bool {
        self.len == probe.len && self.short == probe.short && (key.len() <= 16 || *names[self.id as usize] == *key)
    }
}

/// The hash [`Interner`] files an id under.
#[inline]
pub fn id_hash(key: &str) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl Interner {
    /// The number of `key`, given a new one if unseen.
    #[inline]
    pub fn intern(&mut self, key: &str) -> u32 {
        self.intern_hashed(key, id_hash(key))
    }

    /// [`Interner::intern`] with `hash == id_hash(key)` already computed.
    #[inline]
    pub fn intern_hashed(&mut self, key: &str, hash: u64) -> u32 {
        let probe = Slot::of(key);
        if let Some((h, slot)) = &self.last {
            if *h == hash && slot.holds(&probe, key, &self.names) {
                return slot.id;
            }
        }
        let names = &self.names;
        let slot = match self.table.find(hash, |s| s.holds(&probe, key, names)) {
            Some(&slot) => slot,
            None => {
                let slot = Slot { id: self.names.len() as u32, ..probe };
                let hashes = &self.hashes;
                self.table.insert_unique(hash, slot, |s| hashes[s.id as usize]);
                self.names.push(key.into());
                self.hashes.push(hash);
                slot
            }
        };
        self.last = Some((hash, slot));
        slot.id
    }
    /// How many distinct keys.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Whether no key was seen.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// The keys, indexed by their number.
    pub fn into_names(self) -> Vec<Box<str>> {
        self.names
    }
}

/// Every record read, in input order (the row index is the input order).
#[derive(Debug, Default)]
pub struct RawTable {
    /// Raw user ids.
    pub users: Interner,
    /// Raw item ids.
    pub items: Interner,
    /// Interned user of each record.
    pub user: Vec<u32>,
    /// Interned item of each record.
    pub item: Vec<u32>,
    /// Timestamp of each record (positions for sequence lines).
    pub ts: Vec<i64>,
    /// Rating of each record; NaN when the format has none.
    pub rating: Vec<f32>,
}

impl RawTable {
    #[inline]
    fn push(&mut self, user: (&str, u64), item: (&str, u64), ts: i64, rating: f32) {
        self.user.push(self.users.intern_hashed(user.0, user.1));
        self.item.push(self.items.intern_hashed(item.0, item.1));
        self.ts.push(ts);
        self.rating.push(rating);
    }
    /// The number of records.
    pub fn len(&self) -> usize {
        self.user.len()
    }
    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
    }
}

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
    /// Lines read (a final line without newline counts).
    pub lines: u64,
    /// Records produced.
    pub records: u64,
    /// Lines skipped as bad.
    pub bad_lines: u64,
    /// How the records were read from each line: the columns (or JSON keys) for user, item, rating and
    /// timestamp, in the file's order.
    pub columns: String,
    /// Where that reading comes from: `position` (ratings CSV, sequence lines), `header` (RecBole) or `key`
    /// (JSON).
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
    /// Header lines (RecBole).
    pub header_lines: u64,
    /// Lines skipped as bad (only with `--on-bad-line skip`).
    pub bad_lines: u64,
    /// Bad lines by reason.
    pub bad_line_reasons: BTreeMap<String, BadReason>,
    /// Records produced (a sequence line yields several).
    pub records: u64,
    /// Records whose timestamp had a fraction that was dropped (RecBole float timestamps).
    pub timestamps_truncated: u64,
    /// Records whose file has no timestamp column, ordered by their position instead.
    pub timestamps_from_position: u64,
    /// Per input file.
    pub files: Vec<FileStats>,
}

const FIRST_BAD_KEPT: usize = 5;

/// A line that does not parse: a reason category and a detail.
struct BadLine {
    reason: &'static str,
    detail: String,
    /// A problem no line-skipping can get around (a broken header): always an error.
    fatal: bool,
}

fn bad(reason: &'static str, detail: impl Into<String>) -> BadLine {
    BadLine { reason, detail: detail.into(), fatal: false }
}

/// Options for reading interaction files.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The format of every input; detected per file when `None`.
    pub format: Option<Format>,
    /// What to do with bad lines.
    pub on_bad_line: OnBadLine,
    /// The longest line accepted, in bytes before the line feed; a longer one is an error in both bad-line
    /// modes (`FILE:LINE: line longer than N bytes`), found with memory bounded by it.
    pub max_line_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { format: None, on_bad_line: OnBadLine::Fail, max_line_bytes: crate::limits::DEFAULT_MAX_LINE_BYTES }
    }
}

/// How one file's lines are parsed, fixed once its format (and RecBole header) is known, so that chunks of
/// lines can be parsed on any thread.
#[derive(Debug)]
enum LineParser {
    Json,
    Csv,
    Recbole(RecboleHeader),
    Seq,
}

#[derive(Debug)]
struct RecboleHeader {
    columns: usize,
    user: usize,
    item: usize,
    rating: Option<usize>,
    timestamp: Option<usize>,
}

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
struct ParsedChunk {
    lines: u64,
    blank: u64,
    header: u64,
    data: u64,
    truncated: u64,
    arena: String,
    recs: Vec<ParsedRec>,
    /// Bad lines: (1-based line index inside the chunk, what is wrong).
    bad: Vec<(u64, BadLine)>,
}

impl ParsedChunk {
    fn push(&mut self, user: &str, item: &str, ts: Option<i64>, rating: f32) {
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
) -> Result<(RawTable, ReadStats)> {
    if paths.is_empty() {
        return Err(Error::InvalidArgument("no input file given".into()));
    }
    // Check every path before the long read starts, so a typo in the last one fails at once.
    let mut sizes = Vec::with_capacity(paths.len());
    for p in paths {
        let size = crate::input::check_file(p)?;
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
    Ok((table, stats))
}

/// One parse job: chunk number, its bytes, the parser, the header line inside it (if any), whether it starts
/// the file.
type Job = (u64, Vec<u8>, Arc<LineParser>, Option<u64>, bool);

/// Reads one file: a reader thread inflates, `threads` workers parse chunks, this thread merges them in order.
fn read_one(
    path: &Path,
    size: u64,
    opts: &ReadOptions,
    progress: Option<Arc<Progress>>,
    table: &mut RawTable,
    stats: &mut ReadStats,
) -> Result<()> {
    let mut chunks = LineChunks::spawn(path, progress, opts.max_line_bytes)?;
    let mut merger = Merger {
        path,
        policy: opts.on_bad_line,
        table,
        stats,
        file: FileStats {
            path: path.display().to_string(),
            format: opts.format.unwrap_or(Format::AmazonJson),
            gzip: chunks.gzip,
            bytes: size,
            lines: 0,
            records: 0,
            bad_lines: 0,
            columns: String::new(),
            columns_by: "",
        },
        line_base: 0,
    };
    let records_before = merger.table.len() as u64;
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
                let Ok((seq, buf, parser, header_at, file_start)) = job else {
                    return;
                };
                let parsed = parse_chunk(&parser, &buf, header_at, file_start, stop_at_first_bad, max_line);
                if done_tx.send((seq, buf, parsed)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);

        let mut parser: Option<Arc<LineParser>> = None;
        let (mut sent, mut merged) = (0u64, 0u64);
        let mut waiting: BTreeMap<u64, (Vec<u8>, ParsedChunk)> = BTreeMap::new();
        let mut broken: Option<String> = None;
        while let Some(chunk) = chunks.next_chunk() {
            let buf = match chunk {
                Chunk::Lines(buf) => buf,
                Chunk::Broken(reason) => {
                    broken = Some(reason);
                    break;
                }
            };
            let file_start = sent == 0 && merger.line_base == 0;
            let mut header_at = None;
            if parser.is_none() {
                match first_line(&buf, file_start) {
                    None => {
                        // Nothing to detect from yet: the chunk's lines are blank or not UTF-8.
                        let parsed = parse_chunk(&LineParser::Seq, &buf, None, file_start, stop_at_first_bad, max_line);
                        waiting.insert(sent, (buf, parsed));
                        sent += 1;
                        merge_ready(&chunks, &mut waiting, &mut merged, &mut merger)?;
                        continue;
                    }
                    Some((idx, text)) => {
                        let format = match opts.format {
                            Some(f) => f,
                            None => detect(path, &text)?,
                        };
                        merger.file.format = format;
                        let line = merger.line_base + idx;
                        let (columns, by) = match format {
                            Format::AmazonJson => ("reviewerID,asin,unixReviewTime,overall".to_string(), "key"),
                            Format::RatingsCsv => (CSV_COLUMNS.to_string(), "position"),
                            Format::SeqLines => ("user,item,item,...".to_string(), "position"),
                            Format::RecboleInter => {
                                (text.split('\t').map(|c| c.trim()).collect::<Vec<_>>().join(","), "header")
                            }
                        };
                        merger.file.columns = columns;
                        merger.file.columns_by = by;
                        parser = Some(Arc::new(match format {
                            Format::AmazonJson => LineParser::Json,
                            Format::RatingsCsv => {
                                if let Some(reason) = csv_header(&text) {
                                    return Err(Error::format(path, line, reason));
                                }
                                LineParser::Csv
                            }
                            Format::SeqLines => LineParser::Seq,
                            Format::RecboleInter => {
                                header_at = Some(idx);
                                LineParser::Recbole(recbole_header(&text).map_err(|e| Error::format(path, line, e))?)
                            }
                        }));
                    }
                }
            }
            let Some(p) = &parser else { continue };
            if job_tx.send((sent, buf, p.clone(), header_at, file_start)).is_err() {
                break;
            }
            sent += 1;
            while let Ok((seq, buf, parsed)) = done_rx.try_recv() {
                waiting.insert(seq, (buf, parsed));
            }
            merge_ready(&chunks, &mut waiting, &mut merged, &mut merger)?;
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

    let Merger { mut file, table, stats, line_base, .. } = merger;
    file.lines = line_base;
    file.records = table.len() as u64 - records_before;
    stats.lines_read += line_base;
    stats.records += file.records;
    stats.files.push(file);
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

/// The first non-blank, valid UTF-8 line of a chunk (what the format is detected from): its 1-based index
/// and its text. Lines before it that are not UTF-8 are left to the parser, which reports them.
fn first_line(buf: &[u8], file_start: bool) -> Option<(u64, String)> {
    for (k, raw) in lines(buf).enumerate() {
        let line = line_body(raw, file_start && k == 0);
        if !line.iter().all(|b| b.is_ascii_whitespace()) {
            if let Ok(text) = std::str::from_utf8(line) {
                return Some((k as u64 + 1, text.to_string()));
            }
        }
    }
    None
}

/// Merges parsed chunks into the table, in input order, turning chunk-relative line numbers into file ones.
struct Merger<'a> {
    path: &'a Path,
    policy: OnBadLine,
    table: &'a mut RawTable,
    stats: &'a mut ReadStats,
    file: FileStats,
    /// Lines of this file merged so far.
    line_base: u64,
}

impl Merger<'_> {
    fn merge(&mut self, chunk: ParsedChunk) -> Result<()> {
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
        Ok(())
    }
}

/// Parses the lines of one chunk (any thread). With `stop_at_first_bad`, stops at the first bad line. A line
/// longer than `max_line` bytes stops it in either mode (a fatal bad line).
fn parse_chunk(
    parser: &LineParser,
    buf: &[u8],
    header_at: Option<u64>,
    file_start: bool,
    stop_at_first_bad: bool,
    max_line: usize,
) -> ParsedChunk {
    let mut out = ParsedChunk::default();
    let mut scanner = Scanner::new();
    for raw in lines(buf) {
        out.lines += 1;
        if raw.strip_suffix(b"\n").unwrap_or(raw).len() > max_line {
            out.bad.push((
                out.lines,
                BadLine { reason: "line too long", detail: crate::input::too_long(max_line), fatal: true },
            ));
            break;
        }
        let line = line_body(raw, file_start && out.lines == 1);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            out.blank += 1;
            continue;
        }
        if header_at == Some(out.lines) {
            out.header += 1;
            continue;
        }
        let outcome = match std::str::from_utf8(line) {
            Err(e) => Err(bad("invalid UTF-8", format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1))),
            Ok(text) => parse_line(parser, &mut scanner, text, &mut out),
        };
        match outcome {
            Ok(()) => out.data += 1,
            Err(b) => {
                out.bad.push((out.lines, b));
                if stop_at_first_bad {
                    break;
                }
            }
        }
    }
    out
}

/// The lines of `buf`, each with its newline (the last one may lack it): `split_inclusive` on b'\n', found
/// with `memchr` instead of a byte-at-a-time predicate.
fn lines(buf: &[u8]) -> Lines<'_> {
    Lines { rest: buf }
}

struct Lines<'a> {
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
fn line_body(raw: &[u8], file_start: bool) -> &[u8] {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if file_start {
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    } else {
        line
    }
}

/// Guesses the format of a file from its name and its first non-blank line.
fn detect(path: &Path, first: &str) -> Result<Format> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".inter") {
        return Ok(Format::RecboleInter);
    }
    let t = first.trim_start();
    if t.starts_with('{') {
        if !t.contains("\"reviewerID\"") && (t.contains("\"also_buy\"") || t.contains("\"main_cat\"")) {
            return Err(Error::format(path, 1, "this is an Amazon metadata file: give it with --meta"));
        }
        return Ok(Format::AmazonJson);
    }
    if name.ends_with(".csv") || (!t.contains('\t') && t.split(',').count() == 4) {
        return Ok(Format::RatingsCsv);
    }
    if t.contains('\t') && t.split('\t').all(|c| c.contains(':')) {
        return Ok(Format::RecboleInter);
    }
    if t.split_ascii_whitespace().all(|tok| tok.parse::<i64>().is_ok()) {
        return Ok(Format::SeqLines);
    }
    Err(Error::format(path, 1, format!("cannot tell the format of this file; pass --format ({})", Format::NAMES)))
}

/// Parses one non-blank, non-header line into `out`.
fn parse_line(
    p: &LineParser,
    scanner: &mut Scanner,
    text: &str,
    out: &mut ParsedChunk,
) -> std::result::Result<(), BadLine> {
    match p {
        LineParser::Json => {
            let mut f = [Field::Missing, Field::Missing, Field::Missing, Field::Missing];
            scanner
                .scan(text, &["reviewerID", "asin", "unixReviewTime", "overall"], &mut f)
                .map_err(|e| bad("invalid JSON", e))?;
            let user = json_id(&f[0], "reviewerID")?;
            let item = json_id(&f[1], "asin")?;
            let ts = match &f[2] {
                Field::Num(n) => {
                    let (ts, truncated) =
                        parse_ts(n).map_err(|e| bad("invalid value", format!("unixReviewTime {e}")))?;
                    out.truncated += truncated as u64;
                    ts
                }
                Field::Missing => return Err(bad("missing field", "missing field \"unixReviewTime\"")),
                other => return Err(wrong_type("unixReviewTime", "a number", other)),
            };
            let rating = match &f[3] {
                Field::Num(n) => parse_rating(n).map_err(|e| bad("invalid value", format!("overall {e}")))?,
                Field::Missing | Field::Other("null") => f32::NAN,
                other => return Err(wrong_type("overall", "a number", other)),
            };
            out.push(user, item, Some(ts), rating);
            Ok(())
        }
        LineParser::Csv => {
            let cols: Vec<&str> = text.split(',').collect();
            if cols.len() != 4 {
                return Err(bad(
                    "wrong column count",
                    format!("found {} columns, expected 4 (item,user,rating,timestamp)", cols.len()),
                ));
            }
            let (item, user) = (cols[0].trim(), cols[1].trim());
            if item.is_empty() || user.is_empty() {
                return Err(bad("invalid value", "empty item or user"));
            }
            let rating = parse_rating(cols[2].trim()).map_err(|e| bad("invalid value", format!("rating {e}")))?;
            let (ts, truncated) =
                parse_ts(cols[3].trim()).map_err(|e| bad("invalid value", format!("timestamp {e}")))?;
            out.truncated += truncated as u64;
            out.push(user, item, Some(ts), rating);
            Ok(())
        }
        LineParser::Recbole(h) => {
            let cols: Vec<&str> = text.split('\t').collect();
            if cols.len() != h.columns {
                return Err(bad(
                    "wrong column count",
                    format!("found {} columns, the header has {}", cols.len(), h.columns),
                ));
            }
            let (user, item) = (cols[h.user].trim(), cols[h.item].trim());
            if user.is_empty() || item.is_empty() {
                return Err(bad("invalid value", "empty user_id or item_id"));
            }
            let rating = match h.rating {
                Some(c) if !cols[c].trim().is_empty() => {
                    parse_rating(cols[c].trim()).map_err(|e| bad("invalid value", format!("rating {e}")))?
                }
                _ => f32::NAN,
            };
            let ts = match h.timestamp {
                Some(c) => Some({
                    let (ts, truncated) =
                        parse_ts(cols[c].trim()).map_err(|e| bad("invalid value", format!("timestamp {e}")))?;
                    out.truncated += truncated as u64;
                    ts
                }),
                None => None,
            };
            out.push(user, item, ts, rating);
            Ok(())
        }
        LineParser::Seq => {
            let mut toks = text.split_ascii_whitespace();
            let user = toks.next().unwrap_or_default();
            let items: Vec<&str> = toks.collect();
            for tok in std::iter::once(&user).chain(items.iter()) {
                if tok.parse::<u64>().is_err() {
                    return Err(bad("invalid value", format!("{tok:?} is not a non-negative integer id")));
                }
            }
            if items.is_empty() {
                return Err(bad("invalid value", "a user with no items"));
            }
            for (pos, item) in items.iter().enumerate() {
                out.push(user, item, Some(pos as i64), f32::NAN);
            }
            Ok(())
        }
    }
}

/// Why the first line of a ratings CSV is a header line, if it is: four columns whose rating or timestamp is a
/// word (starts with an ASCII letter and is not a number, like `rating` or `timestamp`). Other bad first lines
/// stay bad lines (skippable).
fn csv_header(text: &str) -> Option<String> {
    let cols: Vec<&str> = text.split(',').map(str::trim).collect();
    if cols.len() != 4 {
        return None;
    }
    let word = |s: &str| s.starts_with(|c: char| c.is_ascii_alphabetic()) && s.parse::<f64>().is_err();
    if !(word(cols[2]) || word(cols[3])) {
        return None;
    }
    let mut shown: String = text.chars().take(80).collect();
    if shown.len() < text.len() {
        shown.push_str("...");
    }
    Some(format!(
        "this is a header line ({shown:?}: its rating or timestamp is a word, not a number), but ratings-csv has none: it \
         reads the columns by position as {CSV_COLUMNS}; remove the line if the columns are in that order (a \
         header-aware table reader for other layouts is planned, issue 17)"
    ))
}

fn recbole_header(text: &str) -> std::result::Result<RecboleHeader, String> {
    let mut h = RecboleHeader { columns: 0, user: usize::MAX, item: usize::MAX, rating: None, timestamp: None };
    for (i, col) in text.split('\t').enumerate() {
        let Some((name, ty)) = col.trim().split_once(':') else {
            return Err(format!("invalid RecBole header: column {:?} has no ':type'", col));
        };
        if !matches!(ty, "token" | "token_seq" | "float" | "float_seq") {
            return Err(format!(
                "invalid RecBole header: column {name:?} has unknown type {ty:?} (token, token_seq, float, float_seq)"
            ));
        }
        match name {
            "user_id" => h.user = i,
            "item_id" => h.item = i,
            "rating" => h.rating = Some(i),
            "timestamp" => h.timestamp = Some(i),
            _ => {}
        }
        h.columns = i + 1;
    }
    if h.user == usize::MAX || h.item == usize::MAX {
        return Err("invalid RecBole header: it needs user_id and item_id columns".into());
    }
    Ok(h)
}

fn json_id<'f>(f: &'f Field<'_>, key: &str) -> std::result::Result<&'f str, BadLine> {
    match f {
        Field::Str(s) if !s.is_empty() => Ok(s),
        Field::Str(_) => Err(bad("invalid value", format!("empty \"{key}\""))),
        Field::Missing => Err(bad("missing field", format!("missing field \"{key}\""))),
        other => Err(wrong_type(key, "a string", other)),
    }
}

fn wrong_type(key: &str, expected: &str, found: &Field<'_>) -> BadLine {
    bad("wrong type", format!("field \"{key}\" is {}, expected {expected}", found.type_name()))
}

/// Parses a timestamp: an integer, or a float whose fraction is dropped (reported as truncated).
fn parse_ts(s: &str) -> std::result::Result<(i64, bool), String> {
    if let Ok(v) = s.parse::<i64>() {
        return Ok((v, false));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() < 9.0e18 => Ok((v.floor() as i64, v.fract() != 0.0)),
        Ok(_) => Err(format!("{s:?} is out of range")),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

fn parse_rating(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{s:?} is out of range")),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

/// Title, brand and main category of one item, from Amazon metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ItemMeta {
    /// `title`, HTML entities decoded.
    pub title: Option<String>,
    /// `brand`, HTML entities decoded.
    pub brand: Option<String>,
    /// `main_cat`, HTML entities decoded.
    pub main_cat: Option<String>,
}

/// Counts from reading metadata.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MetaStats {
    /// Metadata files, as given.
    pub files: Vec<String>,
    /// Lines read.
    pub lines: u64,
    /// Rows whose asin was seen before (the first row wins).
    pub duplicate_rows: u64,
    /// Lines skipped as bad.
    pub bad_lines: u64,
    /// Distinct items described.
    pub items: u64,
}

/// Reads Amazon metadata files (2020 `image` or 2021 `imageURL` schema); the first row of an asin wins.
pub fn read_meta(
    paths: &[PathBuf],
    opts: &ReadOptions,
    progress: Option<Arc<Progress>>,
) -> Result<(HashMap<String, ItemMeta>, MetaStats)> {
    let on_bad_line = opts.on_bad_line;
    let mut out: HashMap<String, ItemMeta> = HashMap::new();
    let mut stats = MetaStats::default();
    let mut scanner = Scanner::new();
    for path in paths {
        let size = crate::input::check_file(path)?;
        if let Some(p) = &progress {
            p.add_total(size);
        }
        stats.files.push(path.display().to_string());
        let mut chunks = LineChunks::spawn(path, progress.clone(), opts.max_line_bytes)?;
        let mut line_no = 0u64;
        let mut checked = false;
        while let Some(chunk) = chunks.next_chunk() {
            let buf = match chunk {
                Chunk::Lines(buf) => buf,
                Chunk::Broken(reason) => return Err(Error::format(path, line_no + 1, reason)),
            };
            for raw in lines(&buf) {
                line_no += 1;
                if raw.strip_suffix(b"\n").unwrap_or(raw).len() > opts.max_line_bytes {
                    return Err(Error::format(path, line_no, crate::input::too_long(opts.max_line_bytes)));
                }
                let line = line_body(raw, line_no == 1);
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                let res = std::str::from_utf8(line)
                    .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1))
                    .and_then(|text| {
                        let mut f = [Field::Missing, Field::Missing, Field::Missing, Field::Missing, Field::Missing];
                        scanner.scan(text, &["asin", "title", "brand", "main_cat", "reviewerID"], &mut f)?;
                        if !checked {
                            if f[4] != Field::Missing
                                || (f[1] == Field::Missing && f[2] == Field::Missing && f[3] == Field::Missing)
                            {
                                return Err("unknown metadata schema (expected asin with title, brand or main_cat; \
                                            is this a review file?)"
                                    .to_string());
                            }
                            checked = true;
                        }
                        let asin = match &f[0] {
                            Field::Str(s) if !s.is_empty() => s.to_string(),
                            Field::Missing => return Err("missing field \"asin\"".into()),
                            other => return Err(format!("field \"asin\" is {}, expected a string", other.type_name())),
                        };
                        let text_of = |f: &Field<'_>| match f {
                            Field::Str(s) if !s.trim().is_empty() => Some(decode_html(s.trim())),
                            _ => None,
                        };
                        Ok((asin, ItemMeta { title: text_of(&f[1]), brand: text_of(&f[2]), main_cat: text_of(&f[3]) }))
                    });
                stats.lines += 1;
                match res {
                    Ok((asin, meta)) => {
                        if out.contains_key(&asin) {
                            stats.duplicate_rows += 1;
                        } else {
                            out.insert(asin, meta);
                        }
                    }
                    Err(e) if !checked || on_bad_line == OnBadLine::Fail => {
                        return Err(Error::format(path, line_no, e));
                    }
                    Err(_) => stats.bad_lines += 1,
                }
            }
            chunks.give_back(buf);
        }
    }
    stats.items = out.len() as u64;
    Ok((out, stats))
}

/// The HTML 4 named entities that occur in product titles: markup, Latin-1 letters and symbols, typography.
fn named_entity(name: &str) -> Option<char> {
    const LATIN1: [&str; 96] = [
        "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf", "laquo", "not",
        "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", "cedil", "sup1",
        "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml",
        "Aring", "AElig", "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH",
        "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc",
        "Uuml", "Yacute", "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
        "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde", "ograve", "oacute",
        "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
    ];
    if let Some(k) = LATIN1.iter().position(|&n| n == name) {
        return char::from_u32(0xA0 + k as u32);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "sbquo" => '\u{201A}',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "bdquo" => '\u{201E}',
        "bull" => '\u{2022}',
        "hellip" => '\u{2026}',
        "prime" => '\u{2032}',
        "Prime" => '\u{2033}',
        "euro" => '\u{20AC}',
        "trade" => '\u{2122}',
        "dagger" => '\u{2020}',
        "Dagger" => '\u{2021}',
        "permil" => '\u{2030}',
        "OElig" => '\u{152}',
        "oelig" => '\u{153}',
        "Scaron" => '\u{160}',
        "scaron" => '\u{161}',
        "Yuml" => '\u{178}',
        "circ" => '\u{2C6}',
        "tilde" => '\u{2DC}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "hearts" => '\u{2665}',
        "larr" => '\u{2190}',
        "rarr" => '\u{2192}',
        "frasl" => '\u{2044}',
        _ => return None,
    })
}

/// The character of a numeric entity (`#39`, `#x27`), digits only. A code point that is no character a title
/// can hold (NUL and the other C0 controls but tab, LF and CR; a surrogate; beyond U+10FFFF) gives `None`: the
/// entity is then kept as literal text, never turned into a NUL or a control byte.
fn numeric_entity(ent: &str) -> Option<char> {
    let (digits, radix) = match ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
        Some(h) => (h, 16),
        None => (ent.strip_prefix('#')?, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let c = char::from_u32(u32::from_str_radix(digits, radix).ok()?)?;
    if c.is_control() && (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') {
        return None;
    }
    Some(c)
}

/// Decodes the HTML entities that appear in Amazon metadata (`&amp;`, `&eacute;`, `&#39;`, `&#x27;`, ...).
/// An entity that names no character (`&#0;`, `&#xD800;`, `&#1114112;`, an unknown name) stays as written.
pub fn decode_html(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let ent = &rest[1..end];
            let ch = match named_entity(ent) {
                Some(c) => Some(c),
                None => numeric_entity(ent),
            };
            ch.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_of_no_character_stay_literal() {
        assert_eq!(decode_html("a &#0; b"), "a &#0; b");
        assert_eq!(
            decode_html("&#x0;&#xD800;&#55296;&#1114112;&#x110000;&#1;&#x1F;"),
            "&#x0;&#xD800;&#55296;&#1114112;&#x110000;&#1;&#x1F;"
        );
        assert_eq!(decode_html("&#+65;&#-65;&#x;&#;&#x+41;"), "&#+65;&#-65;&#x;&#;&#x+41;");
        assert_eq!(decode_html("&#65;&#x42;&#X43;&#9;&#10;&#x1F600;&amp;&eacute;"), "ABC\t\n\u{1F600}&\u{e9}");
        assert!(!decode_html("&#0;&#00;&#x00000;").contains('\0'));
    }

    #[test]
    fn a_csv_header_is_told_from_a_bad_first_line() {
        for header in [
            "user,item,rating,timestamp",
            "item,user,rating,timestamp",
            "userId,movieId,rating,timestamp",
            " a , b , rating , 1 ",
            "a,U1,5,time",
        ] {
            let why = csv_header(header).unwrap_or_default();
            assert!(why.starts_with("this is a header line") && why.contains("ratings-csv has none"), "{header}");
        }
        for data in [
            "a,U1,5.0,1388534400",
            "a,U1,nan,1",
            "a,U1,inf,1",
            "a,U1,0x10,1",
            "a,U1,,1",
            "a,U1,5",
            "a,b,c,d,e",
            "a,U1,5,\u{663}",
        ] {
            assert_eq!(csv_header(data), None, "{data}");
        }
    }

    #[test]
    fn lines_split_like_split_inclusive() {
        for buf in [&b""[..], b"\n", b"\n\n", b"a", b"a\n", b"a\nbc", b"a\r\nbc\n\nd", b"\n\nxyz\n"] {
            let want: Vec<&[u8]> = buf.split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(lines(buf).collect::<Vec<_>>(), want, "{buf:?}");
        }
    }

    #[test]
    fn interner_numbers_in_first_seen_order_with_or_without_the_last_key() {
        let mut i = Interner::default();
        let keys = ["b", "a", "a", "b", "c", "a", "c", "c", ""];
        let ids: Vec<u32> = keys.iter().map(|k| i.intern(k)).collect();
        assert_eq!(ids, [0, 1, 1, 0, 2, 1, 2, 2, 3]);
        assert_eq!(i.len(), 4);
        assert_eq!(i.into_names().iter().map(|n| &**n).collect::<Vec<_>>(), ["b", "a", "c", ""]);
        // Many keys: the table grows (rehashing with the stored hashes) and keeps every number.
        let mut i = Interner::default();
        for n in 0..10_000u32 {
            assert_eq!(i.intern(&format!("u{n}")), n);
        }
        for n in (0..10_000u32).rev() {
            assert_eq!(i.intern_hashed(&format!("u{n}"), id_hash(&format!("u{n}"))), n);
        }
        // Keys longer than the 16 inline bytes, equal in their first 16: told apart by the stored names.
        let long = |n: u32| format!("{}{n}", "x".repeat(20));
        for n in 0..1000u32 {
            assert_eq!(i.intern(&long(n)), 10_000 + n);
        }
        for n in 0..1000u32 {
            assert_eq!(i.intern(&long(n)), 10_000 + n);
            assert_eq!(i.intern(&format!("u{n}")), n);
        }
        // A key with a NUL byte is not confused with its shorter zero-padded prefix.
        assert_ne!(i.intern("ab\0"), i.intern("ab"));
    }
}
