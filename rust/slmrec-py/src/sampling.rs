//! Bindings of the negative sampler and batch builders (`slmrec-core`'s `sampler` and `batch`).
//!
//! They only translate: arrays are read as `PyReadonlyArray1` and sliced before the interpreter is released
//! (`py.detach`); the core runs on a rayon pool; results are moved into NumPy without a copy
//! (`PyArray1::from_vec`, `PyArray2/3::from_owned_array`); core errors become `ValueError` (errors.rs).
//!
//! Every parallel call runs on a pool of `pool.rs` (never rayon's global pool, which does not survive `fork`).

use numpy::ndarray::{Array2, Array3};
use numpy::{PyArray1, PyArray2, PyArray3, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPyResult;
use slmrec_core::batch::{self, BatchOptions, EpochOrder as CoreOrder, Split};
use slmrec_core::sampler::{
    check_csr as check_csr_core, check_non_negative, check_positive, check_seed, Distribution, History,
    NegativeSampler as CoreSampler, SamplerOptions,
};

/// A thread count checked against the core's bound (`slmrec_core::limits::MAX_THREADS`); `None` (all cores) is 0.
fn check_threads(py: Python<'_>, threads: Option<i64>) -> PyResult<usize> {
    threads.map_or(Ok(0), |n| slmrec_core::limits::check_threads(n).py_err(py))
}

/// Runs `f` with the interpreter released, on the pool of `threads` (0: all cores).
fn run<T: Send>(py: Python<'_>, threads: usize, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    crate::pool::run(py, threads, f)?.py_err(py)
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
    #[pyo3(signature = (users, positives, n=999, *, salt=0))]
    fn eval_candidates<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        positives: PyReadonlyArray1<'py, i64>,
        n: i64,
        salt: u64,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let n = check_positive("n", n).py_err(py)?;
        let (u, p) = (slice(&users, "users")?, slice(&positives, "positives")?);
        let out = run(py, self.threads, || self.inner.eval_candidates(u, p, n, salt))?.py_err(py)?;
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

/// The core's options from the keyword arguments (integers checked in the core; the defaults are
/// [`BatchOptions::DEFAULT`], named in the classes' signatures).
#[allow(clippy::too_many_arguments)]
fn batch_options(
    max_len: i64,
    batch_size: i64,
    seed: i128,
    shuffle: bool,
    drop_last: bool,
    rank: i64,
    world_size: i64,
    even: bool,
    bucket: i64,
) -> slmrec_core::Result<BatchOptions> {
    Ok(BatchOptions {
        max_len: check_positive("max_len", max_len)?,
        batch_size: check_positive("batch_size", batch_size)?,
        seed: check_seed("seed", seed)?,
        shuffle,
        drop_last,
        rank: check_non_negative("rank", rank)?,
        world_size: check_positive("world_size", world_size)?,
        even,
        bucket: check_non_negative("bucket", bucket)?,
    })
}

/// The defaults of the keyword arguments, as Python ints.
const D: BatchOptions = BatchOptions::DEFAULT;
const D_MAX_LEN: i64 = D.max_len as i64;
const D_BATCH_SIZE: i64 = D.batch_size as i64;
const D_SEED: i128 = D.seed as i128;
const D_RANK: i64 = D.rank as i64;
const D_WORLD_SIZE: i64 = D.world_size as i64;
const D_BUCKET: i64 = D.bucket as i64;
const D_NUM_NEGATIVES: i64 = batch::SequenceBatches::DEFAULT_NUM_NEGATIVES as i64;

/// The core builder behind a batch class.
enum Builder {
    LastItem(batch::LastItemBatches),
    Sequence(batch::SequenceBatches),
}

/// What the two batch classes share: epochs, sizes and the building of batches (subclassed by
/// `LastItemBatches` and `SequenceBatches`, which only construct it).
#[pyclass(frozen, subclass, module = "slmrec._core", name = "Batches")]
struct PyBatches {
    inner: Builder,
    threads: usize,
    max_len: usize,
}

impl PyBatches {
    fn schedule(&self) -> &batch::Schedule {
        match &self.inner {
            Builder::LastItem(b) => b.schedule(),
            Builder::Sequence(b) => b.schedule(),
        }
    }

    fn last_item_dict<'py>(&self, py: Python<'py>, out: batch::LastItemBatch) -> PyResult<Bound<'py, PyDict>> {
        let rows = out.users.len();
        let d = PyDict::new(py);
        d.set_item("users", PyArray1::from_vec(py, out.users))?;
        d.set_item("input_ids", matrix(py, rows, self.max_len, out.input_ids)?)?;
        d.set_item("target", PyArray1::from_vec(py, out.target))?;
        Ok(d)
    }

    fn sequence_dict<'py>(
        &self,
        py: Python<'py>,
        out: batch::SequenceBatch,
        num_negatives: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (rows, l) = (out.users.len(), self.max_len);
        let neg = Array3::from_shape_vec((rows, l, num_negatives), out.negatives)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let d = PyDict::new(py);
        d.set_item("users", PyArray1::from_vec(py, out.users))?;
        d.set_item("input_ids", matrix(py, rows, l, out.input_ids)?)?;
        d.set_item("positives", matrix(py, rows, l, out.positives)?)?;
        d.set_item("negatives", PyArray3::from_owned_array(py, neg))?;
        Ok(d)
    }
}

#[pymethods]
impl PyBatches {
    /// The defaults of the keyword options (the core's `BatchOptions::DEFAULT`, and `num_negatives` of
    /// `SequenceBatches`).
    #[staticmethod]
    fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("max_len", D.max_len)?;
        d.set_item("batch_size", D.batch_size)?;
        d.set_item("seed", D.seed)?;
        d.set_item("shuffle", D.shuffle)?;
        d.set_item("drop_last", D.drop_last)?;
        d.set_item("rank", D.rank)?;
        d.set_item("world_size", D.world_size)?;
        d.set_item("even", D.even)?;
        d.set_item("bucket", D.bucket)?;
        d.set_item("num_negatives", D_NUM_NEGATIVES)?;
        Ok(d)
    }

    /// This rank's order of examples for `epoch`.
    fn order(&self, py: Python<'_>, epoch: i128) -> PyResult<EpochOrder> {
        let epoch = check_seed("epoch", epoch).py_err(py)?;
        let inner = run(py, self.threads, || self.schedule().order(epoch))?;
        Ok(EpochOrder { inner })
    }

    /// Batch `b` of `order` (one thread: no pool needed), a dict of int64 arrays: "users" [B], "input_ids"
    /// [B, max_len], then "target" [B] (last-item) or "positives" [B, max_len] and "negatives"
    /// [B, max_len, num_negatives] (sequence).
    fn batch<'py>(&self, py: Python<'py>, order: &EpochOrder, b: usize) -> PyResult<Bound<'py, PyDict>> {
        let ids = order.ids(b)?;
        let epoch = order.inner.epoch();
        match &self.inner {
            Builder::LastItem(x) => {
                let out = py.detach(|| crate::errors::no_panic(|| x.batch(ids))).py_err(py)?.py_err(py)?;
                self.last_item_dict(py, out)
            }
            Builder::Sequence(x) => {
                let out = py.detach(|| crate::errors::no_panic(|| x.batch(ids, epoch))).py_err(py)?.py_err(py)?;
                self.sequence_dict(py, out, x.num_negatives())
            }
        }
    }

    /// Batches `which` of `order`, built in parallel: a list of dicts as from `batch`.
    fn batches<'py>(
        &self,
        py: Python<'py>,
        order: &EpochOrder,
        which: Vec<usize>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        match &self.inner {
            Builder::LastItem(x) => {
                let out = run(py, self.threads, || x.batches(&order.inner, &which))?.py_err(py)?;
                out.into_iter().map(|b| self.last_item_dict(py, b)).collect()
            }
            Builder::Sequence(x) => {
                let out = run(py, self.threads, || x.batches(&order.inner, &which))?.py_err(py)?;
                out.into_iter().map(|b| self.sequence_dict(py, b, x.num_negatives())).collect()
            }
        }
    }

    fn num_batches(&self) -> usize {
        self.schedule().num_batches()
    }
    #[getter]
    fn num_examples(&self) -> u64 {
        self.schedule().num_examples()
    }
    #[getter]
    fn rank_examples(&self) -> usize {
        self.schedule().rank_examples()
    }
}

/// Last-item training batches (see `slmrec.sampling.LastItemBatches`).
#[pyclass(frozen, extends = PyBatches, module = "slmrec._core", name = "LastItemBatches")]
struct PyLastItemBatches;

#[pymethods]
impl PyLastItemBatches {
    #[new]
    #[pyo3(signature = (offsets, items, num_items, *, max_len=D_MAX_LEN, batch_size=D_BATCH_SIZE, seed=D_SEED,
                        all_prefixes=false, rank=D_RANK, world_size=D_WORLD_SIZE, shuffle=D.shuffle,
                        drop_last=D.drop_last, even=D.even, bucket=D_BUCKET, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        offsets: PyReadonlyArray1<'_, i64>,
        items: &Bound<'_, PyAny>,
        num_items: i64,
        max_len: i64,
        batch_size: i64,
        seed: i128,
        all_prefixes: bool,
        rank: i64,
        world_size: i64,
        shuffle: bool,
        drop_last: bool,
        even: bool,
        bucket: i64,
        threads: Option<i64>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let threads = check_threads(py, threads)?;
        let opts =
            batch_options(max_len, batch_size, seed, shuffle, drop_last, rank, world_size, even, bucket).py_err(py)?;
        let history = Items::extract(items)?.history(py, slice(&offsets, "offsets")?, num_items, threads)?;
        let inner = batch::LastItemBatches::new(history, all_prefixes, opts).py_err(py)?;
        let base = PyBatches { inner: Builder::LastItem(inner), threads, max_len: opts.max_len };
        Ok(PyClassInitializer::from(base).add_subclass(PyLastItemBatches))
    }
}

/// All-position (SASRec) training batches (see `slmrec.sampling.SequenceBatches`).
#[pyclass(frozen, extends = PyBatches, module = "slmrec._core", name = "SequenceBatches")]
struct PySequenceBatches;

#[pymethods]
impl PySequenceBatches {
    #[new]
    #[pyo3(signature = (offsets, items, num_items, *, max_len=D_MAX_LEN, batch_size=D_BATCH_SIZE,
                        num_negatives=D_NUM_NEGATIVES, windows=None, seed=D_SEED, rank=D_RANK,
                        world_size=D_WORLD_SIZE, shuffle=D.shuffle, drop_last=D.drop_last, even=D.even,
                        bucket=D_BUCKET, threads=None))]
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
        seed: i128,
        rank: i64,
        world_size: i64,
        shuffle: bool,
        drop_last: bool,
        even: bool,
        bucket: i64,
        threads: Option<i64>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let threads = check_threads(py, threads)?;
        let opts =
            batch_options(max_len, batch_size, seed, shuffle, drop_last, rank, world_size, even, bucket).py_err(py)?;
        let k = check_non_negative("num_negatives", num_negatives).py_err(py)?;
        let windows = windows.map(|w| check_positive("windows", w)).transpose().py_err(py)?;
        let history = Items::extract(items)?.history(py, slice(&offsets, "offsets")?, num_items, threads)?;
        let inner = run(py, threads, || batch::SequenceBatches::new(history, k, windows, opts))?.py_err(py)?;
        let base = PyBatches { inner: Builder::Sequence(inner), threads, max_len: opts.max_len };
        Ok(PyClassInitializer::from(base).add_subclass(PySequenceBatches))
    }
}

/// Runs `f` on the items as `u32` ids, with the interpreter released on the pool of `threads`: a uint32 array
/// as it is, an int64 one converted (a value outside `0..=u32::MAX` is an error naming it).
fn with_u32_items<T: Send>(
    py: Python<'_>,
    items: &Items<'_>,
    threads: usize,
    f: impl FnOnce(&[u32]) -> slmrec_core::Result<T> + Send,
) -> PyResult<T> {
    match items {
        Items::U32(a) => {
            let items = slice(a, "items")?;
            run(py, threads, || f(items))?
        }
        Items::I64(a) => {
            let items = slice(a, "items")?;
            let converted = items.iter().enumerate().find(|(_, &i)| i < 0 || i > i64::from(u32::MAX));
            if let Some((k, &i)) = converted {
                return Err(PyValueError::new_err(format!("items[{k}] = {i} is not an item id")));
            }
            run(py, threads, || {
                let items: Vec<u32> = items.iter().map(|&i| i as u32).collect();
                f(&items)
            })?
        }
    }
    .py_err(py)
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
    let items = Items::extract(items)?;
    let out = with_u32_items(py, &items, threads, |i| batch::history_inputs(o, i, u, split, max_len))?;
    matrix(py, u.len(), max_len, out)
}

/// int64 [len(users)]: the target of `split` of each user (`slmrec_core::batch::split_targets`).
#[pyfunction]
#[pyo3(signature = (offsets, items, users, *, split))]
fn split_targets<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    items: &Bound<'py, PyAny>,
    users: PyReadonlyArray1<'py, i64>,
    split: &str,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let split: Split = split.parse().py_err(py)?;
    let (o, u) = (slice(&offsets, "offsets")?, slice(&users, "users")?);
    let items = Items::extract(items)?;
    let out = with_u32_items(py, &items, 0, |i| batch::split_targets(o, i, u, split))?;
    Ok(PyArray1::from_vec(py, out))
}

/// bool [len(users)]: whether each user's target of `split` is cold (`slmrec_core::batch::cold_targets`).
#[pyfunction]
#[pyo3(signature = (offsets, items, users, *, split))]
fn cold_targets<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    items: &Bound<'py, PyAny>,
    users: PyReadonlyArray1<'py, i64>,
    split: &str,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let split: Split = split.parse().py_err(py)?;
    let (o, u) = (slice(&offsets, "offsets")?, slice(&users, "users")?);
    let items = Items::extract(items)?;
    let out = with_u32_items(py, &items, 0, |i| batch::cold_targets(o, i, u, split))?;
    Ok(PyArray1::from_vec(py, out))
}

/// int64 [U]: the CSR rows a leave-one-out split can be made for (`slmrec_core::batch::splittable_users`).
#[pyfunction]
fn splittable_users<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    items_len: usize,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let o = slice(&offsets, "offsets")?;
    let out = batch::splittable_users(o, items_len).py_err(py)?;
    Ok(PyArray1::from_vec(py, out))
}

/// int64 [len(users), width]: what full ranking excludes for each user in `split`
/// (`slmrec_core::batch::history_exclusions`).
#[pyfunction]
#[pyo3(signature = (offsets, items, users, *, split, threads=None))]
fn history_exclusions<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    items: &Bound<'py, PyAny>,
    users: PyReadonlyArray1<'py, i64>,
    split: &str,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let threads = check_threads(py, threads)?;
    let split: Split = split.parse().py_err(py)?;
    let (o, u) = (slice(&offsets, "offsets")?, slice(&users, "users")?);
    let items = Items::extract(items)?;
    let (out, width) = with_u32_items(py, &items, threads, |i| batch::history_exclusions(o, i, u, split))?;
    matrix(py, u.len(), width, out)
}

/// Checks a history CSR (`slmrec_core::sampler::check_csr`): raises ValueError naming the first problem.
#[pyfunction]
fn check_csr(
    py: Python<'_>,
    offsets: PyReadonlyArray1<'_, i64>,
    items: &Bound<'_, PyAny>,
    num_items: i64,
) -> PyResult<()> {
    let n = usize::try_from(num_items)
        .map_err(|_| PyValueError::new_err(format!("num_items must be at least 1, got {num_items}")))?;
    let o = slice(&offsets, "offsets")?;
    let r = match Items::extract(items)? {
        Items::U32(a) => check_csr_core(o, slice(&a, "items")?, n),
        Items::I64(a) => check_csr_core(o, slice(&a, "items")?, n),
    };
    r.map(|_| ()).py_err(py)
}

/// Adds the sampling classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNegativeSampler>()?;
    m.add_class::<EpochOrder>()?;
    m.add_class::<PyBatches>()?;
    m.add_class::<PyLastItemBatches>()?;
    m.add_class::<PySequenceBatches>()?;
    m.add_function(wrap_pyfunction!(history_inputs, m)?)?;
    m.add_function(wrap_pyfunction!(split_targets, m)?)?;
    m.add_function(wrap_pyfunction!(cold_targets, m)?)?;
    m.add_function(wrap_pyfunction!(splittable_users, m)?)?;
    m.add_function(wrap_pyfunction!(history_exclusions, m)?)?;
    m.add_function(wrap_pyfunction!(check_csr, m)?)?;
    Ok(())
}
