//! The crate's error type.

use arrow_schema::ArrowError;

/// Errors of the Arrow export.
///
/// Categories (the SQL glue maps them to SQLSTATEs):
/// - [`ExportError::InvalidData`]: a value cannot be represented (malformed numeric text,
///   precision overflow, `infinity` timestamp, NULL in a non-nullable column, ...):
///   invalid input, 22P02.
/// - [`ExportError::InvalidParameter`]: the caller passed an unusable argument (a push
///   method that does not fit the column type, bad DDL options, columns of unequal
///   length): invalid parameter value, 22023.
/// - [`ExportError::Unsupported`]: a type or size this exporter does not handle (nested
///   arrays, more than 2^31-1 distinct LowCardinality values, more than 2 GiB of string
///   bytes in one batch): feature not supported, 0A000.
/// - [`ExportError::Io`]: writing to the sink failed; the `std::io::Error` keeps its kind
///   (not-found 58P01, permission-denied 42501, otherwise 58030).
/// - [`ExportError::Arrow`]: an unexpected error inside the Arrow library (internal
///   error, XX000); it is not expected for anything this crate builds.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A value of column `column` cannot be exported (invalid input).
    #[error("invalid value in column \"{column}\": {detail}")]
    InvalidData {
        /// Name of the column the value belongs to.
        column: String,
        /// What is wrong with the value.
        detail: String,
    },
    /// An argument of a call is unusable (invalid parameter value).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The requested type or size is not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Writing to the sink failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Unexpected error reported by the Arrow library.
    #[error("Arrow error: {0}")]
    Arrow(ArrowError),
}

impl From<ArrowError> for ExportError {
    fn from(err: ArrowError) -> Self {
        match err {
            ArrowError::IoError(_, io) => ExportError::Io(io),
            ArrowError::ExternalError(inner) => match inner.downcast::<std::io::Error>() {
                Ok(io) => ExportError::Io(*io),
                Err(other) => ExportError::Arrow(ArrowError::ExternalError(other)),
            },
            other => ExportError::Arrow(other),
        }
    }
}

impl ExportError {
    pub(crate) fn invalid_data(column: &str, detail: impl Into<String>) -> Self {
        ExportError::InvalidData {
            column: column.to_owned(),
            detail: detail.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ExportError> = std::result::Result<T, E>;
