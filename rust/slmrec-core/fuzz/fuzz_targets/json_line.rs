//! Fuzz target: the JSON line scanner must accept or reject any bytes without panicking, and agree with
//! itself when the wanted keys come in another order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slmrec_core::json::{Field, Scanner};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let mut scanner = Scanner::new();
    let mut a = [Field::Missing, Field::Missing, Field::Missing, Field::Missing];
    let mut b = [Field::Missing, Field::Missing, Field::Missing, Field::Missing];
    let ra = scanner.scan(line, &["reviewerID", "asin", "unixReviewTime", "overall"], &mut a);
    let rb = scanner.scan(line, &["overall", "unixReviewTime", "asin", "reviewerID"], &mut b);
    assert_eq!(ra.is_ok(), rb.is_ok());
    if ra.is_ok() {
        assert_eq!(a[0], b[3]);
        assert_eq!(a[1], b[2]);
        assert_eq!(a[2], b[1]);
        assert_eq!(a[3], b[0]);
    }
});
