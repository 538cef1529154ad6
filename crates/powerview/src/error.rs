//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading a T302 TSV file.
///
/// Categories (for mapping to SQLSTATEs in the SQL glue, see [`PowerviewError::category`]):
///
/// | variant | category |
/// | --- | --- |
/// | [`Io`](Self::Io) | I/O (the `std::io::Error` is kept with its kind: not-found, permission-denied, …) |
/// | [`LineTooLong`](Self::LineTooLong), [`TooManyColumns`](Self::TooManyColumns), [`InvalidHeader`](Self::InvalidHeader), [`InvalidHeaderJson`](Self::InvalidHeaderJson), [`FileTimezone`](Self::FileTimezone) | invalid/malformed input (the file is broken) |
/// | [`UnknownTimezone`](Self::UnknownTimezone), [`PathOutsideBase`](Self::PathOutsideBase), [`InvalidPath`](Self::InvalidPath), [`InvalidOption`](Self::InvalidOption) | invalid argument/parameter value (the caller passed something wrong) |
///
/// No variant is "unsupported feature": a file in an unsupported format (e.g. `MV_T202_V002`) is not an
/// error but the outcome [`crate::Outcome::Unsupported`].
#[derive(Debug, thiserror::Error)]
pub enum PowerviewError {
    /// Reading the file failed. Category: I/O.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// A line is longer than [`crate::ParseOptions::max_line_len`]; reading stops there to keep memory
    /// bounded. Category: invalid input.
    #[error("line {line} is longer than {limit} bytes (not a T302 TSV file, or a corrupt one)")]
    LineTooLong {
        /// 1-based line number in the file.
        line: u64,
        /// The limit in force.
        limit: usize,
    },

    /// A header line has more columns than [`crate::ParseOptions::max_columns`]. Category: invalid input.
    #[error("line {line} has {columns} columns, more than the limit of {limit}")]
    TooManyColumns {
        /// 1-based line number in the file.
        line: u64,
        /// Number of columns found (counted up to the limit + 1).
        columns: usize,
        /// The limit in force.
        limit: usize,
    },

    /// The serial-number line or the label line is malformed (e.g. a bad serial number, or the two lines
    /// disagree on the number of columns). Category: invalid input.
    #[error("invalid header at line {line}: {reason}")]
    InvalidHeader {
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong.
        reason: String,
    },

    /// The JSON block between `START_HEADER` and `END_HEADER` of a V003 file is not a JSON object.
    /// Category: invalid input.
    #[error("invalid V003 JSON header: {reason}")]
    InvalidHeaderJson {
        /// What is wrong.
        reason: String,
    },

    /// A V003 file says its timestamps are local time, but names no usable time zone
    /// (`TimeZoneName` missing or unknown) and the caller gave none either. Category: invalid input.
    #[error("the file's timestamps are local time but its time zone {name:?} is unknown and no timezone was given")]
    FileTimezone {
        /// The `TimeZoneName` found in the header (empty if missing).
        name: String,
    },

    /// The caller passed a time zone name that is not an IANA zone name. Category: invalid parameter.
    #[error("unknown time zone {name:?} (expected an IANA name such as Europe/Paris)")]
    UnknownTimezone {
        /// The name as given.
        name: String,
    },

    /// The file path is not inside the base directory. Category: invalid parameter.
    #[error("path {path:?} is not inside the base directory {base:?}")]
    PathOutsideBase {
        /// The file path as given.
        path: PathBuf,
        /// The base directory as given.
        base: PathBuf,
    },

    /// The file path is inside the base directory but does not have the
    /// `<company>/<campaign>/<device_master_sn>/<file>` layout. Category: invalid parameter.
    #[error("path {path:?}: {reason}")]
    InvalidPath {
        /// The file path as given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A [`crate::ParseOptions`] field is out of range. Category: invalid parameter.
    #[error("invalid option: {reason}")]
    InvalidOption {
        /// What is wrong.
        reason: String,
    },
}

/// The broad kind of an error, for mapping to SQLSTATEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    /// The input file is malformed (SQLSTATE 22P02).
    InvalidInput,
    /// An argument passed by the caller is invalid (SQLSTATE 22023).
    InvalidParameter,
    /// An I/O error; look at the `std::io::ErrorKind` (not found → 58P01, permission denied → 42501).
    Io,
}

impl PowerviewError {
    /// Which category this error belongs to.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Io(_) => ErrorCategory::Io,
            Self::LineTooLong { .. }
            | Self::TooManyColumns { .. }
            | Self::InvalidHeader { .. }
            | Self::InvalidHeaderJson { .. }
            | Self::FileTimezone { .. } => ErrorCategory::InvalidInput,
            Self::UnknownTimezone { .. }
            | Self::PathOutsideBase { .. }
            | Self::InvalidPath { .. }
            | Self::InvalidOption { .. } => ErrorCategory::InvalidParameter,
        }
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, PowerviewError>;
