//! `sensor.version()` and `sensor.build_info()`: what is running, for bug reports and
//! for feature detection by clients.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use crate::error::SqlResult;
use crate::pg::timescaledb;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GIT_COMMIT: &str = env!("SENSOR_GIT_COMMIT");

/// The extension's version and the git commit it was built from.
#[pg_extern(stable, parallel_safe)]
fn version() -> String {
    format!("sensor_analytics {VERSION} (commit {GIT_COMMIT})")
}

/// Build and run-time facts: PostgreSQL versions, TimescaleDB presence, build profile.
#[pg_extern(stable, parallel_safe)]
fn build_info() -> SqlResult<JsonB> {
    let installed = timescaledb::installed_version()?;
    let available = timescaledb::available_version()?;
    let pg_built = pg_sys::PG_MAJORVERSION.to_string_lossy().into_owned();
    // SAFETY: GetConfigOption returns a pointer into GUC storage, valid for this call.
    let pg_running = unsafe {
        let value = pg_sys::GetConfigOption(c"server_version".as_ptr(), false, false);
        std::ffi::CStr::from_ptr(value)
            .to_string_lossy()
            .into_owned()
    };
    Ok(JsonB(json!({
        "extension": "sensor_analytics",
        "version": VERSION,
        "git_commit": GIT_COMMIT,
        "postgresql_built_for": pg_built,
        "postgresql_running": pg_running,
        "build_profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "timescaledb": {
            "installed": installed.is_some(),
            "version": installed,
            "available_version": available,
        },
    })))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn version_names_crate_version_and_commit() {
        let v = Spi::get_one::<String>("SELECT sensor.version()")
            .unwrap()
            .unwrap();
        assert_eq!(
            v,
            format!(
                "sensor_analytics {} (commit {})",
                env!("CARGO_PKG_VERSION"),
                env!("SENSOR_GIT_COMMIT")
            )
        );
        assert!(!env!("SENSOR_GIT_COMMIT").is_empty());
    }

    #[pg_test]
    fn build_info_reports_postgres_and_timescaledb() {
        let info = Spi::get_one::<pgrx::JsonB>("SELECT sensor.build_info()")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(
            info["postgresql_built_for"],
            pg_sys::PG_MAJORVERSION.to_string_lossy().as_ref()
        );
        let running = Spi::get_one::<String>("SHOW server_version")
            .unwrap()
            .unwrap();
        assert_eq!(info["postgresql_running"], running.as_str());
        let installed = Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
        )
        .unwrap()
        .unwrap();
        assert_eq!(info["timescaledb"]["installed"], installed);
        assert_eq!(info["timescaledb"]["version"].is_null(), !installed);
    }
}
