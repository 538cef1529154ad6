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

/// Whether `relid` is a TimescaleDB hypertable, whose rows belong in its chunks. Code that
/// writes heap tuples itself must ask: TimescaleDB 2.23 removed the trigger that blocked
/// inserts into a hypertable's own heap (timescale/timescaledb#8804).
pub fn is_hypertable(relid: pg_sys::Oid) -> SensorResult<bool> {
    let catalog_error = |e| {
        SensorError::new(
            ErrorKind::Io,
            format!("could not read the hypertable catalog: {e}"),
        )
    };
    // Looked up in pg_class: to_regclass would need USAGE on a schema that may not exist.
    let has_catalog = Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = '_timescaledb_catalog' AND c.relname = 'hypertable')",
    )
    .map_err(catalog_error)?;
    if has_catalog != Some(true) {
        return Ok(false);
    }
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable h, pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid = $1 AND h.schema_name = n.nspname AND h.table_name = c.relname)",
        &[relid.into()],
    )
    .map(|found| found == Some(true))
    .map_err(catalog_error)
}
