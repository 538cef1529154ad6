//! Loading a TDMS file into the tables of sql/storage.sql: `sensor.load_tdms` (a server
//! file) and `sensor.load_tdms_bytes` (an upload), at COPY speed, in the caller's
//! transaction, exactly once per content.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Instant;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tdms::{
    ChannelInfo, ChannelVisitor, DataType, ReadMode, TdmsError, TdmsFile, ValuesBlock, Waveform,
};

use super::{
    open_server_file, properties_json, sample_row, sample_time, to_i64, Origin, INDEXED_SAMPLES,
    READ_BLOCK, TIMED_SAMPLES,
};
use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::args::required;
use crate::pg::bulk_insert::{spi_error, BulkInsert, Indexes};
use crate::pg::search_path;
use crate::pg::time::{self, timestamptz};

/// What a load reports.
#[derive(Debug, Clone, PartialEq)]
struct LoadReport {
    dataset_id: i64,
    channels_loaded: i32,
    channels_skipped: Value,
    samples: i64,
    bytes: i64,
    duration_ms: f64,
    already_loaded: bool,
}

type ReportRow = (i64, i32, JsonB, i64, i64, f64, bool);

impl LoadReport {
    fn row(self) -> ReportRow {
        (
            self.dataset_id,
            self.channels_loaded,
            JsonB(self.channels_skipped),
            self.samples,
            self.bytes,
            self.duration_ms,
            self.already_loaded,
        )
    }
}

/// Loads a TDMS file on the server into sensor_data.datasets, sensor_data.channels, sensor_data.samples
/// (channels with waveform time) and sensor_data.indexed_samples (the others). An identical
/// file (same sha256) already loaded is not loaded again unless `replace`, which deletes
/// the old dataset first.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn load_tdms(
    path: Option<&str>,
    name: default!(Option<&str>, "NULL"),
    replace: default!(Option<bool>, false),
) -> Result<
    TableIterator<
        'static,
        (
            name!(dataset_id, i64),
            name!(channels_loaded, i32),
            name!(channels_skipped, JsonB),
            name!(samples, i64),
            name!(bytes, i64),
            name!(duration_ms, f64),
            name!(already_loaded, bool),
        ),
    >,
    ErrorReport,
> {
    let started = Instant::now();
    let path = required(path, "path")?;
    let (mut file, len) = open_server_file(path)?;
    let p = Path::new(path);
    let sha256 = sha256_hex(&mut file).map_err(|e| SensorError::file_access(&e, "read", p))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| SensorError::file_access(&e, "seek in", p))?;
    let name = match name {
        Some(n) => n.to_string(),
        None => p
            .file_name()
            .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned()),
    };
    let source = LoadSource {
        origin: Origin::File(p.to_path_buf()),
        name,
        source_file: Some(path.to_string()),
        sha256,
        bytes: len,
    };
    let report = search_path::pinned(|| load(file, source, replace.unwrap_or(false), started))?;
    Ok(TableIterator::once(report.row()))
}

/// `load_tdms` for a file sent by the client as bytea: no server-file privilege needed.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn load_tdms_bytes(
    content: Option<&[u8]>,
    name: Option<&str>,
    replace: default!(Option<bool>, false),
) -> Result<
    TableIterator<
        'static,
        (
            name!(dataset_id, i64),
            name!(channels_loaded, i32),
            name!(channels_skipped, JsonB),
            name!(samples, i64),
            name!(bytes, i64),
            name!(duration_ms, f64),
            name!(already_loaded, bool),
        ),
    >,
    ErrorReport,
> {
    let started = Instant::now();
    let content = required(content, "content")?;
    let name = required(name, "name")?;
    let mut hasher = Sha256::new();
    hasher.update(content);
    let source = LoadSource {
        origin: Origin::Upload,
        name: name.to_string(),
        source_file: None,
        sha256: hex(&hasher.finalize()),
        bytes: content.len() as u64,
    };
    let report = search_path::pinned(|| {
        load(
            Cursor::new(content),
            source,
            replace.unwrap_or(false),
            started,
        )
    })?;
    Ok(TableIterator::once(report.row()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(reader: &mut impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        pgrx::check_for_interrupts!();
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

struct LoadSource {
    origin: Origin,
    name: String,
    source_file: Option<String>,
    sha256: String,
    bytes: u64,
}

/// Why `load_tdms` does not load a channel, if it does not.
fn skip_reason(info: &ChannelInfo) -> Option<&'static str> {
    match info.data_type {
        None | Some(DataType::Void) => Some("no data (the channel has no data type)"),
        Some(DataType::String) => Some("string values: read them as text with sensor.tdms_read (value_text)"),
        Some(DataType::ComplexSingleFloat | DataType::ComplexDoubleFloat) => Some(
            "complex values do not fit one float8: read them as text with sensor.tdms_read (value_text)",
        ),
        Some(DataType::ExtendedFloat | DataType::ExtendedFloatWithUnit) => {
            Some("extended-precision floats are not supported")
        }
        _ => None,
    }
}

fn load<R: Read + Seek>(
    reader: R,
    source: LoadSource,
    replace: bool,
    started: Instant,
) -> SensorResult<LoadReport> {
    let bytes = to_i64(source.bytes, "file size")?;
    let elapsed = |started: Instant| started.elapsed().as_secs_f64() * 1000.0;
    if let Some(id) = loaded_before(&source, replace)? {
        return Ok(LoadReport {
            dataset_id: id,
            channels_loaded: 0,
            channels_skipped: json!([]),
            samples: 0,
            bytes,
            duration_ms: elapsed(started),
            already_loaded: true,
        });
    }
    let origin = &source.origin;
    let mut file = TdmsFile::from_reader(reader, source.bytes).map_err(|e| origin.error(e))?;
    let mut skipped = Vec::new();
    let plans: Vec<Option<bool>> = file
        .channels()
        .iter()
        .map(|c| match skip_reason(c) {
            Some(reason) => {
                skipped.push(json!({"group": c.group, "channel": c.name, "reason": reason}));
                None
            }
            None => Some(c.has_time()),
        })
        .collect();
    let dataset_id = insert_dataset(&file, &source, bytes)?;
    let targets = insert_channels(&file, &plans, dataset_id)?;
    let channels_loaded = i32::try_from(targets.iter().flatten().count()).unwrap_or(i32::MAX);
    let samples = copy_samples(&mut file, &plans, targets, bytes, origin)?;
    Ok(LoadReport {
        dataset_id,
        channels_loaded,
        channels_skipped: Value::Array(skipped),
        samples: to_i64(samples, "sample count")?,
        bytes,
        duration_ms: elapsed(started),
        already_loaded: false,
    })
}

/// The dataset already holding this content, unless `replace` (which deletes it). Loads of
/// the same content take turns, so that two sessions cannot both load it.
fn loaded_before(source: &LoadSource, replace: bool) -> SensorResult<Option<i64>> {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('sensor_analytics.load_tdms'), pg_catalog.hashtext($1))",
        &[source.sha256.as_str().into()],
    )
    .map_err(|e| spi_error(&e))?;
    let existing = Spi::get_one_with_args::<i64>(
        "SELECT pg_catalog.min(d.id) FROM sensor_data.datasets d WHERE d.sha256 = $1",
        &[source.sha256.as_str().into()],
    )
    .map_err(|e| spi_error(&e))?;
    let Some(id) = existing else {
        return Ok(None);
    };
    if !replace {
        pgrx::notice!(
            "{} is already loaded as dataset {id} (same sha256); nothing loaded",
            source.origin.describe()
        );
        return Ok(Some(id));
    }
    Spi::run_with_args(
        "SELECT sensor.delete_dataset(d.id) FROM sensor_data.datasets d WHERE d.sha256 = $1",
        &[source.sha256.as_str().into()],
    )
    .map_err(|e| spi_error(&e))?;
    Ok(None)
}

/// The `sensor_data.datasets` row of the file; returns its id.
fn insert_dataset<R: Read + Seek>(
    file: &TdmsFile<R>,
    source: &LoadSource,
    bytes: i64,
) -> SensorResult<i64> {
    let origin = &source.origin;
    let mut group_properties = serde_json::Map::new();
    for g in file.groups() {
        group_properties.insert(g.name.clone(), tdms::properties_to_json(&g.properties));
    }
    // The unique index on sha256 makes a concurrent load of the same content wait here and
    // then find it: under READ COMMITTED the check before already saw it; under REPEATABLE
    // READ or SERIALIZABLE, whose snapshot cannot see it, ON CONFLICT raises 40001.
    Spi::get_one_with_args::<i64>(
        "INSERT INTO sensor_data.datasets (name, source_file, sha256, bytes, properties, group_properties, warnings) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
        &[
            source.name.as_str().into(),
            source.source_file.as_deref().into(),
            source.sha256.as_str().into(),
            bytes.into(),
            properties_json(file.properties()).into(),
            JsonB(Value::Object(group_properties)).into(),
            origin.warn(file).into(),
        ],
    )
    .map_err(|e| spi_error(&e))?
    .ok_or_else(|| {
        SensorError::new(
            ErrorKind::SerializationFailure,
            format!(
                "{} was loaded by a concurrent transaction (same sha256)",
                origin.describe()
            ),
        )
        .with_hint("Retry the transaction.")
    })
}

/// The `sensor_data.channels` rows of the channels to load (`plans[i]` is `None` for a
/// skipped channel); returns where each channel's samples go.
fn insert_channels<R: Read + Seek>(
    file: &TdmsFile<R>,
    plans: &[Option<bool>],
    dataset_id: i64,
) -> SensorResult<Vec<Option<Target>>> {
    let mut targets = Vec::with_capacity(plans.len());
    for (c, plan) in file.channels().iter().zip(plans) {
        if plan.is_none() {
            targets.push(None);
            continue;
        }
        let start = match &c.waveform {
            Some(w) => Some(timestamptz(sample_time(w, 0, c)?)?),
            None => None,
        };
        let id = Spi::get_one_with_args::<i64>(
            "INSERT INTO sensor_data.channels (dataset_id, group_name, name, unit, data_type, has_time, start_time, increment_s, n_samples, properties) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                dataset_id.into(),
                c.group.as_str().into(),
                c.name.as_str().into(),
                c.unit.as_deref().into(),
                c.data_type.map_or("", |t| t.labview_name()).into(),
                c.has_time().into(),
                start.into(),
                c.waveform.map(|w| w.increment_s).into(),
                to_i64(c.n_values, "value count")?.into(),
                properties_json(&c.properties).into(),
            ],
        )
        .map_err(|e| spi_error(&e))?
        .ok_or_else(|| SensorError::internal_query("recording a channel", "no id returned"))?;
        targets.push(Some(Target {
            channel_id: id,
            path: c.path.clone(),
            waveform: c.waveform,
            n_values: c.n_values,
        }));
    }
    Ok(targets)
}

/// Reads every loaded channel's values in one pass over the file into the sample tables
/// (COPY's path where it applies); returns the sample count.
fn copy_samples<R: Read + Seek>(
    file: &mut TdmsFile<R>,
    plans: &[Option<bool>],
    targets: Vec<Option<Target>>,
    bytes: i64,
    origin: &Origin,
) -> SensorResult<u64> {
    let any = |timed: bool| {
        file.channels()
            .iter()
            .zip(plans)
            .any(|(c, p)| *p == Some(timed) && c.n_values > 0)
    };
    let open = |table, wanted: bool| -> SensorResult<Option<BulkInsert<3>>> {
        Ok(if wanted {
            Some(BulkInsert::open(table, Indexes::RowByRow)?)
        } else {
            None
        })
    };
    let timed = open(&TIMED_SAMPLES, any(true))?;
    let indexed = open(&INDEXED_SAMPLES, any(false))?;
    let total_values = targets.iter().flatten().map(|t| t.n_values).sum::<u64>();
    let progress = CopyProgress::start(
        TIMED_SAMPLES.relid()?,
        bytes,
        total_values,
        matches!(origin, Origin::File(_)),
    );
    let mut loader = Loader {
        targets,
        timed,
        indexed,
        next_index: vec![0; file.channels().len()],
        values: Vec::new(),
        done: 0,
        progress,
        origin,
        failure: None,
    };
    let read = file.read_all(ReadMode::Scaled, READ_BLOCK, &mut loader);
    if let Some(err) = loader.failure.take() {
        return Err(err);
    }
    read.map_err(|e| origin.error(e))?;
    for (i, target) in loader.targets.iter().enumerate() {
        let got = loader.next_index.get(i).copied().unwrap_or(0);
        if let Some(t) = target.as_ref().filter(|t| got != t.n_values) {
            return Err(SensorError::invalid_input(format!(
                "invalid {}: channel {} gave {got} values, its index says {}",
                origin.describe(),
                t.path,
                t.n_values
            )));
        }
    }
    let mut samples = 0u64;
    for sink in [loader.timed.take(), loader.indexed.take()]
        .into_iter()
        .flatten()
    {
        samples += sink.finish()?;
    }
    loader.progress.update(loader.done, samples);
    CopyProgress::end();
    Ok(samples)
}

struct Target {
    channel_id: i64,
    n_values: u64,
    path: String,
    waveform: Option<Waveform>,
}

/// Receives blocks from the reader and pushes rows into the sample tables.
struct Loader<'a> {
    targets: Vec<Option<Target>>,
    timed: Option<BulkInsert<3>>,
    indexed: Option<BulkInsert<3>>,
    next_index: Vec<u64>,
    values: Vec<f64>,
    done: u64,
    progress: CopyProgress,
    origin: &'a Origin,
    /// Our own error, which the reader's callback cannot carry.
    failure: Option<SensorError>,
}

impl ChannelVisitor for Loader<'_> {
    fn wants(&mut self, channel: usize, _info: &ChannelInfo) -> bool {
        self.targets.get(channel).is_some_and(Option::is_some)
    }

    fn values(&mut self, channel: usize, block: ValuesBlock<'_>) -> Result<(), TdmsError> {
        match self.take(channel, block) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.failure = Some(err);
                Err(TdmsError::InvalidArgument("load stopped".into()))
            }
        }
    }
}

impl Loader<'_> {
    fn take(&mut self, channel: usize, block: ValuesBlock<'_>) -> SensorResult<()> {
        pgrx::check_for_interrupts!();
        let Some(Some(target)) = self.targets.get(channel) else {
            return Ok(());
        };
        block
            .to_f64(&mut self.values)
            .map_err(|e| self.origin.error(e))?;
        let first = self.next_index.get(channel).copied().unwrap_or(0);
        let missing_sink = || SensorError::new(ErrorKind::Io, "sample table not open");
        match &target.waveform {
            Some(w) => {
                let sink = self.timed.as_mut().ok_or_else(missing_sink)?;
                for (k, &v) in self.values.iter().enumerate() {
                    let i = first + k as u64;
                    let t = w.time_us(i).and_then(time::pg_from_unix).ok_or_else(|| {
                        SensorError::new(
                            ErrorKind::DatetimeOutOfRange,
                            format!(
                                "time of sample {i} of channel {} is out of range for timestamptz",
                                target.path
                            ),
                        )
                    })?;
                    sink.push(sample_row(target.channel_id, t, v))?;
                }
            }
            None => {
                let sink = self.indexed.as_mut().ok_or_else(missing_sink)?;
                for (k, &v) in self.values.iter().enumerate() {
                    let index = to_i64(first + k as u64, "sample index")?;
                    sink.push(sample_row(target.channel_id, index, v))?;
                }
            }
        }
        let n = self.values.len() as u64;
        if let Some(next) = self.next_index.get_mut(channel) {
            *next += n;
        }
        self.done += n;
        let rows = self.timed.as_ref().map_or(0, BulkInsert::rows)
            + self.indexed.as_ref().map_or(0, BulkInsert::rows);
        self.progress.update(self.done, rows);
        Ok(())
    }
}

/// Progress in `pg_stat_progress_copy`, as a COPY FROM would report it. Bytes processed
/// are estimated from the share of values read.
struct CopyProgress {
    bytes_total: i64,
    values_total: u64,
}

impl CopyProgress {
    fn start(relid: pg_sys::Oid, bytes_total: i64, values_total: u64, from_file: bool) -> Self {
        let kind = if from_file {
            pg_sys::PROGRESS_COPY_TYPE_FILE
        } else {
            pg_sys::PROGRESS_COPY_TYPE_PIPE
        };
        let index = [
            pg_sys::PROGRESS_COPY_COMMAND as i32,
            pg_sys::PROGRESS_COPY_TYPE as i32,
            pg_sys::PROGRESS_COPY_BYTES_TOTAL as i32,
        ];
        let value = [
            i64::from(pg_sys::PROGRESS_COPY_COMMAND_FROM),
            i64::from(kind),
            bytes_total,
        ];
        // SAFETY: plain writes to this backend's own status entry; the arrays outlive the call.
        unsafe {
            pg_sys::pgstat_progress_start_command(
                pg_sys::ProgressCommandType::PROGRESS_COMMAND_COPY,
                relid,
            );
            pg_sys::pgstat_progress_update_multi_param(3, index.as_ptr(), value.as_ptr());
        }
        CopyProgress {
            bytes_total,
            values_total,
        }
    }

    fn update(&self, values_done: u64, tuples: u64) {
        let share = if self.values_total == 0 {
            1.0
        } else {
            values_done as f64 / self.values_total as f64
        };
        let index = [
            pg_sys::PROGRESS_COPY_BYTES_PROCESSED as i32,
            pg_sys::PROGRESS_COPY_TUPLES_PROCESSED as i32,
        ];
        let value = [
            (self.bytes_total as f64 * share.min(1.0)) as i64,
            i64::try_from(tuples).unwrap_or(i64::MAX),
        ];
        // SAFETY: as in start.
        unsafe { pg_sys::pgstat_progress_update_multi_param(2, index.as_ptr(), value.as_ptr()) };
    }

    /// Ends the report (an error ends it too: transaction abort does).
    fn end() {
        // SAFETY: ends this backend's own progress report.
        unsafe { pg_sys::pgstat_progress_end_command() };
    }
}
