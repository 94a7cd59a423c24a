//! Property tests of the negative sampler and batch builders, against naive re-implementations.

use std::collections::HashSet;

use slmrec_core::batch::{
    cold_targets, history_exclusions, history_inputs, split_targets, splittable_users, BatchOptions, LastItemBatches,
    SequenceBatches, Split,
};
use slmrec_core::rng::Rng;
use slmrec_core::sampler::{check_csr, Distribution, History, NegativeSampler, SamplerOptions};
use slmrec_core::Error;

/// A random CSR: `users` rows of length `min_len..min_len + spread`, items skewed towards small ids;
/// the last `dense` rows hold all but `left` items of the catalogue (to exercise the complement path).
fn csr(users: usize, num_items: u32, min_len: usize, spread: usize, seed: u64) -> (Vec<i64>, Vec<u32>) {
    let mut rng = Rng::new(seed, 99, 0, 0);
    let mut offsets = vec![0i64];
    let mut items = Vec::new();
    for _ in 0..users {
        let len = min_len + rng.below(spread as u64) as usize;
        for _ in 0..len {
            let a = rng.below(u64::from(num_items)) as u32;
            let b = rng.below(u64::from(num_items)) as u32;
            items.push(a.min(b) + 1); // popularity skew, repeats allowed
        }
        offsets.push(items.len() as i64);
    }
    (offsets, items)
}

fn with_dense_rows(mut offsets: Vec<i64>, mut items: Vec<u32>, num_items: u32, lefts: &[u32]) -> (Vec<i64>, Vec<u32>) {
    for &left in lefts {
        items.extend(1..=num_items - left);
        offsets.push(items.len() as i64);
    }
    (offsets, items)
}

fn sampler(offsets: Vec<i64>, items: Vec<u32>, n: u32, opts: SamplerOptions) -> NegativeSampler {
    NegativeSampler::new(History::new(offsets, items, n as usize).expect("valid csr"), opts).expect("sampler")
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool").install(f)
}

fn invalid(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

fn check_rows(s: &NegativeSampler, users: &[i64], out: &[i64], k: usize, extra: Option<&[i64]>) {
    assert_eq!(out.len(), users.len() * k);
    for (j, row) in out.chunks(k).enumerate() {
        let hist: HashSet<i64> = s.history().row(users[j] as usize).iter().map(|&i| i64::from(i)).collect();
        let mut seen = HashSet::new();
        for &i in row {
            assert!(i >= 1 && i <= s.history().num_items() as i64, "row {j}: {i} out of range");
            assert!(!hist.contains(&i), "row {j}: {i} is in the history");
            assert!(extra.is_none_or(|p| p[j] != i), "row {j}: the positive came back as a negative");
            assert!(seen.insert(i), "row {j}: {i} twice");
        }
    }
}

#[test]
fn negatives_avoid_history_and_padding_and_are_distinct() {
    let n = 300;
    let (o, i) = csr(400, n, 1, 40, 1);
    let (o, i) = with_dense_rows(o, i, n, &[60, 20, 5]);
    for dist in [Distribution::Uniform, Distribution::Popularity { alpha: 0.75 }] {
        let s = sampler(o.clone(), i.clone(), n, SamplerOptions { seed: 3, distribution: dist, pad_short: false });
        let users: Vec<i64> = (0..400).collect();
        for k in [1, 7, 100] {
            let out = s.sample(&users, k, 5).expect("sample");
            check_rows(&s, &users, &out, k, None);
        }
        // Dense rows (60 and 20 items left) go through the complement path; all of them can be taken.
        // Popularity never draws items that do not occur in the CSR.
        let counts = s.history().counts();
        for u in [400i64, 401] {
            let hist: HashSet<u32> = s.history().row(u as usize).iter().copied().collect();
            let left: Vec<i64> = (1..=n)
                .filter(|i| !hist.contains(i) && (dist == Distribution::Uniform || counts[*i as usize] > 0))
                .map(i64::from)
                .collect();
            assert_eq!(s.available(u as usize), left.len());
            let out = s.sample(&[u], left.len(), 0).expect("dense");
            check_rows(&s, &[u], &out, left.len(), None);
            let mut got: Vec<i64> = out.clone();
            got.sort_unstable();
            assert_eq!(got, left);
        }
    }
}

#[test]
fn short_users_error_or_pad() {
    let n = 50;
    let (o, i) = with_dense_rows(vec![0, 2], vec![1, 2], n, &[3]);
    let s = sampler(o.clone(), i.clone(), n, SamplerOptions::default());
    let m = invalid(s.sample(&[0, 1], 4, 0));
    assert!(m.contains("user 1 (users[1]) has only 3 items"), "{m}");
    let padded = sampler(o, i, n, SamplerOptions { pad_short: true, ..SamplerOptions::default() });
    let out = padded.sample(&[1, 0], 5, 0).expect("pad");
    let mut row: Vec<i64> = out[..5].to_vec();
    assert_eq!(&row[3..], &[0, 0]);
    row.truncate(3);
    row.sort_unstable();
    assert_eq!(row, vec![48, 49, 50]);
    assert!(out[5..].iter().all(|&x| x > 2));
}

#[test]
fn results_are_a_function_of_seed_epoch_and_user() {
    let n = 2000;
    let (o, i) = csr(3000, n, 2, 30, 2);
    let s = sampler(o.clone(), i.clone(), n, SamplerOptions { seed: 11, ..SamplerOptions::default() });
    let users: Vec<i64> = (0..3000).rev().collect();
    let one = in_pool(1, || s.sample(&users, 20, 4).expect("1 thread"));
    let three = in_pool(3, || s.sample(&users, 20, 4).expect("3 threads"));
    assert_eq!(one, three);
    let mut split = s.sample(&users[..1234], 20, 4).expect("a");
    split.extend(s.sample(&users[1234..], 20, 4).expect("b"));
    assert_eq!(one, split);
    // A row depends on its user only, not on its neighbours or position.
    assert_eq!(s.sample(&[users[17]], 20, 4).expect("single"), one[17 * 20..18 * 20]);
    let other_epoch = s.sample(&users, 20, 5).expect("epoch 5");
    let same_rows = one.chunks(20).zip(other_epoch.chunks(20)).filter(|(a, b)| a == b).count();
    assert_eq!(same_rows, 0);
    let other_seed = sampler(o, i, n, SamplerOptions { seed: 12, ..SamplerOptions::default() });
    assert_ne!(other_seed.sample(&users, 20, 4).expect("seed 12"), one);
    // Evaluation candidates come from another stream, and salts differ from each other.
    let pos: Vec<i64> = users.iter().map(|&u| i64::from(s.history().row(u as usize)[0])).collect();
    let c0 = s.eval_candidates(&users, &pos, 20, 0).expect("salt 0");
    let c1 = s.eval_candidates(&users, &pos, 20, 1).expect("salt 1");
    assert_ne!(c0, c1);
    assert_eq!(c0, in_pool(2, || s.eval_candidates(&users, &pos, 20, 0).expect("again")));
}

#[test]
fn eval_candidates_start_with_the_positive_and_exclude_it() {
    let n = 500;
    let (o, i) = csr(300, n, 3, 20, 4);
    let (o, i) = with_dense_rows(o, i, n, &[30]);
    let s = sampler(o, i, n, SamplerOptions::default());
    let users: Vec<i64> = (0..301).collect();
    // Positives inside the history (the usual case) and outside it (any other project's choice).
    let pos: Vec<i64> =
        users.iter().map(|&u| if u % 2 == 0 { i64::from(s.history().row(u as usize)[0]) } else { 499 }).collect();
    let out = s.eval_candidates(&users, &pos, 29, 0).expect("eval");
    for (j, row) in out.chunks(30).enumerate() {
        assert_eq!(row[0], pos[j]);
    }
    let negs: Vec<i64> = out.chunks(30).flat_map(|r| r[1..].to_vec()).collect();
    check_rows(&s, &users, &negs, 29, Some(&pos));
    // The dense user (items 1..=470) with positive 499 outside its history has 29 negatives left.
    let m = invalid(s.eval_candidates(&[300], &[499], 30, 0));
    assert!(m.contains("user 300 (users[0]) has only 29 items outside its history and positive"), "{m}");
}

#[test]
fn popularity_never_draws_unseen_items() {
    // Items 1..=5 occur, 6..=10 never do.
    let s = sampler(
        vec![0, 3, 5],
        vec![1, 2, 3, 4, 5],
        10,
        SamplerOptions {
            distribution: Distribution::Popularity { alpha: 1.0 },
            pad_short: true,
            ..SamplerOptions::default()
        },
    );
    assert_eq!(s.available(0), 2);
    let out = s.sample(&[0, 1], 4, 0).expect("sample");
    let mut a = out[..2].to_vec();
    a.sort_unstable();
    assert_eq!(a, vec![4, 5]);
    assert_eq!(&out[2..4], &[0, 0]);
    let mut b = out[4..7].to_vec();
    b.sort_unstable();
    assert_eq!(b, vec![1, 2, 3]);
    assert_eq!(out[7], 0);
}

#[test]
fn bad_input_names_the_offending_index() {
    let m = invalid(History::new(vec![], vec![], 5));
    assert!(m.contains("offsets is empty"), "{m}");
    let m = invalid(History::new(vec![1, 2], vec![1, 2], 5));
    assert!(m.contains("offsets[0] is 1"), "{m}");
    let m = invalid(History::new(vec![0, 2, 1, 3], vec![1, 2, 3], 5));
    assert!(m.contains("offsets[2] = 1 < offsets[1] = 2"), "{m}");
    let m = invalid(History::new(vec![0, 2, 4], vec![1, 2, 3], 5));
    assert!(m.contains("offsets[2] = 4 but items has 3 entries"), "{m}");
    let m = invalid(History::new(vec![0, 2, 3], vec![1, 2, 0], 5));
    assert!(m.contains("items[2] = 0 (in row 1)"), "{m}");
    let m = invalid(History::new(vec![0, 2, 3], vec![1, 6, 2], 5));
    assert!(m.contains("items[1] = 6 (in row 0)"), "{m}");
    let m = invalid(History::from_i64_items(vec![0, 2, 3], &[1, -4, 2], 5));
    assert!(m.contains("items[1] = -4"), "{m}");
    assert!(invalid(History::new(vec![0], vec![], 0)).contains("num_items"));

    let s = sampler(vec![0, 2, 3], vec![1, 2, 3], 5, SamplerOptions::default());
    assert!(invalid(s.sample(&[0, 2], 1, 0)).contains("users[1] = 2 is not a user row index in 0..2"));
    assert!(invalid(s.sample(&[-1], 1, 0)).contains("users[0] = -1"));
    assert!(invalid(s.sample(&[0], 0, 0)).contains("k must be at least 1"));
    assert!(invalid(s.eval_candidates(&[0, 1], &[1], 2, 0)).contains("2 users but 1 positives"));
    assert!(invalid(s.eval_candidates(&[0, 1], &[1, 6], 2, 0)).contains("positives[1] = 6"));
    let m = invalid(NegativeSampler::new(
        History::new(vec![0, 2, 3], vec![1, 2, 3], 5).expect("csr"),
        SamplerOptions { distribution: Distribution::Popularity { alpha: f64::NAN }, ..SamplerOptions::default() },
    ));
    assert!(m.contains("alpha"), "{m}");
}

/// Naive leave-one-out views of a row.
fn left_padded(items: &[u32], len: usize) -> Vec<i64> {
    let keep = &items[items.len().saturating_sub(len)..];
    let mut v = vec![0i64; len - keep.len()];
    v.extend(keep.iter().map(|&i| i64::from(i)));
    v
}

#[test]
fn history_inputs_match_the_naive_definition() {
    let (o, i) = csr(200, 100, 1, 15, 5);
    let users: Vec<i64> = (0..200).filter(|&u| o[u as usize + 1] - o[u as usize] >= 3).collect();
    for (split, cut) in [(Split::Train, 3), (Split::Valid, 2), (Split::Test, 1)] {
        let out = history_inputs(&o, &i, &users, split, 4).expect("inputs");
        for (j, &u) in users.iter().enumerate() {
            let row = &i[o[u as usize] as usize..o[u as usize + 1] as usize];
            assert_eq!(out[j * 4..(j + 1) * 4], left_padded(&row[..row.len() - cut], 4)[..]);
        }
    }
    let short = (0..200).find(|&u| o[u as usize + 1] - o[u as usize] == 1).expect("a user of length 1");
    let m = invalid(history_inputs(&o, &i, &[users[0], short], Split::Valid, 4));
    assert!(m.contains(&format!("user {short} (users[1]) has 1 items, too few for the Valid split")), "{m}");
    assert!(invalid(history_inputs(&[0, 2, 1], &[1, 2], &[0], Split::Test, 3)).contains("not monotone"));
}

fn opts(batch_size: usize, rank: usize, world_size: usize, even: bool) -> BatchOptions {
    BatchOptions { max_len: 5, batch_size, seed: 7, shuffle: true, drop_last: false, rank, world_size, even, bucket: 0 }
}

#[test]
fn last_item_batches_follow_the_paper_and_all_prefixes() {
    let (o, i) = csr(300, 80, 1, 12, 6);
    let history = History::new(o.clone(), i.clone(), 80).expect("csr");
    let lens: Vec<usize> = o.windows(2).map(|w| (w[1] - w[0]) as usize).collect();
    for all_prefixes in [false, true] {
        let b = LastItemBatches::new(history.clone(), all_prefixes, opts(16, 0, 1, true)).expect("batches");
        let expected: usize = lens
            .iter()
            .map(|&l| {
                if l < 3 {
                    0
                } else if all_prefixes {
                    l - 3
                } else {
                    1
                }
            })
            .sum();
        assert_eq!(b.schedule().num_examples() as usize, expected);
        let mut want = Vec::new();
        for (u, &len) in lens.iter().enumerate() {
            let row = history.row(u);
            let targets: Vec<usize> = match (len >= 3, all_prefixes) {
                (false, _) => vec![],
                (true, false) => vec![len - 3],
                (true, true) => (1..len - 2).collect(),
            };
            want.extend(targets.into_iter().map(|t| (u as i64, left_padded(&row[..t], 5), i64::from(row[t]))));
        }
        let order = b.schedule().order(2);
        let mut got = Vec::new();
        for k in 0..order.num_batches() {
            let batch = b.batch(order.batch(k).expect("in range")).expect("batch");
            for (r, &u) in batch.users.iter().enumerate() {
                got.push((u, batch.input_ids[r * 5..(r + 1) * 5].to_vec(), batch.target[r]));
            }
        }
        assert_ne!(got, want, "shuffled");
        got.sort();
        want.sort();
        assert_eq!(got, want);
        // The parallel builder agrees with the one-batch builder.
        let which: Vec<usize> = (0..order.num_batches()).collect();
        let par = in_pool(2, || b.batches(&order, &which).expect("batches"));
        assert_eq!(par[3], b.batch(order.batch(3).expect("3")).expect("batch 3"));
        assert!(b.batches(&order, &[order.num_batches()]).is_err());
    }
}

#[test]
fn shards_cover_every_example_exactly_once() {
    let (o, i) = csr(1003, 60, 3, 5, 7);
    let history = History::new(o, i, 60).expect("csr");
    for world in [1, 2, 3, 8] {
        for even in [false, true] {
            let mut all = Vec::new();
            let mut sizes = Vec::new();
            for rank in 0..world {
                let b = LastItemBatches::new(history.clone(), false, opts(32, rank, world, even)).expect("batches");
                let order = b.schedule().order(1);
                assert_eq!(order.ids().len(), b.schedule().rank_examples());
                sizes.push((b.schedule().rank_examples(), b.schedule().num_batches()));
                all.extend_from_slice(order.ids());
            }
            let distinct: HashSet<u64> = all.iter().copied().collect();
            assert_eq!(distinct.len(), 1003, "world {world} even {even}");
            if even {
                assert!(sizes.iter().all(|&s| s == sizes[0]), "{sizes:?}");
                assert_eq!(all.len(), 1003usize.div_ceil(world) * world);
            } else {
                assert_eq!(all.len(), 1003);
            }
        }
    }
    // Orders differ across epochs, not across calls.
    let b = LastItemBatches::new(history.clone(), false, opts(32, 0, 1, true)).expect("batches");
    assert_eq!(b.schedule().order(4).ids(), b.schedule().order(4).ids());
    assert_ne!(b.schedule().order(4).ids(), b.schedule().order(5).ids());
    let unshuffled =
        LastItemBatches::new(history, false, BatchOptions { shuffle: false, ..opts(32, 0, 1, true) }).expect("b");
    assert_eq!(unshuffled.schedule().order(9).ids(), (0..1003).collect::<Vec<u64>>());
}

#[test]
fn sequence_batches_shift_by_one_with_negatives_outside_the_train_part() {
    let n = 70;
    let (o, i) = csr(200, n, 1, 14, 8);
    let history = History::new(o, i, n as usize).expect("csr");
    let k = 3;
    let b = SequenceBatches::new(history.clone(), k, None, opts(16, 0, 1, true)).expect("batches");
    let order = b.schedule().order(0);
    let (mut users, mut held_out_drawn) = (0, 0);
    for bi in 0..order.num_batches() {
        let batch = b.batch(order.batch(bi).expect("in range"), 0).expect("batch");
        for (r, &u) in batch.users.iter().enumerate() {
            users += 1;
            let row = history.row(u as usize);
            let train = &row[..row.len() - 2];
            assert_eq!(batch.input_ids[r * 5..(r + 1) * 5], left_padded(&train[..train.len() - 1], 5)[..]);
            assert_eq!(batch.positives[r * 5..(r + 1) * 5], left_padded(&train[1..], 5)[..]);
            let seen: HashSet<i64> = train.iter().map(|&x| i64::from(x)).collect();
            let held_out: HashSet<i64> = row[row.len() - 2..].iter().map(|&x| i64::from(x)).collect();
            for p in 0..5 {
                let negs = &batch.negatives[(r * 5 + p) * k..(r * 5 + p + 1) * k];
                if batch.positives[r * 5 + p] == 0 {
                    assert_eq!(negs, &[0, 0, 0]);
                } else {
                    let set: HashSet<i64> = negs.iter().copied().collect();
                    assert_eq!(set.len(), k);
                    assert!(negs.iter().all(|x| (1..=n as i64).contains(x) && !seen.contains(x)));
                    held_out_drawn += negs.iter().filter(|x| held_out.contains(x) && !seen.contains(x)).count();
                }
            }
        }
    }
    assert_eq!(users, (0..200).filter(|&u| history.row(u).len() >= 3).count());
    // Negatives exclude the train part only: a user's validation and test items are drawn like any other item
    // (never drawing them would leak the held-out targets into training).
    assert!(held_out_drawn > 0);
    // Negatives are a function of (seed, epoch, user): the same in another batch composition.
    let one = b.batch(&order.ids()[..1], 0).expect("one");
    let first = b.batch(order.batch(0).expect("0"), 0).expect("first");
    assert_eq!(one.negatives[..], first.negatives[..5 * k]);
    assert_ne!(b.batch(&order.ids()[..1], 1).expect("epoch 1").negatives, one.negatives);
    let par = in_pool(3, || b.batches(&order, &[0, 1]).expect("par"));
    assert_eq!(par[0], first);
}

#[test]
fn sequence_windows_make_every_target_exactly_once() {
    let n = 90;
    let (o, i) = csr(120, n, 1, 23, 9); // rows of 1..23 items, max_len 5
    let history = History::new(o.clone(), i, n as usize).expect("csr");
    for stride in [5, 2] {
        let b = SequenceBatches::new(history.clone(), 2, Some(stride), opts(8, 0, 1, true)).expect("batches");
        // the naive definition: runs of `stride` targets from the end; 5 inputs end before each run's last
        let mut expected: Vec<(i64, Vec<i64>, Vec<i64>)> = Vec::new();
        for u in 0..120 {
            let row = history.row(u);
            if row.len() < 4 {
                continue;
            }
            let train: Vec<i64> = row[..row.len() - 2].iter().map(|&x| i64::from(x)).collect();
            let mut hi = train.len();
            while hi > 1 {
                let first = hi.saturating_sub(stride).max(1);
                let lo = hi.saturating_sub(5).max(1);
                let mut input = vec![0; 5 - (hi - lo)];
                input.extend(&train[lo - 1..hi - 1]);
                let mut pos = vec![0; 5 - (hi - first)];
                pos.extend(&train[first..hi]);
                expected.push((u as i64, input, pos));
                hi = first;
            }
        }
        assert_eq!(b.schedule().num_examples() as usize, expected.len());
        let order = b.schedule().order(0);
        let mut got = Vec::new();
        for bi in 0..order.num_batches() {
            let batch = b.batch(order.batch(bi).expect("in range"), 0).expect("batch");
            for (r, &u) in batch.users.iter().enumerate() {
                let pos = batch.positives[r * 5..(r + 1) * 5].to_vec();
                let negs = &batch.negatives[r * 10..(r + 1) * 10];
                let row = history.row(u as usize);
                let train = &row[..row.len() - 2];
                for p in 0..5 {
                    let g = &negs[p * 2..p * 2 + 2];
                    if pos[p] == 0 {
                        assert_eq!(g, &[0, 0]);
                    } else {
                        assert!(g[0] != g[1] && g.iter().all(|&x| x >= 1 && !train.contains(&(x as u32))));
                    }
                }
                got.push((u, batch.input_ids[r * 5..(r + 1) * 5].to_vec(), pos));
            }
        }
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "stride {stride}");
    }
    // without negatives: the same inputs, an empty negatives buffer; a stride beyond max_len is refused
    let with = SequenceBatches::new(history.clone(), 2, Some(3), opts(8, 0, 1, true)).expect("k = 2");
    let none = SequenceBatches::new(history.clone(), 0, Some(3), opts(8, 0, 1, true)).expect("k = 0");
    let ids = with.schedule().order(0).batch(0).expect("0").to_vec();
    let (x, y) = (none.batch(&ids, 0).expect("b"), with.batch(&ids, 0).expect("b"));
    assert_eq!((x.input_ids, x.positives, x.negatives.len()), (y.input_ids, y.positives, 0));
    assert!(SequenceBatches::new(history, 0, Some(6), opts(8, 0, 1, true)).is_err());
}

#[test]
fn buckets_group_similar_lengths_and_keep_every_example_once() {
    let n = 300;
    let (o, i) = csr(400, n, 3, 40, 5); // rows of 3..40 items
    let history = History::new(o, i, n as usize).expect("csr");
    let plain = SequenceBatches::new(history.clone(), 0, Some(5), opts(16, 0, 1, true)).expect("plain");
    let bucketed =
        SequenceBatches::new(history.clone(), 0, Some(5), BatchOptions { bucket: 8, ..opts(16, 0, 1, true) })
            .expect("bucketed");
    let (a, b) = (plain.schedule().order(3), bucketed.schedule().order(3));
    // the same examples, each once, in another order
    let (mut x, mut y) = (a.ids().to_vec(), b.ids().to_vec());
    assert_ne!(x, y);
    x.sort_unstable();
    y.sort_unstable();
    assert_eq!(x, y);
    assert_eq!(a.num_batches(), b.num_batches());
    // batches hold similar lengths: the mean spread (max - min history length) within a batch shrinks
    let spread = |order: &slmrec_core::batch::EpochOrder, bs: &SequenceBatches| -> f64 {
        let mut total = 0usize;
        for k in 0..order.num_batches() {
            let batch = bs.batch(order.batch(k).expect("batch"), 3).expect("built");
            let lens: Vec<usize> = batch.users.iter().map(|&u| history.row(u as usize).len()).collect();
            total += lens.iter().max().expect("rows") - lens.iter().min().expect("rows");
        }
        total as f64 / order.num_batches() as f64
    };
    assert!(spread(&b, &bucketed) * 3.0 < spread(&a, &plain));
    // deterministic per (seed, epoch), different across epochs
    assert_eq!(bucketed.schedule().order(3).ids(), b.ids());
    assert_ne!(bucketed.schedule().order(4).ids(), b.ids());
}

/// The naive per-user definitions of the leave-one-out helpers, checked on a random CSR with short rows.
#[test]
fn leave_one_out_targets_and_exclusions_match_their_definition() {
    let (mut offsets, mut items) = csr(300, 40, 0, 12, 21);
    // a row whose target repeats elsewhere in it: every occurrence is left out of the exclusions
    items.extend([7, 3, 7, 9, 7]);
    offsets.push(items.len() as i64);
    let rows: Vec<&[u32]> = offsets.windows(2).map(|w| &items[w[0] as usize..w[1] as usize]).collect();
    let users = splittable_users(&offsets, items.len()).expect("users");
    let want: Vec<i64> = (0..rows.len()).filter(|&u| rows[u].len() >= 3).map(|u| u as i64).collect();
    assert_eq!(users, want);
    assert!(users.len() > 100 && users.len() < 300, "some rows are too short, most are not");
    for split in [Split::Train, Split::Valid, Split::Test] {
        let back = split.held_out();
        let targets = split_targets(&offsets, &items, &users, split).expect("targets");
        let (excl, width) = history_exclusions(&offsets, &items, &users, split).expect("exclusions");
        assert_eq!(width, users.iter().map(|&u| rows[u as usize].len()).max().unwrap_or(1));
        assert_eq!(excl.len(), users.len() * width);
        for (j, &u) in users.iter().enumerate() {
            let row = rows[u as usize];
            let target = row[row.len() - back];
            assert_eq!(targets[j], i64::from(target));
            let mut expect: Vec<i64> = row.iter().map(|&i| if i == target { 0 } else { i64::from(i) }).collect();
            expect.resize(width, 0);
            assert_eq!(&excl[j * width..(j + 1) * width], &expect[..]);
        }
    }
    let last = (rows.len() - 1) as i64;
    let (excl, width) = history_exclusions(&offsets, &items, &[last], Split::Test).expect("repeats");
    assert_eq!((&excl[..], width), (&[0, 3, 0, 9, 0][..], 5));
    assert_eq!(history_exclusions(&offsets, &items, &[], Split::Test).expect("none"), (vec![], 1));
    // a row too short for the split, a user out of range, a broken CSR: errors naming them
    let short = (0..rows.len()).find(|&u| rows[u].len() == 2).expect("a row of 2") as i64;
    let err = |r: Result<Vec<i64>, Error>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(split_targets(&offsets, &items, &[short], Split::Test)).is_empty());
    assert!(err(split_targets(&offsets, &items, &[users[0], short], Split::Train)).contains("(users[1]) has 2 items"));
    assert!(err(split_targets(&offsets, &items, &[-1], Split::Test)).contains("users[0] = -1"));
    assert!(err(split_targets(&[0, 3, 2], &items[..2], &[0], Split::Test)).contains("not monotone"));
    assert!(err(splittable_users(&[0, 2], 3)).contains("lengths do not match"));
}

/// A cold target occurs in no user's training part of its split (each sequence without its held-out tail).
#[test]
fn cold_targets_match_their_definition() {
    let (mut offsets, mut items) = csr(300, 40, 0, 12, 23);
    // a user whose test item 41 is new (cold), one whose test item is its own earlier item (warm), and one whose
    // validation item 42 is seen only in another user's held-out tail (cold for valid)
    for row in [&[1u32, 2, 3, 41][..], &[5, 6, 5, 5], &[7, 8, 42, 9], &[10, 11, 12, 42]] {
        items.extend(row);
        offsets.push(items.len() as i64);
    }
    let rows: Vec<&[u32]> = offsets.windows(2).map(|w| &items[w[0] as usize..w[1] as usize]).collect();
    let users = splittable_users(&offsets, items.len()).expect("users");
    for split in [Split::Train, Split::Valid, Split::Test] {
        let back = split.held_out();
        let cold = cold_targets(&offsets, &items, &users, split).expect("cold");
        let train: Vec<u32> = rows.iter().flat_map(|r| r[..r.len().saturating_sub(back)].iter().copied()).collect();
        for (j, &u) in users.iter().enumerate() {
            let row = rows[u as usize];
            assert_eq!(cold[j], !train.contains(&row[row.len() - back]), "user {u}, {split:?}");
        }
    }
    let n = rows.len() as i64;
    let test = cold_targets(&offsets, &items, &[n - 4, n - 3], Split::Test).expect("test");
    assert_eq!(test, vec![true, false]);
    assert_eq!(cold_targets(&offsets, &items, &[n - 2], Split::Valid).expect("valid"), vec![true]);
    assert!(cold_targets(&offsets, &items, &[-1], Split::Test).is_err());
}

#[test]
fn check_csr_refuses_what_history_refuses() {
    assert_eq!(check_csr(&[0, 2, 3], &[1u32, 2, 3], 3).ok(), Some(3));
    assert_eq!(check_csr(&[0, 2, 3], &[1i64, 2, 3], 3).ok(), Some(3));
    for (offsets, items, n, why) in [
        (vec![0, 2], vec![0i64, 1], 3, "items[0] = 0 (in row 0) is outside 1..=3"),
        (vec![0, 2], vec![1, 4], 3, "items[1] = 4 (in row 0) is outside 1..=3"),
        (vec![0, 1, 3], vec![1, 2, -5], 3, "items[2] = -5 (in row 1)"),
        (vec![0, 3], vec![1, 2], 3, "offsets[1] = 3 but items has 2 entries"),
        (vec![1, 2], vec![1, 2], 3, "offsets[0] is 1"),
        (vec![], vec![], 3, "offsets is empty"),
        (vec![0], vec![], 0, "num_items"),
    ] {
        let e = check_csr(&offsets, &items, n).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(why), "{e:?} lacks {why:?}");
        let h = History::from_i64_items(offsets.clone(), &items, n).err().map(|e| e.to_string());
        assert_eq!(h.as_deref(), Some(e.as_str()));
    }
}
