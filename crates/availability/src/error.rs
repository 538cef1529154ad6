//! Error type of the availability kernel.

/// Errors of the availability kernel.
///
/// Categories (the SQL glue maps them to SQLSTATEs):
/// - [`AvailabilityError::InvalidState`]: invalid/malformed input — bytes that
///   are not a valid serialized state (SQLSTATE 22P02).
/// - [`AvailabilityError::InvalidArgument`]: an invalid argument or parameter
///   value — an empty window, a weight outside `[0, 1]`, a non-positive
///   liveness, merging states built with different settings (SQLSTATE 22023).
/// - [`AvailabilityError::Unsupported`]: an unsupported feature — a serialized
///   state of a newer format version (SQLSTATE 0A000).
///
/// This crate performs no I/O, so there is no I/O variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvailabilityError {
    /// Malformed serialized state (category: invalid input, 22P02).
    #[error("invalid availability state: {0}")]
    InvalidState(String),
    /// Invalid argument or parameter value (category: 22023).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Unsupported feature, e.g. a newer state format version (category: 0A000).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, AvailabilityError>;
