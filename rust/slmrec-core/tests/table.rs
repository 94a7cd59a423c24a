//! Core-crate tests of the table reader on files larger than a read chunk (1 MiB), so that quoted records
//! straddle the points where the input is cut: the records and the counts must not depend on where the cuts
//! fall or how many threads parse. The files are written here (by us), never committed.

use std::path::{Path, PathBuf};

use slmrec_core::read::ReadOptions;
use slmrec_core::{Dataset, Format, OnBadLine, PrepareOptions, Recipe, RecipeKind};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

fn opts(format: Option<Format>) -> PrepareOptions {
    PrepareOptions {
        read: ReadOptions { format, on_bad_line: OnBadLine::Fail, ..ReadOptions::default() },
        recipe: Recipe::new(RecipeKind::None),
        ..PrepareOptions::default()
    }
}

/// `rows` records of `user_id,item_id,note,timestamp`, every third note a quoted field of `breaks` line feeds
/// (or, with `flat`, the same text with spaces for the line feeds).
fn table(rows: usize, breaks: usize, flat: bool) -> Vec<u8> {
    let mut out = b"user_id,item_id,note,timestamp\n".to_vec();
    for k in 0..rows {
        let sep = if flat { " " } else { "\n" };
        let note = if k % 3 == 0 {
            let body: Vec<String> = (0..=breaks).map(|j| format!("part {j} of \"\"{k}\"\", with, commas")).collect();
            format!("\"{}\"", body.join(sep))
        } else {
            format!("plain{k}")
        };
        out.extend_from_slice(format!("u{},i{},{note},{}\n", k % 997, k % 89, 1_388_534_400 + k as i64).as_bytes());
    }
    out
}

#[test]
fn quoted_records_across_chunk_cuts_read_like_flat_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = 60_000; // about 5 MB: several chunks, cut wherever the bytes fall
    let quoted = write(dir.path(), "quoted.csv", &table(rows, 3, false));
    let flat = write(dir.path(), "flat.csv", &table(rows, 3, true));
    assert!(std::fs::metadata(&quoted).map(|m| m.len()).unwrap_or(0) > 4 << 20);
    let a = Dataset::build(std::slice::from_ref(&quoted), &opts(None)).expect("quoted");
    let b = Dataset::build(&[flat], &opts(None)).expect("flat");
    assert_eq!(a.stats["inputs"][0]["format"], "table");
    assert_eq!((a.items.clone(), a.timestamps.clone(), a.offsets.clone()), (b.items, b.timestamps, b.offsets));
    assert_eq!(a.user_names, b.user_names);
    assert_eq!(a.num_interactions(), rows);
    for s in [&a.stats, &b.stats] {
        assert_eq!(s["lines_read"], rows as u64 + 1);
        assert_eq!(s["data_lines"], rows as u64);
        assert_eq!(s["header_lines"], 1);
    }
    // One thread or several: the same dataset.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    let c = one.install(|| Dataset::build(&[quoted], &opts(Some(Format::Table)))).expect("one thread");
    assert_eq!(c.fingerprint(), a.fingerprint());
}

#[test]
fn a_bad_record_after_many_quoted_lines_is_named_by_its_physical_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = table(30_000, 2, false);
    let physical = bytes.iter().filter(|&&b| b == b'\n').count();
    bytes.extend_from_slice(b"u1,i1,x,not-a-time\n");
    let p = write(dir.path(), "bad.csv", &bytes);
    let e = Dataset::build(std::slice::from_ref(&p), &opts(None)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with(&format!("{}:{}: ", p.display(), physical + 1)), "{e}");
    assert!(e.contains("neither an integer nor an ISO-8601"), "{e}");
    // Skipped, it is one bad line; every other record is read.
    let mut skip = opts(None);
    skip.read.on_bad_line = OnBadLine::Skip;
    let ds = Dataset::build(&[p], &skip).expect("skip");
    assert_eq!(ds.stats["bad_lines"], 1);
    assert_eq!(ds.num_interactions(), 30_000);
}

#[test]
fn an_unterminated_quote_is_an_error_at_its_line_in_both_modes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = table(20_000, 1, false);
    let physical = bytes.iter().filter(|&&b| b == b'\n').count();
    bytes.extend_from_slice(b"u1,i1,\"never closed,1\n");
    bytes.extend_from_slice(&table(20_000, 0, true)[31..]); // more records after it, all swallowed
    let p = write(dir.path(), "open.csv", &bytes);
    for mode in [OnBadLine::Fail, OnBadLine::Skip] {
        let mut o = opts(None);
        o.read.on_bad_line = mode;
        let e = Dataset::build(std::slice::from_ref(&p), &o).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with(&format!("{}:{}: unterminated quoted field", p.display(), physical + 1)), "{e}");
    }
    // A record longer than the line limit (the quote left open) stops the read, memory bounded by the limit.
    let mut o = opts(None);
    o.read.max_line_bytes = 10_000;
    let e = Dataset::build(std::slice::from_ref(&p), &o).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with(&format!("{}:{}: line longer than 10000 bytes", p.display(), physical + 1)), "{e}");
}

#[test]
fn a_header_without_a_line_feed_after_it_is_the_header_not_a_record() {
    // The fuzzer's case: the whole file is one line (no line feed), so the quoted framing carries it to the
    // end of the file; it is still the header, and a file of only a header has no records.
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, body) in [("only.csv", "user_id,item_id"), ("blank_first.csv", "\n\nuser_id,item_id\r\n")] {
        let p = write(dir.path(), name, body.as_bytes());
        for policy in [OnBadLine::Fail, OnBadLine::Skip] {
            let mut o = opts(Some(Format::Table));
            o.read.on_bad_line = policy;
            let err = Dataset::build(std::slice::from_ref(&p), &o).expect_err("a header alone has no records");
            assert!(err.to_string().contains("no interaction records"), "{name}: {err}");
        }
    }
    // A header, then one record without a line feed: one record, one header line.
    let p = write(dir.path(), "one.csv", b"\n\"user_id\",item_id\nu1,i1");
    let ds = Dataset::build(&[p], &opts(None)).expect("one record");
    assert_eq!((ds.stats["header_lines"].as_u64(), ds.stats["data_lines"].as_u64()), (Some(1), Some(1)));
    assert_eq!(ds.stats["blank_lines"].as_u64(), Some(1));
}
