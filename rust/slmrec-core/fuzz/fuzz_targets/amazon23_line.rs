//! Fuzz target: the Amazon 2023 line scanner. Any one line scanned for the 2023 keys (`user_id`,
//! `parent_asin`, `asin`, `timestamp`, `rating`) gives the same fields whatever order the keys are asked in;
//! read as an `amazon23` file (either item key, bad lines skipped), it gives one record or none, never a panic,
//! and never a record from a line the scanner rejects. The scanner sees the line as the reader does
//! (`input::line_body`: without its line ending, and without a UTF-8 byte-order mark at the start of the file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slmrec_core::input::line_body;
use slmrec_core::json::{Field, Scanner};
use slmrec_core::read::{ItemKey, ReadOptions};
use slmrec_core::{Dataset, Format, OnBadLine, PrepareOptions, Recipe, RecipeKind};

const KEYS: [&str; 5] = ["user_id", "parent_asin", "asin", "timestamp", "rating"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    if body.contains(&b'\n') {
        return;
    }
    let Ok(line) = std::str::from_utf8(line_body(body, true)) else { return };
    let mut scanner = Scanner::new();
    let mut a: [Field<'_>; 5] = std::array::from_fn(|_| Field::Missing);
    let mut b: [Field<'_>; 5] = std::array::from_fn(|_| Field::Missing);
    let reversed: Vec<&str> = KEYS.iter().rev().copied().collect();
    let ra = scanner.scan(line, &KEYS, &mut a);
    let rb = scanner.scan(line, &reversed, &mut b);
    assert_eq!(ra.is_ok(), rb.is_ok());
    if ra.is_ok() {
        for k in 0..5 {
            assert_eq!(a[k], b[4 - k]);
        }
    }
    let dir = std::env::temp_dir().join(format!("slmrec-fuzz-a23-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("reviews.jsonl");
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let item_key = if selector & 1 == 0 { ItemKey::ParentAsin } else { ItemKey::Asin };
    let opts = PrepareOptions {
        read: ReadOptions {
            format: Some(Format::Amazon23),
            on_bad_line: OnBadLine::Skip,
            item_key: Some(item_key),
            ..ReadOptions::default()
        },
        recipe: Recipe::new(RecipeKind::None),
        ..PrepareOptions::default()
    };
    if let Ok(ds) = Dataset::build(&[path], &opts) {
        assert!(ra.is_ok(), "a record from a line the scanner rejects");
        assert_eq!(ds.num_interactions(), 1);
        let key = if item_key == ItemKey::ParentAsin { &a[1] } else { &a[2] };
        assert!(matches!(key, Field::Str(s) if s.as_ref() == &*ds.item_names[0]));
        assert!(matches!(&a[0], Field::Str(s) if s.as_ref() == &*ds.user_names[0]));
    }
});
