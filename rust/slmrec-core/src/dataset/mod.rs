//! A prepared dataset: per-user sequences as CSR arrays, the raw-id tables, and reconciled statistics;
//! built from raw files, written to and loaded from a dataset directory.
//!
//! Design: the directory holds plain Parquet and JSON (readable by polars, DuckDB, Spark) and is written
//! atomically: everything goes to a hidden sibling first and is renamed into place, so a killed run leaves
//! no half directory and two writers racing for one path cannot interleave (the loser gets an error).
//! Ids are 1-based (0 is padding); user `u` is CSR row `u - 1`; each row is in (timestamp, input order).
//! Building holds the records' columns once: the recipe works on a permutation of row numbers (see
//! `recipe`), each output column is gathered from its input column once, and every buffer is dropped as soon
//! as it is consumed, so peak memory is the columns plus one output column, not a copy of every column.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::input::Progress;
use crate::read::{read_interactions, read_meta, ItemMeta, ReadOptions};
use crate::recipe::{apply, assign_ids, Kept, Recipe, RecipeKind};

mod stats;
pub use stats::{MetaJoin, PhaseSeconds, PrepStats, SeqLen};

/// File names inside a dataset directory.
pub const INTERACTIONS: &str = "interactions.parquet";
/// Users table.
pub const USERS: &str = "users.parquet";
/// Items table.
pub const ITEMS: &str = "items.parquet";
/// Statistics.
pub const STATS: &str = "stats.json";

const ROW_GROUP: usize = 1 << 20;

/// Everything `prepare` needs besides the inputs.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// How to read the inputs.
    pub read: ReadOptions,
    /// Which records survive.
    pub recipe: Recipe,
    /// Amazon metadata files to join onto the items table.
    pub meta: Vec<PathBuf>,
    /// Replace an existing output directory.
    pub force: bool,
    /// Bytes-read counter for a progress display.
    pub progress: Option<Arc<Progress>>,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            read: ReadOptions::default(),
            recipe: Recipe::new(RecipeKind::Kcore),
            meta: Vec::new(),
            force: false,
            progress: None,
        }
    }
}

/// Per-user sequences and their tables.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// CSR row starts, `num_users + 1` entries; row `u - 1` holds user `u`.
    pub offsets: Vec<i64>,
    /// Item ids (1..=num_items), each row in chronological order.
    pub items: Vec<u32>,
    /// Timestamps, aligned with `items`.
    pub timestamps: Vec<i64>,
    /// Ratings, aligned with `items`; NaN where the input had none.
    pub ratings: Vec<f32>,
    /// Raw user id of user `u` at index `u - 1`.
    pub user_names: Vec<Box<str>>,
    /// Raw item id of item `i` at index `i - 1`.
    pub item_names: Vec<Box<str>>,
    /// Title, brand and main category of item `i` at index `i - 1`, when metadata was given.
    pub item_meta: Option<Vec<ItemMeta>>,
    /// The statistics written to `stats.json`.
    pub stats: Value,
}

impl Dataset {
    /// The number of users.
    pub fn num_users(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    /// The number of items.
    pub fn num_items(&self) -> usize {
        self.item_names.len()
    }
    /// The number of interactions.
    pub fn num_interactions(&self) -> usize {
        self.items.len()
    }
    /// The sequence of CSR row `row` (user `row + 1`).
    pub fn sequence(&self, row: usize) -> &[u32] {
        &self.items[self.offsets[row] as usize..self.offsets[row + 1] as usize]
    }

    /// The content fingerprint of the sequences (see [`fingerprint`]), as 16 lowercase hex digits.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", fingerprint(&self.offsets, &self.items, &self.timestamps, self.num_items()))
    }

    /// Reads `inputs`, applies the recipe and builds the sequences, without writing anything.
    pub fn build(inputs: &[PathBuf], opts: &PrepareOptions) -> Result<Dataset> {
        let start = Instant::now();
        opts.recipe.check()?;
        let (mut table, read) = read_interactions(inputs, &opts.read, opts.progress.clone())?;
        let meta =
            if opts.meta.is_empty() { None } else { Some(read_meta(&opts.meta, &opts.read, opts.progress.clone())?) };
        if table.is_empty() {
            return Err(Error::Empty(format!(
                "no interaction records in {} (lines read {}, blank {}, bad {})",
                list(inputs),
                read.lines_read,
                read.blank_lines,
                read.bad_lines
            )));
        }
        let read_done = start.elapsed().as_secs_f64();
        crate::limits::release_free_memory();
        let records = table.len();
        let (kept, rst) = apply(&mut table, &opts.recipe);
        let recipe_done = start.elapsed().as_secs_f64();
        if kept.is_empty() {
            return Err(Error::Empty(format!(
                "the recipe {} drops all {} records of {} (by rating {}, duplicates {}, k-core {}, \
                 paper filters {}); lower --user-min/--item-min or use --recipe none",
                opts.recipe.name.name(),
                records,
                list(inputs),
                rst.dropped_by_rating,
                rst.duplicates_dropped,
                rst.kcore_dropped,
                rst.dropped_by_user_filter + rst.dropped_by_item_filter + rst.dropped_short_users
            )));
        }

        let user_present: Vec<bool> = kept.starts.windows(2).map(|w| w[1] > w[0]).collect();
        let mut item_present = vec![false; table.items.len()];
        for &i in &kept.items {
            item_present[i as usize] = true;
        }
        let (user_id, user_names) = assign_ids(&table.users, &user_present);
        let (item_id, item_names) = assign_ids(&table.items, &item_present);
        drop((user_present, item_present, std::mem::take(&mut table.users), std::mem::take(&mut table.items)));
        crate::limits::release_free_memory();

        // Survivors in (user, timestamp, input order): the recipe's groups, each already in (timestamp, input
        // order), laid out in the order of the new user ids; each output column is gathered once.
        let n_users = user_names.len();
        let mut by_new = vec![0u32; n_users];
        for (u, &id) in user_id.iter().enumerate() {
            if id > 0 {
                by_new[id as usize - 1] = u as u32;
            }
        }
        drop(user_id);
        let mut offsets = Vec::with_capacity(n_users + 1);
        offsets.push(0i64);
        for &u in &by_new {
            let u = u as usize;
            offsets.push(offsets[offsets.len() - 1] + i64::from(kept.starts[u + 1] - kept.starts[u]));
        }
        let Kept { starts, mut rows, items: kept_items } = kept;
        let layout = Layout { offsets: &offsets, by_new: &by_new, starts: &starts };
        let mut timestamps = vec![0i64; rows.len()];
        layout.gather(&mut timestamps, |k| table.ts[rows[k] as usize]);
        table.ts = Vec::new();
        let mut ratings = vec![0f32; rows.len()];
        layout.gather(&mut ratings, |k| table.rating.get(rows[k] as usize));
        table.rating = Default::default();
        // The rows are no longer needed: their buffer takes the items, in the new order and numbering.
        layout.gather(&mut rows, |k| item_id[kept_items[k] as usize]);
        let items = rows;
        drop((kept_items, item_id, starts, by_new));
        crate::limits::release_free_memory();
        let order_done = start.elapsed().as_secs_f64();

        let item_meta = meta
            .as_ref()
            .map(|(m, _)| item_names.iter().map(|name| m.get(name).cloned().unwrap_or_default()).collect::<Vec<_>>());
        let user_names: Vec<Box<str>> = user_names.iter().map(Box::from).collect();
        let item_names: Vec<Box<str>> = item_names.iter().map(Box::from).collect();
        let mut ds =
            Dataset { offsets, items, timestamps, ratings, user_names, item_names, item_meta, stats: json!({}) };

        let mut lens: Vec<i64> = ds.offsets.windows(2).map(|w| w[1] - w[0]).collect();
        lens.sort_unstable();
        let n = ds.num_interactions() as f64;
        let meta = meta.map(|(_, read)| MetaJoin {
            read,
            items_with_meta: ds
                .item_meta
                .as_ref()
                .map_or(0, |m| m.iter().filter(|x| **x != ItemMeta::default()).count()),
        });
        let stats = PrepStats {
            version: crate::VERSION,
            recipe: opts.recipe,
            on_bad_line: opts.read.on_bad_line,
            read,
            dropped: rst,
            interactions: ds.num_interactions(),
            users: ds.num_users(),
            items: ds.num_items(),
            seq_len: SeqLen::of_sorted(&lens),
            users_too_short_for_split: lens.iter().filter(|&&l| l < 3).count(),
            fingerprint: ds.fingerprint(),
            sparsity: 1.0 - n / (ds.num_users() as f64 * ds.num_items() as f64),
            threads: rayon::current_num_threads(),
            meta,
            elapsed_seconds: start.elapsed().as_secs_f64(),
            phase_seconds: PhaseSeconds {
                read: read_done,
                recipe: recipe_done - read_done,
                ids_and_order: order_done - recipe_done,
            },
        };
        let stats = serde_json::to_value(&stats).map_err(|e| Error::Internal(format!("stats.json: {e}")))?;
        ds.stats = stats;
        Ok(ds)
    }

    /// Writes the dataset directory atomically (see the module docs).
    /// Holds the output's lock ([`OutputLock`]) while it writes; with `force`, replaces only what
    /// [`check_output`] accepts.
    pub fn write(&mut self, out: &Path, force: bool, started: Instant) -> Result<()> {
        let _lock = OutputLock::acquire(out)?;
        self.write_locked(out, force, started)
    }

    fn write_locked(&mut self, out: &Path, force: bool, started: Instant) -> Result<()> {
        check_output(out, force, &[])?;
        let (parent, name) = parent_and_name(out);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let unique = format!("{}-{}", std::process::id(), started.elapsed().as_nanos());
        let tmp = TempDir(parent.join(format!(".{name}.tmp-{unique}")));
        // An OS error while filling the hidden temporary directory (a full disk, a read-only or foreign
        // directory) names the output the user asked for; the temporary directory is removed on return.
        let in_tmp = |e: Error| match e {
            Error::Io { source, .. } => Error::Io {
                path: out.to_path_buf(),
                source: std::io::Error::new(source.kind(), format!("cannot write the dataset directory: {source}")),
            },
            e => e,
        };
        remove_stale_temps(&parent, &name);
        std::fs::create_dir(&tmp.0).map_err(|e| in_tmp(Error::io(&tmp.0, e)))?;

        // One file after the other, each in batches: a writer on a thread of its own would keep its buffers in
        // an allocator arena of its own, resident beside the dataset's arrays.
        let dir = &tmp.0;
        self.write_interactions(&dir.join(INTERACTIONS)).map_err(in_tmp)?;
        write_names(&dir.join(USERS), "user", &self.user_names, None).map_err(in_tmp)?;
        write_names(&dir.join(ITEMS), "item", &self.item_names, self.item_meta.as_deref()).map_err(in_tmp)?;
        let built = self.stats["elapsed_seconds"].as_f64().unwrap_or(0.0);
        self.stats["elapsed_seconds"] = json!(started.elapsed().as_secs_f64());
        if let Some(phases) = self.stats["phase_seconds"].as_object_mut() {
            phases.insert("write".into(), json!(started.elapsed().as_secs_f64() - built));
        }
        let stats_path = tmp.0.join(STATS);
        let text =
            serde_json::to_string_pretty(&self.stats).map_err(|e| Error::Internal(format!("stats.json: {e}")))?;
        write_synced(&stats_path, text.as_bytes()).map_err(in_tmp)?;

        if out.exists() {
            check_output(out, force, &[])?; // it may have changed while this run read its inputs
            let old = TempDir(parent.join(format!(".{name}.old-{unique}")));
            std::fs::rename(out, &old.0).map_err(|e| Error::io(out, e))?;
            std::fs::rename(&tmp.0, out).map_err(|e| Error::io(out, e))?;
            std::mem::forget(tmp);
            drop(old);
        } else {
            match std::fs::rename(&tmp.0, out) {
                Ok(()) => std::mem::forget(tmp),
                Err(_) if out.is_dir() => {
                    return Err(Error::OutputExists {
                        path: out.to_path_buf(),
                        reason: "another process wrote this dataset directory first".into(),
                    });
                }
                Err(e) => return Err(Error::io(out, e)),
            }
        }
        Ok(())
    }

    fn write_interactions(&self, path: &Path) -> Result<()> {
        let schema = "message interactions { REQUIRED INT32 user_id (INTEGER(32,false)); \
                      REQUIRED INT32 item_id (INTEGER(32,false)); REQUIRED INT64 timestamp; \
                      OPTIONAL FLOAT rating; }";
        let mut w = ParquetOut::create(path, schema)?;
        let total = self.num_interactions();
        let mut start = 0;
        while start < total {
            let end = (start + ROW_GROUP).min(total);
            w.row_group(|rg| {
                let mut col = 0;
                while let Some(mut c) = rg.next_column()? {
                    // Each column fed in batches (a multiple of the writer's mini-batch: the same pages as one
                    // call), so the converted copies stay small whatever the row group's size.
                    for (a, b) in batches(start, end) {
                        match col {
                            0 => {
                                let mut user = Vec::with_capacity(b - a);
                                let mut row = self.offsets.partition_point(|&o| o <= a as i64) - 1;
                                for k in a..b {
                                    while self.offsets[row + 1] as usize <= k {
                                        row += 1;
                                    }
                                    user.push(row as i32 + 1);
                                }
                                c.typed::<Int32Type>().write_batch(&user, None, None)?
                            }
                            1 => {
                                let item: Vec<i32> = self.items[a..b].iter().map(|&i| i as i32).collect();
                                c.typed::<Int32Type>().write_batch(&item, None, None)?
                            }
                            2 => c.typed::<Int64Type>().write_batch(&self.timestamps[a..b], None, None)?,
                            _ => {
                                let src = &self.ratings[a..b];
                                let defs: Vec<i16> = src.iter().map(|r| (!r.is_nan()) as i16).collect();
                                let rating: Vec<f32> = src.iter().copied().filter(|r| !r.is_nan()).collect();
                                c.typed::<FloatType>().write_batch(&rating, Some(&defs), None)?
                            }
                        };
                    }
                    c.close()?;
                    col += 1;
                }
                Ok(())
            })?;
            start = end;
        }
        w.finish()
    }

    /// Loads a dataset directory written by [`Dataset::write`] (or its Parquet files rewritten by another tool,
    /// see [`ParquetIn`]), checking what the format promises in one pass over the arrays (see
    /// [`check_sequences`]) and that the arrays are the ones stats.json describes: its `users`, `items` and
    /// `interactions` counts, and its `fingerprint` where it has one.
    pub fn load(dir: &Path) -> Result<Dataset> {
        if !dir.is_dir() {
            return Err(if dir.exists() {
                Error::format(dir, 0, "is not a dataset directory")
            } else {
                Error::NotFound { path: dir.to_path_buf() }
            });
        }
        let stats_path = dir.join(STATS);
        let text = std::fs::read_to_string(&stats_path).map_err(|e| missing_file(dir, STATS, e))?;
        let stats: Value =
            serde_json::from_str(&text).map_err(|e| Error::format(&stats_path, e.line() as u64, e.to_string()))?;
        if !stats.is_object() {
            return Err(Error::format(&stats_path, 0, "is not a JSON object (was it written by slmrec-prep?)"));
        }

        let ipath = dir.join(INTERACTIONS);
        let (user, items, timestamps, ratings) = decoding(&ipath, || {
            let r = ParquetIn::open(&ipath, dir, INTERACTIONS)?;
            let user: Vec<u32> = r.ints("user_id", "UInt32", |v| u32::try_from(v).ok())?;
            let items: Vec<u32> = r.ints("item_id", "UInt32", |v| u32::try_from(v).ok())?;
            let timestamps: Vec<i64> = r.ints("timestamp", "Int64", |v| i64::try_from(v).ok())?;
            let ratings: Vec<f32> = r.floats_nullable("rating")?;
            Ok((user, items, timestamps, ratings))
        })?;
        let (user_names, _) = decoding(&dir.join(USERS), || read_names(dir, USERS, "user"))?;
        let (item_names, item_meta) = decoding(&dir.join(ITEMS), || read_names(dir, ITEMS, "item"))?;
        let dedup = matches!(stats["recipe"]["name"].as_str(), Some("kcore" | "slmrec-paper"));
        let offsets = check_sequences(&ipath, &user, &items, &timestamps, user_names.len(), item_names.len(), dedup)?;
        drop(user);
        let ds = Dataset { offsets, items, timestamps, ratings, user_names, item_names, item_meta, stats };

        for (key, have, file) in [
            ("users", ds.num_users(), USERS),
            ("items", ds.num_items(), ITEMS),
            ("interactions", ds.num_interactions(), INTERACTIONS),
        ] {
            match ds.stats[key].as_u64() {
                Some(want) if want == have as u64 => {}
                Some(want) => {
                    return Err(Error::format(
                        &stats_path,
                        0,
                        format!(
                            "{key} is {want}, but {file} holds {have} (the directory was changed after slmrec-prep)"
                        ),
                    ))
                }
                None => {
                    return Err(Error::format(
                        &stats_path,
                        0,
                        format!("has no count `{key}` (was it written by slmrec-prep?)"),
                    ))
                }
            }
        }
        if let Some(want) = ds.stats.get("fingerprint") {
            let have = ds.fingerprint();
            if want.as_str() != Some(have.as_str()) {
                return Err(Error::format(
                    &stats_path,
                    0,
                    format!(
                        "fingerprint {want} does not match the arrays of {INTERACTIONS} ({have}): the interactions \
                         were changed after slmrec-prep wrote them"
                    ),
                ));
            }
        }
        Ok(ds)
    }
}

/// Checks the interactions of a dataset directory against what the format promises and builds the CSR offsets:
/// `user` non-decreasing (rows grouped by user, in user order) and in 1..=`n_users`, every user with at least
/// one row, `items` in 1..=`n_items`, each user's `timestamps` non-decreasing, and (`dedup`: the kcore and
/// slmrec-paper recipes) no item twice in a user's rows. One sequential pass for the users, then one parallel
/// pass over blocks of users; the error names `path` and the first bad row (0-based).
pub fn check_sequences(
    path: &Path,
    user: &[u32],
    items: &[u32],
    timestamps: &[i64],
    n_users: usize,
    n_items: usize,
    dedup: bool,
) -> Result<Vec<i64>> {
    if items.len() != user.len() || timestamps.len() != user.len() {
        return Err(Error::format(path, 0, "columns of different lengths"));
    }
    let mut offsets = vec![0i64; n_users + 1];
    let mut prev = 0u32;
    for (k, &u) in user.iter().enumerate() {
        if u < prev || u < 1 || u as usize > n_users {
            return Err(Error::format(
                path,
                k as u64 + 1,
                format!("row {k}: user_id {u} out of order or outside 1..={n_users}"),
            ));
        }
        prev = u;
        offsets[u as usize] += 1;
    }
    if let Some(k) = items.iter().position(|&i| i == 0 || i as usize > n_items) {
        return Err(Error::format(path, k as u64 + 1, format!("row {k}: item_id {} outside 1..={n_items}", items[k])));
    }
    for u in 0..n_users {
        offsets[u + 1] += offsets[u];
    }
    let blocks = (rayon::current_num_threads() * 2).clamp(1, n_users.max(1));
    let per = n_users.div_ceil(blocks).max(1);
    let offs = &offsets;
    let first_bad = (0..blocks)
        .into_par_iter()
        .filter_map(|b| {
            let mut seen: Vec<u32> = if dedup { vec![0; n_items + 1] } else { Vec::new() };
            for u in b * per..((b + 1) * per).min(n_users) {
                let (s, e) = (offs[u] as usize, offs[u + 1] as usize);
                if s == e {
                    return Some((s, format!("user_id {} has no row (the users table lists it)", u + 1)));
                }
                for k in s..e {
                    if k > s && timestamps[k] < timestamps[k - 1] {
                        return Some((
                            k,
                            format!(
                                "row {k}: timestamp {} is before the previous row's {} of user_id {} (rows must be \
                                 ordered by user, then time)",
                                timestamps[k],
                                timestamps[k - 1],
                                u + 1
                            ),
                        ));
                    }
                    if dedup {
                        let i = items[k] as usize;
                        if seen[i] == u as u32 + 1 {
                            return Some((
                                k,
                                format!(
                                    "row {k}: item_id {i} occurs twice for user_id {} (its recipe keeps one row per \
                                     (user, item))",
                                    u + 1
                                ),
                            ));
                        }
                        seen[i] = u as u32 + 1;
                    }
                }
            }
            None
        })
        .min_by_key(|(k, _)| *k);
    match first_bad {
        Some((k, reason)) => Err(Error::format(path, k as u64 + 1, reason)),
        None => Ok(offsets),
    }
}

/// Reads, filters and writes a dataset directory in one call; returns the dataset.
pub fn prepare(inputs: &[PathBuf], out: &Path, opts: &PrepareOptions) -> Result<Dataset> {
    let started = Instant::now();
    let _lock = OutputLock::acquire(out)?;
    let all: Vec<&Path> = inputs.iter().chain(&opts.meta).map(PathBuf::as_path).collect();
    check_output(out, opts.force, &all)?;
    let mut ds = Dataset::build(inputs, opts)?;
    ds.write_locked(out, opts.force, started)?;
    Ok(ds)
}

/// Where each kept row goes: the new users' row starts (`offsets`), the interned user of each new user
/// (`by_new`) and where each interned user's rows are in the recipe's output (`starts`).
struct Layout<'a> {
    offsets: &'a [i64],
    by_new: &'a [u32],
    starts: &'a [u32],
}

impl Layout<'_> {
    /// Fills `out` (one value per kept row, in the new order) with `value(k)` of each row's position `k` in the
    /// recipe's output, on every core, in pieces of whole users.
    fn gather<T: Send>(&self, out: &mut [T], value: impl Fn(usize) -> T + Sync) {
        let n = self.by_new.len();
        let total = out.len();
        let step = total / (rayon::current_num_threads().max(1) * 8) + 1;
        let mut cuts = vec![0usize];
        for j in 0..n {
            if self.offsets[j] as usize >= cuts.len() * step && j > cuts[cuts.len() - 1] {
                cuts.push(j);
            }
        }
        cuts.push(n);
        let mut pieces = Vec::with_capacity(cuts.len());
        let mut rest = out;
        for w in cuts.windows(2) {
            let len = (self.offsets[w[1]] - self.offsets[w[0]]) as usize;
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(len);
            pieces.push((w[0], w[1], piece));
            rest = tail;
        }
        pieces.into_par_iter().for_each(|(a, b, piece)| {
            let mut at = 0;
            for &u in &self.by_new[a..b] {
                let (s, e) = (self.starts[u as usize] as usize, self.starts[u as usize + 1] as usize);
                for (o, k) in piece[at..at + e - s].iter_mut().zip(s..e) {
                    *o = value(k);
                }
                at += e - s;
            }
        });
    }
}

/// The parent directory of `out` (`.` for a bare name) and its file name.
fn parent_and_name(out: &Path) -> (PathBuf, String) {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dataset".into());
    (parent, name)
}

/// The lock path of output `out`: `PARENT/.NAME.lock`, beside the output (never inside it).
pub fn lock_path(out: &Path) -> PathBuf {
    let (parent, name) = parent_and_name(out);
    parent.join(format!(".{name}.lock"))
}

/// An exclusive lock on an output directory, held for a whole prepare (or write), so that two writers of one
/// output never interleave: the second fails at once, touching nothing.
///
/// The protocol (other tools, such as slmrec-train, may follow it): open or create [`lock_path`] (`PARENT/.NAME.lock`),
/// take an exclusive, non-blocking `flock(2)` on it (Rust's `File::try_lock`, Python's
/// `fcntl.flock(fd, LOCK_EX | LOCK_NB)`); if the path no longer names the locked file (its holder removed it in
/// between), start again. The holder writes its process id into the file and removes the file before releasing
/// the lock, so nothing is left behind; a file left by a killed process holds no lock and is harmless (the next
/// holder takes it over and removes it).
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
    _file: File,
}

impl OutputLock {
    /// Takes the lock of `out`, creating its parent directories; an [`Error::OutputExists`] when another process
    /// (or another thread) holds it.
    pub fn acquire(out: &Path) -> Result<OutputLock> {
        use std::io::Write;
        let (parent, _) = parent_and_name(out);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let path = lock_path(out);
        let cannot = |e: std::io::Error| Error::Io {
            path: out.to_path_buf(),
            source: std::io::Error::new(e.kind(), format!("cannot write the dataset directory: {e}")),
        };
        for _ in 0..64 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(cannot)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                    let who = holder.map(|p| format!(" (process {p})")).unwrap_or_default();
                    return Err(Error::OutputExists {
                        path: out.to_path_buf(),
                        reason: format!(
                            "another process{who} is writing this output (it holds the lock {})",
                            path.display()
                        ),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(cannot(e)),
            }
            if same_file(&file, &path) {
                let _ = file.set_len(0).and_then(|()| writeln!(file, "{}", std::process::id()));
                return Ok(OutputLock { path, _file: file });
            }
        }
        Err(Error::OutputExists { path: out.to_path_buf(), reason: format!("cannot take the lock {}", path.display()) })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked (the file closes after this), so a waiter that opened it sees a stale path.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

/// Words per independently hashed chunk of [`fingerprint`] (fixed: the value must not depend on threads).
const FP_CHUNK: usize = 1 << 16;

/// One 64-bit word into a running hash: multiply-xorshift (cheap; the chain is about 5 cycles a word).
#[inline]
fn fp_mix(h: u64, w: u64) -> u64 {
    let h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

/// The SplitMix64 finaliser (full avalanche of a chunk's hash).
fn fp_final(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes `words` in fixed chunks of [`FP_CHUNK`] in parallel, each seeded by (`tag`, chunk index), then folds
/// the finalised chunk hashes in order: the result is the same for any thread count.
fn fp_array<T: Sync>(tag: u64, words: &[T], word: impl Fn(&T) -> u64 + Sync) -> u64 {
    let chunks: Vec<u64> = words
        .par_chunks(FP_CHUNK)
        .enumerate()
        .map(|(k, c)| fp_final(c.iter().fold(fp_mix(tag, k as u64), |h, w| fp_mix(h, word(w)))))
        .collect();
    chunks.iter().fold(fp_mix(tag, words.len() as u64), |h, &c| fp_mix(h, c))
}

/// The content fingerprint of a dataset: a 64-bit hash of `num_items`, the CSR `offsets` (which fix every
/// user's length), the `items` and the `timestamps` (ratings and the raw-id tables are not part of it). Each
/// array is hashed word by word (values as little-endian 64-bit words) in chunks of 65,536 with a
/// multiply-xorshift step, each chunk finalised with SplitMix64 and the chunks folded in order; the four parts
/// are folded the same way. It is written to stats.json as `fingerprint` at prepare time and checked on load;
/// consumers (persisted evaluation candidates, training runs) bind their files to it. It detects accidental
/// change (a rebuilt or edited dataset), not a deliberate forgery.
pub fn fingerprint(offsets: &[i64], items: &[u32], timestamps: &[i64], num_items: usize) -> u64 {
    let parts = [
        fp_final(fp_mix(1, num_items as u64)),
        fp_array(2, offsets, |&o| o as u64),
        fp_array(3, items, |&i| i as u64),
        fp_array(4, timestamps, |&t| t as u64),
    ];
    fp_final(parts.iter().fold(0x736c_6d72_6563_2d31, |h, &p| fp_mix(h, p)))
}

/// Runs `f`, which decodes the Parquet file `path`: the parquet crate panics on some corrupt files (found by
/// mutating ours: "Decoder for dict should have been set", "column start and length should not be negative");
/// such a panic is the file's fault, so it becomes a format error naming the file.
fn decoding<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(Error::format(path, 0, format!("corrupt Parquet file (the decoder failed: {})", panic_text(&*p))))
    })
}

/// The message of a panic payload (a `&str` or a `String`), for [`Error::Internal`].
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

fn exists(out: &Path) -> Error {
    Error::OutputExists { path: out.to_path_buf(), reason: "already exists; pass --force to replace it".into() }
}

/// Whether `out` may be written: it does not exist, or (`force`) it is recognisably a dataset directory
/// written by slmrec-prep and may be replaced: a real directory (not a symbolic link) whose stats.json is ours
/// (a JSON object with `version`, `recipe` and `interactions`), with no subdirectory (slmrec-prep writes none;
/// one suggests a tree of someone's work), and containing none of `inputs` (nor being one). Anything else is an
/// [`Error::OutputExists`] that says why; nothing is touched.
pub fn check_output(out: &Path, force: bool, inputs: &[&Path]) -> Result<()> {
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(out, e)),
        Ok(m) => m,
    };
    if !force {
        return Err(exists(out));
    }
    let refuse = |reason: String| Error::OutputExists { path: out.to_path_buf(), reason };
    if meta.file_type().is_symlink() {
        return Err(refuse(
            "is a symbolic link; --force replaces only a dataset directory itself, never through a link".into(),
        ));
    }
    if let Ok(real_out) = out.canonicalize() {
        for input in inputs {
            if input.canonicalize().is_ok_and(|i| i.starts_with(&real_out)) {
                return Err(refuse(format!(
                    "holds {}, an input of this run; --force never replaces it (choose another --out)",
                    input.display()
                )));
            }
        }
    }
    if !meta.is_dir() {
        return Err(refuse("exists and is not a directory".into()));
    }
    let not_ours = |why: String| {
        refuse(format!(
            "{why}: it is not a dataset directory written by slmrec-prep, so --force does not replace it \
             (remove it yourself or choose another --out)"
        ))
    };
    let stats = out.join(STATS);
    let is_ours = std::fs::symlink_metadata(&stats).is_ok_and(|m| m.is_file())
        && std::fs::read(&stats)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|v| v["version"].is_string() && v["recipe"].is_object() && v["interactions"].is_u64());
    if !is_ours {
        return Err(not_ours(format!("it has no {STATS} of slmrec-prep")));
    }
    let entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            return Err(not_ours(format!("it holds the directory {name}, which slmrec-prep does not write")));
        }
    }
    Ok(())
}

fn missing_file(dir: &Path, name: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::format(dir, 0, format!("not a dataset directory: {name} is missing (run slmrec-prep)"))
    } else {
        Error::io(&dir.join(name), e)
    }
}

/// Removes the directory on drop unless forgotten (an unfinished write leaves nothing behind).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the hidden temporary directories (`.NAME.tmp-PID-N`) that killed runs writing this output left behind,
/// when their process is gone. Only on systems with `/proc` (elsewhere a live run cannot be told from a dead one);
/// a directory whose process id is alive, or reused, is left alone; errors are ignored (it is housekeeping).
fn remove_stale_temps(parent: &Path, name: &str) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let prefix = format!(".{name}.tmp-");
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        let pid = rest.split('-').next().unwrap_or("");
        if pid.parse::<u32>().is_ok() && !proc.join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

fn pq(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::format(path, 0, format!("parquet: {e}"))
}

/// Like [`pq`], for writing: an OS error under the writer (a full disk) stays an I/O error, not bad data.
fn pq_write(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| match e {
        parquet::errors::ParquetError::External(inner) if inner.is::<std::io::Error>() => match inner.downcast() {
            Ok(io) => Error::io(path, *io),
            Err(inner) => Error::format(path, 0, format!("parquet: {inner}")),
        },
        e => Error::format(path, 0, format!("parquet: {e}")),
    }
}

struct ParquetOut<'p> {
    path: &'p Path,
    w: SerializedFileWriter<File>,
}

type RowGroupWriter<'a> = parquet::file::writer::SerializedRowGroupWriter<'a, File>;

impl<'p> ParquetOut<'p> {
    fn create(path: &'p Path, schema: &str) -> Result<Self> {
        let schema = Arc::new(parse_message_type(schema).map_err(pq_write(path))?);
        let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let w = SerializedFileWriter::new(file, schema, props).map_err(pq_write(path))?;
        Ok(Self { path, w })
    }

    fn row_group(&mut self, f: impl FnOnce(&mut RowGroupWriter<'_>) -> parquet::errors::Result<()>) -> Result<()> {
        let mut rg = self.w.next_row_group().map_err(pq_write(self.path))?;
        f(&mut rg).map_err(pq_write(self.path))?;
        rg.close().map_err(pq_write(self.path))?;
        Ok(())
    }

    fn finish(self) -> Result<()> {
        let path = self.path;
        let file = self.w.into_inner().map_err(pq_write(path))?;
        file.sync_all().map_err(|e| Error::io(path, e))
    }
}

fn write_names(path: &Path, kind: &str, names: &[Box<str>], meta: Option<&[ItemMeta]>) -> Result<()> {
    let mut schema =
        format!("message {kind}s {{ REQUIRED INT32 {kind}_id (INTEGER(32,false)); REQUIRED BYTE_ARRAY {kind} (UTF8);");
    if meta.is_some() {
        schema.push_str(
            " OPTIONAL BYTE_ARRAY title (UTF8); OPTIONAL BYTE_ARRAY brand (UTF8); OPTIONAL BYTE_ARRAY main_cat (UTF8);",
        );
    }
    schema.push_str(" }");
    let mut w = ParquetOut::create(path, &schema)?;
    let m = meta.unwrap_or(&[]);
    let optional = |a: usize, b: usize, get: fn(&ItemMeta) -> &Option<String>| -> (Vec<ByteArray>, Vec<i16>) {
        let rows = m.get(a..b).unwrap_or(&[]);
        let defs = rows.iter().map(|x| get(x).is_some() as i16).collect();
        let vals =
            rows.iter().filter_map(|x| get(x).as_ref().map(|s| ByteArray::from(s.as_bytes().to_vec()))).collect();
        (vals, defs)
    };
    let fields: [fn(&ItemMeta) -> &Option<String>; 3] = [|m| &m.title, |m| &m.brand, |m| &m.main_cat];
    w.row_group(|rg| {
        let mut col = 0;
        while let Some(mut c) = rg.next_column()? {
            // In batches, as the interactions: the copies the writer takes stay small.
            for (a, b) in batches(0, names.len()) {
                match col {
                    0 => {
                        let ids: Vec<i32> = (a as i32 + 1..=b as i32).collect();
                        c.typed::<Int32Type>().write_batch(&ids, None, None)?
                    }
                    1 => {
                        let raw: Vec<ByteArray> =
                            names[a..b].iter().map(|n| ByteArray::from(n.as_bytes().to_vec())).collect();
                        c.typed::<ByteArrayType>().write_batch(&raw, None, None)?
                    }
                    k => {
                        let (vals, defs) = optional(a, b, fields[k - 2]);
                        c.typed::<ByteArrayType>().write_batch(&vals, Some(&defs), None)?
                    }
                };
            }
            c.close()?;
            col += 1;
        }
        Ok(())
    })?;
    w.finish()
}

/// Rows handed to a Parquet column writer per call: a multiple of its mini-batch (1024 rows by default), so
/// that the pages come out as from one call with every row.
const WRITE_BATCH: usize = 1 << 16;

/// `start..end` in consecutive [`WRITE_BATCH`]-row ranges (one empty range when `start == end`).
fn batches(start: usize, end: usize) -> impl Iterator<Item = (usize, usize)> {
    let n = (end - start).div_ceil(WRITE_BATCH).max(1);
    (0..n).map(move |k| (start + k * WRITE_BATCH, (start + (k + 1) * WRITE_BATCH).min(end)))
}

/// Records decoded per call into the Parquet decoder: bounds what one call allocates, whatever a header claims.
const READ_BATCH: usize = 1 << 16;
/// The most rows a Parquet file may claim per byte of its size. No real dataset file comes near it (ours take
/// about 5 bytes a row, polars' zstd rewrites about 2); a footer claiming more is corrupt.
const MAX_ROWS_PER_BYTE: u64 = 64;
/// Room reserved up front for a column (more is grown as values are actually decoded, never from a header).
const RESERVE_ROWS: usize = 1 << 22;

/// A Parquet file of a dataset directory, read by column name. Any valid Parquet with the right columns is
/// accepted: any codec the crate is built with (snappy, zstd, lz4, gzip), required or optional (nullable)
/// columns (an optional column of ids or timestamps must hold no null), integer columns of any width and
/// signedness (values are range-checked), floats of 32 or 64 bits for ratings. Extra columns are ignored.
/// (The table reader, `read/parquet.rs`, reads users' Parquet tables through it too, for its checks.)
pub(crate) struct ParquetIn<'p> {
    path: &'p Path,
    pub(crate) r: SerializedFileReader<File>,
    /// Rows of the file, checked against the row groups and the file size.
    rows: usize,
}

impl<'p> ParquetIn<'p> {
    fn open(path: &'p Path, dir: &Path, name: &str) -> Result<Self> {
        let file = File::open(path).map_err(|e| missing_file(dir, name, e))?;
        Self::from_file(path, file)
    }

    /// Reads the footer of `file` (at `path`) and checks it and every page header against the file's size.
    pub(crate) fn from_file(path: &'p Path, file: File) -> Result<Self> {
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let r = SerializedFileReader::new(file).map_err(pq(path))?;
        let claimed = r.metadata().file_metadata().num_rows();
        let mut in_groups: i64 = 0;
        for g in r.metadata().row_groups() {
            let n = g.num_rows();
            in_groups = match in_groups.checked_add(n) {
                Some(t) if n >= 0 => t,
                _ => {
                    return Err(Error::format(path, 0, format!("corrupt Parquet footer: a row group claims {n} rows")))
                }
            };
        }
        if claimed != in_groups {
            return Err(Error::format(
                path,
                0,
                format!("corrupt Parquet footer: it claims {claimed} rows, its row groups {in_groups}"),
            ));
        }
        let cap = size.saturating_mul(MAX_ROWS_PER_BYTE);
        if claimed as u64 > cap {
            return Err(Error::format(
                path,
                0,
                format!(
                    "corrupt Parquet footer: it claims {claimed} rows, more than a file of {size} bytes can hold \
                     (at most {cap})"
                ),
            ));
        }
        check_pages(path, &r, size)?;
        Ok(Self { path, r, rows: claimed as usize })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &'p Path {
        self.path
    }

    pub(crate) fn descr(&self, col: usize) -> parquet::schema::types::ColumnDescPtr {
        self.r.metadata().file_metadata().schema_descr().column(col)
    }

    pub(crate) fn column_names(&self) -> Vec<String> {
        let schema = self.r.metadata().file_metadata().schema_descr_ptr();
        schema.columns().iter().map(|c| c.path().string()).collect()
    }

    fn has(&self, name: &str) -> bool {
        self.column_names().iter().any(|c| c == name)
    }

    /// The index of the flat column `name`.
    pub(crate) fn find(&self, name: &str) -> Result<usize> {
        let names = self.column_names();
        let Some(col) = names.iter().position(|c| c == name) else {
            return Err(Error::format(
                self.path,
                0,
                format!("wrong schema: no column {name} (columns {names:?}; was it written by slmrec-prep?)"),
            ));
        };
        if self.descr(col).max_rep_level() > 0 || self.descr(col).max_def_level() > 1 {
            return Err(Error::format(
                self.path,
                0,
                format!("column {name} has type {}, expected a flat column", self.type_name(col)),
            ));
        }
        Ok(col)
    }

    /// The column's type, named as polars names it where there is a name (Int64, UInt32, Float32, String).
    pub(crate) fn type_name(&self, col: usize) -> String {
        use parquet::basic::{LogicalType, Type};
        let d = self.descr(col);
        if d.max_rep_level() > 0 || d.max_def_level() > 1 {
            return "List or Struct (nested)".into();
        }
        match (d.physical_type(), d.logical_type_ref()) {
            (Type::INT32 | Type::INT64, None) => {
                if let Some((bits, signed)) = int_kind(&d) {
                    format!("{}{bits}", if signed { "Int" } else { "UInt" })
                } else {
                    format!("{:?} ({})", d.physical_type(), d.converted_type())
                }
            }
            (Type::INT32 | Type::INT64, Some(LogicalType::Integer(t))) => {
                format!("{}{}", if t.is_signed { "Int" } else { "UInt" }, t.bit_width)
            }
            (Type::FLOAT, None) => "Float32".into(),
            (Type::DOUBLE, None) => "Float64".into(),
            (Type::BYTE_ARRAY, Some(LogicalType::String)) => "String".into(),
            (Type::BYTE_ARRAY, None) => "Binary".into(),
            (Type::BOOLEAN, _) => "Boolean".into(),
            (p, Some(l)) => format!("{p:?} ({l:?})"),
            (p, None) => format!("{p:?}"),
        }
    }

    /// Streams column `col` in batches of at most [`READ_BATCH`] records: `sink(values, defs)` gets the non-null
    /// values and, for an optional column read as `nullable`, the definition levels (1 = present). An optional
    /// column not read as `nullable` must hold no null (an error names the first null row).
    fn stream<T: parquet::data_type::DataType>(
        &self,
        col: usize,
        nullable: bool,
        mut sink: impl FnMut(&[T::T], Option<&[i16]>) -> Result<()>,
    ) -> Result<()> {
        let descr = self.descr(col);
        let optional = descr.max_def_level() > 0;
        let mut vals: Vec<T::T> = Vec::with_capacity(READ_BATCH.min(self.rows));
        let mut defs: Vec<i16> = Vec::with_capacity(if optional { READ_BATCH.min(self.rows) } else { 0 });
        let mut row0 = 0usize;
        for g in 0..self.r.num_row_groups() {
            let rg = self.r.get_row_group(g).map_err(pq(self.path))?;
            let rows = rg.metadata().num_rows() as usize;
            let reader = rg.get_column_reader(col).map_err(pq(self.path))?;
            let mut typed = parquet::column::reader::get_typed_column_reader::<T>(reader);
            let mut got = 0;
            while got < rows {
                vals.clear();
                defs.clear();
                let want = (rows - got).min(READ_BATCH);
                let (recs, _, _) = typed
                    .read_records(want, if optional { Some(&mut defs) } else { None }, None, &mut vals)
                    .map_err(pq(self.path))?;
                if recs == 0 || recs > want {
                    return Err(Error::format(
                        self.path,
                        0,
                        format!("truncated column chunk: column {} of row group {g}", descr.path().string()),
                    ));
                }
                if optional && !nullable {
                    if let Some(k) = defs.iter().position(|&d| d < 1) {
                        let row = row0 + got + k;
                        return Err(Error::format(
                            self.path,
                            row as u64 + 1,
                            format!("row {row}: column {} is null (it must not be)", descr.path().string()),
                        ));
                    }
                }
                sink(&vals, if optional && nullable { Some(&defs) } else { None })?;
                got += recs;
            }
            row0 += rows;
        }
        Ok(())
    }

    /// An integer column (any width and signedness; no null) converted value by value with `conv`, which
    /// returns None for a value outside the target type (an error naming the row).
    fn ints<O>(&self, name: &str, expected: &str, conv: impl Fn(i128) -> Option<O>) -> Result<Vec<O>> {
        let col = self.find(name)?;
        let d = self.descr(col);
        let Some((bits, signed)) = int_kind(&d) else {
            return Err(Error::format(
                self.path,
                0,
                format!("column {name} has type {}, expected {expected}", self.type_name(col)),
            ));
        };
        let mut out: Vec<O> = Vec::with_capacity(self.rows.min(RESERVE_ROWS));
        let bad = |row: usize, v: i128| {
            Error::format(
                self.path,
                row as u64 + 1,
                format!("row {row}: column {name} holds {v}, outside the range of {expected}"),
            )
        };
        let wide = move |v: i64| -> i128 {
            match (signed, bits) {
                (false, 64) => v as u64 as i128,
                (false, _) => v as u32 as i128,
                _ => v as i128,
            }
        };
        match d.physical_type() {
            parquet::basic::Type::INT32 => self.stream::<Int32Type>(col, false, |vals, _| {
                for &v in vals {
                    let w = wide(v as i64);
                    out.push(conv(w).ok_or_else(|| bad(out.len(), w))?);
                }
                Ok(())
            })?,
            _ => self.stream::<Int64Type>(col, false, |vals, _| {
                for &v in vals {
                    let w = wide(v);
                    out.push(conv(w).ok_or_else(|| bad(out.len(), w))?);
                }
                Ok(())
            })?,
        }
        self.check_len(name, out.len())?;
        Ok(out)
    }

    fn check_len(&self, name: &str, got: usize) -> Result<()> {
        if got != self.rows {
            return Err(Error::format(
                self.path,
                0,
                format!("column {name} holds {got} values, the footer claims {} rows", self.rows),
            ));
        }
        Ok(())
    }

    /// A float column (Float32, or Float64 narrowed), nulls as NaN.
    fn floats_nullable(&self, name: &str) -> Result<Vec<f32>> {
        let col = self.find(name)?;
        let mut out: Vec<f32> = Vec::with_capacity(self.rows.min(RESERVE_ROWS));
        fn expand<V: Copy>(out: &mut Vec<f32>, vals: &[V], defs: Option<&[i16]>, f: impl Fn(V) -> f32) {
            match defs {
                None => out.extend(vals.iter().map(|&v| f(v))),
                Some(defs) => {
                    let mut it = vals.iter();
                    out.extend(
                        defs.iter().map(|&d| if d >= 1 { it.next().map_or(f32::NAN, |&v| f(v)) } else { f32::NAN }),
                    );
                }
            }
        }
        match self.descr(col).physical_type() {
            parquet::basic::Type::FLOAT => self.stream::<FloatType>(col, true, |vals, defs| {
                expand(&mut out, vals, defs, |v| v);
                Ok(())
            })?,
            parquet::basic::Type::DOUBLE => self.stream::<DoubleType>(col, true, |vals, defs| {
                expand(&mut out, vals, defs, |v| v as f32);
                Ok(())
            })?,
            _ => {
                return Err(Error::format(
                    self.path,
                    0,
                    format!("column {name} has type {}, expected Float32", self.type_name(col)),
                ))
            }
        }
        self.check_len(name, out.len())?;
        Ok(out)
    }

    /// A string column (UTF-8 checked); `nullable`: nulls are None, otherwise a null is an error.
    fn strings(&self, name: &str, nullable: bool) -> Result<Vec<Option<String>>> {
        let col = self.find(name)?;
        let d = self.descr(col);
        if d.physical_type() != parquet::basic::Type::BYTE_ARRAY {
            return Err(Error::format(
                self.path,
                0,
                format!("column {name} has type {}, expected String", self.type_name(col)),
            ));
        }
        let mut out: Vec<Option<String>> = Vec::with_capacity(self.rows.min(RESERVE_ROWS));
        let to_s = |row: usize, b: &ByteArray| -> Result<String> {
            String::from_utf8(b.data().to_vec()).map_err(|_| {
                Error::format(self.path, row as u64 + 1, format!("row {row}: column {name} holds invalid UTF-8"))
            })
        };
        self.stream::<ByteArrayType>(col, nullable, |vals, defs| {
            match defs {
                None => {
                    for b in vals {
                        let s = to_s(out.len(), b)?;
                        out.push(Some(s));
                    }
                }
                Some(defs) => {
                    let mut it = vals.iter();
                    for &d in defs {
                        let v = match (d >= 1).then(|| it.next()).flatten() {
                            Some(b) => Some(to_s(out.len(), b)?),
                            None => None,
                        };
                        out.push(v);
                    }
                }
            }
            Ok(())
        })?;
        self.check_len(name, out.len())?;
        Ok(out)
    }
}

/// The largest uncompressed page a page header may claim: 64 MiB, or 4096 times its compressed size (writers
/// cut pages at about 1 MiB; no codec on real data comes near that ratio). The parquet crate allocates what a
/// header claims (up to 2 GiB a page) before it decompresses; this bounds it by the file.
const MAX_PAGE_FLOOR: u64 = 64 << 20;
const MAX_PAGE_RATIO: u64 = 4096;

/// Walks the page headers of every column chunk of `r` (a file of `size` bytes) before anything is decoded:
/// each chunk must lie inside the file, each page inside its chunk, and no page may claim more than
/// [`MAX_PAGE_FLOOR`] or [`MAX_PAGE_RATIO`] times its compressed size uncompressed.
fn check_pages(path: &Path, r: &SerializedFileReader<File>, size: u64) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let corrupt = |why: String| Error::format(path, 0, format!("corrupt Parquet file: {why}"));
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf: Vec<u8> = Vec::new();
    for (g, rg) in r.metadata().row_groups().iter().enumerate() {
        for c in rg.columns() {
            let name = c.column_path().string();
            let start = match c.dictionary_page_offset() {
                Some(d) if d > 0 => d.min(c.data_page_offset()),
                _ => c.data_page_offset(),
            };
            let len = c.compressed_size();
            let end = start.checked_add(len).filter(|&e| start >= 0 && len >= 0 && e as u64 <= size);
            let Some(end) = end else {
                return Err(corrupt(format!("the chunk of column {name} in row group {g} lies outside the file")));
            };
            let (mut pos, end) = (start as u64, end as u64);
            while pos < end {
                let mut want = 256u64;
                let (head, unc, comp) = loop {
                    let n = want.min(end - pos) as usize;
                    buf.resize(n, 0);
                    f.seek(SeekFrom::Start(pos)).map_err(|e| Error::io(path, e))?;
                    f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
                    match page_header_sizes(&buf) {
                        Some(Ok(v)) => break v,
                        Some(Err(())) => {
                            return Err(corrupt(format!("a bad page header in column {name}, row group {g}")));
                        }
                        None if (n as u64) < end - pos => want = want.saturating_mul(16),
                        None => {
                            return Err(corrupt(format!("a truncated page header in column {name}, row group {g}")))
                        }
                    }
                };
                let (unc, comp) = (unc as u64, comp as u64);
                if pos + head + comp > end {
                    return Err(corrupt(format!("a page of column {name} in row group {g} runs past its chunk")));
                }
                if unc > MAX_PAGE_FLOOR.max(comp.saturating_mul(MAX_PAGE_RATIO)) {
                    return Err(corrupt(format!(
                        "a page of column {name} in row group {g} claims {unc} bytes uncompressed from {comp}"
                    )));
                }
                pos += head + comp;
            }
        }
    }
    Ok(())
}

/// (header length, uncompressed_page_size, compressed_page_size) of the Thrift-compact `PageHeader` at the start
/// of `b`: None when `b` ends first (read more), Some(Err) when it is not a valid header.
fn page_header_sizes(b: &[u8]) -> Option<std::result::Result<(u64, i32, i32), ()>> {
    let mut t = Thrift { b, pos: 0 };
    let (mut unc, mut comp) = (None, None);
    let mut last = 0i16;
    loop {
        let h = match t.byte() {
            Ok(h) => h,
            Err(e) => return e.map(Err),
        };
        if h == 0 {
            break;
        }
        let kind = h & 0x0f;
        let id = if h >> 4 == 0 {
            match t.varint() {
                Ok(v) => ((v >> 1) as i64 ^ -((v & 1) as i64)) as i16,
                Err(e) => return e.map(Err),
            }
        } else {
            last.wrapping_add((h >> 4) as i16)
        };
        last = id;
        if (id == 2 || id == 3) && kind == 5 {
            let v = match t.varint() {
                Ok(v) => ((v >> 1) as i64 ^ -((v & 1) as i64)) as i32,
                Err(e) => return e.map(Err),
            };
            if v < 0 {
                return Some(Err(()));
            }
            if id == 2 {
                unc = Some(v)
            } else {
                comp = Some(v)
            }
        } else if let Err(e) = t.skip(kind, 0) {
            return e.map(Err);
        }
    }
    match (unc, comp) {
        (Some(u), Some(c)) => Some(Ok((t.pos as u64, u, c))),
        _ => Some(Err(())),
    }
}

/// A reader of Thrift's compact protocol that only skips; errors: `None` = out of bytes, `Some(())` = invalid.
struct Thrift<'a> {
    b: &'a [u8],
    pos: usize,
}

type Need = Option<()>;

impl Thrift<'_> {
    fn byte(&mut self) -> std::result::Result<u8, Need> {
        let v = *self.b.get(self.pos).ok_or(None)?;
        self.pos += 1;
        Ok(v)
    }
    fn varint(&mut self) -> std::result::Result<u64, Need> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let x = self.byte()?;
            if shift >= 64 {
                return Err(Some(()));
            }
            v |= ((x & 0x7f) as u64) << shift;
            if x & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Some(()))
    }
    fn advance(&mut self, n: u64) -> std::result::Result<(), Need> {
        let end = (self.pos as u64).checked_add(n).ok_or(Some(()))?;
        if end > self.b.len() as u64 {
            return Err(None);
        }
        self.pos = end as usize;
        Ok(())
    }
    /// Skips a value of compact type `kind` (in a struct field: booleans carry no payload).
    fn skip(&mut self, kind: u8, depth: u32) -> std::result::Result<(), Need> {
        if depth > 32 {
            return Err(Some(()));
        }
        match kind {
            1 | 2 => Ok(()),
            3 => self.advance(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.advance(8),
            8 => {
                let n = self.varint()?;
                self.advance(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = if h >> 4 == 15 { self.varint()? } else { (h >> 4) as u64 };
                self.elements(h & 0x0f, n, depth)
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.element(kv >> 4, depth)?;
                    self.element(kv & 0x0f, depth)?;
                }
                Ok(())
            }
            12 => loop {
                let h = self.byte()?;
                if h == 0 {
                    return Ok(());
                }
                if h >> 4 == 0 {
                    self.varint()?;
                }
                self.skip(h & 0x0f, depth + 1)?;
            },
            _ => Err(Some(())),
        }
    }
    fn elements(&mut self, kind: u8, n: u64, depth: u32) -> std::result::Result<(), Need> {
        for _ in 0..n {
            self.element(kind, depth)?;
        }
        Ok(())
    }
    /// An element of a list, set or map: booleans take one byte there.
    fn element(&mut self, kind: u8, depth: u32) -> std::result::Result<(), Need> {
        if kind == 1 || kind == 2 {
            self.advance(1)
        } else {
            self.skip(kind, depth + 1)
        }
    }
}

/// (bit width, signed) of an integer column (plain INT32/INT64 or an INTEGER/INT_n/UINT_n annotation);
/// None for anything else (a timestamp, a date, a decimal, a float, a string).
pub(crate) fn int_kind(d: &parquet::schema::types::ColumnDescriptor) -> Option<(u8, bool)> {
    use parquet::basic::{ConvertedType as C, LogicalType, Type};
    let physical_bits = match d.physical_type() {
        Type::INT32 => 32,
        Type::INT64 => 64,
        _ => return None,
    };
    match d.logical_type_ref() {
        Some(LogicalType::Integer(t)) => return Some((t.bit_width as u8, t.is_signed)),
        Some(_) => return None,
        None => {}
    }
    match d.converted_type() {
        C::NONE => Some((physical_bits, true)),
        C::INT_8 => Some((8, true)),
        C::INT_16 => Some((16, true)),
        C::INT_32 => Some((32, true)),
        C::INT_64 => Some((64, true)),
        C::UINT_8 => Some((8, false)),
        C::UINT_16 => Some((16, false)),
        C::UINT_32 => Some((32, false)),
        C::UINT_64 => Some((64, false)),
        _ => None,
    }
}

/// The raw ids of a users or items table, and the items' metadata when the table has it.
type NamesAndMeta = (Vec<Box<str>>, Option<Vec<ItemMeta>>);

fn read_names(dir: &Path, name: &str, kind: &str) -> Result<NamesAndMeta> {
    let path = dir.join(name);
    let r = ParquetIn::open(&path, dir, name)?;
    let id_col = format!("{kind}_id");
    let ids = r.ints(&id_col, "UInt32", |v| u32::try_from(v).ok())?;
    if let Some(k) = ids.iter().enumerate().position(|(k, &id)| id as usize != k + 1) {
        return Err(Error::format(
            &path,
            k as u64 + 1,
            format!("row {k}: {kind}_id is {}, expected {}", ids[k], k + 1),
        ));
    }
    let names: Vec<Box<str>> = r.strings(kind, false)?.into_iter().map(|s| s.unwrap_or_default().into()).collect();
    let meta = if ["title", "brand", "main_cat"].iter().all(|c| r.has(c)) {
        let (t, b, m) = (r.strings("title", true)?, r.strings("brand", true)?, r.strings("main_cat", true)?);
        Some(
            t.into_iter().zip(b).zip(m).map(|((title, brand), main_cat)| ItemMeta { title, brand, main_cat }).collect(),
        )
    } else {
        None
    };
    Ok((names, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_every_part_and_not_on_threads() {
        let items: Vec<u32> = (0..200_000u32).map(|k| k % 97 + 1).collect();
        let ts: Vec<i64> = (0..200_000i64).collect();
        let offsets: Vec<i64> = (0..=2_000i64).map(|u| u * 100).collect();
        let base = fingerprint(&offsets, &items, &ts, 97);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
        assert_eq!(one.install(|| fingerprint(&offsets, &items, &ts, 97)), base);
        assert_ne!(fingerprint(&offsets, &items, &ts, 98), base);
        let mut i2 = items.clone();
        i2.swap(70_000, 70_001);
        assert_ne!(fingerprint(&offsets, &i2, &ts, 97), base);
        let mut t2 = ts.clone();
        t2[199_999] += 1;
        assert_ne!(fingerprint(&offsets, &items, &t2, 97), base);
        let mut o2 = offsets.clone();
        o2[1] = 99;
        assert_ne!(fingerprint(&o2, &items, &ts, 97), base);
    }

    #[test]
    fn check_sequences_finds_the_first_bad_row() {
        let p = Path::new("x.parquet");
        let err = |r: Result<Vec<i64>>| r.err().map(|e| e.to_string()).unwrap_or_default();
        // users 1, 1, 2, 2, 2; items; timestamps
        let ok = check_sequences(p, &[1, 1, 2, 2, 2], &[1, 2, 1, 3, 2], &[5, 5, 1, 2, 3], 2, 3, true);
        assert_eq!(ok.ok(), Some(vec![0, 2, 5]));
        let e = err(check_sequences(p, &[1, 2, 1], &[1, 1, 1], &[0, 0, 0], 2, 3, false));
        assert!(e.starts_with("x.parquet:3: row 2: user_id 1 out of order"), "{e}");
        let e = err(check_sequences(p, &[1, 1, 2, 2], &[1, 2, 1, 2], &[1, 2, 3, 2], 2, 3, false));
        assert!(e.starts_with("x.parquet:4: row 3: timestamp 2 is before the previous row's 3 of user_id 2"), "{e}");
        let dup = (&[1u32, 1, 2, 2][..], &[1u32, 2, 3, 3][..], &[1i64, 2, 3, 3][..]);
        assert!(check_sequences(p, dup.0, dup.1, dup.2, 2, 3, false).is_ok());
        let e = err(check_sequences(p, dup.0, dup.1, dup.2, 2, 3, true));
        assert!(e.starts_with("x.parquet:4: row 3: item_id 3 occurs twice for user_id 2"), "{e}");
        let e = err(check_sequences(p, &[1, 1, 3], &[1, 2, 1], &[0, 0, 0], 3, 3, false));
        assert!(e.starts_with("x.parquet:3: user_id 2 has no row"), "{e}");
        let e = err(check_sequences(p, &[1, 1], &[1, 0], &[0, 0], 1, 3, false));
        assert!(e.starts_with("x.parquet:2: row 1: item_id 0 outside 1..=3"), "{e}");
    }

    #[test]
    fn output_lock_is_exclusive_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("ds");
        let first = OutputLock::acquire(&out).expect("first");
        assert!(lock_path(&out).exists() && lock_path(&out).starts_with(dir.path()));
        let second = OutputLock::acquire(&out).err().map(|e| e.to_string()).unwrap_or_default();
        let want = format!("another process (process {}) is writing this output", std::process::id());
        assert!(second.contains(&want), "{second}");
        drop(first);
        assert!(!lock_path(&out).exists());
        let again = OutputLock::acquire(&out).expect("again");
        drop(again);
        assert_eq!(std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(9), 0);
    }

    #[test]
    fn check_output_refuses_what_is_not_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("thesis");
        assert!(check_output(&out, true, &[]).is_ok()); // absent
        std::fs::create_dir(&out).expect("mkdir");
        let why = |force, inputs: &[&Path]| check_output(&out, force, inputs).err().map(|e| e.to_string());
        assert!(why(false, &[]).unwrap_or_default().contains("already exists"));
        assert!(why(true, &[]).unwrap_or_default().contains("has no stats.json of slmrec-prep"));
        let stats = r#"{"version": "0.1.0", "recipe": {"name": "none"}, "interactions": 3}"#;
        std::fs::write(out.join(STATS), stats).expect("stats");
        assert_eq!(why(true, &[]), None);
        let input = out.join("in.txt");
        std::fs::write(&input, "1 2 3").expect("input");
        assert!(why(true, &[&input]).unwrap_or_default().contains("an input of this run"));
        std::fs::create_dir(out.join("sub")).expect("sub");
        assert!(why(true, &[]).unwrap_or_default().contains("the directory sub"));
    }

    #[test]
    fn page_header_sizes_reads_the_compact_header() {
        // type DICTIONARY_PAGE (2), uncompressed 24, compressed 26, a dictionary header struct {1: i32 3}, stop
        let h = [0x15, 0x04, 0x15, 0x30, 0x15, 0x34, 0x3c, 0x15, 0x06, 0x00, 0x00];
        assert_eq!(page_header_sizes(&h), Some(Ok((11, 24, 26))));
        for cut in 0..h.len() {
            assert_eq!(page_header_sizes(&h[..cut]), None, "cut {cut}");
        }
        assert_eq!(page_header_sizes(&[0x15, 0x04, 0x00]), Some(Err(()))); // no sizes
        assert_eq!(page_header_sizes(&[0x15, 0x04, 0x15, 0x01, 0x15, 0x34, 0x00]), Some(Err(()))); // negative
        assert_eq!(page_header_sizes(&[0x1f, 0x00]), Some(Err(()))); // an unknown type
    }
}
