//! Bindings of the negative sampler and batch builder (issue 3); filled in by that work.

use pyo3::prelude::*;

/// Adds the sampling classes to the module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
