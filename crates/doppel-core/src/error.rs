//! One error type for every doppel library crate.
//!
//! Variants are *kinds* (as in polars' `PolarsError`): callers match on the kind, users read the
//! message. Messages start lowercase, name the file, line or column involved, put literals in
//! backticks and say what was expected.

use std::path::PathBuf;

/// The result type used throughout doppel.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in doppel's libraries.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A named column does not exist.
    #[error("column `{column}` not found{}", available_hint(available))]
    ColumnNotFound {
        /// The column that was asked for.
        column: String,
        /// The columns that do exist.
        available: Vec<String>,
    },
    /// The input data cannot be used as it is (ragged rows, bad values, empty files, ...).
    #[error("{0}")]
    InvalidData(String),
    /// A setting, option or metadata file is inconsistent.
    #[error("{0}")]
    InvalidConfig(String),
    /// A file is not in a format doppel can read (a corrupt model, an unknown extension, ...).
    #[error("{0}")]
    Format(String),
    /// The request is valid but not supported.
    #[error("{0}")]
    Unsupported(String),
    /// An error with more context in front of it.
    #[error("{message}: {source}")]
    Context {
        /// What was being done.
        message: String,
        /// What went wrong.
        source: Box<Error>,
    },
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = available.iter().take(20).map(|n| format!("`{n}`")).collect();
        let more = if available.len() > 20 { ", ..." } else { "" };
        format!("; the columns are {}{more}", names.join(", "))
    }
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Puts `message` in front of this error.
    pub fn context(self, message: impl Into<String>) -> Self {
        Error::Context { message: message.into(), source: Box::new(self) }
    }
}

/// Adds context to the error of a `Result`.
pub trait ResultExt<T> {
    /// Puts the message computed by `f` in front of the error, if any.
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|error| error.context(f()))
    }
}

/// Returns early with an [`Error::InvalidData`] built from a format string.
#[macro_export]
macro_rules! bail_data {
    ($($arg:tt)*) => { return Err($crate::Error::InvalidData(format!($($arg)*))) };
}

/// Returns early with an [`Error::InvalidConfig`] built from a format string.
#[macro_export]
macro_rules! bail_config {
    ($($arg:tt)*) => { return Err($crate::Error::InvalidConfig(format!($($arg)*))) };
}
