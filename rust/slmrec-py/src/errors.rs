//! The one place where core errors become Python exceptions.
//!
//! The exception classes are defined in Python (`slmrec/errors.py`) so that users see `slmrec.DataFormatError`
//! in tracebacks and can catch it; this module looks them up once and maps each core variant to one of them.

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use slmrec_core::Error;

fn class(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str) -> PyResult<Py<PyType>> {
    cell.get_or_try_init(py, || {
        let module = py.import("slmrec.errors")?;
        Ok::<_, PyErr>(module.getattr(name)?.cast_into::<PyType>()?.unbind())
    })
    .map(|c| c.clone_ref(py))
}

static DATA_FORMAT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EMPTY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static OUTPUT_EXISTS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INTERNAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Runs `f` (a call into the core), turning a panic into [`Error::Internal`] (raised as `slmrec.InternalError`,
/// an `Exception`) instead of pyo3's `PanicException`, a `BaseException` that `except Exception` misses.
pub fn no_panic<T>(f: impl FnOnce() -> T) -> slmrec_core::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|payload| Error::Internal(format!("panic: {}", slmrec_core::dataset::panic_text(&*payload))))
}

/// Converts a core error into the matching Python exception.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    let custom = |cell: &'static PyOnceLock<Py<PyType>>, name: &str| match class(py, cell, name) {
        Ok(cls) => PyErr::from_type(cls.into_bound(py), msg.clone()),
        Err(err) => err,
    };
    match e {
        Error::NotFound { .. } => PyFileNotFoundError::new_err(msg),
        Error::Io { .. } => PyOSError::new_err(msg),
        Error::Format { .. } => custom(&DATA_FORMAT, "DataFormatError"),
        Error::Empty(_) => custom(&EMPTY, "EmptyDatasetError"),
        Error::OutputExists { .. } => custom(&OUTPUT_EXISTS, "OutputExistsError"),
        Error::InvalidArgument(_) => PyValueError::new_err(msg),
        Error::Internal(_) => custom(&INTERNAL, "InternalError"),
    }
}

/// Extension for `Result`s of the core crate.
pub trait IntoPyResult<T> {
    /// Maps the error with [`to_py`].
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for slmrec_core::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
