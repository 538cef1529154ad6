//! Deterministic synthetic T302 files, for benchmarks and tests.
//!
//! Values are fixed-point like a real logger's: voltages with two decimals, powers with one; the
//! value written in row `r`, data column `c` is [`SyntheticSpec::value`]`(r, c)` exactly after parsing.

use std::io::{self, Write};

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::timestamp::civil_from_days;

/// The V003 header block of a synthetic file.
#[derive(Debug, Clone)]
pub struct SyntheticV003 {
    /// `DataTimeSettings` value (`"UTC"` or e.g. `"Local"`).
    pub data_time_settings: String,
    /// `TimeZoneName` value.
    pub time_zone_name: String,
    /// `MasterType` value (`"Tri"`/`"Mono"`).
    pub master_type: String,
    /// Whether to write `END_DATA` (false simulates an upload in progress).
    pub end_data: bool,
}

/// Shape and content of a synthetic file.
#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    /// Number of data rows.
    pub rows: u64,
    /// Master serial number.
    pub master_sn: String,
    /// Three voltage columns (`Ph 1 V`…`Ph 3 V`) instead of one.
    pub three_phase: bool,
    /// Power columns of the master after its voltages.
    pub master_power_channels: usize,
    /// Slave modules: serial number and number of power columns.
    pub slaves: Vec<(String, usize)>,
    /// UTC time of row 0, seconds since the Unix epoch.
    pub start_utc: i64,
    /// Seconds between rows.
    pub step_seconds: i64,
    /// Write timestamps as wall-clock time in this zone (as a logger set to local time does).
    pub wall_clock: Option<Tz>,
    /// Write a V003 file with this header; `None` writes V002.
    pub v003: Option<SyntheticV003>,
    /// Marker written in the label line.
    pub marker: String,
    /// End lines with `\r\n`.
    pub crlf: bool,
}

impl SyntheticSpec {
    /// The benchmark layout: a three-phase master (`02001171`, 3 voltages + 3 powers) with four slave
    /// modules of six channels: 30 channels, V002, UTC, one row every 10 s from 2025-08-03 03:20:00.
    pub fn thirty_channels(rows: u64) -> Self {
        Self {
            rows,
            master_sn: "02001171".to_owned(),
            three_phase: true,
            master_power_channels: 3,
            slaves: ["04000466", "04000477", "04001293", "04001344"]
                .iter()
                .map(|sn| ((*sn).to_owned(), 6))
                .collect(),
            start_utc: 1_754_191_200,
            step_seconds: 10,
            wall_clock: None,
            v003: None,
            marker: "MV_T302_V002".to_owned(),
            crlf: false,
        }
    }

    fn voltage_columns(&self) -> usize {
        if self.three_phase {
            3
        } else {
            1
        }
    }

    /// Number of data columns (channels).
    pub fn channel_count(&self) -> usize {
        self.voltage_columns()
            + self.master_power_channels
            + self.slaves.iter().map(|(_, n)| n).sum::<usize>()
    }

    /// UTC time of a row, seconds since the Unix epoch.
    pub fn row_time_utc(&self, row: u64) -> i64 {
        self.start_utc + (row as i64) * self.step_seconds
    }

    /// The value written in a row for data column `column` (0-based, after the timestamp).
    pub fn value(&self, row: u64, column: usize) -> f64 {
        let (units, scale) = self.value_units(row, column);
        units as f64 / scale as f64
    }

    /// Fixed-point value: (integer, divisor).
    fn value_units(&self, row: u64, column: usize) -> (i64, i64) {
        let mix = row
            .wrapping_mul(2_654_435_761)
            .wrapping_add((column as u64).wrapping_mul(40_503))
            >> 7;
        if column < self.voltage_columns() {
            (22_000 + (mix % 3_000) as i64, 100)
        } else {
            ((mix % 60_000) as i64 - 500, 10)
        }
    }

    fn local_time(&self, utc: i64) -> i64 {
        match self.wall_clock {
            None => utc,
            Some(zone) => DateTime::from_timestamp(utc, 0)
                .map(|t| {
                    utc + i64::from(
                        zone.offset_from_utc_datetime(&t.naive_utc())
                            .fix()
                            .local_minus_utc(),
                    )
                })
                .unwrap_or(utc),
        }
    }
}

fn push_two(line: &mut Vec<u8>, n: i64) {
    line.push(b'0' + (n / 10 % 10) as u8);
    line.push(b'0' + (n % 10) as u8);
}

fn push_timestamp(line: &mut Vec<u8>, local: i64) {
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    push_two(line, i64::from(day));
    line.push(b'/');
    push_two(line, i64::from(month));
    line.push(b'/');
    push_two(line, year.rem_euclid(100));
    line.push(b' ');
    push_two(line, secs / 3600);
    line.push(b':');
    push_two(line, secs / 60 % 60);
    line.push(b':');
    push_two(line, secs % 60);
}

fn push_fixed(line: &mut Vec<u8>, units: i64, scale: i64) {
    if units < 0 {
        line.push(b'-');
    }
    let magnitude = units.unsigned_abs();
    let scale = scale.unsigned_abs();
    line.extend_from_slice((magnitude / scale).to_string().as_bytes());
    line.push(b'.');
    let digits = if scale == 100 { 2 } else { 1 };
    let fraction = magnitude % scale;
    if digits == 2 {
        line.push(b'0' + (fraction / 10) as u8);
    }
    line.push(b'0' + (fraction % 10) as u8);
}

/// Writes a synthetic T302 file.
///
/// # Errors
/// Errors of the writer.
pub fn write_synthetic_tsv<W: Write>(mut out: W, spec: &SyntheticSpec) -> io::Result<()> {
    let eol: &[u8] = if spec.crlf { b"\r\n" } else { b"\n" };
    if let Some(v3) = &spec.v003 {
        let json = serde_json::json!({
            "DataZoneCode": 3,
            "DataTypeCode": 2,
            "DataTimeSettings": v3.data_time_settings,
            "TimeZoneName": v3.time_zone_name,
            "FileVersion": 3,
            "MasterType": v3.master_type,
        });
        out.write_all(b"START_HEADER")?;
        out.write_all(eol)?;
        out.write_all(json.to_string().as_bytes())?;
        out.write_all(eol)?;
        out.write_all(b"END_HEADER")?;
        out.write_all(eol)?;
        out.write_all(b"START_DATA")?;
        out.write_all(eol)?;
    }
    let mut owners = Vec::new();
    let mut labels = Vec::new();
    for phase in 1..=spec.voltage_columns() {
        owners.push(spec.master_sn.as_str());
        labels.push(format!("Ph {phase} V"));
    }
    for channel in 1..=spec.master_power_channels {
        owners.push(spec.master_sn.as_str());
        labels.push(format!("Voie{channel} W"));
    }
    for (sn, count) in &spec.slaves {
        for channel in 1..=*count {
            owners.push(sn.as_str());
            labels.push(format!("Voie{channel} W"));
        }
    }
    let mut line = Vec::with_capacity(1024);
    line.extend_from_slice(spec.master_sn.as_bytes());
    for owner in &owners {
        line.push(b'\t');
        line.extend_from_slice(owner.as_bytes());
    }
    line.extend_from_slice(eol);
    line.extend_from_slice(spec.marker.as_bytes());
    for label in &labels {
        line.push(b'\t');
        line.extend_from_slice(label.as_bytes());
    }
    line.extend_from_slice(eol);
    out.write_all(&line)?;
    let columns = spec.channel_count();
    for row in 0..spec.rows {
        line.clear();
        push_timestamp(&mut line, spec.local_time(spec.row_time_utc(row)));
        for column in 0..columns {
            line.push(b'\t');
            let (units, scale) = spec.value_units(row, column);
            push_fixed(&mut line, units, scale);
        }
        line.extend_from_slice(eol);
        out.write_all(&line)?;
    }
    if spec.v003.as_ref().is_some_and(|v3| v3.end_data) {
        out.write_all(b"END_DATA")?;
        out.write_all(eol)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_expected_first_lines() {
        let spec = SyntheticSpec::thirty_channels(2);
        assert_eq!(spec.channel_count(), 30);
        let mut out = Vec::new();
        write_synthetic_tsv(&mut out, &spec).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("02001171\t02001171\t"));
        assert_eq!(lines[0].split('\t').count(), 31);
        assert!(lines[1].starts_with("MV_T302_V002\tPh 1 V\tPh 2 V\tPh 3 V\tVoie1 W"));
        assert!(lines[2].starts_with("03/08/25 03:20:00\t"));
        assert!(lines[3].starts_with("03/08/25 03:20:10\t"));
        let cells: Vec<&str> = lines[3].split('\t').collect();
        assert_eq!(cells.len(), 31);
        for (column, cell) in cells[1..].iter().enumerate() {
            assert_eq!(
                cell.parse::<f64>().unwrap(),
                spec.value(1, column),
                "{cell}"
            );
        }
    }

    #[test]
    fn fixed_point_formatting() {
        let mut line = Vec::new();
        push_fixed(&mut line, -5, 10);
        line.push(b' ');
        push_fixed(&mut line, 23_007, 100);
        line.push(b' ');
        push_fixed(&mut line, 0, 10);
        assert_eq!(line, b"-0.5 230.07 0.0");
    }
}
