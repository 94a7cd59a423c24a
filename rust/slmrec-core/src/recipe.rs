//! Recipes: which records survive, and how survivors become ordered per-user sequences with dense ids.
//!
//! Design: the records are grouped by user once (a counting sort into a permutation of row numbers, each
//! group then sorted by (timestamp, input order)), and every step compacts that permutation in place, with
//! the rows' items beside it; nothing else is copied per record. Each step's drop count is the rows it
//! removed, so `records = interactions + every dropped count` holds by construction. Ties are broken by input
//! order everywhere (the row index), which makes the result a pure function of the input bytes.
//!
//! - `kcore` (default): optional rating filter -> dedup (per (user, item) keep the earliest by
//!   (timestamp, input order)) -> iterative k-core to its fixpoint. Each round removes, at once, the records
//!   of every user below `user_min` and every item below `item_min` (counts taken at the round's start).
//! - `slmrec-paper`: the SLMRec notebook, fixed: rating >= 3 -> users with >= `user_min` rows (one pass,
//!   duplicates counted) -> items with >= `item_min` (20) rows (one pass) -> dedup -> users >= `user_min`.
//! - `none`: every record is kept (duplicates too).

use std::str::FromStr;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::read::{Names, Table};

/// Which recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipeKind {
    /// Rating filter, dedup, iterative k-core.
    Kcore,
    /// The paper's notebook, with its bugs fixed.
    SlmrecPaper,
    /// Keep everything.
    None,
}

impl RecipeKind {
    /// The name used by `--recipe`.
    pub fn name(self) -> &'static str {
        match self {
            RecipeKind::Kcore => "kcore",
            RecipeKind::SlmrecPaper => "slmrec-paper",
            RecipeKind::None => "none",
        }
    }
}

impl FromStr for RecipeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "kcore" => Ok(RecipeKind::Kcore),
            "slmrec-paper" => Ok(RecipeKind::SlmrecPaper),
            "none" => Ok(RecipeKind::None),
            _ => Err(Error::InvalidArgument(format!("unknown recipe {s:?}; expected kcore, slmrec-paper or none"))),
        }
    }
}

/// A recipe and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recipe {
    /// Which recipe.
    pub name: RecipeKind,
    /// Keep records rated at least this (records without a rating are dropped when set).
    pub min_rating: Option<f32>,
    /// Minimum interactions per user.
    pub user_min: u32,
    /// Minimum interactions per item.
    pub item_min: u32,
}

impl Recipe {
    /// The recipe with its documented defaults: kcore 5/5; slmrec-paper rating >= 3, users 5, items 20.
    pub fn new(name: RecipeKind) -> Self {
        match name {
            RecipeKind::Kcore => Recipe { name, min_rating: None, user_min: 5, item_min: 5 },
            RecipeKind::SlmrecPaper => Recipe { name, min_rating: Some(3.0), user_min: 5, item_min: 20 },
            RecipeKind::None => Recipe { name, min_rating: None, user_min: 0, item_min: 0 },
        }
    }
}

impl Recipe {
    /// Checks the parameters make sense for the recipe: a minimum rating is a finite number, and `none` takes
    /// no filter at all (a minimum rating or count given with it would be recorded but never applied).
    pub fn check(&self) -> Result<()> {
        if let Some(m) = self.min_rating {
            if !m.is_finite() {
                return Err(Error::InvalidArgument(format!("min_rating must be a finite number, got {m}")));
            }
        }
        if self.name == RecipeKind::None {
            let given: Vec<&str> = [
                ("min_rating", self.min_rating.is_some()),
                ("user_min", self.user_min != 0),
                ("item_min", self.item_min != 0),
            ]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect();
            if !given.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "recipe none keeps every record and applies no filter: {} would be ignored; use --recipe kcore \
                     (or slmrec-paper) to filter",
                    given.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// What each step dropped. `records = kept + sum of the drops`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RecipeStats {
    /// Below `min_rating`, or without a rating while a minimum is set.
    pub dropped_by_rating: u64,
    /// slmrec-paper: the one-pass user filter.
    pub dropped_by_user_filter: u64,
    /// slmrec-paper: the one-pass item filter.
    pub dropped_by_item_filter: u64,
    /// Later (user, item) repeats.
    pub duplicates_dropped: u64,
    /// k-core rounds that dropped something.
    pub kcore_rounds: u64,
    /// Table dropped in each k-core round.
    pub kcore_dropped_per_round: Vec<u64>,
    /// Table dropped by the k-core in all.
    pub kcore_dropped: u64,
    /// slmrec-paper: the final user filter.
    pub dropped_short_users: u64,
}

/// Whether a rating fails a minimum: below it, or missing (NaN compares as neither, so it fails too).
fn below_min_rating(rating: f32, min: f32) -> bool {
    !matches!(rating.partial_cmp(&min), Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal))
}

/// The records a recipe keeps, grouped by interned user: user `u`'s rows are `rows[starts[u]..starts[u + 1]]`,
/// in (timestamp, input order), and `items[k]` is the interned item of `rows[k]`.
#[derive(Debug, Default)]
pub struct Kept {
    /// Where each interned user's rows start, then the end (`num_users + 1` entries).
    pub starts: Vec<u32>,
    /// The kept rows (input record numbers), by user.
    pub rows: Vec<u32>,
    /// The interned item of each kept row.
    pub items: Vec<u32>,
}

impl Kept {
    /// How many rows are kept.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// How many interned users (kept or not).
    pub fn num_users(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }
    /// The kept rows in input order.
    pub fn rows_in_input_order(&self) -> Vec<usize> {
        let mut rows: Vec<usize> = self.rows.iter().map(|&r| r as usize).collect();
        rows.sort_unstable();
        rows
    }

    /// Keeps the rows for which `keep(the user's row count at the start of the pass, item)` holds, in their
    /// order, in place; returns how many went.
    fn retain(&mut self, mut keep: impl FnMut(u32, u32) -> bool) -> u64 {
        let n = self.num_users();
        let (mut w, mut s) = (0usize, 0usize);
        for u in 0..n {
            let e = self.starts[u + 1] as usize;
            let len = (e - s) as u32;
            self.starts[u] = w as u32;
            for k in s..e {
                let item = self.items[k];
                if keep(len, item) {
                    self.rows[w] = self.rows[k];
                    self.items[w] = item;
                    w += 1;
                }
            }
            s = e;
        }
        self.close(w)
    }

    /// Ends the arrays at `w` rows; returns how many rows went.
    fn close(&mut self, w: usize) -> u64 {
        let n = self.num_users();
        let dropped = (self.rows.len() - w) as u64;
        self.starts[n] = w as u32;
        self.rows.truncate(w);
        self.items.truncate(w);
        dropped
    }
}

/// Applies `recipe` to the records: returns the kept rows grouped by user and the drop counts. Takes the user
/// and item columns out of `t` (the kept rows carry their items); the timestamps and ratings stay.
pub fn apply(t: &mut Table, recipe: &Recipe) -> (Kept, RecipeStats) {
    let mut st = RecipeStats::default();
    let min_rating = match recipe.name {
        RecipeKind::None => None,
        RecipeKind::Kcore => recipe.min_rating,
        RecipeKind::SlmrecPaper => Some(recipe.min_rating.unwrap_or(3.0)),
    };
    let n = t.len();
    let (user, item) = (std::mem::take(&mut t.user), std::mem::take(&mut t.item));
    let rating = &t.rating;
    let mut kept =
        group(user, item, &t.ts, t.users.len(), |r| min_rating.is_some_and(|m| below_min_rating(rating.get(r), m)));
    st.dropped_by_rating = (n - kept.len()) as u64;
    match recipe.name {
        RecipeKind::None => {}
        RecipeKind::Kcore => {
            st.duplicates_dropped = dedup(&mut kept);
            let rounds = kcore(&mut kept, t.items.len(), recipe.user_min, recipe.item_min);
            st.kcore_rounds = rounds.len() as u64;
            st.kcore_dropped = rounds.iter().sum();
            st.kcore_dropped_per_round = rounds;
        }
        RecipeKind::SlmrecPaper => {
            let min = recipe.user_min;
            st.dropped_by_user_filter = kept.retain(|len, _| len >= min);
            let counts = item_counts(&kept, t.items.len());
            st.dropped_by_item_filter = kept.retain(|_, item| counts[item as usize] >= recipe.item_min);
            st.duplicates_dropped = dedup(&mut kept);
            st.dropped_short_users = kept.retain(|len, _| len >= min);
        }
    }
    kept.rows.shrink_to_fit();
    kept.items.shrink_to_fit();
    (kept, st)
}

/// Groups the records by user, without the rows `dropped(row)` names: a counting sort by user (stable: each
/// group in input order), then each group sorted by (timestamp, input order) on every core, then each row's
/// item, written over the user column (which the grouping no longer needs).
fn group(user: Vec<u32>, item: Vec<u32>, ts: &[i64], n_users: usize, dropped: impl Fn(usize) -> bool) -> Kept {
    let mut starts = vec![0u32; n_users + 1];
    let mut kept = 0usize;
    for (r, &u) in user.iter().enumerate() {
        if !dropped(r) {
            starts[u as usize + 1] += 1;
            kept += 1;
        }
    }
    for u in 0..n_users {
        starts[u + 1] += starts[u];
    }
    // starts[u] is user u's next free slot while filling, then its end: shifted back after.
    let mut rows = vec![0u32; kept];
    for (r, &u) in user.iter().enumerate() {
        if !dropped(r) {
            let next = &mut starts[u as usize];
            rows[*next as usize] = r as u32;
            *next += 1;
        }
    }
    for u in (1..=n_users).rev() {
        starts[u] = starts[u - 1];
    }
    starts[0] = 0;

    let cuts = pieces(&starts);
    split_rows(&mut rows, &starts, &cuts).into_par_iter().zip(cuts.par_windows(2)).for_each(|(piece, w)| {
        let base = starts[w[0]] as usize;
        let mut seg: Vec<(i64, u32)> = Vec::new();
        for u in w[0]..w[1] {
            let block = &mut piece[starts[u] as usize - base..starts[u + 1] as usize - base];
            if block.len() > 1 {
                seg.clear();
                seg.extend(block.iter().map(|&r| (ts[r as usize], r)));
                seg.sort_unstable();
                for (b, &(_, r)) in block.iter_mut().zip(&seg) {
                    *b = r;
                }
            }
        }
    });

    let mut items = user;
    items.truncate(kept);
    items.par_iter_mut().zip(rows.par_iter()).for_each(|(x, &r)| *x = item[r as usize]);
    drop(item);
    Kept { starts, rows, items }
}

/// Cuts users `0..n` into pieces of whole users with about the same number of rows, several a thread: the
/// first user of each piece, then `n`.
fn pieces(starts: &[u32]) -> Vec<usize> {
    let n = starts.len().saturating_sub(1);
    let total = starts.last().map_or(0, |&s| s as usize);
    let step = total / (rayon::current_num_threads().max(1) * 8) + 1;
    let mut cuts = vec![0];
    let mut next = step;
    for (u, &s) in starts.iter().enumerate().take(n) {
        if s as usize >= next {
            cuts.push(u);
            next = s as usize + step;
        }
    }
    cuts.push(n);
    cuts
}

/// `data` (laid out by `starts`) cut where the pieces of users `cuts` start.
fn split_rows<'a, T>(mut data: &'a mut [T], starts: &[u32], cuts: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(cuts.len());
    for w in cuts.windows(2) {
        let len = (starts[w[1]] - starts[w[0]]) as usize;
        let (piece, rest) = std::mem::take(&mut data).split_at_mut(len);
        out.push(piece);
        data = rest;
    }
    out
}

/// Keeps, for each (user, item), the earliest row by (timestamp, input order): the first of the item in the
/// user's group. Users are independent: each group is compacted in place on its own, in parallel, then the
/// groups are closed up.
fn dedup(k: &mut Kept) -> u64 {
    let n = k.num_users();
    let mut lens = vec![0u32; n];
    let cuts = pieces(&k.starts);
    let starts = &k.starts;
    let rows = split_rows(&mut k.rows, starts, &cuts);
    let items = split_rows(&mut k.items, starts, &cuts);
    let mut len_pieces = Vec::with_capacity(cuts.len());
    let mut rest = &mut lens[..];
    for w in cuts.windows(2) {
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
        len_pieces.push(piece);
        rest = tail;
    }
    rows.into_par_iter().zip(items).zip(len_pieces).zip(cuts.par_windows(2)).for_each(|(((rp, ip), lp), w)| {
        let base = starts[w[0]] as usize;
        let (mut seg, mut dup): (Vec<(u32, u32)>, Vec<bool>) = (Vec::new(), Vec::new());
        for u in w[0]..w[1] {
            let (s, e) = (starts[u] as usize - base, starts[u + 1] as usize - base);
            let len = e - s;
            lp[u - w[0]] = len as u32;
            if len < 2 {
                continue;
            }
            seg.clear();
            seg.extend(ip[s..e].iter().enumerate().map(|(p, &i)| (i, p as u32)));
            seg.sort_unstable();
            if seg.windows(2).all(|p| p[0].0 != p[1].0) {
                continue;
            }
            dup.clear();
            dup.resize(len, false);
            for p in seg.windows(2).filter(|p| p[0].0 == p[1].0) {
                dup[p[1].1 as usize] = true;
            }
            let mut to = s;
            for (p, &d) in dup.iter().enumerate() {
                if !d {
                    rp[to] = rp[s + p];
                    ip[to] = ip[s + p];
                    to += 1;
                }
            }
            lp[u - w[0]] = (to - s) as u32;
        }
    });
    let mut w = 0usize;
    for (u, &len) in lens.iter().enumerate() {
        let (s, len) = (k.starts[u] as usize, len as usize);
        k.rows.copy_within(s..s + len, w);
        k.items.copy_within(s..s + len, w);
        k.starts[u] = w as u32;
        w += len;
    }
    k.close(w)
}

/// How many kept rows each item has.
fn item_counts(k: &Kept, n_items: usize) -> Vec<u32> {
    let mut c = vec![0u32; n_items];
    for &i in &k.items {
        c[i as usize] += 1;
    }
    c
}

/// Iterates to the k-core fixpoint; returns the records dropped per round.
fn kcore(k: &mut Kept, n_items: usize, user_min: u32, item_min: u32) -> Vec<u64> {
    let mut ic = item_counts(k, n_items);
    let mut rounds = Vec::new();
    loop {
        let item_below: Vec<bool> = ic.iter().map(|&c| c < item_min).collect();
        let dropped = k.retain(|len, item| {
            let gone = len < user_min || item_below[item as usize];
            if gone {
                ic[item as usize] -= 1;
            }
            !gone
        });
        if dropped == 0 {
            return rounds;
        }
        rounds.push(dropped);
    }
}

/// Dense 1-based ids for the interned keys that survive, in sorted raw-id order: numeric when every
/// surviving raw id is an integer, byte order otherwise (ties in numeric value, like "07" and "7", fall
/// back to byte order). Returns (new id per interned key, 0 when gone; raw names in new-id order).
pub fn assign_ids(names: &Names, present: &[bool]) -> (Vec<u32>, Names) {
    let mut keys: Vec<u32> = (0..names.len() as u32).filter(|&k| present[k as usize]).collect();
    let name = |k: u32| names.get(k as usize);
    if keys.iter().all(|&k| is_integer(name(k))) {
        keys.par_sort_unstable_by(|&a, &b| {
            integer_cmp(name(a), name(b)).then_with(|| name(a).as_bytes().cmp(name(b).as_bytes()))
        });
    } else {
        keys.par_sort_unstable_by(|&a, &b| name(a).as_bytes().cmp(name(b).as_bytes()));
    }
    let mut new_id = vec![0u32; names.len()];
    let mut sorted = Names::default();
    for (rank, &k) in keys.iter().enumerate() {
        new_id[k as usize] = rank as u32 + 1;
        sorted.push(name(k));
    }
    (new_id, sorted)
}

/// Whether `s` is a decimal integer: an optional sign, then one or more ASCII digits (any length).
fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Compares two decimal integers of any length by value (they must pass [`is_integer`]).
fn integer_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn split(s: &str) -> (bool, &str) {
        let neg = s.starts_with('-');
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s).trim_start_matches('0');
        (neg && !digits.is_empty(), digits)
    }
    let ((na, da), (nb, db)) = (split(a), split(b));
    let magnitude = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
    match (na, nb) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_recipe_refuses_what_it_would_ignore_or_cannot_compare() {
        assert!(Recipe::new(RecipeKind::None).check().is_ok());
        assert!(Recipe::new(RecipeKind::SlmrecPaper).check().is_ok());
        let none = Recipe { min_rating: Some(3.0), ..Recipe::new(RecipeKind::None) };
        let e = none.check().expect_err("refused").to_string();
        assert!(e.contains("recipe none") && e.contains("min_rating would be ignored"), "{e}");
        let none = Recipe { user_min: 2, item_min: 3, ..Recipe::new(RecipeKind::None) };
        assert!(none.check().expect_err("refused").to_string().contains("user_min, item_min would be ignored"));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let r = Recipe { min_rating: Some(bad), ..Recipe::new(RecipeKind::Kcore) };
            assert!(r.check().expect_err("refused").to_string().starts_with("min_rating must be a finite number"));
        }
    }

    use super::*;

    fn table(rows: &[(&str, &str, i64, f32)]) -> Table {
        let mut t = crate::read::RawTable::default();
        for (u, i, ts, r) in rows {
            t.push((u, crate::read::id_hash(u)), (i, crate::read::id_hash(i)), *ts, *r);
        }
        t.finish()
    }

    #[test]
    fn dedup_keeps_earliest_by_time_then_input_order() {
        let mut t = table(&[("u", "a", 5, 1.0), ("u", "a", 3, 2.0), ("u", "a", 3, 3.0), ("u", "b", 1, 1.0)]);
        let (kept, st) = apply(&mut t, &Recipe { user_min: 0, item_min: 0, ..Recipe::new(RecipeKind::Kcore) });
        assert_eq!(kept.rows_in_input_order(), vec![1, 3]);
        assert_eq!(st.duplicates_dropped, 2);
    }

    #[test]
    fn kcore_reaches_the_fixpoint() {
        // u1 has 2 items, u2 has 2, u3 has 1: with 2/2 u3 goes, then item c (only u3 and u2) may fall.
        let mut t = table(&[
            ("u1", "a", 1, 5.0),
            ("u1", "b", 2, 5.0),
            ("u2", "a", 1, 5.0),
            ("u2", "c", 2, 5.0),
            ("u3", "c", 1, 5.0),
            ("u4", "b", 1, 5.0),
        ]);
        let (kept, st) = apply(&mut t, &Recipe { user_min: 2, item_min: 2, ..Recipe::new(RecipeKind::Kcore) });
        // round 1: u3 and u4 (1 each) go -> 2 rows; round 2: item c (1 left) goes and item b (1 left) goes
        // -> u1 and u2 drop below 2 -> everything goes eventually.
        assert!(kept.is_empty());
        assert_eq!(st.kcore_dropped, 6);
        assert!(st.kcore_rounds >= 2);
    }

    #[test]
    fn rating_filter_drops_unknown_ratings() {
        let mut t = table(&[("u", "a", 1, 5.0), ("u", "b", 1, f32::NAN), ("u", "c", 1, 2.0)]);
        let r = Recipe { min_rating: Some(3.0), user_min: 0, item_min: 0, ..Recipe::new(RecipeKind::Kcore) };
        let (kept, st) = apply(&mut t, &r);
        assert_eq!(kept.rows_in_input_order(), vec![0]);
        assert_eq!(st.dropped_by_rating, 2);
    }

    #[test]
    fn integers_of_any_length_compare_by_value() {
        use std::cmp::Ordering::*;
        let big = format!("1{}", "0".repeat(40));
        assert_eq!(integer_cmp("2", &big), Less);
        assert_eq!(integer_cmp("-5", "3"), Less);
        assert_eq!(integer_cmp("-5", "-30"), Greater);
        assert_eq!(integer_cmp("007", "7"), Equal);
        assert_eq!(integer_cmp("-0", "0"), Equal);
        assert!(is_integer("+12") && !is_integer("-") && !is_integer("1e3"));
    }

    #[test]
    fn ids_sort_numerically_when_all_integers() {
        let names: Names = ["10", "9", "100", "x"].into_iter().collect();
        let (ids, sorted) = assign_ids(&names, &[true, true, true, false]);
        assert_eq!(ids, vec![2, 1, 3, 0]);
        assert_eq!(sorted.get(0), "9");
        let (ids, _) = assign_ids(&names, &[true, true, true, true]);
        assert_eq!(ids, vec![1, 3, 2, 4]); // byte order: "10" < "100" < "9" < "x"
    }
}
