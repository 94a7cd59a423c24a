//! Bindings of the negative sampler and batch builders (`slmrec-core`'s `sampler` and `batch`).
//!
//! They only translate: arrays are read as `PyReadonlyArray1` and sliced before the interpreter is released
//! (`py.detach`); the core runs on a rayon pool; results are moved into NumPy without a copy
//! (`PyArray1::from_vec`, `PyArray2/3::from_owned_array`); core errors become `ValueError` (errors.rs).
//!
//! Thread pools and `fork`: rayon's global pool does not survive `fork()` (the child inherits the pool's
//! bookkeeping but not its threads, so the first parallel call would wait forever). The sampling code
//! therefore never uses the global pool: it runs on pools cached per (process id, thread count); a forked
//! child (e.g. a fork-based DataLoader worker) sees another process id and builds fresh pools, leaking the
//! parent's dead ones on purpose (dropping them would signal threads that do not exist).

use std::sync::{Arc, Mutex};

use numpy::ndarray::{Array2, Array3};
use numpy::{PyArray1, PyArray2, PyArray3, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPyResult;
use slmrec_core::batch::{self, BatchOptions, EpochOrder as CoreOrder, Split};
use slmrec_core::sampler::{
    check_non_negative, check_positive, Distribution, History, NegativeSampler as CoreSampler, SamplerOptions,
};

type PoolEntry = (usize, u32, Arc<rayon::ThreadPool>);
static POOLS: Mutex<Vec<PoolEntry>> = Mutex::new(Vec::new());

/// The cached pool of `threads` threads (0 = rayon's default) for this process.
pub(crate) fn pool(threads: usize) -> PyResult<Arc<rayon::ThreadPool>> {
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
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("slmrec-sampling-{i}"))
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the sampling thread pool: {e}")))?,
    );
    pools.push((threads, pid, p.clone()));
    Ok(p)
}

/// A thread count checked against the core's bound (`slmrec_core::limits::MAX_THREADS`); `None` (all cores) is 0.
fn check_threads(py: Python<'_>, threads: Option<i64>) -> PyResult<usize> {
    threads.map_or(Ok(0), |n| slmrec_core::limits::check_threads(n).py_err(py))
}

/// Runs `f` with the interpreter released, on the pool of `threads`.
fn run<T: Send>(py: Python<'_>, threads: usize, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let p = pool(threads)?;
    py.detach(|| crate::errors::no_panic(|| p.install(f))).py_err(py)
}

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| PyValueError::new_err(format!("{name} must be a contiguous 1-D array")))
}

/// Item ids as NumPy gives them: uint32 (a prepared Dataset) or int64 (anything else, converted in Python).
enum Items<'py> {
    U32(PyReadonlyArray1<'py, u32>),
    I64(PyReadonlyArray1<'py, i64>),
}

impl<'py> Items<'py> {
    fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, u32>>() {
            return Ok(Items::U32(a));
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, i64>>() {
            return Ok(Items::I64(a));
        }
        Err(PyTypeError::new_err("items must be a 1-D uint32 or int64 NumPy array"))
    }

    /// A validated history (the arrays are copied once, in Rust, with the interpreter released).
    fn history(&self, py: Python<'_>, offsets: &[i64], num_items: i64, threads: usize) -> PyResult<History> {
        let n = usize::try_from(num_items)
            .map_err(|_| PyValueError::new_err(format!("num_items must be at least 1, got {num_items}")))?;
        let r = match self {
            Items::U32(a) => {
                let items = slice(a, "items")?;
                run(py, threads, || History::new(offsets.to_vec(), items.to_vec(), n))?
            }
            Items::I64(a) => {
                let items = slice(a, "items")?;
                run(py, threads, || History::from_i64_items(offsets.to_vec(), items, n))?
            }
        };
        r.py_err(py)
    }
}

fn matrix(py: Python<'_>, rows: usize, cols: usize, v: Vec<i64>) -> PyResult<Bound<'_, PyArray2<i64>>> {
    let a = Array2::from_shape_vec((rows, cols), v).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(PyArray2::from_owned_array(py, a))
}

/// Negatives and evaluation candidates over a history CSR (see `slmrec.sampling.NegativeSampler`).
#[pyclass(frozen, module = "slmrec._core", name = "NegativeSampler")]
struct PyNegativeSampler {
    inner: CoreSampler,
    threads: usize,
}

#[pymethods]
impl PyNegativeSampler {
    #[new]
    #[pyo3(signature = (offsets, items, num_items, *, seed=0, threads=None, distribution="uniform", alpha=1.0, pad_short=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        offsets: PyReadonlyArray1<'_, i64>,
        items: &Bound<'_, PyAny>,
        num_items: i64,
        seed: u64,
        threads: Option<i64>,
        distribution: &str,
        alpha: f64,
        pad_short: bool,
    ) -> PyResult<Self> {
        let threads = check_threads(py, threads)?;
        let distribution = match distribution.parse::<Distribution>().py_err(py)? {
            Distribution::Popularity { .. } => Distribution::Popularity { alpha },
            d => d,
        };
        let history = Items::extract(items)?.history(py, slice(&offsets, "offsets")?, num_items, threads)?;
        let opts = SamplerOptions { seed, distribution, pad_short };
        let inner = run(py, threads, || CoreSampler::new(history, opts))?.py_err(py)?;
        Ok(Self { inner, threads })
    }

    /// int64 [len(users), k]: distinct negatives per user, a function of (seed, epoch, user).
    #[pyo3(signature = (users, k, *, epoch=0))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        k: i64,
        epoch: u64,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let k = check_positive("k", k).py_err(py)?;
        let u = slice(&users, "users")?;
        let out = run(py, self.threads, || self.inner.sample(u, k, epoch))?.py_err(py)?;
        matrix(py, u.len(), k, out)
    }

    /// int64 [len(users), n + 1]: the positive, then n negatives outside the user's full history.
    #[pyo3(signature = (users, positives, n=999, *, stream=0))]
    fn eval_candidates<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        positives: PyReadonlyArray1<'py, i64>,
        n: i64,
        stream: u64,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let n = check_positive("n", n).py_err(py)?;
        let (u, p) = (slice(&users, "users")?, slice(&positives, "positives")?);
        let out = run(py, self.threads, || self.inner.eval_candidates(u, p, n, stream))?.py_err(py)?;
        matrix(py, u.len(), n + 1, out)
    }

    /// int64 [len(users)]: how many items each user can get as negatives.
    fn available<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let u = slice(&users, "users")?;
        let out = self.inner.available_for(u).py_err(py)?;
        Ok(PyArray1::from_vec(py, out))
    }

    #[getter]
    fn num_users(&self) -> usize {
        self.inner.history().num_users()
    }
    #[getter]
    fn num_items(&self) -> usize {
        self.inner.history().num_items()
    }
}

/// One rank's examples of one epoch, in order.
#[pyclass(frozen, module = "slmrec._core")]
struct EpochOrder {
    inner: CoreOrder,
}

#[pymethods]
impl EpochOrder {
    #[getter]
    fn num_batches(&self) -> usize {
        self.inner.num_batches()
    }
    #[getter]
    fn epoch(&self) -> u64 {
        self.inner.epoch()
    }
    fn __len__(&self) -> usize {
        self.inner.ids().len()
    }
}

impl EpochOrder {
    fn ids(&self, b: usize) -> PyResult<&[u64]> {
        self.inner.batch(b).ok_or_else(|| {
            pyo3::exceptions::PyIndexError::new_err(format!("batch {b} outside 0..{}", self.inner.num_batches()))
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn batch_options(
    max_len: i64,
    batch_size: i64,
    seed: u64,
    shuffle: bool,
    drop_last: bool,
    rank: usize,
    world_size: usize,
    even: bool,
    bucket: usize,
) -> slmrec_core::Result<BatchOptions> {
    Ok(BatchOptions {
        max_len: check_positive("max_len", max_len)?,
        batch_size: check_positive("batch_size", batch_size)?,
        seed,
        shuffle,
        drop_last,
        rank,
        world_size,
        even,
        bucket,
    })
}

/// Last-item training batches (see `slmrec.sampling.LastItemBatches`).
#[pyclass(frozen, module = "slmrec._core", name = "LastItemBatches")]
struct PyLastItemBatches {
    inner: batch::LastItemBatches,
    threads: usize,
    max_len: usize,
}

#[pymethods]
impl PyLastItemBatches {
    #[new]
    #[pyo3(signature = (offsets, items, num_items, *, max_len=30, batch_size=256, seed=0, all_prefixes=false,
                        rank=0, world_size=1, shuffle=true, drop_last=false, even=true, bucket=0, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        offsets: PyReadonlyArray1<'_, i64>,
        items: &Bound<'_, PyAny>,
        num_items: i64,
        max_len: i64,
        batch_size: i64,
        seed: u64,
        all_prefixes: bool,
        rank: usize,
        world_size: usize,
        shuffle: bool,
        drop_last: bool,
        even: bool,
        bucket: usize,
        threads: Option<i64>,
    ) -> PyResult<Self> {
        let threads = check_threads(py, threads)?;
        let opts =
            batch_options(max_len, batch_size, seed, shuffle, drop_last, rank, world_size, even, bucket).py_err(py)?;
        let history = Items::extract(items)?.history(py, slice(&offsets, "offsets")?, num_items, threads)?;
        let inner = batch::LastItemBatches::new(history, all_prefixes, opts).py_err(py)?;
        Ok(Self { inner, threads, max_len: opts.max_len })
    }

    /// This rank's order of examples for `epoch`.
    fn order(&self, py: Python<'_>, epoch: u64) -> PyResult<EpochOrder> {
        let inner = run(py, self.threads, || self.inner.order(epoch))?;
        Ok(EpochOrder { inner })
    }

    /// Batch `b` of `order`: {"users": [B], "input_ids": [B, max_len], "target": [B]}, int64.
    fn batch<'py>(&self, py: Python<'py>, order: &EpochOrder, b: usize) -> PyResult<Bound<'py, PyDict>> {
        let ids = order.ids(b)?;
        let out = py.detach(|| crate::errors::no_panic(|| self.inner.batch(ids))).py_err(py)?.py_err(py)?; // one thread: no pool needed
        self.dict(py, out)
    }

    /// Batches `which` of `order`, built in parallel: a list of dicts as from `batch`.
    fn batches<'py>(
        &self,
        py: Python<'py>,
        order: &EpochOrder,
        which: Vec<usize>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let out = run(py, self.threads, || self.inner.batches(&order.inner, &which))?.py_err(py)?;
        out.into_iter().map(|b| self.dict(py, b)).collect()
    }

    fn num_batches(&self) -> usize {
        self.inner.num_batches()
    }
    #[getter]
    fn num_examples(&self) -> u64 {
        self.inner.num_examples()
    }
    #[getter]
    fn rank_examples(&self) -> usize {
        self.inner.rank_examples()
    }
}

impl PyLastItemBatches {
    fn dict<'py>(&self, py: Python<'py>, out: batch::LastItemBatch) -> PyResult<Bound<'py, PyDict>> {
        let rows = out.users.len();
        let d = PyDict::new(py);
        d.set_item("users", PyArray1::from_vec(py, out.users))?;
        d.set_item("input_ids", matrix(py, rows, self.max_len, out.input_ids)?)?;
        d.set_item("target", PyArray1::from_vec(py, out.target))?;
        Ok(d)
    }
}

/// All-position (SASRec) training batches (see `slmrec.sampling.SequenceBatches`).
#[pyclass(frozen, module = "slmrec._core", name = "SequenceBatches")]
struct PySequenceBatches {
    inner: batch::SequenceBatches,
    threads: usize,
    max_len: usize,
    num_negatives: usize,
}

#[pymethods]
impl PySequenceBatches {
    #[new]
    #[pyo3(signature = (offsets, items, num_items, *, max_len=50, batch_size=256, num_negatives=1, windows=None,
                        seed=0, rank=0, world_size=1, shuffle=true, drop_last=false, even=true, bucket=0, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        offsets: PyReadonlyArray1<'_, i64>,
        items: &Bound<'_, PyAny>,
        num_items: i64,
        max_len: i64,
        batch_size: i64,
        num_negatives: i64,
        windows: Option<i64>,
        seed: u64,
        rank: usize,
        world_size: usize,
        shuffle: bool,
        drop_last: bool,
        even: bool,
        bucket: usize,
        threads: Option<i64>,
    ) -> PyResult<Self> {
        let threads = check_threads(py, threads)?;
        let opts =
            batch_options(max_len, batch_size, seed, shuffle, drop_last, rank, world_size, even, bucket).py_err(py)?;
        let k = check_non_negative("num_negatives", num_negatives).py_err(py)?;
        let windows = windows.map(|w| check_positive("windows", w)).transpose().py_err(py)?;
        let history = Items::extract(items)?.history(py, slice(&offsets, "offsets")?, num_items, threads)?;
        let inner = run(py, threads, || batch::SequenceBatches::new(history, k, windows, opts))?.py_err(py)?;
        Ok(Self { inner, threads, max_len: opts.max_len, num_negatives: k })
    }

    /// This rank's order of examples for `epoch`.
    fn order(&self, py: Python<'_>, epoch: u64) -> PyResult<EpochOrder> {
        let inner = run(py, self.threads, || self.inner.order(epoch))?;
        Ok(EpochOrder { inner })
    }

    /// Batch `b` of `order`: {"users": [B], "input_ids": [B, L], "positives": [B, L], "negatives": [B, L, K]}.
    fn batch<'py>(&self, py: Python<'py>, order: &EpochOrder, b: usize) -> PyResult<Bound<'py, PyDict>> {
        let ids = order.ids(b)?;
        let epoch = order.inner.epoch();
        let out = py.detach(|| crate::errors::no_panic(|| self.inner.batch(ids, epoch))).py_err(py)?.py_err(py)?; // one thread: no pool needed
        self.dict(py, out)
    }

    /// Batches `which` of `order`, built in parallel: a list of dicts as from `batch`.
    fn batches<'py>(
        &self,
        py: Python<'py>,
        order: &EpochOrder,
        which: Vec<usize>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let out = run(py, self.threads, || self.inner.batches(&order.inner, &which))?.py_err(py)?;
        out.into_iter().map(|b| self.dict(py, b)).collect()
    }

    fn num_batches(&self) -> usize {
        self.inner.num_batches()
    }
    #[getter]
    fn num_examples(&self) -> u64 {
        self.inner.num_examples()
    }
    #[getter]
    fn rank_examples(&self) -> usize {
        self.inner.rank_examples()
    }
}

impl PySequenceBatches {
    fn dict<'py>(&self, py: Python<'py>, out: batch::SequenceBatch) -> PyResult<Bound<'py, PyDict>> {
        let (rows, l, k) = (out.users.len(), self.max_len, self.num_negatives);
        let neg =
            Array3::from_shape_vec((rows, l, k), out.negatives).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let d = PyDict::new(py);
        d.set_item("users", PyArray1::from_vec(py, out.users))?;
        d.set_item("input_ids", matrix(py, rows, l, out.input_ids)?)?;
        d.set_item("positives", matrix(py, rows, l, out.positives)?)?;
        d.set_item("negatives", PyArray3::from_owned_array(py, neg))?;
        Ok(d)
    }
}

/// int64 [len(users), max_len]: the model input of an evaluation split (see `slmrec.sampling.history_inputs`).
#[pyfunction]
#[pyo3(signature = (offsets, items, users, *, split, max_len, threads=None))]
fn history_inputs<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    items: &Bound<'py, PyAny>,
    users: PyReadonlyArray1<'py, i64>,
    split: &str,
    max_len: i64,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let threads = check_threads(py, threads)?;
    let split: Split = split.parse().py_err(py)?;
    let max_len = check_positive("max_len", max_len).py_err(py)?;
    let (o, u) = (slice(&offsets, "offsets")?, slice(&users, "users")?);
    let out = match Items::extract(items)? {
        Items::U32(a) => {
            let items = slice(&a, "items")?;
            run(py, threads, || batch::history_inputs(o, items, u, split, max_len))?
        }
        Items::I64(a) => {
            let items = slice(&a, "items")?;
            let converted = items.iter().enumerate().find(|(_, &i)| i < 0 || i > i64::from(u32::MAX));
            if let Some((k, &i)) = converted {
                return Err(PyValueError::new_err(format!("items[{k}] = {i} is not an item id")));
            }
            run(py, threads, || {
                let items: Vec<u32> = items.iter().map(|&i| i as u32).collect();
                batch::history_inputs(o, &items, u, split, max_len)
            })?
        }
    }
    .py_err(py)?;
    matrix(py, u.len(), max_len, out)
}

/// Adds the sampling classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNegativeSampler>()?;
    m.add_class::<EpochOrder>()?;
    m.add_class::<PyLastItemBatches>()?;
    m.add_class::<PySequenceBatches>()?;
    m.add_function(wrap_pyfunction!(history_inputs, m)?)?;
    Ok(())
}
