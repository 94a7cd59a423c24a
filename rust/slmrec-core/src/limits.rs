//! The bounds the data layer puts on what a caller or a file can ask of it, in one place.
//!
//! Design: a size that comes from outside (a thread count, a line of a file, the shape of a result array) is
//! checked against a documented bound before anything is spawned or allocated, with checked arithmetic, so
//! that an absurd value is an error naming it instead of an abort, an OOM kill or ten thousand OS threads.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The most worker threads any call starts (`--threads`, `threads=`): far above any machine's useful count,
/// far below what makes thread creation itself the problem.
pub const MAX_THREADS: usize = 1024;

/// The default longest line an input may have, in bytes (the bytes before the line feed; a CR counts).
/// Real review lines are a few KB; the longest seen in the Amazon dumps is under 1 MB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 << 20;

/// The most records one preparation reads (all inputs together): rows are numbered in 32 bits, which keeps
/// the permutations of the recipe at four bytes a record.
pub const MAX_RECORDS: usize = u32::MAX as usize;

/// The bound on one result array when the machine's memory cannot be read (`/proc/meminfo`).
pub const FALLBACK_MAX_ARRAY_BYTES: u64 = 1 << 40;

/// Checks a thread count given by a caller: 1..=[`MAX_THREADS`].
pub fn check_threads(threads: i64) -> Result<usize> {
    if threads < 1 || threads as u64 > MAX_THREADS as u64 {
        return Err(Error::InvalidArgument(format!("threads must be in 1..={MAX_THREADS}, got {threads}")));
    }
    Ok(threads as usize)
}

/// Checks a maximum line length given by a caller (at least 1 byte).
pub fn check_max_line_bytes(n: i64) -> Result<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| Error::InvalidArgument(format!("max_line_bytes must be at least 1, got {n}")))
}

/// The largest array one call may allocate, in bytes: the machine's physical memory (`MemTotal` of
/// `/proc/meminfo`), or [`FALLBACK_MAX_ARRAY_BYTES`] where that cannot be read.
pub fn max_array_bytes() -> u64 {
    static MAX: OnceLock<u64> = OnceLock::new();
    *MAX.get_or_init(|| mem_total().unwrap_or(FALLBACK_MAX_ARRAY_BYTES))
}

fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// The element count of a `rows x width` array of `elem_bytes`-byte elements, or an error naming `what` when the
/// product overflows or the array would be larger than [`max_array_bytes`].
pub fn array_len(what: &str, rows: usize, width: usize, elem_bytes: usize) -> Result<usize> {
    let too_big = |bytes: Option<u64>| {
        let size = bytes.map_or_else(|| "more than 2^64 bytes".to_string(), human);
        Error::InvalidArgument(format!(
            "{what}: {rows} rows of {width} values need {size}, more than this machine's memory ({}); \
             ask for fewer rows or a smaller size",
            human(max_array_bytes())
        ))
    };
    let len = rows.checked_mul(width).ok_or_else(|| too_big(None))?;
    let bytes = (len as u64).checked_mul(elem_bytes as u64);
    match bytes {
        Some(b) if b <= max_array_bytes() => Ok(len),
        b => Err(too_big(b)),
    }
}

/// A zeroed vector of `len` elements whose allocation failing is an error, not an abort.
pub fn zeroed<T: Clone + Default>(what: &str, len: usize) -> Result<Vec<T>> {
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::InvalidArgument(format!(
            "{what}: cannot allocate {} ({len} values)",
            human((len as u64).saturating_mul(std::mem::size_of::<T>() as u64))
        ))
    })?;
    v.resize(len, T::default());
    Ok(v)
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Hands the allocator's free memory back to the system (glibc's `malloc_trim`; nothing elsewhere). A read
/// frees its buffers and the interners' tables on several threads, and glibc keeps such memory resident in its
/// per-thread arenas, where the next phases (on another thread) cannot reuse it; the phases after free large
/// arrays below glibc's (adaptive) threshold for giving memory back at once.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointer; it only returns free pages of the allocator to the system.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_bounded_both_ways() {
        assert_eq!(check_threads(1).expect("in range"), 1);
        assert_eq!(check_threads(MAX_THREADS as i64).expect("in range"), MAX_THREADS);
        for bad in [0, -1, i64::MIN, MAX_THREADS as i64 + 1, 10_000, 1_000_000, i64::MAX] {
            let e = check_threads(bad).expect_err("out of range").to_string();
            assert_eq!(e, format!("threads must be in 1..={MAX_THREADS}, got {bad}"));
        }
    }

    #[test]
    fn array_sizes_are_checked_before_allocation() {
        assert_eq!(array_len("x", 3, 4, 8).expect("fits"), 12);
        let e = array_len("sample", usize::MAX, 2, 8).expect_err("overflows").to_string();
        assert!(e.contains("more than 2^64 bytes") && e.starts_with("sample: "), "{e}");
        let e = array_len("sample", 1 << 20, 1 << 30, 8).expect_err("too large").to_string();
        assert!(e.contains("9007.2 TB"), "{e}");
        assert!(e.contains("more than this machine's memory"), "{e}");
        assert!(zeroed::<i64>("x", 5).expect("small") == vec![0; 5]);
        assert!(zeroed::<i64>("x", usize::MAX / 4).is_err());
    }
}
