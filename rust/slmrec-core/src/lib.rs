//! slmrec-core: the data layer of slmrec, in pure Rust (no Python).
//!
//! It reads review dumps and interaction files ([`read`]), applies an exact, reproducible recipe
//! ([`recipe`]), and writes or loads a dataset directory of per-user sequences ([`dataset`]).
//! Everything here is usable from other Rust projects; the Python bindings live in `slmrec-py`.

pub mod batch;
pub mod candidates;
pub mod dataset;
pub mod error;
pub mod input;
pub mod json;
pub mod limits;
pub mod read;
pub mod recipe;
pub mod rng;
pub mod sampler;

pub use dataset::{prepare, Dataset, PrepareOptions};
pub use error::{Error, Result};
pub use read::{Format, OnBadLine};
pub use recipe::{Recipe, RecipeKind};

/// The crate version, recorded in every `stats.json`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
