//! The crate's error type.

/// Everything that can go wrong when scoring a sample.
///
/// SQLSTATE category of each variant (the SQL glue does the mapping):
///
/// | variant | category |
/// |---|---|
/// | [`QualityError::WrongShape`] | invalid argument value (22023) |
/// | [`QualityError::NonFiniteValue`] | invalid argument value (22023) |
/// | [`QualityError::InvalidParameter`] | invalid argument value (22023) |
/// | [`QualityError::UnknownGradeLabel`] | malformed input text (22P02) |
///
/// The crate does no I/O and has no optional features, so it has no I/O or
/// "unsupported feature" variants.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QualityError {
    /// An input array does not have the shape the sensor produces
    /// (category 22023). `expected` describes the shape in words, `got` is
    /// the number of values received.
    #[error("{array} must have {expected}, got {got}")]
    WrongShape {
        /// Name of the offending array (`distance`, `reflectance`, ...).
        array: &'static str,
        /// The required shape, e.g. `64 values (8×8)`.
        expected: String,
        /// Number of values actually given.
        got: usize,
    },
    /// A measurement that must be a finite number is NaN or infinite
    /// (category 22023).
    #[error("{array} value at index {index} must be finite, got {value}")]
    NonFiniteValue {
        /// Name of the offending array.
        array: &'static str,
        /// Index of the value in the flattened (row-major) array.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A scalar parameter is outside its domain (category 22023).
    #[error("{name} must be {requirement}, got {value}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The domain in words, e.g. `a finite number in [0, 1]`.
        requirement: &'static str,
        /// The value given.
        value: f64,
    },
    /// A grade label is neither a normalised grade nor a reference label
    /// (category 22P02).
    #[error("unknown grade label {0:?} (expected A+, A, B, C, REJECT or a VL53L8CH label such as \"Grade A - Excellente qualité\")")]
    UnknownGradeLabel(String),
}
