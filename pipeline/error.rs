//! The one error type of the crate, and how each kind maps to an exit code.
//!
//! Every error that reaches the user says where it happened (file, line, column) and why.
//! Exit codes (README "Exit codes"): 0 success; 1 the analysis ran but a data or model
//! test failed; 2 bad input, configuration or environment. A panic (exit 101) is always a bug.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in an input a problem was found. Lines are 1-based physical lines of the file
/// (the header is line 1); for Parquet inputs the "line" is the 1-based row number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub column: Option<String>,
}

impl Location {
    pub fn file(file: &Path) -> Self {
        Location {
            file: file.to_path_buf(),
            line: None,
            column: None,
        }
    }

    pub fn line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file cannot be used at all (missing required column, unreadable encoding,
    /// empty file, identifiable data). Exit code 2.
    #[error("{location}: {reason}")]
    Input { location: Location, reason: String },

    /// A command-line or configuration value is wrong. Exit code 2.
    #[error("{0}")]
    Usage(String),

    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Arrow / Parquet failures while reading or writing columnar files.
    #[error("{action} {path}: {source}")]
    Parquet {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The data loaded, but a data test failed (e.g. reconciliation). Exit code 1.
    #[error("data test failed: {0}")]
    DataTest(String),

    /// The SQL engine failed while running a valid query (out of memory, an I/O, Arrow or
    /// Parquet failure, a function's error). Exit code 1: the input and configuration were
    /// accepted and the analysis started.
    #[error("{0}")]
    Engine(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(location: Location, reason: impl Into<String>) -> Self {
        Error::Input {
            location,
            reason: reason.into(),
        }
    }

    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn parquet(
        action: &'static str,
        path: &Path,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Parquet {
            action,
            path: path.to_path_buf(),
            source: Box::new(source),
        }
    }

    /// The process exit code for this error (README "Exit codes").
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::DataTest(_) | Error::Engine(_) => 1,
            Error::Input { .. } | Error::Usage(_) | Error::Io { .. } | Error::Parquet { .. } => 2,
        }
    }
}
