//! `slmrec._core`: thin PyO3 bindings of `slmrec-core`.
//!
//! The bindings only translate: arguments in, core call with the interpreter released (`py.detach`), arrays
//! moved (never copied) into NumPy with `PyArray1::from_vec`, errors mapped in `errors.rs`.

mod errors;
mod pool;
mod sampling;

use std::path::PathBuf;
use std::sync::Arc;

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use errors::{no_panic, IntoPyResult};
use slmrec_core::input::Progress as CoreProgress;
use slmrec_core::read::{Columns, ItemKey, ReadOptions};
use slmrec_core::{Dataset, Format, OnBadLine, PrepareOptions, Recipe, RecipeKind};

/// A bytes-read counter that a Python thread can poll while `prepare` runs.
#[pyclass(frozen, module = "slmrec._core")]
struct Progress(Arc<CoreProgress>);

#[pymethods]
impl Progress {
    #[new]
    fn new() -> Self {
        Progress(CoreProgress::new())
    }
    /// Bytes read so far (as stored on disk).
    #[getter]
    fn done(&self) -> u64 {
        self.0.done()
    }
    /// Bytes to read in all.
    #[getter]
    fn total(&self) -> u64 {
        self.0.total()
    }
}

/// Runs `f` with the interpreter released on a pool of `threads` threads, checked against the core's bound:
/// the process's cached pool of all cores when `None`, else a pool built for this call and dropped after it
/// (a long call, made once: a cached pool of an odd size would only hold idle threads).
pub(crate) fn with_threads<T: Send>(
    py: Python<'_>,
    threads: Option<i64>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<slmrec_core::Result<T>> {
    match threads.map(slmrec_core::limits::check_threads).transpose().py_err(py)? {
        None => pool::run(py, 0, f),
        Some(n) => {
            let p = pool::build(n)?;
            Ok(py.detach(|| no_panic(|| p.install(f))))
        }
    }
}

fn dataset_dict(py: Python<'_>, ds: Dataset) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("num_users", ds.num_users())?;
    d.set_item("num_items", ds.num_items())?;
    d.set_item("stats", serde_json::to_string(&ds.stats).unwrap_or_else(|_| "{}".into()))?;
    d.set_item("offsets", PyArray1::from_vec(py, ds.offsets))?;
    d.set_item("items", PyArray1::from_vec(py, ds.items))?;
    d.set_item("timestamps", PyArray1::from_vec(py, ds.timestamps))?;
    d.set_item("ratings", PyArray1::from_vec(py, ds.ratings))?;
    Ok(d)
}

/// Reads `inputs`, applies the recipe, writes the dataset directory `out_dir`; returns its arrays.
#[pyfunction]
#[pyo3(signature = (inputs, out_dir, *, meta=Vec::new(), format=None, recipe="kcore", min_rating=None,
                    user_min=None, item_min=None, on_bad_line="fail", threads=None, force=false, progress=None,
                    max_line_bytes=None, columns=None, delimiter=None, item_key=None))]
#[allow(clippy::too_many_arguments)]
fn prepare<'py>(
    py: Python<'py>,
    inputs: Vec<PathBuf>,
    out_dir: PathBuf,
    meta: Vec<PathBuf>,
    format: Option<&str>,
    recipe: &str,
    min_rating: Option<f32>,
    user_min: Option<u32>,
    item_min: Option<u32>,
    on_bad_line: &str,
    threads: Option<i64>,
    force: bool,
    progress: Option<PyRef<'py, Progress>>,
    max_line_bytes: Option<i64>,
    columns: Option<&str>,
    delimiter: Option<&str>,
    item_key: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let format = format.map(str::parse::<Format>).transpose().py_err(py)?;
    let kind: RecipeKind = recipe.parse().py_err(py)?;
    let mut r = Recipe::new(kind);
    if min_rating.is_some() {
        r.min_rating = min_rating;
    }
    if let Some(u) = user_min {
        r.user_min = u;
    }
    if let Some(i) = item_min {
        r.item_min = i;
    }
    let opts = PrepareOptions {
        read: ReadOptions {
            format,
            on_bad_line: on_bad_line.parse::<OnBadLine>().py_err(py)?,
            max_line_bytes: match max_line_bytes {
                Some(n) => slmrec_core::limits::check_max_line_bytes(n).py_err(py)?,
                None => slmrec_core::limits::DEFAULT_MAX_LINE_BYTES,
            },
            columns: columns.map(str::parse::<Columns>).transpose().py_err(py)?.unwrap_or_default(),
            delimiter: delimiter.map(ReadOptions::parse_delimiter).transpose().py_err(py)?,
            item_key: item_key.map(str::parse::<ItemKey>).transpose().py_err(py)?,
        },
        recipe: r,
        meta,
        force,
        progress: progress.map(|p| p.0.clone()),
    };
    let result = with_threads(py, threads, || slmrec_core::prepare(&inputs, &out_dir, &opts))?;
    dataset_dict(py, result.and_then(|r| r).py_err(py)?)
}

/// Loads a dataset directory; returns its arrays. Its checks run on the process's pool (safe in a forked
/// DataLoader worker, where rayon's global pool of the parent has no threads).
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let ds = pool::run(py, 0, || Dataset::load(&path))?.and_then(|r| r).py_err(py)?;
    dataset_dict(py, ds)
}

/// The first problem of persisted evaluation candidates of `split` ("valid" or "test") for CSR rows `users`,
/// or None (`slmrec_core::candidates::check_candidates`).
#[pyfunction]
fn check_candidates(
    py: Python<'_>,
    offsets: PyReadonlyArray1<'_, i64>,
    items: PyReadonlyArray1<'_, u32>,
    num_items: usize,
    users: PyReadonlyArray1<'_, i64>,
    split: &str,
    candidates: PyReadonlyArray2<'_, u32>,
) -> PyResult<Option<String>> {
    let back = match split {
        "valid" => 2,
        "test" => 1,
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!("split must be valid or test, got {split:?}")))
        }
    };
    let width = candidates.shape()[1];
    let (o, i, u) = (offsets.as_slice()?, items.as_slice()?, users.as_slice()?);
    let c = candidates.as_slice()?;
    pool::run(py, 0, || slmrec_core::candidates::check_candidates(o, i, num_items, u, back, c, width))?.py_err(py)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", slmrec_core::VERSION)?;
    m.add_class::<Progress>()?;
    m.add_function(wrap_pyfunction!(prepare, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(check_candidates, m)?)?;
    sampling::register(m)?;
    Ok(())
}
