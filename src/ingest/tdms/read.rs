//! Reading a TDMS file on the server without loading it: `sensor.tdms_channels`,
//! `sensor.tdms_properties` and `sensor.tdms_read` (streaming, block by block).

use std::io::{Read, Seek};

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;
use tdms::{PropertyValue, TdmsFile, ValuesBlock, Waveform};

use super::{
    open_tdms, properties_json, sample_time, scaling_json, to_i64, value_type, Origin, READ_BLOCK,
};
use crate::error::{ErrorKind, RaiseError, SensorError, SensorResult};
use crate::pg::time::{self, timestamptz};

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
pub(super) fn complex_text(re: f64, im: f64) -> String {
    format!("({},{})", float_text(re), float_text(im))
}

pub(super) fn float_text(x: f64) -> String {
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
