//! Core-crate tests of preparation on the real files in ../shared/data (skipped when absent) and on inline
//! fixtures: counts from the data README, the reconciliation identity, bad input, atomic writes, round-trips.

use std::io::Write;
use std::path::{Path, PathBuf};

use slmrec_core::read::ReadOptions;
use slmrec_core::{prepare, Dataset, Error, OnBadLine, PrepareOptions, Recipe, RecipeKind};

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn opts(recipe: RecipeKind) -> PrepareOptions {
    PrepareOptions { recipe: Recipe::new(recipe), ..PrepareOptions::default() }
}

fn counts(ds: &Dataset) -> (usize, usize, usize) {
    (ds.num_users(), ds.num_items(), ds.num_interactions())
}

fn reconciles(ds: &Dataset) {
    let s = &ds.stats;
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("stats lacks {k}"));
    let dropped = n("dropped_by_rating")
        + n("dropped_by_user_filter")
        + n("dropped_by_item_filter")
        + n("duplicates_dropped")
        + n("kcore_dropped")
        + n("dropped_short_users");
    assert_eq!(n("records"), n("interactions") + dropped, "records do not reconcile: {s}");
    assert_eq!(n("lines_read"), n("data_lines") + n("blank_lines") + n("header_lines") + n("bad_lines"));
}

#[test]
fn raw_amazon_files_match_the_data_readme() {
    // (file, lines, users, items) from shared/data/README.md; recipe none keeps every record.
    for (name, lines, users, items) in [
        ("amazon18/All_Beauty_5.json.gz", 5269, 991, 85),
        ("amazon18/AMAZON_FASHION_5.json.gz", 3176, 406, 31),
        ("amazon18/Appliances_5.json.gz", 2277, 47, 48),
        ("amazon18/Gift_Cards_5.json.gz", 2972, 458, 148),
    ] {
        let Some(p) = shared(name) else { return };
        let ds = Dataset::build(&[p], &opts(RecipeKind::None)).expect(name);
        assert_eq!(counts(&ds), (users, items, lines), "{name}");
        reconciles(&ds);
        let kc = Dataset::build(&[shared(name).unwrap_or_default()], &opts(RecipeKind::Kcore));
        if let Ok(kc) = kc {
            reconciles(&kc);
            // A 5-core: every user and item has at least 5 interactions.
            assert!(kc.offsets.windows(2).all(|w| w[1] - w[0] >= 5), "{name}");
            let mut per_item = vec![0u32; kc.num_items() + 1];
            kc.items.iter().for_each(|&i| per_item[i as usize] += 1);
            assert!(per_item[1..].iter().all(|&c| c >= 5), "{name}");
        }
    }
}

#[test]
fn sequence_and_recbole_benchmarks_match_the_data_readme() {
    for (name, users, items, inter) in [
        ("seq/Beauty.txt", 22363, 12101, 198502),
        ("seq/LastFM.txt", 1090, 3646, 52551),
        ("movielens/ml-100k.inter", 943, 1682, 100000),
    ] {
        let Some(p) = shared(name) else { return };
        let ds = Dataset::build(&[p], &opts(RecipeKind::None)).expect(name);
        assert_eq!(counts(&ds), (users, items, inter), "{name}");
        assert!(!ds.items.contains(&0), "{name}: 0 is padding, never an item");
        reconciles(&ds);
    }
}

#[test]
fn beauty_ids_are_the_original_integer_ids_and_order_is_the_line_order() {
    let Some(p) = shared("seq/Beauty.txt") else { return };
    let ds = Dataset::build(std::slice::from_ref(&p), &opts(RecipeKind::None)).expect("Beauty");
    let text = std::fs::read_to_string(&p).expect("read Beauty");
    let first: Vec<u32> =
        text.lines().next().unwrap_or("").split(' ').skip(1).map(|t| t.parse().unwrap_or(0)).collect();
    assert_eq!(ds.sequence(0), &first[..]);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).and_then(|mut f| f.write_all(text.as_bytes())).expect("write fixture");
    p
}

#[test]
fn bad_lines_fail_with_file_and_line_or_are_counted() {
    let tmp = tempfile::tempdir().expect("tmp");
    let good = r#"{"reviewerID": "u", "asin": "a", "unixReviewTime": 1, "overall": 5.0}"#;
    let text = format!(
        "{good}\n{{\"reviewerID\": \"u\"\n{good}\n{{\"reviewerID\": 3, \"asin\": \"b\", \"unixReviewTime\": 1}}\n"
    );
    let p = write(tmp.path(), "r.json", &text);
    let err = Dataset::build(std::slice::from_ref(&p), &opts(RecipeKind::None)).expect_err("must fail");
    assert!(matches!(err, Error::Format { line: 2, .. }), "{err}");
    assert!(err.to_string().starts_with(&format!("{}:2: ", p.display())), "{err}");

    let skip = PrepareOptions {
        read: ReadOptions { on_bad_line: OnBadLine::Skip, ..ReadOptions::default() },
        ..opts(RecipeKind::None)
    };
    let ds = Dataset::build(&[p], &skip).expect("skip");
    assert_eq!(ds.stats["bad_lines"], 2);
    assert_eq!(ds.stats["bad_line_reasons"]["invalid JSON"]["count"], 1);
    assert_eq!(ds.stats["bad_line_reasons"]["wrong type"]["count"], 1);
    reconciles(&ds);
}

#[test]
fn truncated_gzip_is_always_an_error() {
    let Some(p) = shared("amazon18/Gift_Cards_5.json.gz") else { return };
    let bytes = std::fs::read(&p).expect("read");
    let tmp = tempfile::tempdir().expect("tmp");
    for cut in [20, bytes.len() / 2, bytes.len() - 4] {
        let t = tmp.path().join(format!("cut{cut}.json.gz"));
        std::fs::write(&t, &bytes[..cut]).expect("write");
        let skip = PrepareOptions {
            read: ReadOptions { on_bad_line: OnBadLine::Skip, ..ReadOptions::default() },
            ..opts(RecipeKind::None)
        };
        let err = Dataset::build(&[t], &skip).expect_err("truncated gzip must fail");
        assert!(err.to_string().contains("gzip"), "{err}");
    }
}

#[test]
fn write_is_atomic_refuses_to_overwrite_and_round_trips() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lines: String =
        (0..30).map(|k| format!("{} {} {} {}\n", k % 6 + 1, k % 5 + 1, (k + 1) % 5 + 1, (k + 2) % 5 + 1)).collect();
    let input = write(tmp.path(), "s.txt", &lines);
    let out = tmp.path().join("ds");
    let ds = prepare(std::slice::from_ref(&input), &out, &opts(RecipeKind::None)).expect("prepare");
    let again = prepare(std::slice::from_ref(&input), &out, &opts(RecipeKind::None)).expect_err("exists");
    assert!(matches!(again, Error::OutputExists { .. }));
    let forced = PrepareOptions { force: true, ..opts(RecipeKind::None) };
    prepare(&[input], &out, &forced).expect("force");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary directories left behind");
    let back = Dataset::load(&out).expect("load");
    assert_eq!(back.offsets, ds.offsets);
    assert_eq!(back.items, ds.items);
    assert_eq!(back.timestamps, ds.timestamps);
    assert_eq!(back.user_names, ds.user_names);
    assert_eq!(back.item_names, ds.item_names);
}
