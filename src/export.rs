//! ClickHouse-compatible Arrow export: `sensor.arrow_export` (a server file),
//! `sensor.arrow_stream` (`SETOF bytea` chunks of one IPC stream) and
//! `sensor.clickhouse_ddl` (the `CREATE TABLE` that receives them), over the
//! `clickhouse_arrow` crate.
//!
//! The query is prepared once (which describes its result without running it); its
//! columns are classified by type OID and mapped by the crate; the same mapping makes the
//! DDL, so the table receives exactly what the export writes. The query then runs through
//! a cursor, `batch_rows` rows per fetch, straight into Arrow column builders: memory is
//! bounded by one batch (plus the dictionaries of LowCardinality columns).

mod columns;
mod query;

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, ErrorKind as IoErrorKind};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clickhouse_arrow::{
    ArrowIpcWriter, BatchBuilder, ColumnOptions, ColumnSpec, ExportSchema, IpcCompression,
    IpcFormat, SpecialValues, TimeRepresentation, TimestampDdl, UnconstrainedNumeric,
};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use self::columns::{ResultColumn, SourceType};
use crate::error::{ErrorKind, RaiseError, SensorError, SensorResult, SqlResult};
use crate::pg::args::required;
use crate::pg::cursor::{Cursor, SpiConnection};
use crate::pg::privileges::{require_server_file_access, ServerFileAccess};
use query::{batch_failure, column_list, BatchSink, PreparedQuery, TimeWindow};

// The functions' comments.
pgrx::extension_sql_file!(
    "../sql/export.sql",
    name = "export",
    requires = [arrow_export, arrow_stream, clickhouse_ddl]
);

/// Rows per batch unless told otherwise.
const DEFAULT_BATCH_ROWS: i32 = 65_536;

/// The export choices shared by all three functions.
#[derive(Debug, Default)]
struct TypeOptions {
    low_cardinality: Vec<String>,
    datetime_columns: Vec<String>,
    numeric: UnconstrainedNumeric,
    time: TimeRepresentation,
    special_values: SpecialValues,
}

impl TypeOptions {
    fn from_sql(
        low_cardinality: Option<Array<'_, &str>>,
        datetime_columns: Option<Array<'_, &str>>,
        numeric_mode: Option<&str>,
        time_mode: Option<&str>,
        special_values: Option<&str>,
    ) -> SensorResult<TypeOptions> {
        Ok(TypeOptions {
            low_cardinality: names("low_cardinality", low_cardinality)?,
            datetime_columns: names("datetime_columns", datetime_columns)?,
            numeric: choice(
                "numeric_mode",
                numeric_mode,
                &[
                    ("decimal", UnconstrainedNumeric::Decimal38_9),
                    ("float64", UnconstrainedNumeric::Float64),
                    ("text", UnconstrainedNumeric::Text),
                ],
            )?,
            time: choice(
                "time_mode",
                time_mode,
                &[
                    ("time64", TimeRepresentation::Time64),
                    ("int64", TimeRepresentation::Int64Micros),
                ],
            )?,
            special_values: choice(
                "special_values",
                special_values,
                &[
                    ("error", SpecialValues::Error),
                    ("null", SpecialValues::Null),
                ],
            )?,
        })
    }
}

/// A text option among `choices`; NULL means the first (the default).
fn choice<T: Copy>(argument: &str, value: Option<&str>, choices: &[(&str, T)]) -> SensorResult<T> {
    let Some(value) = value else {
        return Ok(choices[0].1);
    };
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value.trim()))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("'{n}'")).collect();
            SensorError::invalid_parameter(format!(
                "{argument} must be one of {}, not '{value}'",
                names.join(", ")
            ))
        })
}

fn names(argument: &str, array: Option<Array<'_, &str>>) -> SensorResult<Vec<String>> {
    let Some(array) = array else {
        return Ok(Vec::new());
    };
    array
        .iter()
        .map(|name| {
            name.map(str::to_string).ok_or_else(|| {
                SensorError::invalid_parameter(format!("{argument} must not contain NULL"))
            })
        })
        .collect()
}

/// The export columns of a described query: types mapped with the options, nullability
/// from the trace to table columns. The DDL and the writers both come from here.
fn export_columns(
    columns: &[ResultColumn],
    options: &TypeOptions,
) -> SensorResult<(Vec<ColumnSpec>, Vec<SourceType>)> {
    for (i, column) in columns.iter().enumerate() {
        if columns[..i].iter().any(|c| c.name == column.name) {
            return Err(SensorError::invalid_parameter(format!(
                "the query returns more than one column named \"{}\"",
                column.name
            ))
            .with_hint("Give the columns distinct aliases: Arrow readers and ClickHouse match columns by name."));
        }
    }
    let sources: Vec<SourceType> = columns
        .iter()
        .map(|c| SourceType::of(c.type_oid, c.typmod))
        .collect();
    let find = |argument: &str, name: &str| {
        columns.iter().position(|c| c.name == name).ok_or_else(|| {
            SensorError::invalid_parameter(format!(
                "{argument} names \"{name}\", which is not a column of the query"
            ))
            .with_hint(format!("The query returns: {}.", column_list(columns)))
        })
    };
    for name in &options.low_cardinality {
        let i = find("low_cardinality", name)?;
        if !sources[i].is_text_like() {
            return Err(SensorError::invalid_parameter(format!(
                "low_cardinality applies to text and enum columns; \"{name}\" is {}",
                crate::pg::cursor::type_name(columns[i].type_oid)
            )));
        }
    }
    for name in &options.datetime_columns {
        let i = find("datetime_columns", name)?;
        if !sources[i].is_timestamp() {
            return Err(SensorError::invalid_parameter(format!(
                "datetime_columns applies to timestamp and timestamptz columns; \"{name}\" is {}",
                crate::pg::cursor::type_name(columns[i].type_oid)
            )));
        }
    }
    let specs = columns
        .iter()
        .zip(&sources)
        .map(|(column, source)| {
            let column_options = ColumnOptions {
                low_cardinality: options.low_cardinality.contains(&column.name),
                timestamp_ddl: if options.datetime_columns.contains(&column.name) {
                    TimestampDdl::DateTime
                } else {
                    TimestampDdl::DateTime64
                },
                unconstrained_numeric: options.numeric,
                time: options.time,
                special_values: options.special_values,
                ..ColumnOptions::default()
            };
            ColumnSpec::from_pg(
                column.name.clone(),
                &source.pg,
                !column.not_null,
                &column_options,
            )
            .map_err(|e| {
                let e = SensorError::from(e);
                SensorError {
                    message: format!("cannot export column \"{}\": {}", column.name, e.message),
                    ..e
                }
            })
        })
        .collect::<SensorResult<Vec<_>>>()?;
    Ok((specs, sources))
}

fn batch_rows_of(batch_rows: Option<i32>) -> SensorResult<i64> {
    match batch_rows.unwrap_or(DEFAULT_BATCH_ROWS) {
        rows if rows >= 1 => Ok(i64::from(rows)),
        rows => Err(SensorError::invalid_parameter(format!(
            "batch_rows must be at least 1, not {rows}"
        ))),
    }
}

fn compression_of(compression: Option<&str>) -> SensorResult<IpcCompression> {
    choice(
        "compression",
        compression,
        &[
            ("none", IpcCompression::None),
            ("lz4", IpcCompression::Lz4Frame),
            ("zstd", IpcCompression::Zstd),
        ],
    )
}

fn window_of<'a>(
    time_column: Option<&'a str>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
) -> SensorResult<Option<TimeWindow<'a>>> {
    let Some(column) = time_column else {
        if from.is_some() || to.is_some() {
            return Err(SensorError::invalid_parameter(
                "\"from\" and \"to\" need time_column, the column they restrict",
            ));
        }
        return Ok(None);
    };
    if from.is_none() && to.is_none() {
        return Err(SensorError::invalid_parameter(
            "time_column needs \"from\", \"to\" or both",
        ));
    }
    if let (Some(from), Some(to)) = (from, to) {
        if from.into_inner() >= to.into_inner() {
            return Err(SensorError::invalid_parameter(
                "the time window is empty: \"from\" must be before \"to\"",
            ));
        }
    }
    Ok(Some(TimeWindow { column, from, to }))
}

/// A prepared export: the cursor on the query and the builders of its batches.
struct ExportRun {
    cursor: Cursor,
    sink: Box<BatchSink>,
    schema: ExportSchema,
    specs: Vec<ColumnSpec>,
    batch_rows: i64,
}

impl ExportRun {
    /// Prepares and describes the query, maps its columns and opens the cursor. Long-lived
    /// allocations (output functions, the row context) go under the memory context that is
    /// current when called, which must outlive the run.
    fn start(
        query: &str,
        window: Option<&TimeWindow>,
        options: &TypeOptions,
        batch_rows: i64,
    ) -> SensorResult<ExportRun> {
        // SAFETY: reading the current memory context pointer.
        let long_lived = unsafe { pg_sys::CurrentMemoryContext };
        let spi = SpiConnection::connect()?;
        let prepared = PreparedQuery::prepare(&spi, query, window)?;
        let (specs, sources) = export_columns(&prepared.columns, options)?;
        let schema = ExportSchema::new(specs.clone())?;
        let capacity = usize::try_from(batch_rows).unwrap_or(usize::MAX);
        let batch = BatchBuilder::new(&schema, capacity)?;
        // SAFETY: `long_lived` was current before SPI_connect and outlives the run.
        let sink = Box::new(unsafe { BatchSink::new(&specs, &sources, batch, long_lived) });
        let cursor = prepared.open_cursor()?;
        drop(spi);
        Ok(ExportRun {
            cursor,
            sink,
            schema,
            specs,
            batch_rows,
        })
    }

    /// Fetches the next batch into the builders; returns the rows fetched.
    fn fetch(&mut self) -> SensorResult<u64> {
        pgrx::check_for_interrupts!();
        let columns = self.specs.len();
        self.cursor.fetch(&mut *self.sink, columns, self.batch_rows)
    }

    fn write<W: std::io::Write>(&mut self, writer: &mut ArrowIpcWriter<W>) -> SensorResult<()> {
        writer
            .write_batch(&mut self.sink.batch)
            .map(drop)
            .map_err(|e| batch_failure(&self.specs, e))
    }
}

/// What `arrow_export` reports.
struct ExportSummary {
    rows: u64,
    batches: u64,
    bytes: u64,
}

/// A temporary file next to the target, removed unless published: a failed export
/// leaves nothing behind.
struct PendingFile {
    temporary: PathBuf,
    target: PathBuf,
    published: bool,
}

impl PendingFile {
    fn create(target: &Path) -> SensorResult<(PendingFile, File)> {
        let directory = target.parent().unwrap_or(Path::new("/"));
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // SAFETY: MyProcPid is set for every backend.
        let pid = unsafe { pg_sys::MyProcPid };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let temporary = directory.join(format!(".{file_name}.{pid}.{nanos}.tmp"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| SensorError::file_access(&e, "create", target))?;
        let pending = PendingFile {
            temporary,
            target: target.to_path_buf(),
            published: false,
        };
        // As COPY TO does: readable by all, whatever the server's umask (0077).
        fs::set_permissions(&pending.temporary, fs::Permissions::from_mode(0o644))
            .map_err(|e| SensorError::file_access(&e, "create", target))?;
        Ok((pending, file))
    }

    /// Moves the finished (and synced) file into place: a rename when it may replace an
    /// existing file, else a hard link, which fails if the target appeared meanwhile.
    fn publish(mut self, overwrite: bool) -> SensorResult<()> {
        let target = self.target.clone();
        if overwrite {
            fs::rename(&self.temporary, &target)
                .map_err(|e| SensorError::file_access(&e, "rename", &target))?;
        } else {
            match fs::hard_link(&self.temporary, &target) {
                Ok(()) => {
                    let _ = fs::remove_file(&self.temporary);
                }
                Err(e) if e.kind() == IoErrorKind::AlreadyExists => {
                    return Err(file_exists(&target))
                }
                // File systems without hard links: check, then rename.
                Err(_) => {
                    if fs::symlink_metadata(&target).is_ok() {
                        return Err(file_exists(&target));
                    }
                    fs::rename(&self.temporary, &target)
                        .map_err(|e| SensorError::file_access(&e, "rename", &target))?;
                }
            }
        }
        self.published = true;
        // The rename itself must survive a crash too.
        if let Some(directory) = target.parent() {
            File::open(directory)
                .and_then(|d| d.sync_all())
                .map_err(|e| SensorError::file_access(&e, "fsync", directory))?;
        }
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

fn file_exists(path: &Path) -> SensorError {
    SensorError::new(
        ErrorKind::FileExists,
        format!("file \"{}\" already exists", path.display()),
    )
    .with_hint("Pass overwrite => true to replace it.")
}

/// The checks on the target path that come before any work.
fn check_target(path: &str, overwrite: bool) -> SensorResult<PathBuf> {
    let target = PathBuf::from(path);
    if !target.is_absolute() {
        return Err(SensorError::invalid_parameter(format!(
            "path must be absolute, not \"{path}\""
        )));
    }
    if target.file_name().is_none() || path.ends_with('/') {
        return Err(SensorError::invalid_parameter(format!(
            "path \"{path}\" does not name a file"
        )));
    }
    require_server_file_access(ServerFileAccess::Write, &target)?;
    match fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => Err(SensorError::new(
            ErrorKind::WrongObjectType,
            format!("\"{path}\" is a directory"),
        )),
        Ok(_) if !overwrite => Err(file_exists(&target)),
        _ => Ok(target),
    }
}

#[allow(clippy::too_many_arguments)]
fn export_file(
    query: &str,
    target: &Path,
    format: IpcFormat,
    batch_rows: i64,
    compression: IpcCompression,
    overwrite: bool,
    window: Option<&TimeWindow>,
    options: &TypeOptions,
) -> SensorResult<ExportSummary> {
    let mut run = ExportRun::start(query, window, options, batch_rows)?;
    let (pending, file) = PendingFile::create(target)?;
    let failure = |e: clickhouse_arrow::ExportError, specs: &[ColumnSpec]| match e {
        clickhouse_arrow::ExportError::Io(io) => SensorError::file_access(&io, "write", target),
        other => batch_failure(specs, other),
    };
    let sink = BufWriter::with_capacity(1 << 20, file);
    let mut writer = ArrowIpcWriter::new(sink, &run.schema, format, compression)
        .map_err(|e| failure(e, &run.specs))?;
    let mut rows = 0u64;
    let mut batches = 0u64;
    loop {
        let fetched = run.fetch()?;
        if fetched > 0 {
            writer
                .write_batch(&mut run.sink.batch)
                .map_err(|e| failure(e, &run.specs))?;
            rows += fetched;
            batches += 1;
        }
        if fetched < u64::try_from(run.batch_rows).unwrap_or(u64::MAX) {
            break;
        }
    }
    run.cursor.close();
    let sink = writer.finish().map_err(|e| failure(e, &run.specs))?;
    let file = sink
        .into_inner()
        .map_err(|e| SensorError::file_access(e.error(), "write", target))?;
    file.sync_all()
        .map_err(|e| SensorError::file_access(&e, "fsync", target))?;
    let bytes = file
        .metadata()
        .map_err(|e| SensorError::file_access(&e, "stat", target))?
        .len();
    drop(file);
    pending.publish(overwrite)?;
    Ok(ExportSummary {
        rows,
        batches,
        bytes,
    })
}

/// Writes the result of `query` to the server file `path` as Arrow IPC (ClickHouse formats
/// `Arrow` for 'file', `ArrowStream` for 'stream'), `batch_rows` rows per record batch.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn arrow_export(
    query: Option<&str>,
    path: Option<&str>,
    format: default!(Option<&str>, "'file'"),
    batch_rows: default!(Option<i32>, 65536),
    compression: default!(Option<&str>, "'none'"),
    overwrite: default!(Option<bool>, false),
    low_cardinality: default!(Option<Array<'_, &str>>, "NULL"),
    time_column: default!(Option<&str>, "NULL"),
    from: default!(Option<TimestampWithTimeZone>, "NULL"),
    to: default!(Option<TimestampWithTimeZone>, "NULL"),
    datetime_columns: default!(Option<Array<'_, &str>>, "NULL"),
    numeric_mode: default!(Option<&str>, "'decimal'"),
    time_mode: default!(Option<&str>, "'time64'"),
    special_values: default!(Option<&str>, "'error'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(rows, i64),
            name!(batches, i32),
            name!(bytes, i64),
            name!(duration_ms, f64),
        ),
    >,
    ErrorReport,
> {
    let started = Instant::now();
    let query = required(query, "query")?;
    let path = required(path, "path")?;
    let format = choice(
        "format",
        format,
        &[("file", IpcFormat::File), ("stream", IpcFormat::Stream)],
    )?;
    let batch_rows = batch_rows_of(batch_rows)?;
    let compression = compression_of(compression)?;
    let overwrite = overwrite.unwrap_or(false);
    let window = window_of(time_column, from, to)?;
    let options = TypeOptions::from_sql(
        low_cardinality,
        datetime_columns,
        numeric_mode,
        time_mode,
        special_values,
    )?;
    let target = check_target(path, overwrite)?;
    let summary = export_file(
        query,
        &target,
        format,
        batch_rows,
        compression,
        overwrite,
        window.as_ref(),
        &options,
    )?;
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(TableIterator::once((
        clamp(summary.rows),
        i32::try_from(summary.batches).unwrap_or(i32::MAX),
        clamp(summary.bytes),
        started.elapsed().as_secs_f64() * 1000.0,
    )))
}

/// The chunks of one Arrow IPC stream, produced lazily: the schema message, one chunk per
/// batch (with its dictionary deltas), then the end-of-stream marker.
struct StreamChunks {
    run: Option<ExportRun>,
    writer: Option<ArrowIpcWriter<Vec<u8>>>,
    schema_chunk: Option<Vec<u8>>,
    exhausted: bool,
}

impl StreamChunks {
    fn advance(&mut self) -> SensorResult<Option<Vec<u8>>> {
        if let Some(chunk) = self.schema_chunk.take() {
            return Ok(Some(chunk));
        }
        let (Some(run), Some(writer)) = (self.run.as_mut(), self.writer.as_mut()) else {
            return Ok(None);
        };
        if !self.exhausted {
            let fetched = run.fetch()?;
            self.exhausted = fetched < u64::try_from(run.batch_rows).unwrap_or(u64::MAX);
            if fetched > 0 {
                run.write(writer)?;
                return Ok(Some(writer.take_bytes()));
            }
        }
        // The end: close the cursor and emit the end-of-stream marker.
        if let Some(run) = self.run.take() {
            run.cursor.close();
        }
        match self.writer.take() {
            Some(writer) => Ok(Some(writer.finish()?)),
            None => Ok(None),
        }
    }
}

impl Iterator for StreamChunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        self.advance().or_raise()
    }
}

/// The result of `query` as `SETOF bytea` whose concatenation is one Arrow IPC stream
/// (ClickHouse format `ArrowStream`). Call it in the SELECT list to stream it: in FROM,
/// PostgreSQL collects every chunk before returning the first.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn arrow_stream(
    query: Option<&str>,
    batch_rows: default!(Option<i32>, 65536),
    compression: default!(Option<&str>, "'none'"),
    low_cardinality: default!(Option<Array<'_, &str>>, "NULL"),
    time_column: default!(Option<&str>, "NULL"),
    from: default!(Option<TimestampWithTimeZone>, "NULL"),
    to: default!(Option<TimestampWithTimeZone>, "NULL"),
    datetime_columns: default!(Option<Array<'_, &str>>, "NULL"),
    numeric_mode: default!(Option<&str>, "'decimal'"),
    time_mode: default!(Option<&str>, "'time64'"),
    special_values: default!(Option<&str>, "'error'"),
) -> Result<SetOfIterator<'static, Vec<u8>>, ErrorReport> {
    let query = required(query, "query")?;
    let batch_rows = batch_rows_of(batch_rows)?;
    let compression = compression_of(compression)?;
    let window = window_of(time_column, from, to)?;
    let options = TypeOptions::from_sql(
        low_cardinality,
        datetime_columns,
        numeric_mode,
        time_mode,
        special_values,
    )?;
    // Runs in the set-returning function's multi-call memory context: the cursor's
    // readers live as long as the calls.
    let run = ExportRun::start(query, window.as_ref(), &options, batch_rows)?;
    let mut writer = ArrowIpcWriter::new(Vec::new(), &run.schema, IpcFormat::Stream, compression)
        .map_err(SensorError::from)?;
    let schema_chunk = writer.take_bytes();
    Ok(SetOfIterator::new(StreamChunks {
        run: Some(run),
        writer: Some(writer),
        schema_chunk: Some(schema_chunk),
        exhausted: false,
    }))
}

/// The ClickHouse `CREATE TABLE` whose columns receive exactly what `arrow_export` and
/// `arrow_stream` write for `query` with the same type options. The query is described,
/// not run.
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments)]
fn clickhouse_ddl(
    query: Option<&str>,
    table_name: Option<&str>,
    engine: default!(Option<&str>, "'MergeTree'"),
    order_by: default!(Option<&str>, "NULL"),
    partition_by: default!(Option<&str>, "NULL"),
    low_cardinality: default!(Option<Array<'_, &str>>, "NULL"),
    datetime_columns: default!(Option<Array<'_, &str>>, "NULL"),
    numeric_mode: default!(Option<&str>, "'decimal'"),
    time_mode: default!(Option<&str>, "'time64'"),
    special_values: default!(Option<&str>, "'error'"),
) -> SqlResult<String> {
    let query = required(query, "query")?;
    let table_name = required(table_name, "table_name")?;
    let options = TypeOptions::from_sql(
        low_cardinality,
        datetime_columns,
        numeric_mode,
        time_mode,
        special_values,
    )?;
    let spi = SpiConnection::connect()?;
    let prepared = PreparedQuery::prepare(&spi, query, None)?;
    let (specs, _) = export_columns(&prepared.columns, &options)?;
    drop(spi);
    Ok(clickhouse_arrow::clickhouse_ddl(
        &specs,
        table_name,
        engine.unwrap_or("MergeTree"),
        order_by,
        partition_by,
    )
    .map_err(SensorError::from)?)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("export/tests.rs");
}
