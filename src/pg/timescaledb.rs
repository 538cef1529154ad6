//! Run-time detection of TimescaleDB. Features use hypertables when it is installed in the
//! current database and plain tables otherwise; nothing links against it.

use pgrx::prelude::*;

use crate::error::{SensorError, SensorResult};

/// The version of the `timescaledb` extension installed in this database, if any.
pub fn installed_version() -> SensorResult<Option<String>> {
    crate::pg::spi::get_one::<String>(
        "SELECT (SELECT extversion::pg_catalog.text FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'timescaledb')",
    )
    .map_err(|e| SensorError::internal_query("reading pg_extension", e))
}

/// Whether the server could load TimescaleDB (its control file is installed).
pub fn available_version() -> SensorResult<Option<String>> {
    crate::pg::spi::get_one::<String>(
        "SELECT (SELECT default_version::pg_catalog.text FROM pg_catalog.pg_available_extensions WHERE name OPERATOR(pg_catalog.=) 'timescaledb')",
    )
    .map_err(|e| SensorError::internal_query("reading pg_available_extensions", e))
}

/// Whether TimescaleDB's relation `schema.name` exists in this database. Looked up in
/// pg_class: to_regclass would need USAGE on a schema that may not exist.
fn relation_exists(schema: &str, name: &str) -> pgrx::spi::Result<bool> {
    crate::pg::spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
         WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2)",
        &[schema.into(), name.into()],
    )
    .map(|found| found == Some(true))
}

/// Whether `relid` is a TimescaleDB hypertable, whose rows belong in its chunks. Code that
/// writes heap tuples itself must ask: TimescaleDB 2.23 removed the trigger that blocked
/// inserts into a hypertable's own heap (timescale/timescaledb#8804).
pub fn is_hypertable(relid: pg_sys::Oid) -> SensorResult<bool> {
    let catalog_error = |e| SensorError::internal_query("reading the hypertable catalog", e);
    if !relation_exists("_timescaledb_catalog", "hypertable").map_err(catalog_error)? {
        return Ok(false);
    }
    crate::pg::spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable h, pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
         WHERE c.oid OPERATOR(pg_catalog.=) $1 AND h.schema_name OPERATOR(pg_catalog.=) n.nspname \
         AND h.table_name OPERATOR(pg_catalog.=) c.relname)",
        &[relid.into()],
    )
    .map(|found| found == Some(true))
    .map_err(catalog_error)
}

/// Whether at least half of the chunks of hypertable `relation` (an SQL name) that overlap
/// `[from, to)` are compressed: TimescaleDB then counts their rows from each batch's
/// metadata, without decompressing them. False for a plain table, without TimescaleDB, or
/// for a hypertable on an integer time column.
pub fn window_mostly_compressed(
    relation: &str,
    from: TimestampWithTimeZone,
    to: TimestampWithTimeZone,
) -> SensorResult<bool> {
    let catalog_error = |e| SensorError::internal_query("reading the chunk catalog", e);
    if !relation_exists("timescaledb_information", "chunks").map_err(catalog_error)? {
        return Ok(false);
    }
    crate::pg::spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 \
                AND pg_catalog.count(*) FILTER (WHERE k.is_compressed) OPERATOR(pg_catalog.*) 2 OPERATOR(pg_catalog.>=) pg_catalog.count(*) \
         FROM timescaledb_information.chunks k \
         JOIN pg_catalog.pg_class c ON c.relname OPERATOR(pg_catalog.=) k.hypertable_name \
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace AND n.nspname OPERATOR(pg_catalog.=) k.hypertable_schema \
         WHERE c.oid OPERATOR(pg_catalog.=) CAST($1 AS pg_catalog.regclass) \
           AND k.range_end OPERATOR(pg_catalog.>) $2 AND k.range_start OPERATOR(pg_catalog.<) $3",
        &[relation.into(), from.into(), to.into()],
    )
    .map(|found| found == Some(true))
    .map_err(catalog_error)
}

/// The start times of hypertable `relid`'s chunks that begin inside `[from, to)`,
/// ascending; `None` when its first (time) dimension is not `time_column`, so that its
/// chunks do not cut that column.
pub fn window_chunk_starts(
    relid: pg_sys::Oid,
    time_column: &str,
    from: TimestampWithTimeZone,
    to: TimestampWithTimeZone,
) -> SensorResult<Option<Vec<TimestampWithTimeZone>>> {
    let catalog_error = |e| SensorError::internal_query("reading the chunk catalog", e);
    if !relation_exists("timescaledb_information", "chunks").map_err(catalog_error)?
        || !relation_exists("timescaledb_information", "dimensions").map_err(catalog_error)?
    {
        return Ok(None);
    }
    let hypertable = "JOIN pg_catalog.pg_class c ON c.relname OPERATOR(pg_catalog.=) k.hypertable_name \
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace AND n.nspname OPERATOR(pg_catalog.=) k.hypertable_schema \
         WHERE c.oid OPERATOR(pg_catalog.=) $1";
    let by_time = crate::pg::spi::get_one_with_args::<bool>(
        &format!(
            "SELECT pg_catalog.bool_or(k.column_name OPERATOR(pg_catalog.=) $2) \
             FROM timescaledb_information.dimensions k {hypertable} \
             AND k.dimension_number OPERATOR(pg_catalog.=) 1"
        ),
        &[relid.into(), time_column.into()],
    )
    .map_err(catalog_error)?;
    if by_time != Some(true) {
        return Ok(None);
    }
    let mut starts = Vec::new();
    crate::pg::spi::select(
        &format!(
            "SELECT DISTINCT k.range_start FROM timescaledb_information.chunks k {hypertable} \
             AND k.range_start OPERATOR(pg_catalog.>) $2 AND k.range_start OPERATOR(pg_catalog.<) $3 \
             ORDER BY 1"
        ),
        &[relid.into(), from.into(), to.into()],
        None,
        |row| {
            if let Some(start) = row.get::<TimestampWithTimeZone>(1)? {
                starts.push(start);
            }
            Ok(())
        },
    )
    .map_err(catalog_error)?;
    Ok(Some(starts))
}
