//! Training batches for sequential recommenders, built from a history CSR with leave-one-out splits
//! (per user: the last item is the test target, the second last the valid target, the rest is train).
//!
//! Two kinds of examples:
//! - [`LastItemBatches`] (SLMRec/E4SRec): input = the most recent `max_len` items before the target,
//!   left-padded with 0. Default: one example per user of length >= 3, target = the third-from-last item;
//!   `all_prefixes`: every position `t >= 1` of the train part `seq[:-2]` is a target, with input `seq[:t]`.
//! - [`SequenceBatches`] (SASRec): over the train part `train = seq[:-2]` of each user of length >= 3,
//!   input = `train[:-1]`, positives = `train[1:]` (most recent `max_len`, left-padded, 0 where padded),
//!   and `num_negatives` distinct negatives per position outside the user's train part (0 where padded;
//!   `num_negatives = 0` gives none, for a full-softmax loss). The validation and test items can be
//!   negatives, as they are of a full softmax: never drawing them would tell the model, in every epoch,
//!   which items each user meets next (a leak of the held-out targets into training). With `windows = Some(stride)`, a user's
//!   targets are cut from the end into runs of `stride` (the first run may be shorter), each an example:
//!   its `max_len` inputs end just before its last target, and only its run's positions carry positives
//!   (the earlier ones are context, positive 0). Every target of a long history is then used exactly once
//!   per epoch, not only the last `max_len`, with up to `max_len - stride` items of context at least.
//!
//! A user of length 3 has an empty train prefix: its last-item input, or its whole SASRec row, is padding.
//!
//! Design:
//! - An epoch's order is a permutation of all examples drawn from `(seed, SHUFFLE, epoch)`; rank `r` of
//!   `world_size` takes positions `r, r + world_size, ...` of it, so shards never overlap and lose nothing.
//!   With `even` (the default) shorter shards are topped up with the examples at the start of the
//!   permutation, so every rank runs the same number of steps (what DDP needs; as `DistributedSampler`).
//!   The unit is the example; in the default mode an example is a user.
//! - With `bucket = k > 1`, a rank's epoch order is cut into pools of `k` batches, each pool is sorted by
//!   the examples' history length (stable) and cut into batches, and the full batches of the epoch are
//!   shuffled (stream `BUCKETS`; a smaller last batch stays last). A batch then holds histories of similar
//!   length, so a model that cuts the columns that are padding in every row pays for its longest history,
//!   not `max_len`; every example is still used once per epoch.
//! - A batch is a pure function of (seed, epoch, rank, world_size, batch index); SASRec negatives come from
//!   the stream `(seed, SEQUENCE_NEGATIVES, epoch, user)`, so they do not depend on batch composition.
//! - A batch is small (256 x 50 ids take microseconds), so one batch is built on one thread and
//!   `batches` builds several in parallel with rayon (what a data loader wants: one call, several batches,
//!   the thread-pool hand-off paid once). Buffers are freshly allocated and owned by the caller (the
//!   Python bindings move them into NumPy without a copy).

use std::collections::HashSet;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::rng::{permutation, stream, Rng};
use crate::sampler::{
    alloc, check_user, prefetch, validate_offsets, History, NegativeSampler, SamplerOptions, Scratch, AHEAD,
};

/// Rows per rayon task in [`history_inputs`].
const MIN_ROWS_PER_TASK: usize = 64;

/// Which leave-one-out split an input is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Target `seq[-3]`: input = the items before it.
    Train,
    /// Target `seq[-2]`.
    Valid,
    /// Target `seq[-1]`.
    Test,
}

impl Split {
    /// How many items of a sequence the target and everything after it take.
    pub fn held_out(self) -> usize {
        match self {
            Split::Train => 3,
            Split::Valid => 2,
            Split::Test => 1,
        }
    }
}

impl std::str::FromStr for Split {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "valid" => Ok(Split::Valid),
            "test" => Ok(Split::Test),
            other => Err(Error::InvalidArgument(format!(
                "unknown split {other:?}: expected \"train\", \"valid\" or \"test\""
            ))),
        }
    }
}

/// Copies the most recent `out.len()` items of `items` into `out`, left-padded with 0.
#[inline]
fn left_pad(items: &[u32], out: &mut [i64]) {
    let keep = items.len().min(out.len());
    let pad = out.len() - keep;
    out[..pad].fill(0);
    for (o, &i) in out[pad..].iter_mut().zip(&items[items.len() - keep..]) {
        *o = i64::from(i);
    }
}

/// The model input of an evaluation split for each of `users` (CSR row indices): the items before the
/// split's target, most recent `max_len` kept, left-padded with 0; row-major `[users.len() * max_len]`.
/// `offsets`/`items` are validated (structure, and no 0 among the items used).
pub fn history_inputs(offsets: &[i64], items: &[u32], users: &[i64], split: Split, max_len: usize) -> Result<Vec<i64>> {
    if max_len == 0 {
        return Err(Error::InvalidArgument("max_len must be at least 1, got 0".into()));
    }
    let cut = split.held_out();
    let mut rows = Vec::with_capacity(users.len());
    for (u, start, end) in split_rows(offsets, items.len(), users, split)? {
        let used = (end - cut).saturating_sub(max_len).max(start)..end - cut;
        if let Some(k) = items[used.clone()].iter().position(|&i| i == 0) {
            return Err(Error::InvalidArgument(format!(
                "items[{}] is 0 (the padding id) in the history of user {u}",
                used.start + k
            )));
        }
        rows.push(used);
    }
    let mut out = alloc(rows.len(), max_len)?;
    out.par_chunks_mut(max_len)
        .zip(rows.par_iter())
        .with_min_len(MIN_ROWS_PER_TASK)
        .for_each(|(o, r)| left_pad(&items[r.clone()], o));
    Ok(out)
}

/// The users a leave-one-out split can be made for (at least [`Split::Train`]`.held_out()` items), as CSR
/// rows, ascending. `offsets` is validated against `items_len`.
pub fn splittable_users(offsets: &[i64], items_len: usize) -> Result<Vec<i64>> {
    validate_offsets(offsets, items_len)?;
    let need = Split::Train.held_out() as i64;
    Ok((0..offsets.len() - 1).filter(|&u| offsets[u + 1] - offsets[u] >= need).map(|u| u as i64).collect())
}

/// The rows `users` of the CSR, each checked to be long enough for `split`: (row, its `items` range).
fn split_rows(offsets: &[i64], items_len: usize, users: &[i64], split: Split) -> Result<Vec<(usize, usize, usize)>> {
    validate_offsets(offsets, items_len)?;
    let num_users = offsets.len() - 1;
    let cut = split.held_out();
    users
        .iter()
        .enumerate()
        .map(|(j, &u)| {
            let u = check_user(u, j, num_users)?;
            let (start, end) = (offsets[u] as usize, offsets[u + 1] as usize);
            if end - start < cut {
                return Err(Error::InvalidArgument(format!(
                    "user {u} (users[{j}]) has {} items, too few for the {split:?} split (it needs at least {cut})",
                    end - start
                )));
            }
            Ok((u, start, end))
        })
        .collect()
}

/// The target of `split` for each of `users` (CSR rows): `seq[-1]` for test, `seq[-2]` for valid, `seq[-3]`
/// for train.
pub fn split_targets(offsets: &[i64], items: &[u32], users: &[i64], split: Split) -> Result<Vec<i64>> {
    let rows = split_rows(offsets, items.len(), users, split)?;
    Ok(rows.iter().map(|&(_, _, end)| i64::from(items[end - split.held_out()])).collect())
}

/// Whether the target of `split` of each of `users` (CSR rows) is cold: it occurs nowhere in the split's training
/// part, every user's sequence without its last `split.held_out()` items (RecTools' `filter_cold_items` on a
/// leave-one-out split, the eSASRec benchmark's rule). Memory: one entry per distinct target.
pub fn cold_targets(offsets: &[i64], items: &[u32], users: &[i64], split: Split) -> Result<Vec<bool>> {
    let targets = split_targets(offsets, items, users, split)?; // validates offsets and users
    let mut unseen: HashSet<i64> = targets.iter().copied().collect();
    let cut = split.held_out();
    for w in offsets.windows(2) {
        let (start, end) = (w[0] as usize, w[1] as usize);
        for &i in &items[start..end.saturating_sub(cut).max(start)] {
            unseen.remove(&i64::from(i));
        }
    }
    Ok(targets.iter().map(|t| unseen.contains(t)).collect())
}

/// What full ranking puts below every item for each of `users` (CSR rows) in `split`: the user's whole
/// sequence with the split's target (every occurrence of it) replaced by 0, then 0s (`alloc` zeroes); row-major
/// `[users.len() * width]` with `width` the longest of these sequences (1 when `users` is empty). Returns the
/// matrix and `width`.
pub fn history_exclusions(offsets: &[i64], items: &[u32], users: &[i64], split: Split) -> Result<(Vec<i64>, usize)> {
    let rows = split_rows(offsets, items.len(), users, split)?;
    let width = rows.iter().map(|&(_, start, end)| end - start).max().unwrap_or(1);
    let mut out = alloc(rows.len(), width)?;
    out.par_chunks_mut(width).zip(rows.par_iter()).with_min_len(MIN_ROWS_PER_TASK).for_each(|(o, &(_, start, end))| {
        let seq = &items[start..end];
        let target = seq[seq.len() - split.held_out()];
        for (x, &i) in o.iter_mut().zip(seq) {
            *x = if i == target { 0 } else { i64::from(i) };
        }
    });
    Ok((out, width))
}

/// How batches are cut and shared among processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Input length (most recent items kept, left-padded with 0).
    pub max_len: usize,
    /// Examples per batch (the last batch of an epoch may be smaller unless `drop_last`).
    pub batch_size: usize,
    /// Seed of the permutation and of the negatives.
    pub seed: u64,
    /// Shuffle the examples each epoch (else they come in CSR order).
    pub shuffle: bool,
    /// Drop the last, incomplete batch.
    pub drop_last: bool,
    /// This process's rank, `0..world_size`.
    pub rank: usize,
    /// The number of processes.
    pub world_size: usize,
    /// Top up shorter shards (see the module docs) so every rank has the same number of batches.
    pub even: bool,
    /// Batches of similar history length from pools of this many batches (0 or 1: off; see the module docs).
    pub bucket: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl BatchOptions {
    /// The defaults of every caller (the bindings' keyword defaults are these): one shuffled, evenly sharded
    /// pass of batches of 256 examples of the last 50 items, for both builders (a model with another input
    /// length passes its own `max_len`).
    pub const DEFAULT: BatchOptions = BatchOptions {
        max_len: 50,
        batch_size: 256,
        seed: 0,
        shuffle: true,
        drop_last: false,
        rank: 0,
        world_size: 1,
        even: true,
        bucket: 0,
    };

    /// Checks the options on their own (the builders call it): lengths at least 1, one batch's array within
    /// the allocation bound, `rank < world_size`.
    pub fn validate(&self) -> Result<()> {
        if self.max_len == 0 || self.batch_size == 0 {
            return Err(Error::InvalidArgument(format!(
                "max_len and batch_size must be at least 1, got {} and {}",
                self.max_len, self.batch_size
            )));
        }
        // One batch's input array must fit (checked here, before any epoch, not at the first batch).
        crate::limits::array_len(
            &format!("a batch (batch_size {}, max_len {})", self.batch_size, self.max_len),
            self.batch_size,
            self.max_len,
            std::mem::size_of::<i64>(),
        )?;
        if self.world_size == 0 || self.rank >= self.world_size {
            return Err(Error::InvalidArgument(format!(
                "rank must be in 0..world_size, got rank {} of world_size {}",
                self.rank, self.world_size
            )));
        }
        Ok(())
    }
}

/// The examples one rank sees in one epoch, in order (ids into the global example list).
#[derive(Debug, Clone)]
pub struct EpochOrder {
    epoch: u64,
    ids: Vec<u64>,
    batch_size: usize,
    drop_last: bool,
}

impl EpochOrder {
    /// The epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    /// The example ids in order.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }
    /// The number of batches.
    pub fn num_batches(&self) -> usize {
        num_batches(self.ids.len(), self.batch_size, self.drop_last)
    }
    /// The example ids of batch `b`, or `None` when out of range.
    pub fn batch(&self, b: usize) -> Option<&[u64]> {
        if b >= self.num_batches() {
            return None;
        }
        let start = b * self.batch_size;
        Some(&self.ids[start..(start + self.batch_size).min(self.ids.len())])
    }

    fn checked_batch(&self, b: usize) -> Result<&[u64]> {
        self.batch(b).ok_or_else(|| Error::InvalidArgument(format!("batch {b} is outside 0..{}", self.num_batches())))
    }
}

fn num_batches(examples: usize, batch_size: usize, drop_last: bool) -> usize {
    if drop_last {
        examples / batch_size
    } else {
        examples.div_ceil(batch_size)
    }
}

/// The global example list (users, each with a run of consecutive example ids) and the per-epoch order: what
/// the two builders share ([`LastItemBatches::schedule`], [`SequenceBatches::schedule`]).
#[derive(Debug, Clone)]
pub struct Schedule {
    opts: BatchOptions,
    /// Users that have at least one example.
    users: Vec<u32>,
    /// `starts[i]..starts[i + 1]` are the example ids of `users[i]`.
    starts: Vec<u64>,
    /// The history length of `users[i]` (the sort key of `bucket`).
    lengths: Vec<u32>,
}

impl Schedule {
    /// `count(len)` examples for each user row of length `len`.
    fn new(history: &History, opts: BatchOptions, count: impl Fn(usize) -> u64) -> Self {
        let mut users = Vec::new();
        let mut starts = vec![0u64];
        let mut lengths = Vec::new();
        for u in 0..history.num_users() {
            let len = history.row(u).len();
            let c = count(len);
            if c > 0 {
                users.push(u as u32);
                starts.push(starts[starts.len() - 1] + c);
                lengths.push(u32::try_from(len).unwrap_or(u32::MAX));
            }
        }
        Schedule { opts, users, starts, lengths }
    }

    /// The number of examples per epoch over all ranks.
    pub fn num_examples(&self) -> u64 {
        self.starts[self.starts.len() - 1]
    }

    /// This rank's number of batches per epoch.
    pub fn num_batches(&self) -> usize {
        num_batches(self.rank_examples(), self.opts.batch_size, self.opts.drop_last)
    }

    /// This rank's number of examples per epoch.
    pub fn rank_examples(&self) -> usize {
        let (t, w, r) = (self.num_examples() as usize, self.opts.world_size, self.opts.rank);
        if self.opts.even {
            t.div_ceil(w)
        } else if t > r {
            (t - r - 1) / w + 1
        } else {
            0
        }
    }

    /// This rank's examples of `epoch`, in order.
    pub fn order(&self, epoch: u64) -> EpochOrder {
        let t = self.num_examples() as usize;
        let perm = if self.opts.shuffle {
            permutation(t, &mut Rng::new(self.opts.seed, stream::SHUFFLE, epoch, 0))
        } else {
            (0..t as u64).collect()
        };
        let (w, r) = (self.opts.world_size, self.opts.rank);
        let mut ids: Vec<u64> = (0..self.rank_examples()).map(|i| perm[(r + i * w) % t]).collect();
        if self.opts.bucket > 1 {
            ids = self.bucketed(ids, epoch);
        }
        EpochOrder { epoch, ids, batch_size: self.opts.batch_size, drop_last: self.opts.drop_last }
    }

    /// `ids` cut into pools of `bucket` batches sorted by history length, the full batches shuffled.
    fn bucketed(&self, mut ids: Vec<u64>, epoch: u64) -> Vec<u64> {
        let bs = self.opts.batch_size;
        let pool = self.opts.bucket.saturating_mul(bs);
        for chunk in ids.chunks_mut(pool) {
            chunk.sort_by_key(|&id| self.length_of(id));
        }
        let full = ids.len() / bs;
        let rank = self.opts.rank as u64;
        let order = permutation(full, &mut Rng::new(self.opts.seed, stream::BUCKETS, epoch, rank));
        let mut out = Vec::with_capacity(ids.len());
        for &b in &order {
            let b = b as usize;
            out.extend_from_slice(&ids[b * bs..(b + 1) * bs]);
        }
        out.extend_from_slice(&ids[full * bs..]);
        out
    }

    /// The history length of the user of example `id` (ids come from this schedule, so they are in range).
    fn length_of(&self, id: u64) -> u32 {
        let i = self.starts.partition_point(|&s| s <= id).saturating_sub(1);
        self.lengths.get(i).copied().unwrap_or(0)
    }

    /// Example id -> (user row, index of the example among the user's).
    fn locate(&self, id: u64) -> Result<(usize, usize)> {
        if id >= self.num_examples() {
            return Err(Error::InvalidArgument(format!("example id {id} is outside 0..{}", self.num_examples())));
        }
        if self.num_examples() == self.users.len() as u64 {
            return Ok((self.users[id as usize] as usize, 0)); // one example per user
        }
        let i = self.starts.partition_point(|&s| s <= id) - 1;
        Ok((self.users[i] as usize, (id - self.starts[i]) as usize))
    }

    fn locate_all(&self, ids: &[u64]) -> Result<Vec<(usize, usize)>> {
        ids.iter().map(|&id| self.locate(id)).collect()
    }
}

/// The `items` range of each located example's user, gathered in one tight loop (shuffled users are cache
/// misses; gathered together, the CPU overlaps them).
fn row_ranges(history: &History, located: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let offsets = history.offsets();
    located.iter().map(|&(u, _)| (offsets[u] as usize, offsets[u + 1] as usize)).collect()
}

/// Prefetches the history of the row `AHEAD` places after row `r` (and, at the start, the first ones).
#[inline]
fn prefetch_ahead(history: &History, ranges: &[(usize, usize)], r: usize) {
    let items = history.items();
    if r == 0 {
        ranges.iter().take(AHEAD).for_each(|&(a, b)| prefetch(items, a, b));
    }
    if let Some(&(a, b)) = ranges.get(r + AHEAD) {
        prefetch(items, a, b);
    }
}

/// One batch of last-item examples; row-major buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastItemBatch {
    /// User row of each example, `[B]`.
    pub users: Vec<i64>,
    /// Inputs, `[B * max_len]`.
    pub input_ids: Vec<i64>,
    /// Targets, `[B]`.
    pub target: Vec<i64>,
}

/// Last-item (SLMRec/E4SRec) training batches; see the module docs.
#[derive(Debug, Clone)]
pub struct LastItemBatches {
    history: History,
    schedule: Schedule,
    all_prefixes: bool,
}

impl LastItemBatches {
    /// Batches over `history` (one example per user of length >= 3, or every prefix with `all_prefixes`).
    pub fn new(history: History, all_prefixes: bool, opts: BatchOptions) -> Result<Self> {
        opts.validate()?;
        let schedule = Schedule::new(&history, opts, |len| match (all_prefixes, len >= 3) {
            (_, false) => 0,
            (false, true) => 1,
            (true, true) => len as u64 - 3,
        });
        Ok(Self { history, schedule, all_prefixes })
    }

    /// The history the examples come from.
    pub fn history(&self) -> &History {
        &self.history
    }
    /// The examples and their per-epoch order.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Builds the batch of the examples `ids` (from [`EpochOrder::batch`]) on the calling thread.
    pub fn batch(&self, ids: &[u64]) -> Result<LastItemBatch> {
        let located = self.schedule.locate_all(ids)?;
        let ranges = row_ranges(&self.history, &located);
        let l = self.schedule.opts.max_len;
        let mut input_ids = alloc(ids.len(), l)?;
        let mut target = vec![0i64; ids.len()];
        for (r, ((input, tgt), &(u, k))) in input_ids.chunks_mut(l).zip(target.iter_mut()).zip(&located).enumerate() {
            prefetch_ahead(&self.history, &ranges, r);
            let row = self.history.row(u);
            let t = if self.all_prefixes { 1 + k } else { row.len() - 3 };
            left_pad(&row[..t], input);
            *tgt = i64::from(row[t]);
        }
        let users = located.iter().map(|&(u, _)| u as i64).collect();
        Ok(LastItemBatch { users, input_ids, target })
    }

    /// Builds batches `which` of `order`, in parallel (one batch per task).
    pub fn batches(&self, order: &EpochOrder, which: &[usize]) -> Result<Vec<LastItemBatch>> {
        which.par_iter().map(|&b| self.batch(order.checked_batch(b)?)).collect()
    }
}

/// One batch of all-position examples; row-major buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceBatch {
    /// User row of each example, `[B]`.
    pub users: Vec<i64>,
    /// Inputs, `[B * max_len]`.
    pub input_ids: Vec<i64>,
    /// Next items, `[B * max_len]`, 0 where padded.
    pub positives: Vec<i64>,
    /// Negatives, `[B * max_len * num_negatives]`, 0 where padded.
    pub negatives: Vec<i64>,
}

/// All-position (SASRec) training batches with uniform negatives; see the module docs.
#[derive(Debug, Clone)]
pub struct SequenceBatches {
    sampler: NegativeSampler,
    schedule: Schedule,
    num_negatives: usize,
    windows: Option<usize>,
}

impl SequenceBatches {
    /// The default `num_negatives` (one per position, SASRec's binary cross-entropy).
    pub const DEFAULT_NUM_NEGATIVES: usize = 1;

    /// Batches over `history` with `num_negatives` negatives per position (0: none), one example per user
    /// of length >= 3, or with `windows = Some(stride)` one per run of `stride` targets (users without a
    /// target have none). Fails, naming the user, when a user with at least one position has fewer than
    /// `num_negatives` items outside its history, or when `stride` is not in `1..=max_len`.
    pub fn new(history: History, num_negatives: usize, windows: Option<usize>, opts: BatchOptions) -> Result<Self> {
        opts.validate()?;
        let per_row = opts.max_len.saturating_mul(num_negatives);
        crate::limits::array_len(
            &format!(
                "a batch's negatives (batch_size {}, max_len {}, num_negatives {num_negatives})",
                opts.batch_size, opts.max_len
            ),
            opts.batch_size,
            per_row,
            std::mem::size_of::<i64>(),
        )?;
        if let Some(stride) = windows {
            if stride == 0 || stride > opts.max_len {
                return Err(Error::InvalidArgument(format!(
                    "windows (the stride) must be in 1..=max_len ({}), got {stride}",
                    opts.max_len
                )));
            }
        }
        // a row of length `len` has `len - 3` targets: train = row[..len - 2], targets train[1..]
        let schedule = Schedule::new(&history, opts, |len| match (windows, len >= 3) {
            (_, false) => 0,
            (None, true) => 1,
            (Some(stride), true) => (len - 3).div_ceil(stride) as u64,
        });
        let sampler = NegativeSampler::new(history, SamplerOptions { seed: opts.seed, ..SamplerOptions::default() })?;
        for &u in &schedule.users {
            let u = u as usize;
            let a = sampler.available(u);
            if sampler.history().row(u).len() >= 4 && a < num_negatives {
                return Err(Error::InvalidArgument(format!(
                    "user {u} has only {a} items outside its history, fewer than num_negatives = {num_negatives}"
                )));
            }
        }
        Ok(Self { sampler, schedule, num_negatives, windows })
    }

    /// The history the examples come from.
    pub fn history(&self) -> &History {
        self.sampler.history()
    }
    /// The examples (users, or windows) and their per-epoch order.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    /// Negatives per position.
    pub fn num_negatives(&self) -> usize {
        self.num_negatives
    }

    /// Builds the batch of the examples `ids` (from [`EpochOrder::batch`]) of `epoch` on the calling thread.
    pub fn batch(&self, ids: &[u64], epoch: u64) -> Result<SequenceBatch> {
        self.batch_with(&mut self.sampler.scratch(), ids, epoch)
    }

    /// Builds batches `which` of `order`, in parallel (one batch per task).
    pub fn batches(&self, order: &EpochOrder, which: &[usize]) -> Result<Vec<SequenceBatch>> {
        which
            .par_iter()
            .map_init(|| self.sampler.scratch(), |s, &b| self.batch_with(s, order.checked_batch(b)?, order.epoch))
            .collect()
    }

    fn batch_with(&self, s: &mut Scratch, ids: &[u64], epoch: u64) -> Result<SequenceBatch> {
        let located = self.schedule.locate_all(ids)?;
        let ranges = row_ranges(self.sampler.history(), &located);
        let (l, k) = (self.schedule.opts.max_len, self.num_negatives);
        let b = ids.len();
        let mut input_ids = alloc(b, l)?;
        let mut positives = alloc(b, l)?;
        let mut negatives = alloc(b, l.saturating_mul(k))?;
        let seed = self.schedule.opts.seed;
        let rows = input_ids.chunks_mut(l).zip(positives.chunks_mut(l));
        for (r, ((input, pos), &(u, w))) in rows.zip(&located).enumerate() {
            prefetch_ahead(self.sampler.history(), &ranges, r);
            let row = self.sampler.history().row(u);
            let train = &row[..row.len() - 2];
            // positions train[lo..hi] (at most max_len), inputs the items one step before; targets train[first..hi].
            // 1 <= lo <= first <= hi (train has >= 1 item; a window's hi >= 2 and stride <= max_len).
            let hi = self.windows.map_or(train.len(), |stride| train.len() - w * stride);
            let lo = hi.saturating_sub(l).max(1);
            let first = self.windows.map_or(lo, |stride| hi.saturating_sub(stride).max(1));
            let kept = hi - lo;
            left_pad(&train[lo - 1..hi - 1], input);
            left_pad(&train[lo..hi], pos);
            let context = first - lo; // leading positions that are context only
            pos[l - kept..l - kept + context].fill(0);
            let targets = hi - first;
            if targets > 0 && k > 0 {
                // window 0 draws from the user's stream, as without windows; window w from its own
                let mut rng = Rng::new(seed, stream::SEQUENCE_NEGATIVES, epoch, ((w as u64) << 32) | u as u64);
                self.sampler.fill_groups(
                    s,
                    &mut rng,
                    train,
                    k,
                    &mut negatives[((r + 1) * l - targets) * k..(r + 1) * l * k],
                );
            }
        }
        let users = located.iter().map(|&(u, _)| u as i64).collect();
        Ok(SequenceBatch { users, input_ids, positives, negatives })
    }
}
