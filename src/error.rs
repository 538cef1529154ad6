//! The extension's one error type, and the one place that decides each error's SQLSTATE.
//!
//! Every crate's error converts into [`SensorError`]; SQL functions return
//! [`SqlResult`], so `?` turns any of them into a PostgreSQL ERROR with a deliberate code.
//! A panic reaching a user would surface as XX000, which is a bug.

use std::fmt;
use std::io;
use std::path::Path;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode;

/// What went wrong, as far as the caller is concerned. Each kind has exactly one SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed input data: a file or text that does not follow its format (22P02).
    InvalidInput,
    /// An argument value the function cannot accept (22023).
    InvalidParameter,
    /// A number that does not fit the target type (22003).
    NumericOutOfRange,
    /// A time that does not fit the target type (22008).
    DatetimeOutOfRange,
    /// A server file that does not exist (58P01).
    FileNotFound,
    /// A server file that already exists and may not be replaced (58P02).
    FileExists,
    /// A directory where a file is expected, or the reverse (42809).
    WrongObjectType,
    /// The server ran out of disk space (53100).
    DiskFull,
    /// Any other operating-system I/O failure (58030).
    Io,
    /// The current role lacks a privilege (42501).
    InsufficientPrivilege,
    /// A valid request for something this extension does not implement (0A000).
    FeatureNotSupported,
    /// A named object (dataset, channel, …) that does not exist (42704).
    UndefinedObject,
    /// A column that the relation does not have (42703).
    UndefinedColumn,
    /// A concurrent transaction did the same work first, invisibly to this one's snapshot
    /// (40001): retrying the transaction is the answer.
    SerializationFailure,
}

impl ErrorKind {
    /// Every kind, for tests that prove the mapping.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::InvalidInput,
        ErrorKind::InvalidParameter,
        ErrorKind::NumericOutOfRange,
        ErrorKind::DatetimeOutOfRange,
        ErrorKind::FileNotFound,
        ErrorKind::FileExists,
        ErrorKind::WrongObjectType,
        ErrorKind::DiskFull,
        ErrorKind::Io,
        ErrorKind::InsufficientPrivilege,
        ErrorKind::FeatureNotSupported,
        ErrorKind::UndefinedObject,
        ErrorKind::UndefinedColumn,
        ErrorKind::SerializationFailure,
    ];

    pub const fn sql_error_code(self) -> PgSqlErrorCode {
        match self {
            ErrorKind::InvalidInput => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
            ErrorKind::InvalidParameter => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            ErrorKind::NumericOutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            ErrorKind::DatetimeOutOfRange => PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
            ErrorKind::FileNotFound => PgSqlErrorCode::ERRCODE_UNDEFINED_FILE,
            ErrorKind::FileExists => PgSqlErrorCode::ERRCODE_DUPLICATE_FILE,
            ErrorKind::WrongObjectType => PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            ErrorKind::DiskFull => PgSqlErrorCode::ERRCODE_DISK_FULL,
            ErrorKind::Io => PgSqlErrorCode::ERRCODE_IO_ERROR,
            ErrorKind::InsufficientPrivilege => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            ErrorKind::FeatureNotSupported => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            ErrorKind::UndefinedObject => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            ErrorKind::UndefinedColumn => PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            ErrorKind::SerializationFailure => PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        }
    }

    /// The five-character SQLSTATE, as clients see it.
    pub const fn sqlstate(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "22P02",
            ErrorKind::InvalidParameter => "22023",
            ErrorKind::NumericOutOfRange => "22003",
            ErrorKind::DatetimeOutOfRange => "22008",
            ErrorKind::FileNotFound => "58P01",
            ErrorKind::FileExists => "58P02",
            ErrorKind::WrongObjectType => "42809",
            ErrorKind::DiskFull => "53100",
            ErrorKind::Io => "58030",
            ErrorKind::InsufficientPrivilege => "42501",
            ErrorKind::FeatureNotSupported => "0A000",
            ErrorKind::UndefinedObject => "42704",
            ErrorKind::UndefinedColumn => "42703",
            ErrorKind::SerializationFailure => "40001",
        }
    }

    /// A stable snake_case name (used by the test functions that raise each kind).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::InvalidParameter => "invalid_parameter",
            ErrorKind::NumericOutOfRange => "numeric_out_of_range",
            ErrorKind::DatetimeOutOfRange => "datetime_out_of_range",
            ErrorKind::FileNotFound => "file_not_found",
            ErrorKind::FileExists => "file_exists",
            ErrorKind::WrongObjectType => "wrong_object_type",
            ErrorKind::DiskFull => "disk_full",
            ErrorKind::Io => "io",
            ErrorKind::InsufficientPrivilege => "insufficient_privilege",
            ErrorKind::FeatureNotSupported => "feature_not_supported",
            ErrorKind::UndefinedObject => "undefined_object",
            ErrorKind::UndefinedColumn => "undefined_column",
            ErrorKind::SerializationFailure => "serialization_failure",
        }
    }
}

/// An error on its way to the SQL caller: a kind (hence a SQLSTATE), a message, and
/// optionally PostgreSQL's DETAIL and HINT fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorError {
    pub kind: ErrorKind,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub type SensorResult<T> = Result<T, SensorError>;

/// What `#[pg_extern]` functions return: pgrx raises an `Err` with its own SQLSTATE.
pub type SqlResult<T> = Result<T, ErrorReport>;

impl SensorError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SensorError {
            kind,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FeatureNotSupported, message)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A query of the extension's own that failed without a PostgreSQL ERROR of its own (an
    /// SPI status): always 58030, with what the query was for.
    pub fn internal_query(what: &str, err: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::Io,
            format!("{what}: internal query failed: {err}"),
        )
    }

    /// An operating-system error on a server file, classified as [`io_kind`] does.
    pub fn file_access(err: &io::Error, action: &str, path: &Path) -> Self {
        Self::new(
            io_kind(err),
            format!(
                "could not {action} file \"{}\": {}",
                path.display(),
                os_reason(err)
            ),
        )
    }
}

/// The kind of an operating-system error, classified the way PostgreSQL's own
/// `errcode_for_file_access()` does, so our codes match `COPY` and `pg_read_file`. The one
/// place that maps I/O errors.
pub fn io_kind(err: &io::Error) -> ErrorKind {
    match err.kind() {
        io::ErrorKind::NotFound => ErrorKind::FileNotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::InsufficientPrivilege,
        io::ErrorKind::AlreadyExists => ErrorKind::FileExists,
        io::ErrorKind::IsADirectory | io::ErrorKind::NotADirectory => ErrorKind::WrongObjectType,
        io::ErrorKind::StorageFull => ErrorKind::DiskFull,
        _ => ErrorKind::Io,
    }
}

/// The OS message without Rust's " (os error N)" suffix, as PostgreSQL prints `%m`.
fn os_reason(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

impl fmt::Display for SensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SensorError {}

impl From<SensorError> for ErrorReport {
    #[track_caller]
    fn from(err: SensorError) -> Self {
        let mut report =
            ErrorReport::new(err.kind.sql_error_code(), err.message, "sensor_analytics");
        if let Some(detail) = err.detail {
            report = report.set_detail(detail);
        }
        if let Some(hint) = err.hint {
            report = report.set_hint(hint);
        }
        report
    }
}

impl From<quality::QualityError> for SensorError {
    fn from(err: quality::QualityError) -> Self {
        use quality::QualityError as Q;
        let kind = match err {
            Q::WrongShape { .. } | Q::NonFiniteValue { .. } | Q::InvalidParameter { .. } => {
                ErrorKind::InvalidParameter
            }
            Q::UnknownGradeLabel(_) => ErrorKind::InvalidInput,
        };
        SensorError::new(kind, err.to_string())
    }
}

/// For functions whose return type cannot be a `Result` (pgrx composite returns): raises
/// the error as a PostgreSQL ERROR with its SQLSTATE, or returns the value.
pub trait RaiseError<T> {
    fn or_raise(self) -> T;
}

impl<T> RaiseError<T> for SensorResult<T> {
    #[track_caller]
    fn or_raise(self) -> T {
        match self {
            Ok(value) => value,
            Err(err) => {
                ErrorReport::from(err).report(pgrx::PgLogLevel::ERROR);
                unreachable!("an ERROR report does not return")
            }
        }
    }
}

/// The state crates (`availability`, `energy`) share their error variants: a bad stored
/// state is 22P02, a bad argument 22023, what they cannot do 0A000.
macro_rules! from_state_error {
    ($($error:path),*) => {$(
        impl From<$error> for SensorError {
            fn from(err: $error) -> Self {
                use $error as E;
                let kind = match err {
                    E::InvalidState(_) => ErrorKind::InvalidInput,
                    E::InvalidArgument(_) => ErrorKind::InvalidParameter,
                    E::Unsupported(_) => ErrorKind::FeatureNotSupported,
                };
                SensorError::new(kind, err.to_string())
            }
        }
    )*};
}

from_state_error!(availability::AvailabilityError, energy::EnergyError);

impl From<powerview::PowerviewError> for SensorError {
    fn from(err: powerview::PowerviewError) -> Self {
        use powerview::{ErrorCategory, PowerviewError};
        let kind = match (&err, err.category()) {
            (PowerviewError::Io(io), _) => io_kind(io),
            (_, ErrorCategory::InvalidInput) => ErrorKind::InvalidInput,
            (_, ErrorCategory::InvalidParameter) => ErrorKind::InvalidParameter,
            (_, ErrorCategory::Io) => ErrorKind::Io,
        };
        SensorError::new(kind, err.to_string())
    }
}

impl From<tdms::TdmsError> for SensorError {
    fn from(err: tdms::TdmsError) -> Self {
        use tdms::TdmsError as T;
        let kind = match &err {
            T::Malformed { .. } => ErrorKind::InvalidInput,
            T::InvalidArgument(_) => ErrorKind::InvalidParameter,
            T::Unsupported(_) => ErrorKind::FeatureNotSupported,
            // Classified exactly like a failed open or read of a server file.
            T::Io(io) => io_kind(io),
        };
        SensorError::new(kind, err.to_string())
    }
}

impl From<clickhouse_arrow::ExportError> for SensorError {
    /// Without the column context (see `export::columns` for per-value errors with
    /// their SQLSTATEs): bad values 22P02, bad arguments 22023, sizes or types beyond
    /// Arrow's limits 0A000, I/O by its kind.
    fn from(err: clickhouse_arrow::ExportError) -> Self {
        use clickhouse_arrow::ExportError as E;
        match err {
            E::InvalidData { .. } => SensorError::invalid_input(err.to_string()),
            E::InvalidParameter(message) => SensorError::invalid_parameter(message),
            E::Unsupported(message) => SensorError::not_supported(message),
            E::Arrow(arrow) => {
                SensorError::not_supported(format!("Arrow cannot encode this: {arrow}"))
            }
            E::Io(io) => SensorError::new(
                io_kind(&io),
                format!("could not write Arrow data: {}", os_reason(&io)),
            ),
        }
    }
}

impl From<downsample::DownsampleError> for SensorError {
    fn from(err: downsample::DownsampleError) -> Self {
        use downsample::DownsampleError as D;
        // The crate's messages are complete sentences without the category prefix.
        match err {
            D::InvalidInput(message) => SensorError::invalid_input(message),
            D::InvalidParameter(message) => SensorError::invalid_parameter(message),
            D::Unsupported(message) => SensorError::not_supported(message),
        }
    }
}
