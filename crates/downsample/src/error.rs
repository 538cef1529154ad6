//! The crate's error type.

/// Errors of the downsampling kernels.
///
/// Categories (the SQL glue maps them to SQLSTATEs):
/// - [`DownsampleError::InvalidInput`]: malformed data — points out of time
///   order for a streaming consumer, or serialized state bytes that do not
///   decode (22P02).
/// - [`DownsampleError::InvalidParameter`]: an argument value is out of range
///   — too few output points for a method, an empty time range, an unknown
///   method name, a declared point count that does not match the data (22023).
/// - [`DownsampleError::Unsupported`]: a valid request this crate does not
///   implement, e.g. exact streaming LTTB on timestamps beyond ±2^53 µs
///   (0A000).
///
/// The crate does no I/O, so there is no I/O variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownsampleError {
    /// Malformed data (22P02).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Argument value out of range (22023).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Valid request that is not supported (0A000).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, DownsampleError>;
