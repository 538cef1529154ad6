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
use crate::pg::bulk_insert::{spi_error, BulkInsert, Column, Indexes, TargetTable};
use crate::pg::privileges::{require_server_file_access, ServerFileAccess};
use crate::pg::search_path;
use crate::pg::time::{self, timestamptz};

/// Values per block read from the file (the reader also caps a block at 8 MiB of data).
const READ_BLOCK: usize = 65_536;

/// Samples of channels with waveform time: `sensor_data.samples (channel_id, time, value)`.
const TIMED_SAMPLES: TargetTable<3> =
    sample_table("sensor_data.samples", "time", pg_sys::TIMESTAMPTZOID);
/// Samples of channels without time: `sensor_data.indexed_samples (channel_id, sample_index, value)`.
const INDEXED_SAMPLES: TargetTable<3> = sample_table(
    "sensor_data.indexed_samples",
    "sample_index",
    pg_sys::INT8OID,
);

const fn sample_table(
    table: &'static str,
    key: &'static str,
    key_type: pg_sys::Oid,
) -> TargetTable<3> {
    TargetTable {
        table,
        columns: [
            Column::new("channel_id", pg_sys::INT8OID),
            Column::new(key, key_type),
            Column::new("value", pg_sys::FLOAT8OID),
        ],
    }
}

/// A sample row; `key` is a `timestamptz` (PostgreSQL microseconds) or a sample index.
#[inline]
fn sample_row(channel_id: i64, key: i64, value: f64) -> [pg_sys::Datum; 3] {
    [channel_id.into(), key.into(), value.to_bits().into()]
}

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
        .and_then(time::pg_from_unix)
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
        } => {
            json!({"type": "Linear", "slope": number(*slope), "intercept": number(*intercept), "input": scale_input(input)})
        }
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
    let row =
        |level, group: Option<&str>, channel: Option<&str>, (k, v): &(String, PropertyValue)| {
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
    path: Option<&str>,
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
    // NULL path: no rows, as a STRICT function would give.
    let Some(path) = path else {
        return Ok(TableIterator::empty());
    };
    let offset = offset.unwrap_or(0);
    let offset = u64::try_from(offset)
        .map_err(|_| SensorError::invalid_parameter("offset must not be negative"))?;
    let limit = limit
        .map(|l| {
            u64::try_from(l)
                .map_err(|_| SensorError::invalid_parameter("limit must not be negative"))
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
                            let t = w.time_us(index).and_then(time::pg_from_unix).ok_or_else(|| {
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
            ValuesBlock::ComplexF32(v) => cur.texts.extend(
                v.iter()
                    .map(|c| complex_text(f64::from(c.re), f64::from(c.im))),
            ),
            ValuesBlock::ComplexF64(v) => {
                cur.texts.extend(v.iter().map(|c| complex_text(c.re, c.im)))
            }
            ValuesBlock::Timestamp(v) => {
                cur.numbers.extend(v.iter().map(|t| t.unix_seconds_f64()));
                cur.texts.extend(v.iter().map(|t| t.to_iso8601()));
            }
            other => other
                .to_f64(&mut cur.numbers)
                .map_err(|e| origin.error(e))?,
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
    // Loads of the same content take turns, so that two sessions cannot both load it.
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
            "SELECT sensor.delete_dataset(d.id) FROM sensor_data.datasets d WHERE d.sha256 = $1",
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
    // The unique index on sha256 makes a concurrent load of the same content wait here and
    // then find it: under READ COMMITTED the check above already saw it; under REPEATABLE
    // READ or SERIALIZABLE, whose snapshot cannot see it, ON CONFLICT raises 40001.
    let dataset_id = Spi::get_one_with_args::<i64>(
        "INSERT INTO sensor_data.datasets (name, source_file, sha256, bytes, properties, group_properties, warnings) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
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
    .ok_or_else(|| {
        SensorError::new(
            ErrorKind::SerializationFailure,
            format!(
                "{} was loaded by a concurrent transaction (same sha256)",
                origin.describe()
            ),
        )
        .with_hint("Retry the transaction.")
    })?;

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
        .ok_or_else(|| SensorError::new(ErrorKind::Io, "INSERT INTO sensor_data.channels returned no id"))?;
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
        Some(BulkInsert::open(&TIMED_SAMPLES, Indexes::RowByRow)?)
    } else {
        None
    };
    let indexed = if any(false) {
        Some(BulkInsert::open(&INDEXED_SAMPLES, Indexes::RowByRow)?)
    } else {
        None
    };
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

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use std::path::PathBuf;

    use crate::tests::{error_fields_of, sqlstate_of};
    use pgrx::prelude::*;

    use super::{sample_row, INDEXED_SAMPLES, TIMED_SAMPLES};
    use crate::pg::bulk_insert::{BulkInsert, Indexes};

    /// Tests that change the shared sample tables (triggers, constraints, columns) take
    /// them first, in one order, so concurrent tests wait instead of deadlocking.
    fn lock_shared_tables() {
        // The module's own lock first, as fixture() takes it, then the tables.
        Spi::run("SELECT pg_advisory_xact_lock(hashtext('sensor_analytics tdms tests'))").unwrap();
        Spi::run("LOCK TABLE sensor_data.datasets, sensor_data.channels, sensor_data.samples, sensor_data.indexed_samples IN ACCESS EXCLUSIVE MODE").unwrap();
    }

    /// The golden-test fixtures, written where this backend (the postgres OS user) reads them.
    /// Also serializes the tests of this module: they load into and alter the same tables,
    /// and tests run concurrently (in separate transactions, rolled back at the end).
    fn fixture(name: &str) -> String {
        Spi::run("SELECT pg_advisory_xact_lock(hashtext('sensor_analytics tdms tests'))").unwrap();
        let bytes: &[u8] = match name {
            "small" => include_bytes!("../../pgrx-tests/data/tdms/small.tdms"),
            "interleaved" => include_bytes!("../../pgrx-tests/data/tdms/interleaved.tdms"),
            "truncated" => include_bytes!("../../pgrx-tests/data/tdms/truncated.tdms"),
            "rtd_scale" => include_bytes!("../../pgrx-tests/data/tdms/rtd_scale.tdms"),
            "empty" => include_bytes!("../../pgrx-tests/data/tdms/empty.tdms"),
            "random" => include_bytes!("../../pgrx-tests/data/tdms/random.tdms"),
            "wrong_tag" => include_bytes!("../../pgrx-tests/data/tdms/wrong_tag.tdms"),
            "absurd_count" => include_bytes!("../../pgrx-tests/data/tdms/absurd_count.tdms"),
            "raw_offset_past_end" => {
                include_bytes!("../../pgrx-tests/data/tdms/raw_offset_past_end.tdms")
            }
            "time_overflow" => include_bytes!("../../pgrx-tests/data/tdms/time_overflow.tdms"),
            other => panic!("no fixture {other}"),
        };
        let dir = fixture_dir();
        let path = dir.join(format!("{name}.tdms"));
        std::fs::write(&path, bytes).expect("write fixture");
        path.to_string_lossy().into_owned()
    }

    fn fixture_dir() -> PathBuf {
        let dir = std::env::temp_dir()
            .join("sensor_tdms_pgtest")
            .join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).expect("fixture dir");
        dir
    }

    fn count(sql: &str) -> i64 {
        Spi::get_one::<i64>(sql).unwrap().unwrap()
    }

    fn text(sql: &str) -> Option<String> {
        Spi::get_one::<String>(sql).unwrap()
    }

    #[pg_test]
    fn channels_list_types_units_time_and_later_properties() {
        let small = fixture("small");
        let got = text(&format!(
            "SELECT string_agg(concat_ws('|', group_name, channel_name, data_type, n_values, unit, has_time, start_time, increment_s, value_type), ';' ORDER BY ord)
             FROM sensor.tdms_channels('{small}') WITH ORDINALITY AS t(group_name, channel_name, path, data_type, n_values, unit, has_time, start_time, increment_s, properties, is_daqmx, scaling, value_type, ord)"
        ));
        assert_eq!(
            got.as_deref(),
            Some(
                "rig|temp|tdsTypeDoubleFloat|6|°C|t|2024-01-01 00:00:00+00|0.5|float8;\
                 rig|count|tdsTypeI32|4|1|f|float8;\
                 rig|label|tdsTypeString|3|f|text;\
                 rig|ok|tdsTypeBoolean|4|f|float8;\
                 aux|it's|tdsTypeI16|4|t|2024-01-01 01:00:10+00|0.001|float8"
            )
        );
        // The later segment's NI_UnitDescription wins; properties keep their types.
        assert_eq!(
            text(&format!("SELECT properties::text FROM sensor.tdms_channels('{small}') WHERE channel_name = 'temp'")).as_deref(),
            Some(r#"{"wf_samples": 3, "wf_increment": 0.5, "wf_start_time": "2024-01-01T00:00:00.000000Z", "NI_UnitDescription": "°C"}"#)
        );
        assert_eq!(
            text(&format!("SELECT string_agg(level || ':' || coalesce(group_name, '') || ':' || name || '=' || value::text || ':' || data_type, ' ') FROM sensor.tdms_properties('{small}') WHERE level <> 'channel'")).as_deref(),
            Some(r#"file::title="rig test":tdsTypeString file::created="2024-01-01T00:00:00.250000Z":tdsTypeTimeStamp file::operator="A. N. Other":tdsTypeString group:rig:location="bench 3":tdsTypeString group:rig:gain=2.5:tdsTypeDoubleFloat"#)
        );
    }

    #[pg_test]
    fn read_streams_values_times_and_text() {
        let small = fixture("small");
        assert_eq!(
            count(&format!("SELECT count(*) FROM sensor.tdms_read('{small}')")),
            21
        );
        assert_eq!(
            text(&format!("SELECT string_agg(concat_ws('|', sample_index, time, value), ';' ORDER BY sample_index) FROM sensor.tdms_read('{small}', channel_name => 'temp')")).as_deref(),
            Some("0|2024-01-01 00:00:00+00|20.5;1|2024-01-01 00:00:00.5+00|21;2|2024-01-01 00:00:01+00|21.5;3|2024-01-01 00:00:01.5+00|22;4|2024-01-01 00:00:02+00|22.5;5|2024-01-01 00:00:02.5+00|NaN")
        );
        // wf_start_offset (10 s) is part of the time; offset and limit pick sample indexes.
        assert_eq!(
            text(&format!("SELECT string_agg(concat_ws('|', sample_index, time, value), ';') FROM sensor.tdms_read('{small}', 'aux', \"offset\" => 1, \"limit\" => 2)")).as_deref(),
            Some("1|2024-01-01 01:00:10.001+00|1;2|2024-01-01 01:00:10.002+00|32767")
        );
        assert_eq!(
            text(&format!("SELECT string_agg(coalesce(value::text, 'NULL') || '|' || value_text, ';' ORDER BY sample_index) FROM sensor.tdms_read('{small}', 'rig', 'label')")).as_deref(),
            Some("NULL|start;NULL|héllo;NULL|it's")
        );
        // Booleans are 0/1 (the file stores 2 for the last true), without time.
        assert_eq!(
            text(&format!("SELECT string_agg(value::text || coalesce(time::text, '-'), ',' ORDER BY sample_index) FROM sensor.tdms_read('{small}', channel_name => 'ok')")).as_deref(),
            Some("1-,0-,0-,1-")
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM sensor.tdms_read('{small}', \"offset\" => 1000)"
            )),
            0
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM sensor.tdms_read('{small}', \"limit\" => 0)"
            )),
            0
        );
        // NULLs: no path, no rows; NULL offset and limit are the defaults.
        assert_eq!(count("SELECT count(*) FROM sensor.tdms_read(NULL)"), 0);
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM sensor.tdms_read('{small}', NULL, NULL, NULL, NULL)"
            )),
            21
        );
        let interleaved = fixture("interleaved");
        assert_eq!(
            text(&format!("SELECT string_agg(channel_name || value, ',' ORDER BY channel_name, sample_index) FROM sensor.tdms_read('{interleaved}')")).as_deref(),
            Some("a0,a1,a10,a11,a20,a21,b0,b0.25,b1,b1.25,b2,b2.25")
        );
    }

    #[pg_test]
    fn read_streams_lazily_under_limit() {
        // A LIMIT on the query stops the stream after the rows it needs.
        let small = fixture("small");
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM (SELECT * FROM sensor.tdms_read('{small}') LIMIT 3) s"
            )),
            3
        );
    }

    #[pg_test]
    fn read_rejects_bad_filters_and_arguments() {
        let small = fixture("small");
        assert_eq!(
            error_fields_of(&format!("SELECT * FROM sensor.tdms_read('{small}', 'nope')")),
            format!("42704|group \"nope\" not found in TDMS file \"{small}\"||sensor.tdms_channels(path) lists the groups and channels.")
        );
        assert_eq!(
            sqlstate_of(&format!(
                "SELECT * FROM sensor.tdms_read('{small}', 'aux', 'temp')"
            ))
            .as_deref(),
            Some("42704")
        );
        assert_eq!(
            sqlstate_of(&format!(
                "SELECT * FROM sensor.tdms_read('{small}', \"offset\" => -1)"
            ))
            .as_deref(),
            Some("22023")
        );
        assert_eq!(
            sqlstate_of(&format!(
                "SELECT * FROM sensor.tdms_read('{small}', \"limit\" => -1)"
            ))
            .as_deref(),
            Some("22023")
        );
    }

    #[pg_test]
    fn bad_files_have_deliberate_sqlstates() {
        for (name, state) in [
            ("random", "22P02"),
            ("empty", "22P02"),
            ("wrong_tag", "22P02"),
            ("absurd_count", "22P02"),
            ("raw_offset_past_end", "22P02"),
        ] {
            let path = fixture(name);
            for f in ["tdms_channels", "tdms_properties", "tdms_read", "load_tdms"] {
                assert_eq!(
                    sqlstate_of(&format!("SELECT * FROM sensor.{f}('{path}')")).as_deref(),
                    Some(state),
                    "{f} {name}"
                );
            }
        }
        let rtd = fixture("rtd_scale");
        let err = error_fields_of(&format!("SELECT * FROM sensor.tdms_read('{rtd}')"));
        assert_eq!(err, format!("0A000|TDMS file \"{rtd}\" uses an unsupported feature: scale type 'RTD' (NI_Scale[1]) of channel /'g'/'rtd'||"));
        assert_eq!(
            sqlstate_of(&format!("SELECT * FROM sensor.load_tdms('{rtd}')")).as_deref(),
            Some("0A000")
        );
        // tdms_channels still describes the channel and its scaling.
        assert_eq!(
            text(&format!(
                "SELECT scaling::text FROM sensor.tdms_channels('{rtd}')"
            ))
            .as_deref(),
            Some(r#"{"scale_index": 1, "unsupported": "RTD"}"#)
        );
        let missing = fixture_dir().join("missing.tdms");
        let missing = missing.display();
        assert_eq!(
            error_fields_of(&format!("SELECT * FROM sensor.tdms_channels('{missing}')")),
            format!("58P01|could not open file \"{missing}\": No such file or directory||")
        );
        assert_eq!(
            sqlstate_of(&format!("SELECT * FROM sensor.load_tdms('{missing}')")).as_deref(),
            Some("58P01")
        );
        let dir = fixture_dir();
        assert_eq!(
            sqlstate_of(&format!(
                "SELECT * FROM sensor.tdms_read('{}')",
                dir.display()
            ))
            .as_deref(),
            Some("42809")
        );
    }

    #[pg_test]
    fn load_stores_catalog_and_samples_and_reports() {
        let small = fixture("small");
        let (loaded, skipped, samples) = Spi::get_three::<i32, pgrx::JsonB, i64>(&format!(
            "SELECT channels_loaded, channels_skipped, samples FROM sensor.load_tdms('{small}', name => 'rig run')"
        ))
        .unwrap();
        assert_eq!(loaded, Some(4));
        assert_eq!(samples, Some(18));
        assert_eq!(
            skipped.unwrap().0,
            serde_json::json!([{"group": "rig", "channel": "label", "reason": "string values: read them as text with sensor.tdms_read (value_text)"}])
        );
        assert_eq!(
            text("SELECT concat_ws('|', name, bytes, properties->>'title', group_properties->'rig'->>'location', cardinality(warnings)) FROM sensor_data.datasets").as_deref(),
            Some("rig run|970|rig test|bench 3|0")
        );
        assert_eq!(
            text("SELECT string_agg(concat_ws('|', group_name, name, unit, data_type, has_time, start_time, increment_s, n_samples), ';' ORDER BY id) FROM sensor_data.channels").as_deref(),
            Some("rig|temp|°C|tdsTypeDoubleFloat|t|2024-01-01 00:00:00+00|0.5|6;rig|count|1|tdsTypeI32|f|4;rig|ok|tdsTypeBoolean|f|4;aux|it's|tdsTypeI16|t|2024-01-01 01:00:10+00|0.001|4")
        );
        // The stored samples are exactly what tdms_read gives.
        let diff = count(&format!(
            "SELECT count(*) FROM (
               (SELECT c.group_name, c.name, s.time, NULL::bigint AS i, s.value FROM sensor_data.samples s JOIN sensor_data.channels c ON c.id = s.channel_id
                UNION ALL
                SELECT c.group_name, c.name, NULL, s.sample_index, s.value FROM sensor_data.indexed_samples s JOIN sensor_data.channels c ON c.id = s.channel_id)
               EXCEPT ALL
               SELECT group_name, channel_name, time, CASE WHEN time IS NULL THEN sample_index END, value FROM sensor.tdms_read('{small}') WHERE value IS NOT NULL
             ) d"
        ));
        assert_eq!(diff, 0);
        assert_eq!(count("SELECT count(*) FROM sensor_data.samples"), 10);
        assert_eq!(count("SELECT count(*) FROM sensor_data.indexed_samples"), 8);
    }

    #[pg_test]
    fn identical_file_is_not_loaded_twice_unless_replaced() {
        let small = fixture("small");
        let first = count(&format!(
            "SELECT dataset_id FROM sensor.load_tdms('{small}')"
        ));
        let (id, already, samples) = Spi::get_three::<i64, bool, i64>(&format!(
            "SELECT dataset_id, already_loaded, samples FROM sensor.load_tdms_bytes(pg_read_binary_file('{small}'), 'upload')"
        ))
        .unwrap();
        assert_eq!((id, already, samples), (Some(first), Some(true), Some(0)));
        assert_eq!(count("SELECT count(*) FROM sensor_data.datasets"), 1);
        let (id, already) = Spi::get_two::<i64, bool>(&format!(
            "SELECT dataset_id, already_loaded FROM sensor.load_tdms('{small}', replace => true)"
        ))
        .unwrap();
        assert_ne!(id, Some(first));
        assert_eq!(already, Some(false));
        assert_eq!(count("SELECT count(*) FROM sensor_data.datasets"), 1);
        assert_eq!(
            count("SELECT count(*) FROM sensor_data.samples")
                + count("SELECT count(*) FROM sensor_data.indexed_samples"),
            18
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM sensor_data.channels WHERE dataset_id = {first}"
            )),
            0
        );
    }

    #[pg_test]
    fn delete_dataset_removes_samples_and_knows_unknown_ids() {
        let small = fixture("small");
        let id = count(&format!(
            "SELECT dataset_id FROM sensor.load_tdms('{small}')"
        ));
        assert_eq!(count(&format!("SELECT sensor.delete_dataset({id})")), 18);
        assert_eq!(
            count("SELECT count(*) FROM sensor_data.samples")
                + count("SELECT count(*) FROM sensor_data.indexed_samples")
                + count("SELECT count(*) FROM sensor_data.channels")
                + count("SELECT count(*) FROM sensor_data.datasets"),
            0
        );
        assert_eq!(
            error_fields_of(&format!("SELECT sensor.delete_dataset({id})")),
            format!(
                "42704|dataset {id} does not exist||sensor_data.datasets lists the loaded datasets."
            )
        );
    }

    #[pg_test]
    fn failed_load_leaves_nothing_behind() {
        lock_shared_tables();
        // Fails at sample 1 of the second channel: after the catalog rows and the first
        // channel's samples were written.
        let overflow = fixture("time_overflow");
        assert_eq!(
            error_fields_of(&format!("SELECT * FROM sensor.load_tdms('{overflow}')")),
            "22008|time of sample 1 of channel /'g'/'far' is out of range for timestamptz||"
        );
        // And one that fails on the SPI path (a trigger forces it).
        Spi::run("CREATE FUNCTION pg_temp.keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$").unwrap();
        Spi::run("CREATE TRIGGER keep BEFORE INSERT ON sensor_data.indexed_samples FOR EACH ROW EXECUTE FUNCTION pg_temp.keep()").unwrap();
        assert_eq!(
            sqlstate_of(&format!("SELECT * FROM sensor.load_tdms('{overflow}')")).as_deref(),
            Some("22008")
        );
        for table in ["datasets", "channels", "samples", "indexed_samples"] {
            assert_eq!(
                count(&format!("SELECT count(*) FROM sensor_data.{table}")),
                0,
                "{table}"
            );
        }
    }

    #[pg_test]
    fn warnings_are_recorded_with_the_dataset() {
        let truncated = fixture("truncated");
        assert_eq!(
            count(&format!(
                "SELECT samples FROM sensor.load_tdms('{truncated}')"
            )),
            5
        );
        assert_eq!(
            text("SELECT array_to_string(warnings, ' / ') FROM sensor_data.datasets").as_deref(),
            Some("segment at byte 76: last segment was not closed (next segment offset unknown); reading its data to the end of the file / segment at byte 76: data size 12 is not a multiple of the chunk size 8; reading the last partial chunk")
        );
    }

    /// Test-only: pushes the same sample twice through the direct path.
    #[pg_extern]
    fn push_samples_twice() -> bool {
        let mut sink = BulkInsert::open(&TIMED_SAMPLES, Indexes::RowByRow).unwrap();
        let direct = sink.is_direct();
        sink.push(sample_row(1, 0, 1.0)).unwrap();
        sink.push(sample_row(1, 0, 2.0)).unwrap();
        sink.finish().unwrap();
        direct
    }

    #[pg_test]
    fn direct_path_is_taken_for_plain_tables_only() {
        lock_shared_tables();
        assert_eq!(
            BulkInsert::direct_path_blocker(&TIMED_SAMPLES).unwrap(),
            None
        );
        assert_eq!(
            BulkInsert::direct_path_blocker(&INDEXED_SAMPLES).unwrap(),
            None
        );
        let sink = BulkInsert::open(&TIMED_SAMPLES, Indexes::RowByRow).unwrap();
        assert!(sink.is_direct());
        assert_eq!(sink.finish().unwrap(), 0);
        // A deferrable constraint comes with a constraint trigger (its recheck).
        Spi::run(
            "ALTER TABLE sensor_data.samples ADD CONSTRAINT u UNIQUE (channel_id, time) DEFERRABLE",
        )
        .unwrap();
        assert_eq!(
            BulkInsert::direct_path_blocker(&TIMED_SAMPLES)
                .unwrap()
                .as_deref(),
            Some("it has triggers (a TimescaleDB hypertable has one)")
        );
        Spi::run("ALTER TABLE sensor_data.samples DROP CONSTRAINT u").unwrap();
        // An immediate unique index is checked by index insertion itself.
        Spi::run("ALTER TABLE sensor_data.samples ADD CONSTRAINT u UNIQUE (channel_id, time)")
            .unwrap();
        assert_eq!(
            BulkInsert::direct_path_blocker(&TIMED_SAMPLES).unwrap(),
            None
        );
        assert_eq!(
            sqlstate_of("SELECT tests.push_samples_twice()").as_deref(),
            Some("23505")
        );
        Spi::run("ALTER TABLE sensor_data.samples DROP CONSTRAINT u").unwrap();
        Spi::run("ALTER TABLE sensor_data.samples ADD COLUMN note text DEFAULT 'x'").unwrap();
        assert_eq!(
            BulkInsert::direct_path_blocker(&TIMED_SAMPLES)
                .unwrap()
                .as_deref(),
            Some("it has another column (note)")
        );
        Spi::run("ALTER TABLE sensor_data.samples DROP COLUMN note").unwrap();
        // A dropped column is fine (it stays NULL).
        assert_eq!(
            BulkInsert::direct_path_blocker(&TIMED_SAMPLES).unwrap(),
            None
        );
        Spi::run("ALTER TABLE sensor_data.indexed_samples ENABLE ROW LEVEL SECURITY").unwrap();
        assert_eq!(
            BulkInsert::direct_path_blocker(&INDEXED_SAMPLES)
                .unwrap()
                .as_deref(),
            Some("it has row-level security enabled")
        );
    }

    #[pg_test]
    fn direct_and_spi_paths_store_the_same_rows() {
        lock_shared_tables();
        let small = fixture("small");
        let snapshot = "SELECT string_agg(concat_ws('|', c.group_name, c.name, s.k, s.value), ';' ORDER BY c.group_name, c.name, s.k)
             FROM (SELECT channel_id, time::text AS k, value FROM sensor_data.samples
                   UNION ALL SELECT channel_id, sample_index::text, value FROM sensor_data.indexed_samples) s
             JOIN sensor_data.channels c ON c.id = s.channel_id";
        Spi::run(&format!("SELECT * FROM sensor.load_tdms('{small}')")).unwrap();
        let direct = text(snapshot);
        Spi::run("CREATE FUNCTION pg_temp.keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$").unwrap();
        for table in ["samples", "indexed_samples"] {
            Spi::run(&format!("CREATE TRIGGER keep BEFORE INSERT ON sensor_data.{table} FOR EACH ROW EXECUTE FUNCTION pg_temp.keep()")).unwrap();
        }
        assert_eq!(
            BulkInsert::direct_path_blocker(&TIMED_SAMPLES)
                .unwrap()
                .as_deref(),
            Some("it has triggers (a TimescaleDB hypertable has one)")
        );
        Spi::run(&format!(
            "SELECT * FROM sensor.load_tdms('{small}', replace => true)"
        ))
        .unwrap();
        let spi = text(snapshot);
        assert!(direct
            .as_deref()
            .is_some_and(|d| d.contains("rig|temp|2024-01-01 00:00:02.5+00|NaN")));
        assert_eq!(direct, spi);
    }

    #[pg_test]
    fn load_shows_in_pg_stat_progress_copy() {
        lock_shared_tables();
        // A trigger (which also forces the SPI path) looks at this backend's progress row
        // while the load runs.
        let small = fixture("small");
        // (pg_stat_clear_snapshot: the view would show a snapshot taken earlier in the transaction.)
        Spi::run("CREATE TEMP TABLE seen AS SELECT * FROM pg_stat_progress_copy WHERE false")
            .unwrap();
        Spi::run("CREATE FUNCTION pg_temp.look() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_stat_clear_snapshot(); INSERT INTO seen SELECT * FROM pg_stat_progress_copy WHERE pid = pg_backend_pid(); RETURN NEW; END$$").unwrap();
        Spi::run("CREATE TRIGGER look BEFORE INSERT ON sensor_data.samples FOR EACH ROW EXECUTE FUNCTION pg_temp.look()").unwrap();
        Spi::run(&format!("SELECT * FROM sensor.load_tdms('{small}')")).unwrap();
        assert!(count("SELECT count(*) FROM seen") > 0);
        assert_eq!(
            text("SELECT DISTINCT concat_ws('|', relid::regclass, command, type, bytes_total) FROM seen").as_deref(),
            Some("sensor_data.samples|COPY FROM|FILE|970")
        );
        // Ended with the load.
        Spi::run("SELECT pg_stat_clear_snapshot()").unwrap();
        assert_eq!(
            count("SELECT count(*) FROM pg_stat_progress_copy WHERE pid = pg_backend_pid()"),
            0
        );
    }

    #[pg_test]
    fn server_files_need_the_read_privilege_but_uploads_do_not() {
        let small = fixture("small");
        Spi::run("CREATE ROLE sensor_tdms_user NOLOGIN").unwrap();
        Spi::run("GRANT USAGE ON SCHEMA tests, sensor, sensor_data TO sensor_tdms_user").unwrap();
        Spi::run("GRANT SELECT, INSERT ON sensor_data.datasets, sensor_data.channels, sensor_data.samples, sensor_data.indexed_samples TO sensor_tdms_user").unwrap();
        let content = std::fs::read(&small).unwrap();
        Spi::run("SET ROLE sensor_tdms_user").unwrap();
        let channels = error_fields_of(&format!("SELECT * FROM sensor.tdms_channels('{small}')"));
        let read = sqlstate_of(&format!("SELECT * FROM sensor.tdms_read('{small}')"));
        let props = sqlstate_of(&format!("SELECT * FROM sensor.tdms_properties('{small}')"));
        let load = sqlstate_of(&format!("SELECT * FROM sensor.load_tdms('{small}')"));
        // What a client does: the file's bytes as a bytea parameter.
        let uploaded = Spi::get_one_with_args::<i64>(
            "SELECT samples FROM sensor.load_tdms_bytes($1, 'upload')",
            &[content.into()],
        );
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(
            channels,
            format!("42501|permission denied to read server file \"{small}\"|Only superusers and roles with privileges of the \"pg_read_server_files\" role may read files on the database server.|GRANT pg_read_server_files TO sensor_tdms_user;")
        );
        assert_eq!(read.as_deref(), Some("42501"));
        assert_eq!(props.as_deref(), Some("42501"));
        assert_eq!(load.as_deref(), Some("42501"));
        assert_eq!(uploaded.unwrap(), Some(18));
        assert_eq!(count("SELECT count(*) FROM sensor_data.datasets WHERE source_file IS NULL AND name = 'upload'"), 1);
    }

    #[pg_test]
    fn upload_arguments_must_not_be_null() {
        fixture("small");
        assert_eq!(
            sqlstate_of("SELECT * FROM sensor.load_tdms_bytes(NULL, 'x')").as_deref(),
            Some("22023")
        );
        assert_eq!(
            sqlstate_of("SELECT * FROM sensor.load_tdms_bytes('\\x00'::bytea, NULL)").as_deref(),
            Some("22023")
        );
        assert_eq!(
            sqlstate_of("SELECT * FROM sensor.load_tdms(NULL)").as_deref(),
            Some("22023")
        );
        assert_eq!(
            sqlstate_of("SELECT * FROM sensor.load_tdms_bytes(''::bytea, 'empty')").as_deref(),
            Some("22P02")
        );
    }

    #[pg_test]
    fn complex_values_read_back_exactly_from_their_text() {
        for x in [
            0.0,
            1.5,
            -2.0,
            1e-300,
            1e300,
            0.1,
            123_456_789.125,
            f64::MIN_POSITIVE,
        ] {
            let t = super::float_text(x);
            assert_eq!(t.parse::<f64>().ok(), Some(x), "{t}");
        }
        assert_eq!(super::complex_text(1.0, -2.5), "(1,-2.5)");
        assert_eq!(super::float_text(f64::NAN), "NaN");
    }
}
