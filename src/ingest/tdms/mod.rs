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
//!
//! [`read`] holds the functions that read a file without loading it, [`load`] the loaders.

mod load;
mod read;

pgrx::extension_sql_file!(
    "../../../sql/tdms.sql",
    name = "tdms",
    requires = [
        "storage",
        tdms_channels,
        tdms_properties,
        tdms_read,
        load_tdms,
        load_tdms_bytes
    ]
);

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use tdms::{
    ChannelInfo, DataType, PropertyValue, Scale, ScaleInput, Scaling, TdmsError, TdmsFile, Waveform,
};

use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::bulk_insert::{Column, TargetTable};
use crate::pg::privileges::{require_server_file_access, ServerFileAccess};
use crate::pg::time;

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

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("tests.rs");
}
