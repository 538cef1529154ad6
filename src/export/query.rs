//! The exported query: prepared and described (each column with its provable
//! nullability), restricted to a time window if asked, and its rows converted into Arrow
//! column builders as a cursor fetches them.

use clickhouse_arrow::{BatchBuilder, ColumnSpec};
use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::prelude::*;
use pgrx::IntoDatum;

use super::columns::{not_null_columns, value_failure, ColumnReader, ResultColumn, SourceType};
use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::cursor::{type_name, Cursor, Prepared, SpiConnection};
use crate::pg::quoting::quote_identifier;
use crate::pg::row_stream::{Row, RowSink};

/// The time window of an incremental export: `column >= from AND column < to`.
#[derive(Debug, Clone, Copy)]
pub struct TimeWindow<'a> {
    pub column: &'a str,
    pub from: Option<TimestampWithTimeZone>,
    pub to: Option<TimestampWithTimeZone>,
}

/// A prepared query and the description of its result.
pub struct PreparedQuery {
    statement: Prepared,
    pub columns: Vec<ResultColumn>,
}

impl PreparedQuery {
    /// Prepares `query` (one statement that returns rows), restricted to `window` if given,
    /// and describes its result columns. Needs an SPI connection.
    pub fn prepare(
        spi: &SpiConnection,
        query: &str,
        window: Option<&TimeWindow>,
    ) -> SensorResult<PreparedQuery> {
        let query = strip_terminator(query);
        let Some(window) = window else {
            return PreparedQuery::describe(spi, query, &[]);
        };
        // Describe the query alone first, to check the time column by name and type.
        let inner = PreparedQuery::describe(spi, query, &[])?;
        let Some(column) = inner.columns.iter().find(|c| c.name == window.column) else {
            return Err(SensorError::invalid_parameter(format!(
                "time_column \"{}\" is not a column of the query",
                window.column
            ))
            .with_hint(format!(
                "The query returns: {}.",
                column_list(&inner.columns)
            )));
        };
        if !SourceType::of(column.type_oid, column.typmod).is_time_column() {
            return Err(SensorError::invalid_parameter(format!(
                "time_column \"{}\" must be timestamptz, timestamp or date, not {}",
                window.column,
                type_name(column.type_oid)
            )));
        }
        let (sql, params) = windowed_sql(query, window);
        PreparedQuery::describe(spi, &sql, &params)
    }

    /// Prepares and describes `sql`, with each column's provable nullability.
    fn describe(
        spi: &SpiConnection,
        sql: &str,
        params: &[(Oid, Datum)],
    ) -> SensorResult<PreparedQuery> {
        let statement = Prepared::prepare(spi, sql, params)?;
        // SAFETY: the plan source of a statement just prepared on this connection.
        let not_null = unsafe { not_null_columns(statement.source, statement.columns.len()) };
        let columns = statement
            .columns
            .iter()
            .zip(not_null)
            .map(|(c, not_null)| ResultColumn {
                name: c.name.clone(),
                type_oid: c.type_oid,
                typmod: c.typmod,
                not_null,
            })
            .collect();
        Ok(PreparedQuery { statement, columns })
    }

    /// Opens a cursor on the query.
    pub fn open_cursor(&self) -> SensorResult<Cursor> {
        self.statement.open_cursor()
    }
}

/// The query without trailing semicolons and blanks, so that it can be wrapped.
fn strip_terminator(query: &str) -> &str {
    query.trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

/// `SELECT * FROM (<query>) WHERE column >= $1 AND column < $2`. The query goes on lines
/// of its own so that a trailing `--` comment cannot swallow the rest; operators are
/// schema-qualified for callers with any `search_path`.
fn windowed_sql(query: &str, window: &TimeWindow) -> (String, Vec<(Oid, Datum)>) {
    let column = quote_identifier(window.column);
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    for (bound, operator) in [(window.from, ">="), (window.to, "<")] {
        if let Some(value) = bound.and_then(|b| b.into_datum()) {
            params.push((pg_sys::TIMESTAMPTZOID, value));
            conditions.push(format!(
                "sensor_window.{column} OPERATOR(pg_catalog.{operator}) ${}",
                params.len()
            ));
        }
    }
    let sql = format!(
        "SELECT * FROM (\n{query}\n) AS sensor_window\nWHERE {}",
        if conditions.is_empty() {
            "true".to_string()
        } else {
            conditions.join(" AND ")
        }
    );
    (sql, params)
}

pub fn column_list(columns: &[ResultColumn]) -> String {
    columns
        .iter()
        .map(|c| quote_identifier(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Converts rows into the current Arrow batch.
pub struct BatchSink {
    readers: Vec<ColumnReader>,
    pub batch: BatchBuilder,
    /// Detoasted copies and output text of one row; reset after each row.
    row_context: pg_sys::MemoryContext,
}

impl BatchSink {
    /// Readers for `columns`, whose specs made `batch`. Output functions and the row
    /// context are allocated under `context`, which must outlive the sink (the row
    /// context is deleted with it).
    ///
    /// # Safety
    /// `context` must be a valid memory context that outlives the sink.
    pub unsafe fn new(
        specs: &[ColumnSpec],
        sources: &[SourceType],
        batch: BatchBuilder,
        context: pg_sys::MemoryContext,
    ) -> BatchSink {
        let readers = specs
            .iter()
            .zip(sources)
            .map(|(spec, source)| ColumnReader::new(spec.clone(), source, context))
            .collect();
        let row_context = pg_sys::AllocSetContextCreateExtended(
            context,
            c"sensor arrow export row".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        BatchSink {
            readers,
            batch,
            row_context,
        }
    }

    unsafe fn push_row(&mut self, slot: *mut pg_sys::TupleTableSlot) -> SensorResult<()> {
        let natts = self.readers.len();
        let desc = (*slot).tts_tupleDescriptor;
        if desc.is_null() || usize::try_from((*desc).natts).ok() != Some(natts) {
            return Err(SensorError::new(
                ErrorKind::FeatureNotSupported,
                "the query's rows do not have the columns it was described with",
            ));
        }
        crate::pg::slot::deform(slot, natts);
        let values = std::slice::from_raw_parts((*slot).tts_values, natts);
        let nulls = std::slice::from_raw_parts((*slot).tts_isnull, natts);
        let previous = pg_sys::MemoryContextSwitchTo(self.row_context);
        let mut result = Ok(());
        for ((reader, out), (value, null)) in self
            .readers
            .iter_mut()
            .zip(self.batch.columns_mut())
            .zip(values.iter().zip(nulls))
        {
            result = if *null {
                reader.push_null(out)
            } else {
                reader.push(out, *value)
            };
            if result.is_err() {
                break;
            }
        }
        pg_sys::MemoryContextSwitchTo(previous);
        if !(*self.row_context).isReset {
            pg_sys::MemoryContextReset(self.row_context);
        }
        result
    }
}

impl RowSink for BatchSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        // SAFETY: the executor's current slot, valid during this call.
        unsafe { self.push_row(row.slot()) }
    }
}

/// Maps a crate error of a whole batch (finishing or writing it) to a SensorError.
pub fn batch_failure(specs: &[ColumnSpec], err: clickhouse_arrow::ExportError) -> SensorError {
    match &err {
        clickhouse_arrow::ExportError::InvalidData { column, .. } => {
            match specs.iter().find(|s| &s.name == column) {
                Some(spec) => value_failure(spec, err),
                None => SensorError::from(err),
            }
        }
        _ => SensorError::from(err),
    }
}
