//! Checking persisted evaluation candidates against the dataset they were drawn from.
//!
//! Design: a candidates file (`[U, 1 + n]`, column 0 the split's positive, then `n` negatives) is re-used by
//! every model of a study, so a damaged or foreign one silently changes every metric (zeros as negatives make
//! HR@10 soar). This module checks its content in one parallel pass over the rows: each row is a function of
//! one user's history only, so rows are checked independently, in blocks with a reusable stamp array.

use rayon::prelude::*;

/// The first problem of `cands` (row-major, `users.len()` rows of `width` = 1 + n ids) as evidence for the
/// rows `users` (0-based CSR rows into `offsets`/`items`) of the split whose positive is the `back`-th item
/// from the end of each row (2 = valid, 1 = test): `None` when every row has column 0 = the positive and
/// negatives that are ids in `1..=num_items` (never 0), outside the user's whole history (so never the
/// positive) and distinct. The problem names the first bad row (in file order) and what is wrong.
pub fn check_candidates(
    offsets: &[i64],
    items: &[u32],
    num_items: usize,
    users: &[i64],
    back: usize,
    cands: &[u32],
    width: usize,
) -> Option<String> {
    if width < 2 || cands.len() != users.len().saturating_mul(width) {
        return Some(format!("holds {} ids, not {} rows of {width}", cands.len(), users.len()));
    }
    let rows = users.len();
    let blocks = (rayon::current_num_threads() * 2).clamp(1, rows.max(1));
    let per = rows.div_ceil(blocks).max(1);
    (0..blocks)
        .into_par_iter()
        .filter_map(|b| {
            let (lo, hi) = (b * per, ((b + 1) * per).min(rows));
            if lo >= hi {
                return None;
            }
            // seen[i] = 2k + 1: item i is in row k's history; 2k + 2: row k already has it as a negative.
            let mut seen = vec![0u64; num_items + 1];
            for r in lo..hi {
                let u = users[r];
                if u < 0 || u as usize + 1 >= offsets.len() {
                    return Some((r, format!("row {r}: user {u} is not a row of the dataset")));
                }
                let (s, e) = (offsets[u as usize], offsets[u as usize + 1]);
                if s < 0 || e < s || e as usize > items.len() || ((e - s) as usize) < back.max(1) {
                    return Some((r, format!("row {r}: user {u} is too short for the split")));
                }
                let hist = &items[s as usize..e as usize];
                let row = &cands[r * width..(r + 1) * width];
                let positive = hist[hist.len() - back];
                if row[0] != positive {
                    return Some((
                        r,
                        format!("row {r} (user {u}): column 0 is {}, not the split's positive {positive}", row[0]),
                    ));
                }
                let (h, n) = (2 * r as u64 + 1, 2 * r as u64 + 2);
                for &i in hist {
                    if (i as usize) <= num_items {
                        seen[i as usize] = h;
                    }
                }
                for (c, &i) in row.iter().enumerate().skip(1) {
                    let bad = if i == 0 || i as usize > num_items {
                        format!("is {i}, not an item id in 1..={num_items}")
                    } else if seen[i as usize] == h {
                        format!("is {i}, an item of the user's history")
                    } else if seen[i as usize] == n {
                        format!("is {i}, a repeat of an earlier negative of the row")
                    } else {
                        seen[i as usize] = n;
                        continue;
                    };
                    return Some((r, format!("row {r} (user {u}): negative {c} {bad}")));
                }
            }
            None
        })
        .min_by_key(|(r, _)| *r)
        .map(|(_, why)| why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_corruption_is_found() {
        // user 0: items 1 2 3 (valid positive 2, test 3); user 1: 4 5 6 7
        let offsets = [0i64, 3, 7];
        let items = [1u32, 2, 3, 4, 5, 6, 7];
        let users = [0i64, 1];
        let good = [3u32, 4, 5, 7, 1, 2];
        assert_eq!(check_candidates(&offsets, &items, 9, &users, 1, &good, 3), None);
        let cases: [(usize, u32, &str); 6] = [
            (0, 2, "column 0 is 2, not the split's positive 3"),
            (1, 0, "negative 1 is 0, not an item id"),
            (2, 10, "negative 2 is 10, not an item id in 1..=9"),
            (4, 6, "row 1 (user 1): negative 1 is 6, an item of the user's history"),
            (4, 7, "an item of the user's history"), // the positive itself
            (5, 1, "negative 2 is 1, a repeat of an earlier negative"),
        ];
        for (at, v, want) in cases {
            let mut c = good;
            c[at] = v;
            let got = check_candidates(&offsets, &items, 9, &users, 1, &c, 3).unwrap_or_default();
            assert!(got.contains(want), "{got} lacks {want}");
        }
        assert!(check_candidates(&offsets, &items, 9, &users, 2, &good, 3).is_some()); // valid positives differ
        assert!(check_candidates(&offsets, &items, 9, &users, 1, &good[..4], 3).is_some());
        assert!(check_candidates(&offsets, &items, 9, &[0, 5], 1, &good, 3).is_some());
    }
}
