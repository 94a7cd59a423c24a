//! Fuzz target: any bytes read as a delimited table (`--format table`: a header, RFC 4180 quoting), with the
//! delimiter detected or given, under either bad-line policy, give a dataset or an error, never a panic; on
//! success the counts reconcile, every data line (a quoted record of several lines is one) gave exactly one
//! record, and no physical line is lost (the lines counted are at most the line feeds plus one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slmrec_core::read::ReadOptions;
use slmrec_core::{Dataset, Format, OnBadLine, PrepareOptions, Recipe, RecipeKind};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("slmrec-fuzz-table-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.csv");
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let delimiter = match selector & 3 {
        0 => None,
        1 => Some(b','),
        2 => Some(b'\t'),
        _ => Some(b';'),
    };
    let on_bad_line = if selector & 4 == 0 { OnBadLine::Skip } else { OnBadLine::Fail };
    let opts = PrepareOptions {
        read: ReadOptions {
            format: Some(Format::Table),
            on_bad_line,
            max_line_bytes: if selector & 8 == 0 { 1 << 20 } else { 64 },
            delimiter,
            ..ReadOptions::default()
        },
        recipe: Recipe::new(RecipeKind::None),
        ..PrepareOptions::default()
    };
    if let Ok(ds) = Dataset::build(&[path], &opts) {
        let s = &ds.stats;
        let n = |k: &str| s[k].as_u64().unwrap_or(u64::MAX);
        assert_eq!(n("lines_read"), n("data_lines") + n("blank_lines") + n("header_lines") + n("bad_lines"));
        assert_eq!(n("records"), n("data_lines"));
        assert_eq!(n("interactions") as usize, ds.num_interactions());
        assert_eq!(n("records"), n("interactions"));
        assert_eq!(n("header_lines"), 1);
        let feeds = body.iter().filter(|&&b| b == b'\n').count() as u64;
        assert!(n("lines_read") <= feeds + 1);
        if on_bad_line == OnBadLine::Fail {
            assert_eq!(n("bad_lines"), 0);
        }
        assert!(!ds.items.contains(&0));
    }
});
