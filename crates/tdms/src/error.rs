//! Error and warning types.

use std::fmt;

/// Errors returned by the TDMS reader.
///
/// Categories (for mapping to SQLSTATEs by callers):
/// - [`TdmsError::Malformed`]: invalid or damaged input file (SQLSTATE 22P02).
/// - [`TdmsError::InvalidArgument`]: a bad argument from the caller, e.g. an unknown
///   channel index or a read mode that does not fit the channel (SQLSTATE 22023).
/// - [`TdmsError::Unsupported`]: valid TDMS content that this reader does not
///   implement, e.g. extended-precision floats or an unsupported `NI_Scale` type (0A000).
/// - [`TdmsError::Io`]: I/O failure; the `std::io::Error` keeps its kind so that
///   `NotFound` / `PermissionDenied` can be told apart (58P01 / 42501).
#[derive(Debug, thiserror::Error)]
pub enum TdmsError {
    /// The file is not valid TDMS or is damaged beyond what can be recovered.
    #[error("malformed TDMS file at byte {offset}: {message}")]
    Malformed {
        /// Byte offset in the file where the problem was found (best effort).
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// The caller passed an argument that is not valid for this file or channel.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The file uses a TDMS feature this reader does not support.
    #[error("unsupported TDMS feature: {0}")]
    Unsupported(String),
    /// Reading the underlying file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl TdmsError {
    pub(crate) fn malformed(offset: u64, message: impl Into<String>) -> Self {
        TdmsError::Malformed {
            offset,
            message: message.into(),
        }
    }
}

/// A recoverable problem found while indexing a file (for example a truncated
/// last segment). The valid part of the file is still readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Byte offset of the segment the warning is about.
    pub segment_offset: u64,
    /// Human-readable description.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "segment at byte {}: {}",
            self.segment_offset, self.message
        )
    }
}
