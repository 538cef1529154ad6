//! The PostgreSQL layer: what the SQL features stand on, none of it a feature itself.
//!
//! Features (`availability`, `downsample`, `export`, `fusion`, `ingest`) convert SQL
//! arguments, call a pure crate and return rows; the machinery they share lives here: how a
//! query's rows reach Rust ([`row_stream`]), how a function's result rows wait for the
//! executor within `work_mem` ([`row_store`]), how rows reach a table at COPY speed
//! ([`bulk_insert`]), aggregate states ([`aggregate`]), time values ([`time`]), argument
//! types ([`args`], [`float8_array`]), composite results ([`composite`]), privileges and
//! the search_path of internal queries, identifier quoting and TimescaleDB detection.

pub mod aggregate;
pub mod args;
pub mod bulk_insert;
pub mod composite;
pub mod cursor;
pub mod float8_array;
pub mod fmgr;
pub mod partitions;
pub mod point_spill;
pub mod privileges;
pub mod quoting;
pub mod row_groups;
pub mod row_store;
pub mod row_stream;
pub mod search_path;
pub mod slot;
pub mod spi;
pub mod time;
pub mod timescaledb;

/// `work_mem` in bytes: the budget of what a function keeps in memory before it spills or
/// takes another path.
pub fn work_mem_bytes() -> u64 {
    // SAFETY: reading an integer GUC of this backend (in kB, never negative).
    u64::try_from(unsafe { pgrx::pg_sys::work_mem }).unwrap_or(0) * 1024
}
