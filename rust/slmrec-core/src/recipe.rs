//! Recipes: which records survive, and how survivors become ordered per-user sequences with dense ids.
//!
//! Design: every step works on the flat record arrays with a liveness mask, so each step's drop count is
//! exact and `records = interactions + every dropped count` holds by construction. Ties are broken by input
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
use crate::reader::RawTable;

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
    /// Records dropped in each k-core round.
    pub kcore_dropped_per_round: Vec<u64>,
    /// Records dropped by the k-core in all.
    pub kcore_dropped: u64,
    /// slmrec-paper: the final user filter.
    pub dropped_short_users: u64,
}

/// Applies `recipe` and returns the indices of the surviving records (ascending) and the drop counts.
pub fn apply(t: &RawTable, recipe: &Recipe) -> (Vec<usize>, RecipeStats) {
    let mut alive = vec![true; t.len()];
    let mut st = RecipeStats::default();
    match recipe.name {
        RecipeKind::None => {}
        RecipeKind::Kcore => {
            if let Some(m) = recipe.min_rating {
                st.dropped_by_rating = drop_where(&mut alive, |i| !(t.rating[i] >= m));
            }
            st.duplicates_dropped = dedup(t, &mut alive);
            let rounds = kcore(t, &mut alive, recipe.user_min, recipe.item_min);
            st.kcore_rounds = rounds.len() as u64;
            st.kcore_dropped = rounds.iter().sum();
            st.kcore_dropped_per_round = rounds;
        }
        RecipeKind::SlmrecPaper => {
            let m = recipe.min_rating.unwrap_or(3.0);
            st.dropped_by_rating = drop_where(&mut alive, |i| !(t.rating[i] >= m));
            st.dropped_by_user_filter = min_count_pass(&t.user, t.users.len(), &mut alive, recipe.user_min);
            st.dropped_by_item_filter = min_count_pass(&t.item, t.items.len(), &mut alive, recipe.item_min);
            st.duplicates_dropped = dedup(t, &mut alive);
            st.dropped_short_users = min_count_pass(&t.user, t.users.len(), &mut alive, recipe.user_min);
        }
    }
    let kept = alive.iter().enumerate().filter(|(_, &a)| a).map(|(i, _)| i).collect();
    (kept, st)
}

fn drop_where(alive: &mut [bool], dead: impl Fn(usize) -> bool) -> u64 {
    let mut n = 0;
    for (i, a) in alive.iter_mut().enumerate() {
        if *a && dead(i) {
            *a = false;
            n += 1;
        }
    }
    n
}

/// Keeps, for each (user, item), the earliest alive record by (timestamp, input order). Users are
/// independent: their duplicates are found in parallel, then cleared.
fn dedup(t: &RawTable, alive: &mut [bool]) -> u64 {
    let rows: Vec<usize> = (0..t.len()).filter(|&i| alive[i]).collect();
    let (starts, grouped) = bucket(&rows, t.users.len(), |r| t.user[r] as usize);
    let dead: Vec<usize> = starts
        .par_windows(2)
        .fold(
            || (Vec::new(), Vec::<(u32, i64, usize)>::new()),
            |(mut dead, mut seg), w| {
                let g = &grouped[w[0]..w[1]];
                if g.len() > 1 {
                    seg.clear();
                    seg.extend(g.iter().map(|&r| (t.item[r], t.ts[r], r)));
                    seg.sort_unstable();
                    dead.extend((1..seg.len()).filter(|&i| seg[i].0 == seg[i - 1].0).map(|i| seg[i].2));
                }
                (dead, seg)
            },
        )
        .map(|(dead, _)| dead)
        .reduce(Vec::new, |mut a, mut b| {
            a.append(&mut b);
            a
        });
    for &r in &dead {
        alive[r] = false;
    }
    dead.len() as u64
}

/// Groups `rows` by `key(row)` in `0..n_keys` with a counting sort: returns the group starts (`n_keys + 1`)
/// and the rows, grouped, each group keeping the order of `rows`. Linear time and cache-friendly, unlike a
/// comparison sort whose key reads scattered arrays.
pub(crate) fn bucket(rows: &[usize], n_keys: usize, key: impl Fn(usize) -> usize) -> (Vec<usize>, Vec<usize>) {
    let mut starts = vec![0usize; n_keys + 1];
    for &r in rows {
        starts[key(r) + 1] += 1;
    }
    for k in 0..n_keys {
        starts[k + 1] += starts[k];
    }
    let mut next = starts.clone();
    let mut grouped = vec![0usize; rows.len()];
    for &r in rows {
        let k = key(r);
        grouped[next[k]] = r;
        next[k] += 1;
    }
    (starts, grouped)
}

fn counts(keys: &[u32], n: usize, alive: &[bool]) -> Vec<u32> {
    let mut c = vec![0u32; n];
    for (k, &a) in keys.iter().zip(alive) {
        if a {
            c[*k as usize] += 1;
        }
    }
    c
}

/// One pass: drops the records whose key has fewer than `min` alive records.
fn min_count_pass(keys: &[u32], n: usize, alive: &mut [bool], min: u32) -> u64 {
    let c = counts(keys, n, alive);
    drop_where(alive, |i| c[keys[i] as usize] < min)
}

/// Iterates to the k-core fixpoint; returns the records dropped per round.
fn kcore(t: &RawTable, alive: &mut [bool], user_min: u32, item_min: u32) -> Vec<u64> {
    let mut uc = counts(&t.user, t.users.len(), alive);
    let mut ic = counts(&t.item, t.items.len(), alive);
    let mut rounds = Vec::new();
    loop {
        let mut dropped = 0u64;
        let (ub, ib): (Vec<bool>, Vec<bool>) =
            (uc.iter().map(|&c| c < user_min).collect(), ic.iter().map(|&c| c < item_min).collect());
        for i in 0..t.len() {
            if alive[i] && (ub[t.user[i] as usize] || ib[t.item[i] as usize]) {
                alive[i] = false;
                uc[t.user[i] as usize] -= 1;
                ic[t.item[i] as usize] -= 1;
                dropped += 1;
            }
        }
        if dropped == 0 {
            return rounds;
        }
        rounds.push(dropped);
    }
}

/// Dense 1-based ids for the interned keys that survive, in sorted raw-id order: numeric when every
/// surviving raw id is an integer, byte order otherwise (ties in numeric value, like "07" and "7", fall
/// back to byte order). Returns (new id per interned key, 0 when gone; raw names in new-id order).
pub fn assign_ids(names: &[Box<str>], present: &[bool]) -> (Vec<u32>, Vec<Box<str>>) {
    let mut keys: Vec<usize> = (0..names.len()).filter(|&k| present[k]).collect();
    if keys.iter().all(|&k| is_integer(&names[k])) {
        keys.par_sort_unstable_by(|&a, &b| {
            integer_cmp(&names[a], &names[b]).then_with(|| names[a].as_bytes().cmp(names[b].as_bytes()))
        });
    } else {
        keys.par_sort_unstable_by(|&a, &b| names[a].as_bytes().cmp(names[b].as_bytes()));
    }
    let mut new_id = vec![0u32; names.len()];
    let mut sorted = Vec::with_capacity(keys.len());
    for (rank, &k) in keys.iter().enumerate() {
        new_id[k] = rank as u32 + 1;
        sorted.push(names[k].clone());
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
        let e = none.check().unwrap_err().to_string();
        assert!(e.contains("recipe none") && e.contains("min_rating would be ignored"), "{e}");
        let none = Recipe { user_min: 2, item_min: 3, ..Recipe::new(RecipeKind::None) };
        assert!(none.check().unwrap_err().to_string().contains("user_min, item_min would be ignored"));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let r = Recipe { min_rating: Some(bad), ..Recipe::new(RecipeKind::Kcore) };
            assert!(r.check().unwrap_err().to_string().starts_with("min_rating must be a finite number"));
        }
    }

    use super::*;

    fn table(rows: &[(&str, &str, i64, f32)]) -> RawTable {
        let mut t = RawTable::default();
        for (u, i, ts, r) in rows {
            t.user.push(t.users.intern(u));
            t.item.push(t.items.intern(i));
            t.ts.push(*ts);
            t.rating.push(*r);
        }
        t
    }

    #[test]
    fn dedup_keeps_earliest_by_time_then_input_order() {
        let t = table(&[("u", "a", 5, 1.0), ("u", "a", 3, 2.0), ("u", "a", 3, 3.0), ("u", "b", 1, 1.0)]);
        let (kept, st) = apply(&t, &Recipe { user_min: 0, item_min: 0, ..Recipe::new(RecipeKind::Kcore) });
        assert_eq!(kept, vec![1, 3]);
        assert_eq!(st.duplicates_dropped, 2);
    }

    #[test]
    fn kcore_reaches_the_fixpoint() {
        // u1 has 2 items, u2 has 2, u3 has 1: with 2/2 u3 goes, then item c (only u3 and u2) may fall.
        let t = table(&[
            ("u1", "a", 1, 5.0),
            ("u1", "b", 2, 5.0),
            ("u2", "a", 1, 5.0),
            ("u2", "c", 2, 5.0),
            ("u3", "c", 1, 5.0),
            ("u4", "b", 1, 5.0),
        ]);
        let (kept, st) = apply(&t, &Recipe { user_min: 2, item_min: 2, ..Recipe::new(RecipeKind::Kcore) });
        // round 1: u3 and u4 (1 each) go -> 2 rows; round 2: item c (1 left) goes and item b (1 left) goes
        // -> u1 and u2 drop below 2 -> everything goes eventually.
        assert!(kept.is_empty());
        assert_eq!(st.kcore_dropped, 6);
        assert!(st.kcore_rounds >= 2);
    }

    #[test]
    fn rating_filter_drops_unknown_ratings() {
        let t = table(&[("u", "a", 1, 5.0), ("u", "b", 1, f32::NAN), ("u", "c", 1, 2.0)]);
        let r = Recipe { min_rating: Some(3.0), user_min: 0, item_min: 0, ..Recipe::new(RecipeKind::Kcore) };
        let (kept, st) = apply(&t, &r);
        assert_eq!(kept, vec![0]);
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
        let names: Vec<Box<str>> = ["10", "9", "100", "x"].iter().map(|s| Box::from(*s)).collect();
        let (ids, sorted) = assign_ids(&names, &[true, true, true, false]);
        assert_eq!(ids, vec![2, 1, 3, 0]);
        assert_eq!(&*sorted[0], "9");
        let (ids, _) = assign_ids(&names, &[true, true, true, true]);
        assert_eq!(ids, vec![1, 3, 2, 4]); // byte order: "10" < "100" < "9" < "x"
    }
}
