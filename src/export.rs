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
use crate::pg::cursor::{Cursor, SpiConnection};
use crate::pg::privileges::{require_server_file_access, ServerFileAccess};
use query::{batch_failure, column_list, BatchSink, PreparedQuery, TimeWindow};

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

fn required<T>(argument: &str, value: Option<T>) -> SensorResult<T> {
    value.ok_or_else(|| SensorError::invalid_parameter(format!("{argument} must not be NULL")))
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
    let query = required("query", query)?;
    let path = required("path", path)?;
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
    let query = required("query", query)?;
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
    let query = required("query", query)?;
    let table_name = required("table_name", table_name)?;
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
    use std::path::PathBuf;

    use crate::tests::{error_fields_of, sqlstate_of};
    use pgrx::prelude::*;

    fn one(sql: &str) -> String {
        Spi::get_one::<String>(sql).unwrap().unwrap_or_default()
    }

    /// An empty directory of this backend for one test's files.
    fn test_dir(test: &str) -> PathBuf {
        // SAFETY: MyProcPid is set in every backend.
        let pid = unsafe { pg_sys::MyProcPid };
        let dir = std::env::temp_dir().join(format!("sensor_export_{test}_{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &PathBuf) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn telemetry(rows: i64) {
        Spi::run(&format!(
            "CREATE TABLE telemetry_events (
                id int8 NOT NULL, user_id int4 NOT NULL, prosthesis_type text NOT NULL,
                muscle_group text NOT NULL, signal_frequency int4 NOT NULL,
                signal_duration int4 NOT NULL, signal_amplitude float8 NOT NULL,
                event_timestamp timestamptz NOT NULL, saved_ts timestamptz NOT NULL);
             INSERT INTO telemetry_events
             SELECT i, i % 100, (ARRAY['hand','arm','leg'])[i % 3 + 1], 'biceps', i % 500, i % 1000,
                    i / 8.0, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
                    timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' + interval '1 second'
             FROM generate_series(1, {rows}) AS i"
        ))
        .unwrap();
    }

    #[pg_test]
    fn ddl_of_the_issue_tables() {
        telemetry(10);
        Spi::run("CREATE TABLE users (user_id int4 NOT NULL, name text NOT NULL, country text)")
            .unwrap();
        assert_eq!(
            one("SELECT sensor.clickhouse_ddl('SELECT * FROM users', 'users', engine => 'Join(ANY, LEFT, user_id)')"),
            "CREATE TABLE users (user_id Int32, name String, country Nullable(String)) ENGINE = Join(ANY, LEFT, user_id)"
        );
        assert_eq!(
            one("SELECT sensor.clickhouse_ddl('SELECT * FROM telemetry_events', 'telemetry_events',
                    order_by => '(user_id, event_timestamp)', partition_by => 'toYYYYMM(event_timestamp)',
                    datetime_columns => '{event_timestamp,saved_ts}')"),
            "CREATE TABLE telemetry_events (id Int64, user_id Int32, prosthesis_type String, muscle_group String, \
             signal_frequency Int32, signal_duration Int32, signal_amplitude Float64, event_timestamp DateTime, \
             saved_ts DateTime) ENGINE = MergeTree PARTITION BY toYYYYMM(event_timestamp) ORDER BY (user_id, event_timestamp)"
        );
    }

    #[pg_test]
    fn every_type_maps_as_documented() {
        Spi::run(
            "CREATE TYPE mood AS ENUM ('sad', 'ok');
             CREATE DOMAIN price AS numeric(12, 2);
             CREATE TABLE every (
                a int2 NOT NULL, b int4, c int8, d float4, e float8, f bool, g text, h varchar(5),
                i name, j bytea, k timestamptz, l timestamp, m date, n time, o numeric(10, 3),
                p numeric, q numeric(50, 5), r uuid, s json, t jsonb, u int4[], v text[], w mood,
                x inet, y price, z char(3))",
        )
        .unwrap();
        let ddl = one("SELECT sensor.clickhouse_ddl('SELECT * FROM every', 'every', low_cardinality => '{g}')");
        assert_eq!(
            ddl,
            "CREATE TABLE every (a Int16, b Nullable(Int32), c Nullable(Int64), d Nullable(Float32), \
             e Nullable(Float64), f Nullable(Bool), g LowCardinality(Nullable(String)), h Nullable(String), \
             i Nullable(String), j Nullable(String), k Nullable(DateTime64(6, 'UTC')), l Nullable(DateTime64(6)), \
             m Nullable(Date32), n Nullable(Time64(6)), o Nullable(Decimal(10, 3)), p Nullable(Decimal(38, 9)), \
             q Nullable(String), r Nullable(UUID), s Nullable(String), t Nullable(String), \
             u Array(Nullable(Int32)), v Array(Nullable(String)), w LowCardinality(Nullable(String)), \
             x Nullable(String), y Nullable(Decimal(12, 2)), z Nullable(String)) ENGINE = MergeTree ORDER BY tuple()"
        );
        let options = one(
            "SELECT sensor.clickhouse_ddl('SELECT p, n, k FROM every', 't', numeric_mode => 'float64', time_mode => 'int64', special_values => 'null')",
        );
        assert_eq!(
            options,
            "CREATE TABLE t (p Nullable(Float64), n Nullable(Int64), k Nullable(DateTime64(6, 'UTC'))) ENGINE = MergeTree ORDER BY tuple()"
        );
        assert_eq!(
            one("SELECT sensor.clickhouse_ddl('SELECT p FROM every', 't', numeric_mode => 'TEXT')"),
            "CREATE TABLE t (p Nullable(String)) ENGINE = MergeTree ORDER BY tuple()"
        );
    }

    #[pg_test]
    fn nullability_follows_not_null_table_columns_only() {
        Spi::run(
            "CREATE TABLE a (id int4 NOT NULL, v int4 NOT NULL, w int4);
             CREATE TABLE b (id int4 NOT NULL, x int4 NOT NULL);
             CREATE VIEW av AS SELECT id, v FROM a",
        )
        .unwrap();
        let columns = |query: &str| {
            let ddl = Spi::get_one_with_args::<String>(
                "SELECT sensor.clickhouse_ddl($1, 't', engine => 'Memory')",
                &[query.into()],
            )
            .unwrap()
            .unwrap();
            ddl.trim_start_matches("CREATE TABLE t (")
                .trim_end_matches(") ENGINE = Memory")
                .to_string()
        };
        assert_eq!(
            columns("SELECT id, v, w FROM a"),
            "id Int32, v Int32, w Nullable(Int32)"
        );
        // Through subqueries, CTEs and inner joins the trace holds.
        assert_eq!(columns("SELECT s.v FROM (SELECT v FROM a) s"), "v Int32");
        assert_eq!(
            columns("WITH c AS (SELECT v FROM a) SELECT v FROM c"),
            "v Int32"
        );
        assert_eq!(
            columns("SELECT a.v, b.x FROM a JOIN b USING (id)"),
            "v Int32, x Int32"
        );
        // Outer joins, grouping sets, expressions, views, set operations: nullable.
        assert_eq!(
            columns("SELECT a.v, b.x FROM a LEFT JOIN b USING (id)"),
            "v Nullable(Int32), x Nullable(Int32)"
        );
        assert_eq!(
            columns("SELECT s.x FROM (SELECT b.x FROM a LEFT JOIN b USING (id)) s"),
            "x Nullable(Int32)"
        );
        assert_eq!(
            columns("SELECT v FROM a GROUP BY ROLLUP (v)"),
            "v Nullable(Int32)"
        );
        assert_eq!(columns("SELECT v + 0 AS v FROM a"), "v Nullable(Int32)");
        assert_eq!(columns("SELECT v FROM av"), "v Nullable(Int32)");
        assert_eq!(
            columns("SELECT v FROM a UNION ALL SELECT x FROM b"),
            "v Nullable(Int32)"
        );
        assert_eq!(columns("SELECT 1 AS one"), "one Nullable(Int32)");
    }

    #[pg_test]
    fn export_writes_a_complete_file_atomically() {
        telemetry(25_000);
        let dir = test_dir("atomic");
        let path = dir.join("t.arrow");
        let sql = format!(
            "SELECT rows, batches, bytes FROM sensor.arrow_export('SELECT * FROM telemetry_events', '{}', batch_rows => 10000)",
            path.display()
        );
        let (rows, batches, bytes) = Spi::get_three::<i64, i32, i64>(&sql).unwrap();
        assert_eq!((rows, batches), (Some(25_000), Some(3)));
        let data = std::fs::read(&path).unwrap();
        assert_eq!(bytes, Some(data.len() as i64));
        assert!(data.starts_with(b"ARROW1") && data.ends_with(b"ARROW1"));
        assert_eq!(entries(&dir), vec!["t.arrow"], "no temporary file is left");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o644);

        // An existing file is refused, or replaced with overwrite => true.
        assert_eq!(sqlstate_of(&sql).as_deref(), Some("58P02"));
        let replaced = Spi::get_one::<i64>(&format!(
            "SELECT rows FROM sensor.arrow_export('SELECT 1 AS x', '{}', overwrite => true)",
            path.display()
        ))
        .unwrap();
        assert_eq!(replaced, Some(1));
        assert!(std::fs::read(&path).unwrap().len() < data.len());
        assert_eq!(entries(&dir), vec!["t.arrow"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[pg_test]
    fn a_failed_export_leaves_nothing_behind() {
        let dir = test_dir("failed");
        let path = dir.join("f.arrow");
        // Fails in the third batch, after two were written.
        let failing = format!(
            "SELECT * FROM sensor.arrow_export('SELECT 1 / (i - 25000) AS x FROM generate_series(1, 30000) i', '{}', batch_rows => 10000)",
            path.display()
        );
        assert_eq!(sqlstate_of(&failing).as_deref(), Some("22012"));
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

        // A failed overwrite keeps the old file as it was.
        std::fs::write(&path, b"old").unwrap();
        let infinity = format!(
            "SELECT * FROM sensor.arrow_export($$SELECT CASE WHEN i = 70000 THEN 'infinity'::timestamptz ELSE now() END AS ts FROM generate_series(1, 70000) i$$, '{}', overwrite => true)",
            path.display()
        );
        assert_eq!(
            error_fields_of(&infinity),
            "22008|cannot export column \"ts\": infinite value in a timestamp||Pass special_values => 'null' to export ±infinity and NaN as NULL, or filter them out in the query."
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(&dir), vec!["f.arrow"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[pg_test]
    fn values_arrow_cannot_hold_have_deliberate_sqlstates() {
        let dir = test_dir("values");
        let export = |query: &str, extra: &str| {
            format!(
                "SELECT * FROM sensor.arrow_export($q${query}$q$, '{}', overwrite => true{extra})",
                dir.join("v.arrow").display()
            )
        };
        assert_eq!(
            error_fields_of(&export("SELECT 'NaN'::numeric AS n", "")),
            "22003|cannot export column \"n\": NaN in a numeric||Pass special_values => 'null' to export ±infinity and NaN as NULL, or filter them out in the query."
        );
        assert_eq!(
            error_fields_of(&export("SELECT 1e40::numeric AS n", "")),
            "22003|cannot export column \"n\": numeric 10000000000000000000000000000000000000000 does not fit Decimal(38, 9)||The column is exported as Decimal(38, 9); pass numeric_mode => 'text' or 'float64' for unconstrained numeric, or cast it in the query."
        );
        assert_eq!(
            sqlstate_of(&export("SELECT '-infinity'::date AS d", "")).as_deref(),
            Some("22008")
        );
        assert_eq!(
            sqlstate_of(&export("SELECT ARRAY['infinity'::timestamp] AS a", "")).as_deref(),
            Some("22008")
        );
        assert_eq!(
            error_fields_of(&export("SELECT ARRAY[[1, 2], [3, 4]] AS m", "")).split('|').take(2).collect::<Vec<_>>(),
            vec!["0A000", "cannot export column \"m\": a 2-dimensional array (only one-dimensional arrays become ClickHouse arrays)"]
        );
        // The documented mappings instead of errors.
        let rows = |query: &str, extra: &str| {
            Spi::get_one::<i64>(&format!("SELECT rows FROM ({}) r", export(query, extra))).unwrap()
        };
        assert_eq!(
            rows(
                "SELECT 'NaN'::numeric AS n, 'infinity'::timestamptz AS t, 'infinity'::date AS d",
                ", special_values => 'null'"
            ),
            Some(1)
        );
        assert_eq!(
            rows(
                "SELECT 'NaN'::numeric AS n, 1e40::numeric AS m",
                ", numeric_mode => 'float64'"
            ),
            Some(1)
        );
        assert_eq!(
            rows("SELECT 1e40::numeric AS n", ", numeric_mode => 'text'"),
            Some(1)
        );
        assert_eq!(
            rows("SELECT 'NaN'::float8 AS f, '-infinity'::float4 AS g", ""),
            Some(1)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[pg_test]
    fn arguments_are_checked_before_any_work() {
        let dir = test_dir("arguments");
        let out = dir.join("a.arrow");
        let out = out.display();
        let cases = [
            ("SELECT * FROM sensor.arrow_export('SELECT 1', 'relative.arrow')".to_string(), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{out}', format => 'parquet')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{out}', batch_rows => 0)"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{out}', compression => 'gzip')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export(NULL, '{out}')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{}')", dir.display()), "42809"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{}/missing/x.arrow')", dir.display()), "58P01"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a, 2 AS a', '{out}')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a; SELECT 2 AS a', '{out}')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('CREATE TEMP TABLE z (a int)', '{out}')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', low_cardinality => '{{b}}')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', low_cardinality => '{{a}}')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', datetime_columns => '{{a}}')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', numeric_mode => 'real')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', time_column => 'a', \"from\" => now())"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', time_column => 't')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', \"from\" => now())"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', time_column => 'u', \"to\" => now())"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', time_column => 't', \"from\" => now(), \"to\" => now() - interval '1 day')"), "22023"),
            (format!("SELECT * FROM sensor.arrow_export('SELEC 1', '{out}')"), "42601"),
            ("SELECT sensor.clickhouse_ddl('SELECT 1 AS a', 't', engine => 'Memory', order_by => 'a')".to_string(), "22023"),
            ("SELECT sensor.clickhouse_ddl('SELECT 1 AS a', NULL)".to_string(), "22023"),
            ("SELECT sensor.clickhouse_ddl('SELECT', 't')".to_string(), "22023"),
            ("SELECT count(*) FROM sensor.arrow_stream('SELECT 1', batch_rows => -1)".to_string(), "22023"),
        ];
        for (sql, code) in &cases {
            assert_eq!(sqlstate_of(sql).as_deref(), Some(*code), "{sql}");
        }
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[pg_test]
    fn writing_needs_pg_write_server_files() {
        let dir = test_dir("privilege");
        Spi::run("CREATE ROLE sensor_export_plain NOLOGIN").unwrap();
        Spi::run("GRANT USAGE ON SCHEMA tests, sensor TO sensor_export_plain").unwrap();
        Spi::run("SET ROLE sensor_export_plain").unwrap();
        let denied = error_fields_of(&format!(
            "SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{}')",
            dir.join("p.arrow").display()
        ));
        // Streams and DDL touch no server file.
        let chunks =
            Spi::get_one::<i64>("SELECT count(*) FROM sensor.arrow_stream('SELECT 1 AS a')")
                .unwrap();
        Spi::run("RESET ROLE").unwrap();
        assert!(
            denied.starts_with("42501|permission denied to write server file"),
            "{denied}"
        );
        assert!(
            denied.ends_with("GRANT pg_write_server_files TO sensor_export_plain;"),
            "{denied}"
        );
        assert_eq!(chunks, Some(3));
        assert!(entries(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[pg_test]
    fn stream_chunks_concatenate_to_the_stream_file() {
        telemetry(2_500);
        let dir = test_dir("stream");
        let path = dir.join("s.arrows");
        let query = "SELECT id, prosthesis_type, event_timestamp FROM telemetry_events ORDER BY id";
        let batches = Spi::get_one::<i32>(&format!(
            "SELECT batches FROM sensor.arrow_export('{query}', '{}', format => 'stream', batch_rows => 1000, low_cardinality => '{{prosthesis_type}}')",
            path.display()
        ))
        .unwrap();
        assert_eq!(batches, Some(3));
        let chunks: Vec<Vec<u8>> = Spi::connect(|client| {
            client
                .select(
                    &format!("SELECT c FROM sensor.arrow_stream('{query}', batch_rows => 1000, low_cardinality => '{{prosthesis_type}}') c"),
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| row.get::<Vec<u8>>(1).unwrap().unwrap())
                .collect()
        });
        // The schema message, one chunk per batch, the end-of-stream marker.
        assert_eq!(chunks.len(), 3 + 2);
        assert!(chunks[0].starts_with(&[0xff, 0xff, 0xff, 0xff]));
        assert_eq!(chunks[4], vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert_eq!(chunks.concat(), std::fs::read(&path).unwrap());
        // Lazy: reading two chunks runs the query for one batch only, so the division by
        // zero in its third batch is never reached; reading all of them reaches it.
        let failing = "SELECT sensor.arrow_stream('SELECT i, 1 / (i - 2500) AS x FROM generate_series(1, 3000) i', batch_rows => 1000)";
        let first_two = Spi::get_one::<i64>(&format!(
            "SELECT count(*) FROM (SELECT c FROM ({failing}) AS s(c) LIMIT 2) AS l"
        ))
        .unwrap();
        assert_eq!(first_two, Some(2));
        assert_eq!(
            sqlstate_of(&format!("SELECT count(*) FROM ({failing}) AS s(c)")).as_deref(),
            Some("22012")
        );
        // An empty result is a schema and the end marker.
        let empty = Spi::get_one::<i64>(
            "SELECT count(*) FROM sensor.arrow_stream('SELECT 1 AS a WHERE false')",
        )
        .unwrap();
        assert_eq!(empty, Some(2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[pg_test]
    fn a_window_exports_exactly_its_rows() {
        telemetry(5_000);
        Spi::run("ALTER TABLE telemetry_events RENAME COLUMN event_timestamp TO \"Event Time\"")
            .unwrap();
        let dir = test_dir("window");
        let rows = Spi::get_one::<i64>(&format!(
            "SELECT rows FROM sensor.arrow_export('SELECT * FROM telemetry_events;', '{}', time_column => 'Event Time',
                 \"from\" => '2024-01-02 00:00:00+00', \"to\" => '2024-01-03 00:00:00+00')",
            dir.join("w.arrow").display()
        ))
        .unwrap();
        let expected = Spi::get_one::<i64>(
            "SELECT count(*) FROM telemetry_events WHERE \"Event Time\" >= '2024-01-02 00:00:00+00' AND \"Event Time\" < '2024-01-03 00:00:00+00'",
        )
        .unwrap();
        assert_eq!(rows, expected);
        assert_eq!(rows, Some(1440));
        // Open-ended windows, a trailing comment, and the refresh search_path.
        Spi::run("SET LOCAL search_path = pg_catalog, pg_temp").unwrap();
        let after = Spi::get_one::<i64>(
            "SELECT count(*) FROM sensor.arrow_stream('SELECT * FROM public.telemetry_events -- all', batch_rows => 100000,
                 time_column => 'Event Time', \"from\" => '2024-01-04 00:00:00+00')",
        )
        .unwrap();
        let chunks_expected = Spi::get_one::<i64>(
            "SELECT CASE WHEN count(*) > 0 THEN 3 ELSE 2 END FROM public.telemetry_events WHERE \"Event Time\" >= '2024-01-04 00:00:00+00'",
        )
        .unwrap();
        assert_eq!(after, chunks_expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[pg_test]
    fn a_cancelled_export_stops_and_leaves_nothing() {
        let dir = test_dir("cancel");
        // OTHERS does not catch a cancel: this block catches exactly that.
        Spi::run(
            "CREATE FUNCTION pg_temp.cancel_state(query text) RETURNS text LANGUAGE plpgsql AS $fn$
             BEGIN EXECUTE query; RETURN NULL;
             EXCEPTION WHEN query_canceled THEN RETURN SQLSTATE; END $fn$",
        )
        .unwrap();
        // The backend cancels itself in the middle of the third batch.
        let code = Spi::get_one_with_args::<String>(
            "SELECT pg_temp.cancel_state($1)",
            &[format!(
                "SELECT * FROM sensor.arrow_export('SELECT i, CASE WHEN i = 2500 THEN pg_catalog.pg_cancel_backend(pg_catalog.pg_backend_pid()) END AS c FROM generate_series(1, 100000) i', '{}', batch_rows => 1000)",
                dir.join("c.arrow").display()
            )
            .into()],
        )
        .unwrap();
        assert_eq!(code.as_deref(), Some("57014"));
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
