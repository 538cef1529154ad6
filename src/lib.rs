//! `sensor_analytics`: sensor analytics inside PostgreSQL.
//!
//! This crate is thin SQL glue. The algorithms live in the pure crates under `crates/`;
//! each module here exposes one SQL feature and maps its errors through [`error`].

// SQL functions return `Result<_, ErrorReport>` so that pgrx raises our SQLSTATE; the
// report is large, but it only travels on the error path.
#![allow(clippy::result_large_err)]

pgrx::pg_module_magic!();

mod availability;
mod build_info;
mod downsample;
mod energy;
pub mod error;
mod export;
mod fusion;
mod ingest;
pub mod pg;

/// Runs once per backend, when the library is loaded.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // An ERROR that PostgreSQL raises inside one of our calls (23505, 40001, …) travels
    // through Rust as a panic; pgrx appends a captured Rust backtrace to its DETAIL when
    // RUST_BACKTRACE is set in the server's environment. Clients get PostgreSQL's message,
    // detail and hint only: turn the capture off for this process (Rust reads
    // RUST_LIB_BACKTRACE before RUST_BACKTRACE, once).
    // SAFETY: the backend is single-threaded while it loads a library.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    availability::define_settings();
}

// The SQL of no one feature; each feature declares its own SQL beside its functions.
pgrx::extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
pgrx::extension_sql_file!(
    "../sql/storage.sql",
    name = "storage",
    requires = ["bootstrap"]
);
pgrx::extension_sql_file!("../sql/foundation.sql", name = "foundation", finalize);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    use crate::error::{ErrorKind, SensorError, SqlResult};

    /// The SQLSTATE that running `sql` raises, or `None` if it succeeds. Runs in a
    /// subtransaction (a PL/pgSQL exception block), so the test can go on afterwards.
    pub fn sqlstate_of(sql: &str) -> Option<String> {
        Spi::get_one_with_args::<String>("SELECT tests.sqlstate_of($1)", &[sql.into()])
            .expect("tests.sqlstate_of")
    }

    /// Asserts that running `sql` raises `expected` (a SQLSTATE).
    #[track_caller]
    pub fn assert_sqlstate(sql: &str, expected: &str) {
        assert_eq!(sqlstate_of(sql).as_deref(), Some(expected), "{sql}");
    }

    /// "SQLSTATE|message|detail|hint" of the error `sql` raises ("" if none), in a
    /// subtransaction like [`sqlstate_of`].
    pub fn error_fields_of(sql: &str) -> String {
        Spi::get_one_with_args::<String>("SELECT tests.error_fields_of($1)", &[sql.into()])
            .expect("tests.error_fields_of")
            .unwrap_or_default()
    }

    /// "SQLSTATE|message" of the error `sql` raises.
    pub fn error_of(sql: &str) -> String {
        let fields = error_fields_of(sql);
        fields.splitn(3, '|').take(2).collect::<Vec<_>>().join("|")
    }

    /// Test-only: raises a `SensorError` of the named kind through the normal return path.
    #[pg_extern]
    fn raise_sensor_error(kind: &str) -> SqlResult<i32> {
        let kind = ErrorKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(|| SensorError::invalid_parameter(format!("unknown kind {kind}")))?;
        Err(SensorError::new(kind, format!("raised {}", kind.name()))
            .with_detail("a detail")
            .with_hint("a hint")
            .into())
    }

    #[pg_test]
    fn every_error_kind_reaches_sql_with_its_sqlstate() {
        for kind in ErrorKind::ALL {
            let got = sqlstate_of(&format!(
                "SELECT tests.raise_sensor_error('{}')",
                kind.name()
            ));
            assert_eq!(
                got.as_deref(),
                Some(kind.sqlstate()),
                "kind {}",
                kind.name()
            );
        }
    }

    #[pg_test]
    fn the_required_kinds_have_the_documented_codes() {
        assert_eq!(ErrorKind::InvalidInput.sqlstate(), "22P02");
        assert_eq!(ErrorKind::InvalidParameter.sqlstate(), "22023");
        assert_eq!(ErrorKind::FileNotFound.sqlstate(), "58P01");
        assert_eq!(ErrorKind::InsufficientPrivilege.sqlstate(), "42501");
        assert_eq!(ErrorKind::FeatureNotSupported.sqlstate(), "0A000");
        // No kind may map to XX000 (internal_error): that code means a bug.
        for kind in ErrorKind::ALL {
            assert!(!kind.sqlstate().starts_with("XX"), "{}", kind.name());
        }
    }

    #[pg_test]
    fn message_detail_and_hint_reach_the_client() {
        let got = Spi::get_one::<String>(
            "SELECT tests.error_fields_of($$SELECT tests.raise_sensor_error('file_not_found')$$)",
        )
        .unwrap()
        .unwrap();
        assert_eq!(got, "58P01|raised file_not_found|a detail|a hint");
    }

    #[pg_test]
    fn io_errors_are_classified_like_postgres() {
        use std::io;
        use std::path::Path;
        let path = Path::new("/nonexistent/file.tdms");
        let cases = [
            (io::ErrorKind::NotFound, ErrorKind::FileNotFound),
            (
                io::ErrorKind::PermissionDenied,
                ErrorKind::InsufficientPrivilege,
            ),
            (io::ErrorKind::AlreadyExists, ErrorKind::FileExists),
            (io::ErrorKind::IsADirectory, ErrorKind::WrongObjectType),
            (io::ErrorKind::UnexpectedEof, ErrorKind::Io),
        ];
        for (io_kind, want) in cases {
            let err = SensorError::file_access(&io::Error::from(io_kind), "open", path);
            assert_eq!(err.kind, want, "{io_kind:?}");
        }
        let real = std::fs::File::open(path).unwrap_err();
        let err = SensorError::file_access(&real, "open", path);
        assert_eq!(
            err.message,
            "could not open file \"/nonexistent/file.tdms\": No such file or directory"
        );
    }

    #[pg_test]
    fn a_rust_panic_would_surface_as_xx000() {
        // Documents why we never panic: this is what a user would see.
        assert_sqlstate("SELECT tests.panic_for_test()", "XX000");
    }

    #[pg_extern]
    fn panic_for_test() -> i32 {
        panic!("deliberate")
    }

    pgrx::extension_sql!(
        r#"
CREATE FUNCTION tests.sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE query;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$fn$;

CREATE FUNCTION tests.error_fields_of(query text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    state text; msg text; detail text; hint text;
BEGIN
    EXECUTE query;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    -- An absent DETAIL or HINT reads as '': "code|message|detail|hint" keeps positions.
    RETURN concat_ws('|', state, msg, detail, hint);
END
$fn$;
"#,
        name = "test_sqlstate_helpers",
        requires = [raise_sensor_error]
    );
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    /// Preloads TimescaleDB in the test cluster when its library is installed, so the
    /// TimescaleDB-only tests run; they skip visibly otherwise.
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        let pg_config = std::env::var("PGRX_PG_CONFIG_PATH").unwrap_or_else(|_| "pg_config".into());
        let pkglibdir = std::process::Command::new(pg_config)
            .arg("--pkglibdir")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_string());
        match pkglibdir {
            Some(dir) if std::path::Path::new(&dir).join("timescaledb.so").exists() => {
                vec!["shared_preload_libraries = 'timescaledb'"]
            }
            _ => vec![],
        }
    }
}
