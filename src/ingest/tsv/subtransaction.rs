//! Running a piece of work in an internal subtransaction, as PL/pgSQL's `EXCEPTION` blocks do:
//! an error (ours or PostgreSQL's) rolls back only that piece, and the caller decides whether to
//! record it and go on, or to raise it.

use std::panic::AssertUnwindSafe;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::{PgSqlErrorCode, PgTryBuilder};

use crate::error::{SensorError, SensorResult};

/// What the work asks for when it did not fail.
pub enum Finish<T> {
    /// Keep what it wrote.
    Commit(T),
    /// Undo what it wrote, but return normally (e.g. a file that turned out to be incomplete).
    Rollback(T),
}

/// Why the work was rolled back: the error's fields, to record or to raise again.
pub struct Failure {
    code: PgSqlErrorCode,
    pub sqlstate: String,
    pub message: String,
    detail: Option<String>,
    hint: Option<String>,
}

impl Failure {
    /// A failure that happened outside any subtransaction (e.g. a file refused before reading).
    pub fn from_error(err: &SensorError) -> Self {
        Self::from_sensor(err.clone())
    }

    fn from_sensor(err: SensorError) -> Self {
        Failure {
            code: err.kind.sql_error_code(),
            sqlstate: err.kind.sqlstate().to_string(),
            message: err.message,
            detail: err.detail,
            hint: err.hint,
        }
    }

    fn from_caught(caught: CaughtError) -> Self {
        let report = match &caught {
            CaughtError::PostgresError(report) | CaughtError::ErrorReport(report) => report,
            CaughtError::RustPanic { ereport, .. } => ereport,
        };
        let code = report.sql_error_code();
        Failure {
            code,
            sqlstate: sqlstate_text(code as i32),
            message: report.message().to_string(),
            detail: report.detail().map(str::to_owned),
            hint: report.hint().map(str::to_owned),
        }
    }

    /// Errors that must end the whole statement instead of being recorded: a cancel or
    /// statement timeout (PL/pgSQL's `WHEN OTHERS` does not catch those either), and
    /// serialization failures and deadlocks, which say that the whole transaction must be
    /// retried (a concurrent run loaded the same file), not that the file is bad.
    pub fn must_propagate(&self) -> bool {
        matches!(
            self.code,
            PgSqlErrorCode::ERRCODE_QUERY_CANCELED
                | PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE
                | PgSqlErrorCode::ERRCODE_T_R_DEADLOCK_DETECTED
        )
    }

    /// Raises the error again with its SQLSTATE, message, detail and hint.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "sensor_analytics");
        if let Some(detail) = self.detail {
            report = report.set_detail(detail);
        }
        if let Some(hint) = self.hint {
            report = report.set_hint(hint);
        }
        report.report(pgrx::PgLogLevel::ERROR);
        unreachable!("an ERROR report does not return")
    }
}

/// The five-character SQLSTATE of a packed PostgreSQL error code.
pub fn sqlstate_text(code: i32) -> String {
    (0..5)
        .map(|i| char::from(b'0' + ((code >> (6 * i)) & 0x3F) as u8))
        .collect()
}

/// Runs `work` in a subtransaction of the current transaction. `Ok` when the work returned
/// `Commit` (kept) or `Rollback` (undone); `Err` when it failed, in which case everything it did
/// in the database is undone and the error state is cleared.
pub fn run<T>(work: impl FnOnce() -> SensorResult<Finish<T>>) -> Result<T, Failure> {
    // SAFETY: the same sequence PL/pgSQL uses around an EXCEPTION block (pl_exec.c,
    // exec_stmt_block): remember the memory context and resource owner, begin, and return to
    // the caller's memory context so that what we allocate survives the subtransaction.
    let (outer_context, outer_owner) = unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        (context, owner)
    };
    let result = PgTryBuilder::new(AssertUnwindSafe(move || {
        work().map_err(Failure::from_sensor)
    }))
    .catch_others(|caught| Err(Failure::from_caught(caught)))
    .execute();
    // SAFETY: we are back in the subtransaction we began (pgrx already copied and flushed any
    // PostgreSQL error state); release or roll it back and restore what we remembered.
    unsafe {
        match &result {
            Ok(Finish::Commit(_)) => pg_sys::ReleaseCurrentSubTransaction(),
            Ok(Finish::Rollback(_)) | Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(outer_context);
        pg_sys::CurrentResourceOwner = outer_owner;
    }
    match result {
        Ok(Finish::Commit(value) | Finish::Rollback(value)) => Ok(value),
        Err(failure) => Err(failure),
    }
}
