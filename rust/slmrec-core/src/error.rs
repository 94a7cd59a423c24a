//! The one error type of the core crate.
//!
//! Design: every data error names the file and the 1-based line (`file:line: reason`), so a user can go
//! straight to the bad record; the Python bindings map each variant to one exception class in one place.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the data layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path that does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },

    /// An operating-system error while reading or writing `path`.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A record (or the stream around it) that does not follow its format. `line` is 1-based; 0 means the
    /// problem is not tied to one line (a corrupt gzip trailer, an unknown format) and is then left out of the
    /// message (`file: reason`).
    #[error("{}{}: {reason}", path.display(), line_part(*.line))]
    Format { path: PathBuf, line: u64, reason: String },

    /// Input that parsed but leaves nothing to work with (an empty file, a recipe that drops every row).
    #[error("{0}")]
    Empty(String),

    /// An argument that is out of its domain (k <= 0, an unknown recipe, a user index out of range).
    #[error("{0}")]
    InvalidArgument(String),

    /// A bug in slmrec (a panic caught at the boundary, a worker thread that died): never the data's fault.
    #[error("internal error (a bug in slmrec, please report it): {0}")]
    Internal(String),

    /// The output directory exists already (and `force` was not given), or another writer won the race.
    #[error("{}: {reason}", path.display())]
    OutputExists { path: PathBuf, reason: String },
}

fn line_part(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`, turned into [`Error::NotFound`] when the path does not exist.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound { path: path.to_path_buf() }
        } else {
            Error::Io { path: path.to_path_buf(), source }
        }
    }

    /// A format error at `path:line`.
    pub fn format(path: &Path, line: u64, reason: impl Into<String>) -> Self {
        Error::Format { path: path.to_path_buf(), line, reason: reason.into() }
    }
}
