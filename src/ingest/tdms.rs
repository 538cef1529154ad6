//! NI LabVIEW TDMS files in SQL, over the `tdms` crate: `sensor.tdms_channels`,
//! `sensor.tdms_properties`, `sensor.tdms_read` (streaming), `sensor.load_tdms` and
//! `sensor.load_tdms_bytes` (into the tables of sql/storage.sql); `sensor.delete_dataset`
//! is SQL (sql/tdms.sql).
//!
//! Values are read with the channel's NI scaling applied. In `tdms_read`, `value` is the
//! float8 value (numbers; booleans as 0/1; timestamps as seconds since the Unix epoch) and
//! `value_text` the text of values that float8 cannot hold: strings, complex numbers
//! `(re,im)`, and timestamps exactly (ISO 8601, UTC, microseconds). Times are
//! `wf_start_time + wf_start_offset + i × wf_increment`, rounded to the microsecond.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tdms::{
    ChannelInfo, ChannelVisitor, DataType, PropertyValue, ReadMode, Scale, ScaleInput, Scaling,
    TdmsError, TdmsFile, ValuesBlock, Waveform,
};

use pgrx::pg_sys::panic::ErrorReport;

use crate::error::{ErrorKind, RaiseError, SensorError, SensorResult};
use crate::ingest::bulk_insert::{pg_timestamptz, spi_error, SampleSink, SampleTable};
use crate::privileges::{require_server_file_access, ServerFileAccess};

/// Values per block read from the file (the reader also caps a block at 8 MiB of data).
const READ_BLOCK: usize = 65_536;

/// Where TDMS bytes come from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    File(PathBuf),
    Upload,
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::File(path) => format!("TDMS file \"{}\"", path.display()),
            Origin::Upload => "uploaded TDMS content".to_string(),
        }
    }

    /// The reader's error with its SQLSTATE (src/error.rs) and a message naming the file.
    fn error(&self, err: TdmsError) -> SensorError {
        let message = match &err {
            TdmsError::Io(io) => {
                return match self {
                    Origin::File(path) => SensorError::file_access(io, "read", path),
                    Origin::Upload => SensorError::from(err),
                }
            }
            TdmsError::Malformed { offset, message } => {
                format!("invalid {} at byte {offset}: {message}", self.describe())
            }
            TdmsError::Unsupported(what) => {
                format!("{} uses an unsupported feature: {what}", self.describe())
            }
            TdmsError::InvalidArgument(what) => format!("{}: {what}", self.describe()),
        };
        SensorError {
            message,
            ..SensorError::from(err)
        }
    }

    /// Reader warnings (a truncated or unclosed last segment, …) as WARNING messages.
    fn warn<R: Read + Seek>(&self, file: &TdmsFile<R>) -> Vec<String> {
        let warnings: Vec<String> = file.warnings().iter().map(ToString::to_string).collect();
        for w in &warnings {
            pgrx::warning!("{}: {w}", self.describe());
        }
        warnings
    }
}

fn required<T>(value: Option<T>, argument: &str) -> SensorResult<T> {
    value.ok_or_else(|| SensorError::invalid_parameter(format!("{argument} must not be NULL")))
}

/// A server file opened for reading, after the privilege check, with its length.
fn open_server_file(path: &str) -> SensorResult<(File, u64)> {
    let p = Path::new(path);
    require_server_file_access(ServerFileAccess::Read, p)?;
    let file = File::open(p).map_err(|e| SensorError::file_access(&e, "open", p))?;
    let meta = file
        .metadata()
        .map_err(|e| SensorError::file_access(&e, "stat", p))?;
    if meta.is_dir() {
        // EISDIR: PostgreSQL's own "could not read file …: Is a directory".
        let eisdir = std::io::Error::from_raw_os_error(21);
        return Err(SensorError::file_access(&eisdir, "read", p));
    }
    Ok((file, meta.len()))
}

fn open_tdms(path: &str) -> SensorResult<(TdmsFile, Origin)> {
    let (file, len) = open_server_file(path)?;
    let origin = Origin::File(PathBuf::from(path));
    let tdms = TdmsFile::from_reader(file, len).map_err(|e| origin.error(e))?;
    origin.warn(&tdms);
    Ok((tdms, origin))
}

fn to_i64(n: u64, what: &str) -> SensorResult<i64> {
    i64::try_from(n).map_err(|_| {
        SensorError::new(
            ErrorKind::NumericOutOfRange,
            format!("{what} {n} is out of range for bigint"),
        )
    })
}

/// The time of sample `i` of a waveform channel as a `timestamptz`.
fn sample_time(waveform: &Waveform, i: u64, channel: &ChannelInfo) -> SensorResult<i64> {
    waveform
        .time_us(i)
        .and_then(pg_timestamptz)
        .ok_or_else(|| {
            SensorError::new(
                ErrorKind::DatetimeOutOfRange,
                format!(
                    "time of sample {i} of channel {} is out of range for timestamptz",
                    channel.path
                ),
            )
        })
}

fn timestamptz(pg_us: i64) -> SensorResult<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(pg_us).map_err(|_| {
        SensorError::new(
            ErrorKind::DatetimeOutOfRange,
            "timestamp out of range for timestamptz",
        )
    })
}

/// What `tdms_read` gives for a channel's values.
fn value_type(data_type: Option<DataType>) -> Option<&'static str> {
    match data_type? {
        DataType::Void | DataType::ExtendedFloat | DataType::ExtendedFloatWithUnit => None,
        DataType::String | DataType::ComplexSingleFloat | DataType::ComplexDoubleFloat => {
            Some("text")
        }
        DataType::TimeStamp => Some("timestamp"),
        _ => Some("float8"),
    }
}

fn properties_json(properties: &[(String, PropertyValue)]) -> JsonB {
    JsonB(tdms::properties_to_json(properties))
}

fn number(x: f64) -> Value {
    PropertyValue::F64(x).to_json()
}

fn scale_input(input: &ScaleInput) -> Value {
    match input {
        ScaleInput::Raw => json!("raw"),
        ScaleInput::Scale(n) => json!(n),
    }
}

fn scale_json(scale: &Scale) -> Value {
    match scale {
        Scale::Linear {
            slope,
            intercept,
            input,
        } => json!({"type": "Linear", "slope": number(*slope), "intercept": number(*intercept), "input": scale_input(input)}),
        Scale::Polynomial {
            coefficients,
            input,
        } => json!({"type": "Polynomial",
                    "coefficients": coefficients.iter().map(|c| number(*c)).collect::<Vec<_>>(),
                    "input": scale_input(input)}),
        Scale::NoOp { input } => json!({"type": "AdvancedAPI", "input": scale_input(input)}),
        Scale::DaqmxScaler { scale_id } => json!({"type": "DAQmxScaler", "scale_id": scale_id}),
        Scale::Add { left, right } => {
            json!({"type": "Add", "left": scale_input(left), "right": scale_input(right)})
        }
        Scale::Subtract { left, right } => {
            json!({"type": "Subtract", "left": scale_input(left), "right": scale_input(right)})
        }
    }
}

/// The channel's NI scaling as jsonb: `{"scales": [...]}` (index = `NI_Scale[n]`), or
/// `{"unsupported": type, "scale_index": n}`, `{"invalid": why}`; NULL when unscaled.
fn scaling_json(scaling: &Scaling) -> Option<JsonB> {
    let value = match scaling {
        Scaling::None => return None,
        Scaling::Chain(chain) => {
            json!({"scales": chain.scales.iter().map(scale_json).collect::<Vec<_>>()})
        }
        Scaling::Unsupported {
            scale_type,
            scale_index,
        } => json!({"unsupported": scale_type, "scale_index": scale_index}),
        Scaling::Invalid(why) => json!({"invalid": why}),
    };
    Some(JsonB(value))
}

/// One row per channel of a TDMS file on the server: names, type, value count, unit,
/// waveform time, properties and scaling.
#[pg_extern(volatile, parallel_safe)]
#[allow(clippy::type_complexity)]
fn tdms_channels(
    path: &str,
) -> Result<
    TableIterator<
        'static,
        (
            name!(group_name, String),
            name!(channel_name, String),
            name!(path, String),
            name!(data_type, Option<String>),
            name!(n_values, i64),
            name!(unit, Option<String>),
            name!(has_time, bool),
            name!(start_time, Option<TimestampWithTimeZone>),
            name!(increment_s, Option<f64>),
            name!(properties, JsonB),
            name!(is_daqmx, bool),
            name!(scaling, Option<JsonB>),
            name!(value_type, Option<&'static str>),
        ),
    >,
    ErrorReport,
> {
    let (file, _) = open_tdms(path)?;
    let rows = file
        .channels()
        .iter()
        .map(|c| {
            let start = match &c.waveform {
                Some(w) => Some(timestamptz(sample_time(w, 0, c)?)?),
                None => None,
            };
            Ok((
                c.group.clone(),
                c.name.clone(),
                c.path.clone(),
                c.data_type.map(|t| t.labview_name().to_string()),
                to_i64(c.n_values, "value count")?,
                c.unit.clone(),
                c.has_time(),
                start,
                c.waveform.map(|w| w.increment_s),
                properties_json(&c.properties),
                c.is_daqmx,
                scaling_json(&c.scaling),
                value_type(c.data_type),
            ))
        })
        .collect::<SensorResult<Vec<_>>>()?;
    Ok(TableIterator::new(rows))
}

/// File, group and channel properties of a TDMS file on the server, with their TDMS types.
#[pg_extern(volatile, parallel_safe)]
#[allow(clippy::type_complexity)]
fn tdms_properties(
    path: &str,
) -> Result<
    TableIterator<
        'static,
        (
            name!(level, &'static str),
            name!(group_name, Option<String>),
            name!(channel_name, Option<String>),
            name!(name, String),
            name!(value, JsonB),
            name!(data_type, &'static str),
        ),
    >,
    ErrorReport,
> {
    let (file, _) = open_tdms(path)?;
    let row = |level, group: Option<&str>, channel: Option<&str>, (k, v): &(String, PropertyValue)| {
        (
            level,
            group.map(str::to_string),
            channel.map(str::to_string),
            k.clone(),
            JsonB(v.to_json()),
            v.data_type().labview_name(),
        )
    };
    let mut rows: Vec<_> = file
        .properties()
        .iter()
        .map(|p| row("file", None, None, p))
        .collect();
    for group in file.groups() {
        rows.extend(
            group
                .properties
                .iter()
                .map(|p| row("group", Some(&group.name), None, p)),
        );
        for &ci in &group.channels {
            if let Some(c) = file.channels().get(ci) {
                rows.extend(
                    c.properties
                        .iter()
                        .map(|p| row("channel", Some(&c.group), Some(&c.name), p)),
                );
            }
        }
    }
    Ok(TableIterator::new(rows))
}

/// Streams the samples of a TDMS file on the server: every channel, or those of one group
/// and/or one name, samples `offset .. offset + limit` of each. Reads block by block as
/// rows are consumed; memory does not depend on the file.
#[pg_extern(volatile, parallel_safe)]
#[allow(clippy::type_complexity)]
fn tdms_read(
    path: &str,
    group_name: default!(Option<&str>, "NULL"),
    channel_name: default!(Option<&str>, "NULL"),
    offset: default!(Option<i64>, 0),
    limit: default!(Option<i64>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(group_name, String),
            name!(channel_name, String),
            name!(sample_index, i64),
            name!(time, Option<TimestampWithTimeZone>),
            name!(value, Option<f64>),
            name!(value_text, Option<String>),
        ),
    >,
    ErrorReport,
> {
    let offset = offset.unwrap_or(0);
    let offset = u64::try_from(offset)
        .map_err(|_| SensorError::invalid_parameter("offset must not be negative"))?;
    let limit = limit
        .map(|l| {
            u64::try_from(l).map_err(|_| SensorError::invalid_parameter("limit must not be negative"))
        })
        .transpose()?;
    let (file, origin) = open_tdms(path)?;
    let selected = select_channels(&file, &origin, group_name, channel_name)?;
    let stream = SampleStream {
        file,
        origin,
        channels: selected.into_iter(),
        offset,
        limit,
        current: None,
    };
    Ok(TableIterator::new(stream))
}

/// Channel indexes matching the filters; a filter that matches nothing is an error.
fn select_channels<R: Read + Seek>(
    file: &TdmsFile<R>,
    origin: &Origin,
    group: Option<&str>,
    channel: Option<&str>,
) -> SensorResult<Vec<usize>> {
    if let Some(g) = group {
        if !file.groups().iter().any(|x| x.name == g) {
            return Err(SensorError::new(
                ErrorKind::UndefinedObject,
                format!("group \"{g}\" not found in {}", origin.describe()),
            )
            .with_hint("sensor.tdms_channels(path) lists the groups and channels."));
        }
    }
    let selected: Vec<usize> = file
        .channels()
        .iter()
        .enumerate()
        .filter(|(_, c)| group.is_none_or(|g| c.group == g) && channel.is_none_or(|n| c.name == n))
        .map(|(i, _)| i)
        .collect();
    if let (Some(n), true) = (channel, selected.is_empty()) {
        let within = group.map_or(String::new(), |g| format!(" of group \"{g}\""));
        return Err(SensorError::new(
            ErrorKind::UndefinedObject,
            format!("channel \"{n}\"{within} not found in {}", origin.describe()),
        )
        .with_hint("sensor.tdms_channels(path) lists the groups and channels."));
    }
    Ok(selected)
}

/// Row iterator of `tdms_read`: one channel at a time, one block at a time.
struct SampleStream {
    file: TdmsFile,
    origin: Origin,
    channels: std::vec::IntoIter<usize>,
    offset: u64,
    limit: Option<u64>,
    current: Option<ChannelCursor>,
}

struct ChannelCursor {
    channel: usize,
    group: String,
    name: String,
    waveform: Option<Waveform>,
    /// Next sample to read from the file, and the end of the requested range.
    next: u64,
    end: u64,
    /// The block in hand: samples `block_start ..` as numbers and/or texts.
    block_start: u64,
    numbers: Vec<f64>,
    texts: Vec<String>,
    len: usize,
    at: usize,
}

type SampleRow = (
    String,
    String,
    i64,
    Option<TimestampWithTimeZone>,
    Option<f64>,
    Option<String>,
);

impl Iterator for SampleStream {
    type Item = SampleRow;

    fn next(&mut self) -> Option<SampleRow> {
        self.next_row().or_raise()
    }
}

impl SampleStream {
    fn next_row(&mut self) -> SensorResult<Option<SampleRow>> {
        loop {
            pgrx::check_for_interrupts!();
            if let Some(cur) = &mut self.current {
                if cur.at < cur.len {
                    let k = cur.at;
                    cur.at += 1;
                    let index = cur.block_start + k as u64;
                    let time = match &cur.waveform {
                        Some(w) => {
                            let info = self.file.channels().get(cur.channel);
                            let t = w.time_us(index).and_then(pg_timestamptz).ok_or_else(|| {
                                SensorError::new(
                                    ErrorKind::DatetimeOutOfRange,
                                    format!(
                                        "time of sample {index} of channel {} is out of range for timestamptz",
                                        info.map_or("?", |c| c.path.as_str())
                                    ),
                                )
                            })?;
                            Some(timestamptz(t)?)
                        }
                        None => None,
                    };
                    return Ok(Some((
                        cur.group.clone(),
                        cur.name.clone(),
                        to_i64(index, "sample index")?,
                        time,
                        cur.numbers.get(k).copied(),
                        cur.texts.get(k).cloned(),
                    )));
                }
                if cur.next < cur.end {
                    self.fill()?;
                    continue;
                }
                self.current = None;
            }
            let Some(channel) = self.channels.next() else {
                return Ok(None);
            };
            let Some(info) = self.file.channels().get(channel) else {
                continue;
            };
            let n = info.n_values;
            let next = self.offset.min(n);
            let end = self.limit.map_or(n, |l| next.saturating_add(l).min(n));
            self.current = Some(ChannelCursor {
                channel,
                group: info.group.clone(),
                name: info.name.clone(),
                waveform: info.waveform,
                next,
                end,
                block_start: next,
                numbers: Vec::new(),
                texts: Vec::new(),
                len: 0,
                at: 0,
            });
        }
    }

    /// Reads the next block of the current channel.
    fn fill(&mut self) -> SensorResult<()> {
        let Some(cur) = &mut self.current else {
            return Ok(());
        };
        let origin = &self.origin;
        let want = (cur.end - cur.next).min(READ_BLOCK as u64);
        let mut reader = self
            .file
            .read_channel(cur.channel, cur.next, Some(want), READ_BLOCK)
            .map_err(|e| origin.error(e))?;
        let block = reader.next_block().map_err(|e| origin.error(e))?;
        let Some(block) = block.filter(|b| !b.is_empty()) else {
            return Err(SensorError::invalid_input(format!(
                "invalid {}: channel {}/{} has fewer values than its index says",
                origin.describe(),
                cur.group,
                cur.name
            )));
        };
        cur.numbers.clear();
        cur.texts.clear();
        match block {
            ValuesBlock::String(v) => cur.texts.extend_from_slice(v),
            ValuesBlock::ComplexF32(v) => cur
                .texts
                .extend(v.iter().map(|c| complex_text(f64::from(c.re), f64::from(c.im)))),
            ValuesBlock::ComplexF64(v) => {
                cur.texts.extend(v.iter().map(|c| complex_text(c.re, c.im)))
            }
            ValuesBlock::Timestamp(v) => {
                cur.numbers.extend(v.iter().map(|t| t.unix_seconds_f64()));
                cur.texts.extend(v.iter().map(|t| t.to_iso8601()));
            }
            other => other.to_f64(&mut cur.numbers).map_err(|e| origin.error(e))?,
        }
        cur.len = block.len();
        cur.block_start = cur.next;
        cur.next += cur.len as u64;
        cur.at = 0;
        Ok(())
    }
}

/// A complex value as `(re,im)`, each part in the shortest text that reads back exactly.
fn complex_text(re: f64, im: f64) -> String {
    format!("({},{})", float_text(re), float_text(im))
}

fn float_text(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if x == 0.0 || (1e-4..1e15).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

// ---------------------------------------------------------------------------------------
// Loading

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

/// Loads a TDMS file on the server into sensor.datasets, sensor.channels, sensor.samples
/// (channels with waveform time) and sensor.indexed_samples (the others). An identical
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
    let report = load(file, source, replace.unwrap_or(false), started)?;
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
    let report = load(
        Cursor::new(content),
        source,
        replace.unwrap_or(false),
        started,
    )?;
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
    // Loads of the same content take turns, so that two sessions cannot both load it.
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('sensor_analytics.load_tdms'), pg_catalog.hashtext($1))",
        &[source.sha256.as_str().into()],
    )
    .map_err(|e| spi_error(&e))?;
    let existing = Spi::get_one_with_args::<i64>(
        "SELECT pg_catalog.min(d.id) FROM sensor.datasets d WHERE d.sha256 = $1",
        &[source.sha256.as_str().into()],
    )
    .map_err(|e| spi_error(&e))?;
    if let Some(id) = existing {
        if !replace {
            pgrx::notice!(
                "{} is already loaded as dataset {id} (same sha256); nothing loaded",
                source.origin.describe()
            );
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
        Spi::run_with_args(
            "SELECT sensor.delete_dataset(d.id) FROM sensor.datasets d WHERE d.sha256 = $1",
            &[source.sha256.as_str().into()],
        )
        .map_err(|e| spi_error(&e))?;
    }

    let origin = &source.origin;
    let mut file = TdmsFile::from_reader(reader, source.bytes).map_err(|e| origin.error(e))?;
    let warnings = origin.warn(&file);

    let mut skipped = Vec::new();
    let mut plans: Vec<Option<bool>> = Vec::with_capacity(file.channels().len());
    for c in file.channels() {
        match skip_reason(c) {
            Some(reason) => {
                skipped.push(json!({"group": c.group, "channel": c.name, "reason": reason}));
                plans.push(None);
            }
            None => plans.push(Some(c.has_time())),
        }
    }

    let mut group_properties = serde_json::Map::new();
    for g in file.groups() {
        group_properties.insert(g.name.clone(), tdms::properties_to_json(&g.properties));
    }
    let dataset_id = Spi::get_one_with_args::<i64>(
        "INSERT INTO sensor.datasets (name, source_file, sha256, bytes, properties, group_properties, warnings) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            source.name.as_str().into(),
            source.source_file.as_deref().into(),
            source.sha256.as_str().into(),
            bytes.into(),
            properties_json(file.properties()).into(),
            JsonB(Value::Object(group_properties)).into(),
            warnings.into(),
        ],
    )
    .map_err(|e| spi_error(&e))?
    .ok_or_else(|| SensorError::new(ErrorKind::Io, "INSERT INTO sensor.datasets returned no id"))?;

    // Channel rows; targets[i] is where channel i's samples go.
    let mut targets: Vec<Option<Target>> = Vec::with_capacity(plans.len());
    let mut total_values: u64 = 0;
    for (c, plan) in file.channels().iter().zip(&plans) {
        let Some(_) = plan else {
            targets.push(None);
            continue;
        };
        let start = match &c.waveform {
            Some(w) => Some(timestamptz(sample_time(w, 0, c)?)?),
            None => None,
        };
        let id = Spi::get_one_with_args::<i64>(
            "INSERT INTO sensor.channels (dataset_id, group_name, name, unit, data_type, has_time, start_time, increment_s, n_samples, properties) \
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
        .ok_or_else(|| SensorError::new(ErrorKind::Io, "INSERT INTO sensor.channels returned no id"))?;
        total_values = total_values.saturating_add(c.n_values);
        targets.push(Some(Target {
            channel_id: id,
            path: c.path.clone(),
            waveform: c.waveform,
        }));
    }
    let channels_loaded = i32::try_from(targets.iter().flatten().count()).unwrap_or(i32::MAX);

    let any = |timed: bool| {
        file.channels()
            .iter()
            .zip(&plans)
            .any(|(c, p)| *p == Some(timed) && c.n_values > 0)
    };
    let timed = if any(true) {
        Some(SampleSink::open(SampleTable::Timed)?)
    } else {
        None
    };
    let indexed = if any(false) {
        Some(SampleSink::open(SampleTable::Indexed)?)
    } else {
        None
    };
    let progress = CopyProgress::start(
        SampleTable::Timed.relid()?,
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
    for (i, c) in file.channels().iter().enumerate() {
        let got = loader.next_index.get(i).copied().unwrap_or(0);
        if loader.targets.get(i).is_some_and(Option::is_some) && got != c.n_values {
            return Err(SensorError::invalid_input(format!(
                "invalid {}: channel {} gave {got} values, its index says {}",
                origin.describe(),
                c.path,
                c.n_values
            )));
        }
    }
    let mut samples = 0u64;
    if let Some(sink) = loader.timed.take() {
        samples += sink.finish()?;
    }
    if let Some(sink) = loader.indexed.take() {
        samples += sink.finish()?;
    }
    loader.progress.update(loader.done, samples);
    CopyProgress::end();
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

struct Target {
    channel_id: i64,
    path: String,
    waveform: Option<Waveform>,
}

/// Receives blocks from the reader and pushes rows into the sample tables.
struct Loader<'a> {
    targets: Vec<Option<Target>>,
    timed: Option<SampleSink>,
    indexed: Option<SampleSink>,
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
                    let t = w.time_us(i).and_then(pg_timestamptz).ok_or_else(|| {
                        SensorError::new(
                            ErrorKind::DatetimeOutOfRange,
                            format!(
                                "time of sample {i} of channel {} is out of range for timestamptz",
                                target.path
                            ),
                        )
                    })?;
                    sink.push(target.channel_id, t, v)?;
                }
            }
            None => {
                let sink = self.indexed.as_mut().ok_or_else(missing_sink)?;
                for (k, &v) in self.values.iter().enumerate() {
                    sink.push(target.channel_id, to_i64(first + k as u64, "sample index")?, v)?;
                }
            }
        }
        let n = self.values.len() as u64;
        if let Some(next) = self.next_index.get_mut(channel) {
            *next += n;
        }
        self.done += n;
        let rows = self.timed.as_ref().map_or(0, SampleSink::rows)
            + self.indexed.as_ref().map_or(0, SampleSink::rows);
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
