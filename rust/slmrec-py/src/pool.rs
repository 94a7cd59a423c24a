//! The rayon thread pools the bindings run on: cached ones, one per (process, thread count), and one-off ones.
//!
//! Design: rayon's global pool does not survive `fork()` (the child inherits the pool's bookkeeping but not its
//! threads, so its first parallel call would wait forever), so the bindings never use it. A pool is built
//! lazily, on the first call that asks for its thread count (0: rayon's default, all cores), and cached with
//! the id of the process that built it; a forked child (e.g. a fork-based DataLoader worker) sees another
//! process id and builds fresh pools, leaking the parent's dead ones on purpose (dropping them would signal
//! threads that do not exist).

use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

type PoolEntry = (usize, u32, Arc<rayon::ThreadPool>);
static POOLS: Mutex<Vec<PoolEntry>> = Mutex::new(Vec::new());

/// The cached pool of `threads` threads (0 = rayon's default) for this process.
pub(crate) fn get(threads: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    let pid = std::process::id();
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if pools.iter().any(|e| e.1 != pid) {
        let (mine, stale): (Vec<_>, Vec<_>) = std::mem::take(&mut *pools).into_iter().partition(|e| e.1 == pid);
        std::mem::forget(stale); // the parent's pools: their threads do not exist in this process
        *pools = mine;
    }
    if let Some(e) = pools.iter().find(|e| e.0 == threads) {
        return Ok(e.2.clone());
    }
    let p = Arc::new(build(threads)?);
    pools.push((threads, pid, p.clone()));
    Ok(p)
}

/// A new pool of `threads` threads (0 = rayon's default), not cached.
pub(crate) fn build(threads: usize) -> PyResult<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("slmrec-{i}"))
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread pool: {e}")))
}

/// Runs `f` on the pool of `threads` (0: all cores) with the interpreter released; a panic becomes
/// `slmrec_core::Error::Internal` (see `errors::no_panic`).
pub(crate) fn run<T: Send>(
    py: Python<'_>,
    threads: usize,
    f: impl FnOnce() -> T + Send,
) -> PyResult<slmrec_core::Result<T>> {
    let p = get(threads)?;
    Ok(py.detach(|| crate::errors::no_panic(|| p.install(f))))
}
