//! ClickHouse-compatible Arrow IPC export of PostgreSQL query results (pure part).
//!
//! The SQL glue classifies each result column as a [`PgType`], maps it with
//! [`ColumnSpec::from_pg`], builds an [`ExportSchema`], pushes every row's values into a
//! [`BatchBuilder`] and hands each batch to an [`ArrowIpcWriter`];
//! [`clickhouse_ddl`] writes the matching `CREATE TABLE`.
//!
//! | PostgreSQL | Arrow | ClickHouse |
//! |---|---|---|
//! | int2 / int4 / int8 | Int16 / Int32 / Int64 | Int16 / Int32 / Int64 |
//! | float4 / float8 | Float32 / Float64 | Float32 / Float64 |
//! | bool | Boolean | Bool |
//! | text, varchar, name, bpchar, json, jsonb, other types | Utf8 | String |
//! | text with `low_cardinality`, enums | Dictionary(Int32, Utf8) | LowCardinality(String) |
//! | bytea | Binary | String |
//! | timestamptz | Timestamp(µs, "UTC") | DateTime64(6, 'UTC'), or DateTime |
//! | timestamp | Timestamp(µs) | DateTime64(6), or DateTime |
//! | date | Date32 | Date32 |
//! | time | Time64(µs), or Int64 µs | Time64(6), or Int64 |
//! | numeric(p, s), 1 <= p <= 38, 0 <= s <= p | Decimal128(p, s) | Decimal(p, s) |
//! | other numeric(p, s) | Utf8 | String |
//! | numeric | Decimal128(38, 9), Float64 or Utf8 | Decimal(38, 9), Float64 or String |
//! | uuid | FixedSizeBinary(16) | UUID |
//! | T[] (one dimension) | List(T) | Array(Nullable(T)) or Array(T) |
//!
//! `Nullable(T)` wraps nullable columns (`LowCardinality(Nullable(String))` for
//! LowCardinality); arrays are never `Nullable` in ClickHouse, a NULL array arrives as
//! an empty array.

mod builder;
mod ddl;
mod error;
pub mod pg_values;
mod types;
mod writer;

pub use builder::{BatchBuilder, Cell, ColumnBuilder};
pub use ddl::{clickhouse_ddl, quote_identifier};
pub use error::{ExportError, Result};
pub use types::{
    clickhouse_column_type, ColumnOptions, ColumnSpec, ColumnType, ExportSchema, NumericTypmod,
    PgType, SpecialValues, TimeRepresentation, TimestampDdl, UnconstrainedNumeric,
    MAX_DECIMAL128_PRECISION, UNCONSTRAINED_NUMERIC_DECIMAL, UTC,
};
pub use writer::{ArrowIpcWriter, IpcCompression, IpcFormat};
