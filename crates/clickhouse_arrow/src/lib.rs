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
//!
//! # Decisions
//!
//! - **Timestamps** are converted from PostgreSQL's microseconds since 2000-01-01 by
//!   adding 946 684 800 000 000 µs; dates by adding 10 957 days. `±infinity`
//!   (i64/i32 MAX/MIN) fails with [`ExportError::InvalidData`] naming the column, or
//!   becomes NULL with [`SpecialValues::Null`] (which makes timestamp, date and decimal
//!   columns nullable).
//! - **`DateTime` DDL** ([`TimestampDdl::DateTime`]) keeps the Arrow data at
//!   Timestamp(µs[, UTC]): ClickHouse truncates to whole seconds on ingestion (verified
//!   with chdb 4.4 / ClickHouse 26.9, through `file()` and `FORMAT Arrow`). It clamps,
//!   silently, values outside 1970-01-01 .. 2106-02-07.
//! - **Numerics** arrive as text. For Decimal(p, s) digits beyond `s` are rounded half
//!   away from zero (PostgreSQL's rounding); more than `p` digits fail; NaN/±Infinity
//!   fail or become NULL ([`SpecialValues`]). The Float64 option keeps NaN/±Infinity.
//!   `numeric(p, s)` outside 1 <= p <= 38, 0 <= s <= p (p > 38, negative scale, s > p)
//!   is exported as exact text (String).
//! - **Floats**: NaN and ±Infinity are kept (ClickHouse has them).
//! - **Arrays**: one dimension; elements nullable by default (`Array(Nullable(T))`);
//!   the column's own NULL becomes `[]` in ClickHouse. LowCardinality text inside arrays
//!   is exported as plain String (no dictionaries nested in lists).
//! - **Dictionaries** (LowCardinality): one dictionary per column grows across batches
//!   (keys stay stable); the writer emits it whole with the first batch and then IPC
//!   delta dictionaries, in the stream *and* the file format (the file format forbids
//!   replacement, not deltas). pyarrow 26 and ClickHouse 26.9 read both. The
//!   dictionary lives as long as the [`BatchBuilder`]: its memory grows with the number
//!   of distinct values (at most 2^31-1 values and 2 GiB of value bytes).
//! - **`time`** is Time64(µs) / `Time64(6)` (ClickHouse 25.6+; chdb 4.4 accepts it
//!   without settings) or, by option, Int64 microseconds: Time64 Arrow data ingested
//!   into an Int64 column is cast to whole seconds by ClickHouse.
//! - **Date32** covers any i32 day; ClickHouse 26.9 rejects dates outside
//!   0000-01-01 .. 9999-12-31 at ingestion.
//! - **UUID** bytes are written in PostgreSQL's (RFC 4122) order, which ClickHouse
//!   reads as the same UUID.

#![forbid(unsafe_code)]

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
