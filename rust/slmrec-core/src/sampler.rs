//! Negative sampling over per-user histories: training negatives and evaluation candidates that never
//! contain an item of the user's history nor the padding id 0, distinct within a row, reproducible.
//!
//! Design:
//! - [`History`] is a validated CSR of each user's full history (row `u` = user index `u`, item ids
//!   `1..=num_items`, 0 is padding). It is copied in once, so later calls cannot observe caller mutations.
//! - Every row is drawn from its own counter-based stream keyed by `(seed, stream, epoch, user)`
//!   ([`crate::rng`]): results do not depend on thread counts, batch splits or call order.
//! - Fast path: rejection sampling against a per-thread bitset of the catalogue (the user's history is
//!   marked, each accepted draw is marked too, so rows are distinct; marks are cleared afterwards, so
//!   a row costs O(history + k), not O(num_items)). When the blocked part is large (more than half of the
//!   catalogue, or of the popularity mass), or a rejection budget of `4 k + 64` draws runs out, the rest
//!   of the row is drawn from the enumerated complement instead (partial Fisher-Yates for uniform,
//!   exponential-clock keys for popularity), which gives the same distribution. Which path a row takes
//!   depends only on its data and its own stream, so determinism is kept.
//! - Popularity: `p(i) ~ count(i)^alpha` over the items that occur in the history CSR, drawn with
//!   Walker/Vose alias tables (O(1) per draw); a row is then a sequence of draws proportional to weight
//!   among the items not yet blocked (sampling without replacement, history excluded).
//! - Every argument is validated before any work starts; errors name the offending index.
//! - Speed: rows are spread over rayon in blocks of 64; the users' row ranges are gathered first and
//!   each block prefetches the history a few rows ahead (random users are cache misses otherwise);
//!   results are written once, never zeroed first.
//!
//! ```
//! use slmrec_core::sampler::{Distribution, History, NegativeSampler, SamplerOptions};
//!
//! // Two users: user 0 saw items 1 and 2, user 1 saw item 3; the catalogue has 10 items.
//! let history = History::new(vec![0, 2, 3], vec![1, 2, 3], 10)?;
//! let opts = SamplerOptions { seed: 42, distribution: Distribution::Uniform, pad_short: false };
//! let sampler = NegativeSampler::new(history, opts)?;
//! let negs = sampler.sample(&[0, 1, 0], 4, 0)?; // 3 rows of 4, row-major
//! assert_eq!(negs.len(), 12);
//! assert!(negs[..4].iter().all(|&i| (3..=10).contains(&i)));
//! assert_eq!(negs[..4], negs[8..]); // a function of (seed, epoch, user) only
//! assert_ne!(sampler.sample(&[0], 4, 1)?, negs[..4]); // another epoch, other negatives
//! // Evaluation candidates: column 0 is the positive, then n negatives.
//! let cands = sampler.eval_candidates(&[1], &[3], 5, 0)?;
//! assert_eq!(cands[0], 3);
//! # Ok::<(), slmrec_core::Error>(())
//! ```

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::rng::{stream, Rng};

/// Rows per rayon task (a row is cheap; this keeps scheduling overhead and scratch setup negligible).
const MIN_ROWS_PER_TASK: usize = 64;

/// How many rows ahead a row's history is prefetched.
pub(crate) const AHEAD: usize = 4;

/// Checks that `offsets` is a CSR row index over `items_len` entries: starts at 0, never decreases, ends
/// at `items_len`.
pub fn validate_offsets(offsets: &[i64], items_len: usize) -> Result<()> {
    let Some(&first) = offsets.first() else {
        return Err(Error::InvalidArgument("offsets is empty: it needs num_users + 1 entries (at least [0])".into()));
    };
    if first != 0 {
        return Err(Error::InvalidArgument(format!("offsets[0] is {first}, expected 0")));
    }
    if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::InvalidArgument(format!(
            "offsets is not monotone: offsets[{}] = {} < offsets[{i}] = {}",
            i + 1,
            offsets[i + 1],
            offsets[i]
        )));
    }
    let last = offsets[offsets.len() - 1];
    if last != items_len as i64 {
        return Err(Error::InvalidArgument(format!(
            "lengths do not match: offsets[{}] = {last} but items has {items_len} entries",
            offsets.len() - 1
        )));
    }
    Ok(())
}

/// Checks a history CSR: `offsets` is a row index over `items` ([`validate_offsets`]) and every item is in
/// `1..=num_items` (0 is padding); returns `num_items` as the ids' type.
pub fn check_csr<T: Copy + Into<i64>>(offsets: &[i64], items: &[T], num_items: usize) -> Result<u32> {
    let n = check_num_items(num_items)?;
    validate_offsets(offsets, items.len())?;
    if let Some(k) = items.iter().position(|&i| {
        let i: i64 = i.into();
        i <= 0 || i > i64::from(n)
    }) {
        return Err(Error::InvalidArgument(format!(
            "items[{k}] = {} (in row {}) is outside 1..={n} (0 is reserved for padding)",
            items[k].into(),
            row_of(offsets, k)
        )));
    }
    Ok(n)
}

/// Checks a user index `value` found at `users[index]` against `num_users`; returns it as a row index.
pub(crate) fn check_user(value: i64, index: usize, num_users: usize) -> Result<usize> {
    if value < 0 || value as u64 >= num_users as u64 {
        return Err(Error::InvalidArgument(format!(
            "users[{index}] = {value} is not a user row index in 0..{num_users}"
        )));
    }
    Ok(value as usize)
}

/// Checks a count argument (`k`, `n`, `max_len`, ...) that must be at least 1.
pub fn check_positive(name: &str, value: i64) -> Result<usize> {
    if value <= 0 {
        return Err(Error::InvalidArgument(format!("{name} must be at least 1, got {value}")));
    }
    usize::try_from(value).map_err(|_| Error::InvalidArgument(format!("{name} = {value} is too large")))
}

/// Checks a seed (or an epoch, or a stream) given as a signed integer: `0..=u64::MAX`.
pub fn check_seed(name: &str, value: i128) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::InvalidArgument(format!("{name} must be in 0..={}, got {value}", u64::MAX)))
}

/// Checks a count argument that may be 0 (`num_negatives` of a full-softmax loss).
pub fn check_non_negative(name: &str, value: i64) -> Result<usize> {
    usize::try_from(value).map_err(|_| Error::InvalidArgument(format!("{name} must be at least 0, got {value}")))
}

/// The row of `position` in a CSR (for error messages).
fn row_of(offsets: &[i64], position: usize) -> usize {
    offsets.partition_point(|&o| o <= position as i64).saturating_sub(1)
}

/// The validated history CSR: row `u` holds user `u`'s items `1..=num_items` (0 is padding).
#[derive(Debug, Clone)]
pub struct History {
    offsets: Vec<i64>,
    items: Vec<u32>,
    num_items: u32,
    /// The number of distinct items of each row.
    distinct: Vec<u32>,
}

impl History {
    /// Validates and takes a CSR: `offsets` has `num_users + 1` entries, starts at 0, never decreases and
    /// ends at `items.len()`; every item is in `1..=num_items`.
    pub fn new(offsets: Vec<i64>, items: Vec<u32>, num_items: usize) -> Result<Self> {
        let n = check_csr(&offsets, &items, num_items)?;
        Ok(Self::counted(offsets, items, n))
    }

    /// Like [`History::new`] for 64-bit item ids (as NumPy or polars often hold them).
    pub fn from_i64_items(offsets: Vec<i64>, items: &[i64], num_items: usize) -> Result<Self> {
        let n = check_csr(&offsets, items, num_items)?;
        let items = items.iter().map(|&i| i as u32).collect();
        Ok(Self::counted(offsets, items, n))
    }

    fn counted(offsets: Vec<i64>, items: Vec<u32>, num_items: u32) -> Self {
        let mut h = History { offsets, items, num_items, distinct: Vec::new() };
        let distinct = (0..h.num_users())
            .into_par_iter()
            .with_min_len(MIN_ROWS_PER_TASK)
            .map_init(
                || Bits::new(num_items),
                |bits, u| {
                    let row = h.row(u);
                    let n = row.iter().filter(|&&i| bits.insert(i)).count() as u32;
                    row.iter().for_each(|&i| bits.remove(i));
                    n
                },
            )
            .collect();
        h.distinct = distinct;
        h
    }

    /// The number of users (rows).
    pub fn num_users(&self) -> usize {
        self.offsets.len() - 1
    }
    /// The number of items in the catalogue.
    pub fn num_items(&self) -> usize {
        self.num_items as usize
    }
    /// The row starts (`num_users + 1` entries).
    pub fn offsets(&self) -> &[i64] {
        &self.offsets
    }
    /// All items, row after row.
    pub fn items(&self) -> &[u32] {
        &self.items
    }
    /// User `u`'s history, oldest first.
    pub fn row(&self, u: usize) -> &[u32] {
        &self.items[self.offsets[u] as usize..self.offsets[u + 1] as usize]
    }
    /// The number of distinct items in user `u`'s history.
    pub fn distinct(&self, u: usize) -> usize {
        self.distinct[u] as usize
    }
    /// How often each item occurs in the CSR, indexed by item id (index 0, padding, is 0).
    pub fn counts(&self) -> Vec<u64> {
        let mut c = vec![0u64; self.num_items as usize + 1];
        for &i in &self.items {
            c[i as usize] += 1;
        }
        c
    }
}

fn check_num_items(num_items: usize) -> Result<u32> {
    match u32::try_from(num_items) {
        Ok(n) if (1..u32::MAX).contains(&n) => Ok(n),
        _ => Err(Error::InvalidArgument(format!("num_items must be in 1..{}, got {num_items}", u32::MAX))),
    }
}

/// A bitset over item ids `0..=num_items`.
#[derive(Debug, Clone)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    fn new(num_items: u32) -> Self {
        Bits(vec![0; (num_items as usize + 1).div_ceil(64)])
    }
    /// Sets bit `i`; true when it was clear.
    #[inline]
    fn insert(&mut self, i: u32) -> bool {
        let w = &mut self.0[(i >> 6) as usize];
        let m = 1u64 << (i & 63);
        let was_clear = *w & m == 0;
        *w |= m;
        was_clear
    }
    #[inline]
    fn remove(&mut self, i: u32) {
        self.0[(i >> 6) as usize] &= !(1u64 << (i & 63));
    }
    /// Calls `f` for each clear bit in `1..=num_items`, in increasing order.
    fn for_each_clear(&self, num_items: u32, mut f: impl FnMut(u32)) {
        for (w, &word) in self.0.iter().enumerate() {
            let mut free = !word;
            if w == 0 {
                free &= !1; // item 0 is padding
            }
            while free != 0 {
                let i = (w as u32) * 64 + free.trailing_zeros();
                if i > num_items {
                    break;
                }
                f(i);
                free &= free - 1;
            }
        }
    }
}

/// Per-thread working memory of the sampler.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    bits: Bits,
    pool: Vec<u32>,
    keyed: Vec<(f64, u32)>,
}

/// How negatives are distributed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Every item outside the history equally likely.
    Uniform,
    /// `p(i) ~ count(i)^alpha`, counts taken from the history CSR (items that never occur are never drawn).
    Popularity {
        /// The exponent (1 = proportional to the counts, 0 = uniform over the items that occur).
        alpha: f64,
    },
}

impl std::str::FromStr for Distribution {
    type Err = Error;
    /// `"uniform"` or `"popularity"` (with `alpha = 1`).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "uniform" => Ok(Distribution::Uniform),
            "popularity" => Ok(Distribution::Popularity { alpha: 1.0 }),
            other => Err(Error::InvalidArgument(format!(
                "unknown distribution {other:?}: expected \"uniform\" or \"popularity\""
            ))),
        }
    }
}

/// Options of a [`NegativeSampler`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerOptions {
    /// The seed of every stream.
    pub seed: u64,
    /// Uniform or popularity-weighted.
    pub distribution: Distribution,
    /// When a user has fewer available items than asked for: false = error naming the user; true =
    /// return all of them (in random order) and pad the row with 0.
    pub pad_short: bool,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        Self { seed: 0, distribution: Distribution::Uniform, pad_short: false }
    }
}

/// Walker/Vose alias table over the items of positive weight.
#[derive(Debug, Clone)]
struct Alias {
    /// Column -> item id.
    item: Vec<u32>,
    /// Column -> probability of keeping the column's own item.
    prob: Vec<f64>,
    /// Column -> the other item of the column.
    alias: Vec<u32>,
    /// Item id -> weight (0 for items never drawn).
    weight: Vec<f64>,
    /// Sum of the weights.
    total: f64,
}

impl Alias {
    fn new(weight: Vec<f64>) -> Self {
        let item: Vec<u32> = (1..weight.len() as u32).filter(|&i| weight[i as usize] > 0.0).collect();
        let total: f64 = item.iter().map(|&i| weight[i as usize]).sum();
        let n = item.len();
        let mut scaled: Vec<f64> = item.iter().map(|&i| weight[i as usize] * n as f64 / total).collect();
        let mut prob = vec![1.0; n];
        let mut alias: Vec<u32> = item.clone();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&c| scaled[c] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            prob[s] = scaled[s];
            alias[s] = item[l];
            scaled[l] = (scaled[l] + scaled[s]) - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left (rounding) keeps its own item with probability 1.
        Alias { item, prob, alias, weight, total }
    }

    #[inline]
    fn draw(&self, rng: &mut Rng) -> u32 {
        let c = rng.below(self.item.len() as u64) as usize;
        if rng.unit() < self.prob[c] {
            self.item[c]
        } else {
            self.alias[c]
        }
    }
}

/// What a row has blocked so far: distinct drawable items, and their weight (popularity only).
#[derive(Debug, Clone, Copy, Default)]
struct Blocked {
    count: usize,
    mass: f64,
}

/// Draws negatives for users of a [`History`]; see the module docs.
#[derive(Debug, Clone)]
pub struct NegativeSampler {
    history: History,
    opts: SamplerOptions,
    alias: Option<Alias>,
    /// The number of items that can be drawn at all (all for uniform, the positive-weight ones for popularity).
    drawable: usize,
}

impl NegativeSampler {
    /// A sampler over `history`. Popularity weights are `count^alpha` over the items that occur; `alpha`
    /// must be finite and give every such item a finite, positive weight.
    pub fn new(history: History, opts: SamplerOptions) -> Result<Self> {
        let (alias, drawable) = match opts.distribution {
            Distribution::Uniform => (None, history.num_items()),
            Distribution::Popularity { alpha } => {
                if !alpha.is_finite() {
                    return Err(Error::InvalidArgument(format!("alpha must be finite, got {alpha}")));
                }
                let counts = history.counts();
                let mut weight = vec![0.0f64; counts.len()];
                for (i, &c) in counts.iter().enumerate().skip(1) {
                    if c > 0 {
                        let w = (c as f64).powf(alpha);
                        if !(w.is_finite() && w > 0.0) {
                            return Err(Error::InvalidArgument(format!(
                                "alpha = {alpha} gives item {i} (count {c}) the weight {w}; use a smaller |alpha|"
                            )));
                        }
                        weight[i] = w;
                    }
                }
                let alias = Alias::new(weight);
                if !alias.total.is_finite() {
                    return Err(Error::InvalidArgument(format!("alpha = {alpha}: the weights overflow")));
                }
                let drawable = alias.item.len();
                (Some(alias), drawable)
            }
        };
        Ok(Self { history, opts, alias, drawable })
    }

    /// The history this sampler excludes.
    pub fn history(&self) -> &History {
        &self.history
    }
    /// The options it was built with.
    pub fn options(&self) -> &SamplerOptions {
        &self.opts
    }

    /// The number of items that user row `u` can get as negatives (drawable items outside its history).
    pub fn available(&self, u: usize) -> usize {
        self.drawable - self.history.distinct(u)
    }

    /// [`NegativeSampler::available`] for each of `users` (validated).
    pub fn available_for(&self, users: &[i64]) -> Result<Vec<i64>> {
        let rows = self.check_users(users)?;
        Ok(rows.iter().map(|&u| self.available(u as usize) as i64).collect())
    }

    fn check_users(&self, users: &[i64]) -> Result<Vec<u32>> {
        let n = self.history.num_users();
        users.iter().enumerate().map(|(j, &u)| check_user(u, j, n).map(|u| u as u32)).collect()
    }

    fn is_drawable(&self, item: u32) -> bool {
        match &self.alias {
            None => true,
            Some(a) => a.weight.get(item as usize).is_some_and(|&w| w > 0.0),
        }
    }

    fn weight(&self, item: u32) -> f64 {
        self.alias.as_ref().map_or(0.0, |a| a.weight[item as usize])
    }

    pub(crate) fn scratch(&self) -> Scratch {
        Scratch { bits: Bits::new(self.history.num_items), pool: Vec::new(), keyed: Vec::new() }
    }

    /// `k` distinct negatives for each of `users` (row indices), drawn from the stream
    /// `(seed, NEGATIVES, epoch, user)`; row-major `[users.len() * k]`.
    pub fn sample(&self, users: &[i64], k: usize, epoch: u64) -> Result<Vec<i64>> {
        if k == 0 {
            return Err(Error::InvalidArgument("k must be at least 1, got 0".into()));
        }
        let jobs = self.jobs(users, None)?;
        if !self.opts.pad_short {
            for (j, job) in jobs.iter().enumerate() {
                if job.available < k {
                    return Err(Error::InvalidArgument(format!(
                        "user {} (users[{j}]) has only {} items outside its history, fewer than k = {k}; \
                         pass a smaller k, or pad_short=True to pad such rows with 0",
                        job.user, job.available
                    )));
                }
            }
        }
        self.fill_rows(&jobs, k, |s, job, row| {
            let mut rng = Rng::new(self.opts.seed, stream::NEGATIVES, epoch, u64::from(job.user));
            self.fill_row(s, &mut rng, job, row);
        })
    }

    /// Evaluation candidates: for each user, its positive then `n` distinct negatives outside its full
    /// history (and other than the positive), from the stream `(seed, EVAL, salt, user)`; row-major
    /// `[users.len() * (n + 1)]`. `salt` lets callers draw independent sets (e.g. valid and test).
    pub fn eval_candidates(&self, users: &[i64], positives: &[i64], n: usize, salt: u64) -> Result<Vec<i64>> {
        if n == 0 {
            return Err(Error::InvalidArgument("n must be at least 1, got 0".into()));
        }
        if users.len() != positives.len() {
            return Err(Error::InvalidArgument(format!(
                "lengths do not match: {} users but {} positives",
                users.len(),
                positives.len()
            )));
        }
        let jobs = self.jobs(users, Some(positives))?;
        if !self.opts.pad_short {
            for (j, job) in jobs.iter().enumerate() {
                if job.available < n {
                    return Err(Error::InvalidArgument(format!(
                        "user {} (users[{j}]) has only {} items outside its history and positive, fewer than \
                         n = {n} negatives; pass a smaller n (or pad_short=True to pad such rows with 0)",
                        job.user, job.available
                    )));
                }
            }
        }
        self.fill_rows(&jobs, n + 1, |s, job, row| {
            row[0] = i64::from(job.extra);
            let mut rng = Rng::new(self.opts.seed, stream::EVAL, salt, u64::from(job.user));
            self.fill_row(s, &mut rng, job, &mut row[1..]);
        })
    }

    /// Validates `users` (and `positives`) and gathers what each row needs, in parallel (random users
    /// cost cache misses; gathering them in a tight loop lets the CPU overlap those). On bad input, the
    /// error names the first offending index.
    fn jobs(&self, users: &[i64], positives: Option<&[i64]>) -> Result<Vec<Job>> {
        let job = |j: usize| self.job(j, users[j], positives.map(|p| p[j]));
        let jobs: Result<Vec<Job>> = (0..users.len()).into_par_iter().with_min_len(1024).map(job).collect();
        jobs.map_err(|e| {
            let first = (0..users.len()).into_par_iter().position_first(|j| job(j).is_err());
            first.and_then(|j| job(j).err()).unwrap_or(e)
        })
    }

    fn job(&self, j: usize, user: i64, positive: Option<i64>) -> Result<Job> {
        let num_items = self.history.num_items;
        let u = check_user(user, j, self.history.num_users())?;
        let (start, end) = (self.history.offsets[u] as usize, self.history.offsets[u + 1] as usize);
        let mut job = Job { user: u as u32, start, end, extra: 0, available: self.available(u) };
        if let Some(p) = positive {
            if p <= 0 || p > i64::from(num_items) {
                return Err(Error::InvalidArgument(format!("positives[{j}] = {p} is outside 1..={num_items}")));
            }
            job.extra = p as u32;
            if self.is_drawable(job.extra) && !self.history.items[start..end].contains(&job.extra) {
                job.available -= 1;
            }
        }
        Ok(job)
    }

    /// A `jobs.len() * width` buffer whose rows `fill` writes, in parallel blocks of rows; each block
    /// prefetches the history of the row a few places ahead (random users otherwise cost a cache miss each).
    /// A row is built in the thread's scratch and written once into the result, which is never zeroed
    /// first: zeroing would be a serial pass over the whole result on the calling thread.
    fn fill_rows(
        &self,
        jobs: &[Job],
        width: usize,
        fill: impl Fn(&mut Scratch, &Job, &mut [i64]) + Sync,
    ) -> Result<Vec<i64>> {
        let len = crate::limits::array_len("the result", jobs.len(), width, std::mem::size_of::<i64>())?;
        let mut out: Vec<i64> = Vec::new();
        out.try_reserve_exact(len).map_err(|_| {
            Error::InvalidArgument(format!("the result: cannot allocate {} rows of {width} values", jobs.len()))
        })?;
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(width * MIN_ROWS_PER_TASK)
            .zip(jobs.par_chunks(MIN_ROWS_PER_TASK))
            .for_each_init(
                || (self.scratch(), vec![0i64; width]),
                |(s, row), (block, jobs)| {
                    let items = &self.history.items;
                    jobs.iter().take(AHEAD).for_each(|job| prefetch(items, job.start, job.end));
                    for (j, (dst, job)) in block.chunks_mut(width).zip(jobs).enumerate() {
                        if let Some(ahead) = jobs.get(j + AHEAD) {
                            prefetch(items, ahead.start, ahead.end);
                        }
                        fill(s, job, row);
                        for (d, &v) in dst.iter_mut().zip(row.iter()) {
                            d.write(v);
                        }
                    }
                },
            );
        // SAFETY: the blocks partition `[0, len)` (`jobs.len() * width` elements in chunks of whole rows,
        // matched one to one with the jobs), and every row writes all `width` of its elements above.
        unsafe { out.set_len(len) };
        Ok(out)
    }

    /// Fills `out` with distinct negatives of the job's user (also excluding `job.extra` when not 0),
    /// 0-padded when short.
    fn fill_row(&self, s: &mut Scratch, rng: &mut Rng, job: &Job, out: &mut [i64]) {
        let hist = &self.history.items[job.start..job.end];
        let extra = (job.extra != 0).then_some(job.extra);
        let mut blocked = self.block(s, hist.iter().copied().chain(extra));
        let got = self.draw_distinct(s, rng, &mut blocked, out);
        out[got..].fill(0);
        hist.iter().copied().chain(extra).for_each(|i| s.bits.remove(i));
        out[..got].iter().for_each(|&i| s.bits.remove(i as u32));
    }

    /// `groups` groups of `k` distinct negatives (distinct within a group, independent across groups), none
    /// of them in `hist` (the items a caller excludes, e.g. a user's train part); `out` is `groups * k` long,
    /// 0-padded when short.
    pub(crate) fn fill_groups(&self, s: &mut Scratch, rng: &mut Rng, hist: &[u32], k: usize, out: &mut [i64]) {
        let blocked = self.block(s, hist.iter().copied());
        for group in out.chunks_mut(k) {
            let mut b = blocked;
            let got = self.draw_distinct(s, rng, &mut b, group);
            group[got..].fill(0);
            group[..got].iter().for_each(|&i| s.bits.remove(i as u32));
        }
        hist.iter().for_each(|&i| s.bits.remove(i));
    }

    /// Marks `items` in the scratch bitset; returns the drawable ones newly marked.
    fn block(&self, s: &mut Scratch, items: impl Iterator<Item = u32>) -> Blocked {
        let mut b = Blocked::default();
        for i in items {
            if s.bits.insert(i) && self.is_drawable(i) {
                b.count += 1;
                b.mass += self.weight(i);
            }
        }
        b
    }

    /// Draws up to `out.len()` distinct unmarked items into `out` (marking them); returns how many.
    fn draw_distinct(&self, s: &mut Scratch, rng: &mut Rng, blocked: &mut Blocked, out: &mut [i64]) -> usize {
        let want = out.len().min(self.drawable - blocked.count);
        if want == 0 {
            return 0;
        }
        let dense = 2 * (blocked.count + want) > self.drawable
            || self.alias.as_ref().is_some_and(|a| 2.0 * blocked.mass > a.total);
        let mut got = 0;
        if !dense {
            let budget = 4 * want + 64;
            got = match &self.alias {
                None => uniform_rejection(&mut s.bits, &mut out[..want], budget, rng, self.history.num_items),
                Some(a) => rejection(&mut s.bits, &mut out[..want], budget, || a.draw(rng)),
            };
        }
        if got < want {
            self.fill_from_complement(s, rng, &mut out[got..want]);
        }
        want
    }

    /// Fills `out` from the unmarked drawable items (there are at least `out.len()`), marking them.
    fn fill_from_complement(&self, s: &mut Scratch, rng: &mut Rng, out: &mut [i64]) {
        let num_items = self.history.num_items;
        match &self.alias {
            None => {
                // Partial Fisher-Yates over the complement: a uniform random ordered subset.
                s.pool.clear();
                s.bits.for_each_clear(num_items, |i| s.pool.push(i));
                for (j, slot) in out.iter_mut().enumerate() {
                    let t = j + rng.below((s.pool.len() - j) as u64) as usize;
                    s.pool.swap(j, t);
                    *slot = i64::from(s.pool[j]);
                }
            }
            Some(a) => {
                // Exponential clocks: the items whose Exp(weight) times come first, in order, are
                // distributed as successive draws proportional to weight without replacement.
                s.keyed.clear();
                s.bits.for_each_clear(num_items, |i| {
                    let w = a.weight[i as usize];
                    if w > 0.0 {
                        s.keyed.push((-rng.unit_open0().ln() / w, i));
                    }
                });
                let by_time = |x: &(f64, u32), y: &(f64, u32)| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1));
                if out.len() < s.keyed.len() {
                    s.keyed.select_nth_unstable_by(out.len(), by_time);
                    s.keyed.truncate(out.len());
                }
                s.keyed.sort_unstable_by(by_time);
                for (slot, &(_, i)) in out.iter_mut().zip(&s.keyed) {
                    *slot = i64::from(i);
                }
            }
        }
        out.iter().for_each(|&i| {
            s.bits.insert(i as u32);
        });
    }
}

/// One row of work: a user, where its history lies in `items`, the extra item to exclude (the positive
/// of an evaluation row; 0 = none) and how many items it can get.
#[derive(Debug, Clone, Copy)]
struct Job {
    user: u32,
    start: usize,
    end: usize,
    extra: u32,
    available: usize,
}

/// Hints the CPU to fetch a history row `items[start..end]` into the cache (the cache lines of its first
/// and last items: rows are short); nothing happens elsewhere than x86-64.
#[inline]
pub(crate) fn prefetch(items: &[u32], start: usize, end: usize) {
    #[cfg(target_arch = "x86_64")]
    for at in [start, end.saturating_sub(1)] {
        if let Some(p) = items.get(at) {
            // SAFETY: a prefetch is only a hint: it has no architectural effect and cannot fault, and the
            // pointer comes from a live slice anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((p as *const u32).cast::<i8>());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, start, end);
}

/// Rejection sampling: fills `out` with distinct draws whose bit is clear (marking them), trying at most
/// `budget` draws; returns how many were filled.
#[inline]
fn rejection(bits: &mut Bits, out: &mut [i64], budget: usize, mut draw: impl FnMut() -> u32) -> usize {
    let mut got = 0;
    let mut tries = 0;
    while got < out.len() && tries < budget {
        tries += 1;
        let i = draw();
        if bits.insert(i) {
            out[got] = i64::from(i);
            got += 1;
        }
    }
    got
}

/// [`rejection`] for uniform draws from `1..=n`, specialised for speed: each 64-bit random number gives two
/// 32-bit candidates (Lemire's method on 32 bits, with its exact rejection step, so still unbiased).
#[inline]
fn uniform_rejection(bits: &mut Bits, out: &mut [i64], budget: usize, rng: &mut Rng, n: u32) -> usize {
    let threshold = n.wrapping_neg() % n; // (2^32 - n) mod n: low words below it would bias the result
    let mut got = 0;
    let mut tries = 0;
    while got < out.len() && tries < budget {
        tries += 2;
        let r = rng.next_u64();
        for half in [r as u32, (r >> 32) as u32] {
            let m = u64::from(half) * u64::from(n);
            if (m as u32) < threshold {
                continue;
            }
            let i = (m >> 32) as u32 + 1;
            if bits.insert(i) {
                out[got] = i64::from(i);
                got += 1;
                if got == out.len() {
                    break;
                }
            }
        }
    }
    got
}

/// A zeroed `rows * width` buffer, or an error when that overflows.
pub(crate) fn alloc(rows: usize, width: usize) -> Result<Vec<i64>> {
    let len = crate::limits::array_len("the batch", rows, width, std::mem::size_of::<i64>())?;
    crate::limits::zeroed("the batch", len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_reproduces_weights() {
        let a = Alias::new(vec![0.0, 1.0, 0.0, 3.0, 6.0]);
        assert_eq!(a.item, vec![1, 3, 4]);
        // Exact probabilities from the table: each column has mass 1/3.
        let mut p = [0.0f64; 5];
        for c in 0..a.item.len() {
            p[a.item[c] as usize] += a.prob[c] / 3.0;
            p[a.alias[c] as usize] += (1.0 - a.prob[c]) / 3.0;
        }
        for (got, want) in p.iter().zip([0.0, 0.1, 0.0, 0.3, 0.6]) {
            assert!((got - want).abs() < 1e-12, "{p:?}");
        }
    }

    #[test]
    fn bits_enumerate_the_complement() {
        let mut b = Bits::new(130);
        for i in [1, 64, 65, 130] {
            b.insert(i);
        }
        let mut free = Vec::new();
        b.for_each_clear(130, |i| free.push(i));
        assert_eq!(free.len(), 126);
        assert!(!free.contains(&0) && !free.contains(&64) && !free.contains(&130) && free.contains(&129));
    }
}
