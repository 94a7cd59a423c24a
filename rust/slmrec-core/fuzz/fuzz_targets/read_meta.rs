//! Fuzz target: any file read as Amazon metadata (`--meta`), under either bad-line policy, gives the item
//! table or an error, never a panic; the counts reconcile (every non-blank line is an item, a duplicate row
//! or a skipped bad line) and every asin is a non-empty string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slmrec_core::read::{read_meta, ReadOptions};
use slmrec_core::OnBadLine;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("slmrec-fuzz-meta-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("meta.json");
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let on_bad_line = if selector & 1 == 0 { OnBadLine::Skip } else { OnBadLine::Fail };
    // Every other input with a small line limit, so that the too-long path is exercised too.
    let max_line_bytes = if selector & 2 == 0 { 1 << 20 } else { 64 };
    let opts = ReadOptions { on_bad_line, max_line_bytes, ..ReadOptions::default() };
    if let Ok((items, stats)) = read_meta(&[path], &opts, None) {
        assert_eq!(stats.items as usize, items.len());
        assert_eq!(stats.lines, stats.items + stats.duplicate_rows + stats.bad_lines);
        if on_bad_line == OnBadLine::Fail {
            assert_eq!(stats.bad_lines, 0);
        }
        assert!(items.keys().all(|k| !k.is_empty()));
    }
});
