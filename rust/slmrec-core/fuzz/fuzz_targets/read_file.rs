//! Fuzz target: any file, read as any format under either bad-line policy, gives a dataset or an error,
//! never a panic; with `skip`, the reconciliation identities hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slmrec_core::read::ReadOptions;
use slmrec_core::{Dataset, Format, OnBadLine, PrepareOptions, Recipe, RecipeKind};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("slmrec-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(if selector & 128 == 0 { "input.json" } else { "input.inter" });
    if std::fs::write(&path, body).is_err() {
        return;
    }
    // Bits 0-2 pick a format (Format::ALL's order), bit 3 detection instead.
    let format = if selector & 8 == 0 { Some(Format::ALL[(selector & 7) as usize]) } else { None };
    let on_bad_line = if selector & 16 == 0 { OnBadLine::Skip } else { OnBadLine::Fail };
    let recipe = if selector & 32 == 0 { RecipeKind::None } else { RecipeKind::Kcore };
    let opts = PrepareOptions {
        read: ReadOptions {
            format,
            on_bad_line,
            max_line_bytes: if selector & 64 == 0 { 1 << 20 } else { 64 },
            ..ReadOptions::default()
        },
        recipe: match recipe {
            RecipeKind::None => Recipe::new(recipe),
            _ => Recipe { user_min: 1, item_min: 1, ..Recipe::new(recipe) },
        },
        ..PrepareOptions::default()
    };
    if let Ok(ds) = Dataset::build(&[path], &opts) {
        let s = &ds.stats;
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        let dropped = n("dropped_by_rating") + n("duplicates_dropped") + n("kcore_dropped");
        assert_eq!(n("records"), n("interactions") + dropped);
        assert_eq!(n("lines_read"), n("data_lines") + n("blank_lines") + n("header_lines") + n("bad_lines"));
        assert!(!ds.items.contains(&0));
    }
});
