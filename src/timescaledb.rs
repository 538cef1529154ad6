//! Run-time detection of TimescaleDB. Features use hypertables when it is installed in the
//! current database and plain tables otherwise; nothing links against it.

use pgrx::prelude::*;

use crate::error::{ErrorKind, SensorError, SensorResult};

/// The version of the `timescaledb` extension installed in this database, if any.
pub fn installed_version() -> SensorResult<Option<String>> {
    Spi::get_one::<String>(
        "SELECT (SELECT extversion::text FROM pg_catalog.pg_extension WHERE extname = 'timescaledb')",
    )
    .map_err(|e| SensorError::new(ErrorKind::Io, format!("could not read pg_extension: {e}")))
}

/// Whether the server could load TimescaleDB (its control file is installed).
pub fn available_version() -> SensorResult<Option<String>> {
    Spi::get_one::<String>(
        "SELECT (SELECT default_version::text FROM pg_catalog.pg_available_extensions WHERE name = 'timescaledb')",
    )
    .map_err(|e| SensorError::new(ErrorKind::Io, format!("could not read pg_available_extensions: {e}")))
}
