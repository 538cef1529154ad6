//! The streaming reader: header detection, channel list, and data rows.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;

use chrono_tz::Tz;
use serde_json::Value;

use crate::channels::{build_channels, detect_phase_type, split_label, ChannelInfo, PhaseType};
use crate::error::{PowerviewError, Result};
use crate::line_reader::LineReader;
use crate::timestamp::{
    lookup_timezone, parse_timezone, AmbiguousTime, LocalClock, TimestampParser,
};

/// Format marker of the plain T302 format.
pub const MARKER_V002: &str = "MV_T302_V002";
/// Format marker of the T302 format with a JSON header block.
pub const MARKER_V003: &str = "MV_T302_V003";

const START_HEADER: &[u8] = b"START_HEADER";
const END_HEADER: &[u8] = b"END_HEADER";
const START_DATA: &[u8] = b"START_DATA";
const END_DATA: &[u8] = b"END_DATA";

/// How many bytes at the end of a file [`TsvFile::open_seekable`] searches for `END_DATA`.
pub const TAIL_WINDOW: u64 = 64 * 1024;
/// Longest marker kept in [`Outcome::Unsupported`] (longer ones are cut, on a character boundary).
const MAX_MARKER_CHARS: usize = 64;
const MAX_SERIAL_LEN: usize = 32;

/// Options for [`TsvFile`].
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Time zone of the timestamps of files that do not state their own: V002 files, and V003 files
    /// whose header has no `DataTimeSettings`, or says local time without a usable `TimeZoneName`.
    /// `None` means UTC.
    pub timezone: Option<Tz>,
    /// How local times that occur twice are resolved (see [`AmbiguousTime`]).
    pub ambiguous: AmbiguousTime,
    /// Longest accepted line, in bytes (also the largest V003 JSON header block). Default 1 MiB.
    pub max_line_len: usize,
    /// Most data columns accepted in the header lines. Default 4096.
    pub max_columns: usize,
    /// Skip rows whose cells are all the literal `0` (power-cut markers, see
    /// [`ParseStats::zero_rows`]) instead of returning them. Default false: they are returned, with
    /// [`Row::zero_row`] set.
    pub skip_zero_rows: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            timezone: None,
            ambiguous: AmbiguousTime::default(),
            max_line_len: 1 << 20,
            max_columns: 4096,
            skip_zero_rows: false,
        }
    }
}

impl ParseOptions {
    /// Default options with the given IANA time zone name (`None` = UTC).
    ///
    /// # Errors
    /// [`PowerviewError::UnknownTimezone`] (invalid parameter) for an unknown name.
    pub fn with_timezone_name(name: Option<&str>) -> Result<Self> {
        Ok(Self {
            timezone: name.map(parse_timezone).transpose()?,
            ..Self::default()
        })
    }

    fn validate(&self) -> Result<()> {
        if self.max_line_len < 64 {
            return Err(PowerviewError::InvalidOption {
                reason: format!("max_line_len {} is below 64 bytes", self.max_line_len),
            });
        }
        if self.max_columns == 0 {
            return Err(PowerviewError::InvalidOption {
                reason: "max_columns must be at least 1".to_owned(),
            });
        }
        Ok(())
    }
}

/// What the loader should do with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A supported file with at least one data line: stream its rows.
    Ok,
    /// Nothing to load: an empty file, or one with header lines but no data line.
    NoData,
    /// A V003 file without `END_DATA`: the upload is still in progress; load nothing now.
    Deferred,
    /// A file whose format marker is not `MV_T302_V002`/`MV_T302_V003` (e.g. `MV_T202_V002`).
    /// Not an error: the file is reported, not loaded.
    Unsupported {
        /// The marker found (column 0 of the label line), cut to 64 characters.
        marker: String,
    },
}

impl Outcome {
    /// `"ok"`, `"no_data"`, `"deferred"` or `"unsupported"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NoData => "no_data",
            Self::Deferred => "deferred",
            Self::Unsupported { .. } => "unsupported",
        }
    }
}

/// File structure. The structure decides, not the marker: a file that starts with a `START_HEADER`
/// (or `START_DATA`) block is V003 even if its marker says `MV_T302_V002`, as some devices write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsvFormat {
    /// Two header lines, then data lines.
    V002,
    /// `START_HEADER` / JSON / `END_HEADER`, then `START_DATA`, the two header lines, data lines and
    /// `END_DATA`.
    V003,
}

impl TsvFormat {
    /// `"V002"` or `"V003"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V002 => "V002",
            Self::V003 => "V003",
        }
    }
}

/// How the file's timestamps are turned into UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBasis {
    /// Timestamps are UTC.
    Utc,
    /// Timestamps are wall-clock time in this zone.
    Local(Tz),
}

/// Everything known about a file before its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TsvHeader {
    /// What to do with the file, as known when it was opened (see also [`TsvFile::outcome`]).
    pub outcome: Outcome,
    /// The structure, `None` for an empty file.
    pub format: Option<TsvFormat>,
    /// The format marker (column 0 of the label line), if the file got that far.
    pub marker: Option<String>,
    /// Master serial number (column 0 of the serial-number line), as text with its leading zeros.
    pub master_sn: Option<String>,
    /// The JSON object of a V003 header block.
    pub header_json: Option<Value>,
    /// Single- or three-phase master, when channels were derived.
    pub phase_type: Option<PhaseType>,
    /// How timestamps are converted to UTC.
    pub time_basis: TimeBasis,
    /// One entry per data column, in column order. Empty unless the outcome is `Ok` or `NoData` with
    /// complete header lines.
    pub channels: Vec<ChannelInfo>,
}

/// Running counters, updated as rows are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Data rows returned (rows with a valid timestamp).
    pub rows: u64,
    /// Values returned (`Some` cells in returned rows).
    pub points: u64,
    /// Data lines skipped because their timestamp does not parse.
    pub invalid_timestamps: u64,
    /// Cells that are not blank but are not a finite number (`abc`, `1,5`, `nan`, `inf`, `1e999`).
    pub invalid_values: u64,
    /// Blank cells (empty or spaces only) within the header's columns.
    pub empty_values: u64,
    /// Cells absent because a row has fewer columns than the header.
    pub missing_values: u64,
    /// Non-blank cells beyond the header's columns (ignored). Trailing blank cells (trailing tabs)
    /// are not counted.
    pub extra_values: u64,
    /// Last lines skipped because they have no line terminator and fewer columns than the header
    /// (a file cut off in the middle of a line).
    pub truncated_rows: u64,
    /// Rows whose cells are all the literal `0` (no decimal point), counted whether or not they are
    /// returned (see [`ParseOptions::skip_zero_rows`]). Loggers write such rows around power cuts and
    /// restarts; in the real V003 sample they are stamped one hour ahead of the UTC rows around
    /// them (local time), so they are not measurements.
    pub zero_rows: u64,
    /// Time of the first returned row, µs since the Unix epoch (UTC).
    pub first_time_us: Option<i64>,
    /// Time of the last returned row, µs since the Unix epoch (UTC).
    pub last_time_us: Option<i64>,
    /// Smallest row time (files are not always in time order: device clocks get reset).
    pub min_time_us: Option<i64>,
    /// Largest row time.
    pub max_time_us: Option<i64>,
}

/// One data row. `values[i]` belongs to `channels[i]`; `None` where the cell was blank, invalid or
/// missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row<'a> {
    /// Row time, µs since the Unix epoch, UTC.
    pub time_us: i64,
    /// One value per channel.
    pub values: &'a [Option<f64>],
    /// Every cell is the literal `0` (see [`ParseStats::zero_rows`]).
    pub zero_row: bool,
}

/// A T302 TSV file being read: header first ([`TsvFile::header`]), then rows one at a time
/// ([`TsvFile::next_row`]). Memory is bounded by the longest line and the number of channels.
pub struct TsvFile<R> {
    header: TsvHeader,
    lines: LineReader<R>,
    line: Vec<u8>,
    /// `Some(terminated)` when `line` holds a data line read ahead while opening.
    pending: Option<bool>,
    values: Vec<Option<f64>>,
    timestamps: TimestampParser,
    clock: LocalClock,
    stats: ParseStats,
    framed: bool,
    skip_zero_rows: bool,
    finished: bool,
    end_data_missing: bool,
}

impl TsvFile<BufReader<File>> {
    /// Opens a file by path. A V003 file is first checked for `END_DATA` in its last 64 KiB (one
    /// seek, no full read): without it the outcome is [`Outcome::Deferred`] and no row is read.
    ///
    /// # Errors
    /// I/O errors (not found, permission denied, …) and malformed headers; see [`PowerviewError`].
    pub fn open_path(path: impl AsRef<Path>, options: &ParseOptions) -> Result<Self> {
        let file = File::open(path.as_ref())?;
        Self::open_seekable(BufReader::with_capacity(64 * 1024, file), options)
    }
}

impl<R: BufRead + Seek> TsvFile<R> {
    /// Like [`TsvFile::open`], but first checks the end of the input for `END_DATA` (see
    /// [`TsvFile::open_path`]). Reading starts from the reader's current position.
    ///
    /// # Errors
    /// As [`TsvFile::open`].
    pub fn open_seekable(mut reader: R, options: &ParseOptions) -> Result<Self> {
        let has_end = tail_has_end_data(&mut reader, TAIL_WINDOW)?;
        Self::open_inner(reader, options, Some(has_end))
    }
}

impl<R: BufRead> TsvFile<R> {
    /// Reads the header of a file from a stream. Without `Seek` the end cannot be checked first: a
    /// V003 file that ends without `END_DATA` is only noticed when the rows run out, and then
    /// [`TsvFile::outcome`] turns to [`Outcome::Deferred`] (the caller should discard what it loaded).
    ///
    /// # Errors
    /// I/O errors, over-long lines, malformed header lines or V003 JSON, a V003 local-time file whose
    /// zone is unknown, and invalid options. See [`PowerviewError`].
    pub fn open(reader: R, options: &ParseOptions) -> Result<Self> {
        Self::open_inner(reader, options, None)
    }

    fn open_inner(reader: R, options: &ParseOptions, tail_has_end: Option<bool>) -> Result<Self> {
        options.validate()?;
        let mut file = Self {
            header: TsvHeader {
                outcome: Outcome::NoData,
                format: None,
                marker: None,
                master_sn: None,
                header_json: None,
                phase_type: None,
                time_basis: TimeBasis::Utc,
                channels: Vec::new(),
            },
            lines: LineReader::new(reader, options.max_line_len),
            line: Vec::new(),
            pending: None,
            values: Vec::new(),
            timestamps: TimestampParser::default(),
            clock: LocalClock::new(None, options.ambiguous),
            stats: ParseStats::default(),
            framed: false,
            skip_zero_rows: options.skip_zero_rows,
            finished: true,
            end_data_missing: false,
        };
        file.header.outcome = file.read_header(options, tail_has_end)?;
        if file.header.outcome == Outcome::Ok {
            file.finished = false;
            file.values = vec![None; file.header.channels.len()];
            if let TimeBasis::Local(zone) = file.header.time_basis {
                file.clock = LocalClock::new(Some(zone), options.ambiguous);
            }
        }
        Ok(file)
    }

    /// Reads the next non-blank line into `self.line`; `None` at end of input.
    fn next_nonblank(&mut self) -> Result<Option<bool>> {
        loop {
            match self.lines.read_line(&mut self.line)? {
                None => return Ok(None),
                Some(terminated) => {
                    if !self.line.trim_ascii().is_empty() {
                        return Ok(Some(terminated));
                    }
                }
            }
        }
    }

    fn trimmed_line_is(&self, keyword: &[u8]) -> bool {
        self.line.trim_ascii() == keyword
    }

    fn read_header(
        &mut self,
        options: &ParseOptions,
        tail_has_end: Option<bool>,
    ) -> Result<Outcome> {
        if self.next_nonblank()?.is_none() {
            return Ok(Outcome::NoData);
        }
        let time_settings = match self.read_frame_start(options.max_line_len, tail_has_end)? {
            ControlFlow::Continue(settings) => settings,
            ControlFlow::Break(outcome) => return Ok(outcome),
        };
        let lines = match self.read_header_lines(options.max_columns)? {
            ControlFlow::Continue(lines) => lines,
            ControlFlow::Break(outcome) => return Ok(outcome),
        };

        let marker = lines.labels.first().cloned().unwrap_or_default();
        let master = lines.serials.first().cloned().unwrap_or_default();
        if is_valid_serial(&master) {
            self.header.master_sn = Some(master.clone());
        }
        if marker != MARKER_V002 && marker != MARKER_V003 {
            let cut: String = marker.chars().take(MAX_MARKER_CHARS).collect();
            self.header.marker = Some(cut.clone());
            return Ok(Outcome::Unsupported { marker: cut });
        }
        self.header.marker = Some(marker.clone());

        let (device_serials, column_labels) = lines.data_columns(&master)?;
        let settings = time_settings.unwrap_or_default();
        let phase = settings
            .master_type
            .unwrap_or_else(|| detect_phase_type(column_labels.iter().map(|l| split_label(l).0)));
        self.header.phase_type = Some(phase);
        self.header.time_basis = settings.time_basis(options.timezone)?;
        self.header.channels =
            build_channels(&master, device_serials, column_labels, phase, &marker);
        self.read_first_data_line()
    }

    /// Tells V003 (a `START_HEADER` or `START_DATA` frame) from V002 and reads a V003 file's JSON
    /// block, leaving `self.line` at the serial-number line. Breaks with the outcome when the
    /// file ends (or is known to end) before it.
    fn read_frame_start(
        &mut self,
        max_line_len: usize,
        tail_has_end: Option<bool>,
    ) -> Result<ControlFlow<Outcome, Option<FileTimeSettings>>> {
        if !self.trimmed_line_is(START_HEADER) && !self.trimmed_line_is(START_DATA) {
            self.header.format = Some(TsvFormat::V002);
            return Ok(ControlFlow::Continue(None));
        }
        self.framed = true;
        self.header.format = Some(TsvFormat::V003);
        if tail_has_end == Some(false) {
            return Ok(ControlFlow::Break(Outcome::Deferred));
        }
        let mut time_settings = None;
        if self.trimmed_line_is(START_HEADER) {
            let Some(json) = self.read_json_block(max_line_len)? else {
                return Ok(ControlFlow::Break(Outcome::Deferred));
            };
            time_settings = Some(FileTimeSettings::from_json(&json));
            self.header.header_json = Some(json);
            if self.next_nonblank()?.is_none() {
                return Ok(ControlFlow::Break(Outcome::Deferred));
            }
        }
        if self.trimmed_line_is(START_DATA) && self.next_nonblank()?.is_none() {
            return Ok(ControlFlow::Break(Outcome::Deferred));
        }
        if self.trimmed_line_is(END_DATA) {
            return Ok(ControlFlow::Break(Outcome::NoData));
        }
        Ok(ControlFlow::Continue(time_settings))
    }

    /// Splits the serial-number line (in `self.line`) and reads and splits the label line. Breaks
    /// with the outcome when the data ends before the label line.
    fn read_header_lines(
        &mut self,
        max_columns: usize,
    ) -> Result<ControlFlow<Outcome, HeaderLines>> {
        let serial_line_no = self.lines.line_no();
        let serial_line = std::mem::take(&mut self.line);
        let serials = split_header_cells(&serial_line, serial_line_no, max_columns)?;
        if self.next_nonblank()?.is_none() {
            return Ok(ControlFlow::Break(if self.framed {
                Outcome::Deferred
            } else {
                Outcome::NoData
            }));
        }
        if self.framed && self.trimmed_line_is(END_DATA) {
            return Ok(ControlFlow::Break(Outcome::NoData));
        }
        let label_line_no = self.lines.line_no();
        let label_line = std::mem::take(&mut self.line);
        let labels = split_header_cells(&label_line, label_line_no, max_columns)?;
        Ok(ControlFlow::Continue(HeaderLines {
            serials,
            serial_line_no,
            labels,
            label_line_no,
        }))
    }

    /// Reads ahead to the first data line (kept as pending) to tell `NoData` from `Ok`.
    fn read_first_data_line(&mut self) -> Result<Outcome> {
        match self.next_nonblank()? {
            None if self.framed => Ok(Outcome::Deferred),
            None => Ok(Outcome::NoData),
            Some(_) if self.framed && self.trimmed_line_is(END_DATA) => Ok(Outcome::NoData),
            Some(terminated) => {
                self.pending = Some(terminated);
                Ok(Outcome::Ok)
            }
        }
    }

    /// Reads the lines after `START_HEADER` up to `END_HEADER` and parses them as one JSON object.
    /// `None` if the input ends first.
    fn read_json_block(&mut self, max_len: usize) -> Result<Option<Value>> {
        let mut text = Vec::new();
        loop {
            if self.lines.read_line(&mut self.line)?.is_none() {
                return Ok(None);
            }
            if self.trimmed_line_is(END_HEADER) {
                break;
            }
            if text.len() + self.line.len() + 1 > max_len {
                return Err(PowerviewError::InvalidHeaderJson {
                    reason: format!("header block longer than {max_len} bytes"),
                });
            }
            text.extend_from_slice(&self.line);
            text.push(b'\n');
        }
        if text.trim_ascii().is_empty() {
            return Ok(Some(Value::Object(serde_json::Map::new())));
        }
        let value: Value =
            serde_json::from_slice(&text).map_err(|e| PowerviewError::InvalidHeaderJson {
                reason: e.to_string(),
            })?;
        if !value.is_object() {
            return Err(PowerviewError::InvalidHeaderJson {
                reason: "not a JSON object".to_owned(),
            });
        }
        Ok(Some(value))
    }

    /// The parsed header.
    pub fn header(&self) -> &TsvHeader {
        &self.header
    }

    /// The channels, in column order (same as `header().channels`).
    pub fn channels(&self) -> &[ChannelInfo] {
        &self.header.channels
    }

    /// Counters so far.
    pub fn stats(&self) -> &ParseStats {
        &self.stats
    }

    /// The outcome: the header's, except that a V003 file whose rows ran out without `END_DATA` turns
    /// to [`Outcome::Deferred`] (only possible when opened without the tail check, or if the file
    /// changed while being read).
    pub fn outcome(&self) -> Outcome {
        if self.end_data_missing {
            Outcome::Deferred
        } else {
            self.header.outcome.clone()
        }
    }

    /// True once a V003 file's rows ran out without `END_DATA`.
    pub fn end_data_missing(&self) -> bool {
        self.end_data_missing
    }

    /// The next data row, or `None` at the end of the data (end of input or `END_DATA`). Lines whose
    /// timestamp does not parse are skipped and counted; see [`ParseStats`] for cells. The returned
    /// values borrow a buffer reused from row to row. After an error, the file yields no more rows.
    ///
    /// # Errors
    /// I/O errors and lines longer than [`ParseOptions::max_line_len`].
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>> {
        loop {
            let Some(terminated) = self.next_data_line()? else {
                return Ok(None);
            };
            let line = self.line.as_slice();
            let columns = self.values.len();
            if !terminated && memchr::memchr_iter(b'\t', line).count() < columns {
                self.stats.truncated_rows += 1;
                continue;
            }
            let (time_cell, mut rest) = match memchr::memchr(b'\t', line) {
                Some(i) => (&line[..i], Some(&line[i + 1..])),
                None => (line, None),
            };
            let Some(time_us) = row_time_us(&mut self.timestamps, &mut self.clock, time_cell)
            else {
                self.stats.invalid_timestamps += 1;
                continue;
            };
            // The cell loop stays inline: as its own function it cost ~3% more instructions per row.
            let mut counts = RowCounts::default();
            let mut all_literal_zero = true;
            for slot in self.values.iter_mut() {
                let Some(cells) = rest else {
                    *slot = None;
                    counts.missing += 1;
                    continue;
                };
                if let Some((value, used)) = parse_plain_decimal(cells) {
                    all_literal_zero &= used == 1 && cells.first() == Some(&b'0');
                    counts.points += 1;
                    *slot = Some(value);
                    // `cells[used]` is the tab, if any.
                    rest = cells.get(used + 1..);
                    continue;
                }
                let (cell, next) = match memchr::memchr(b'\t', cells) {
                    Some(i) => (&cells[..i], Some(&cells[i + 1..])),
                    None => (cells, None),
                };
                rest = next;
                all_literal_zero &= cell == b"0";
                *slot = parse_cell(cell, &mut counts);
            }
            counts.extra = rest.map_or(0, count_nonblank_cells);
            let zero_row = all_literal_zero && counts.missing == 0 && columns > 0;
            if zero_row {
                self.stats.zero_rows += 1;
                if self.skip_zero_rows {
                    continue;
                }
            }
            self.stats.add_row(time_us, &counts);
            return Ok(Some(Row {
                time_us,
                values: &self.values,
                zero_row,
            }));
        }
    }

    /// Puts the next line that may be a data row in `self.line` (first the one read ahead while
    /// opening), skipping blank lines: `Some(terminated)`, or `None` at the end of the data.
    #[inline]
    fn next_data_line(&mut self) -> Result<Option<bool>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let terminated = match self.pending.take() {
                Some(terminated) => terminated,
                None => match self.lines.read_line(&mut self.line) {
                    Ok(Some(terminated)) => terminated,
                    Ok(None) => {
                        self.finished = true;
                        self.end_data_missing = self.framed;
                        return Ok(None);
                    }
                    Err(e) => {
                        self.finished = true;
                        return Err(e);
                    }
                },
            };
            let line = self.line.as_slice();
            // Data lines start with a digit; anything else may be blank or `END_DATA`.
            if !line.first().is_some_and(u8::is_ascii_digit) {
                let trimmed = line.trim_ascii();
                if trimmed.is_empty() {
                    continue;
                }
                if self.framed && trimmed == END_DATA {
                    self.finished = true;
                    return Ok(None);
                }
            }
            return Ok(Some(terminated));
        }
    }
}

/// A row's time from its time cell, µs since the Unix epoch, UTC; `None` if it does not parse or
/// does not fit.
#[inline]
fn row_time_us(
    timestamps: &mut TimestampParser,
    clock: &mut LocalClock,
    time_cell: &[u8],
) -> Option<i64> {
    let local = timestamps.parse(time_cell)?;
    clock.utc_of(local).checked_mul(1_000_000)
}

/// Non-blank tab-separated cells in `cells` (those beyond the header's columns).
fn count_nonblank_cells(cells: &[u8]) -> u64 {
    cells
        .split(|&b| b == b'\t')
        .filter(|cell| !cell.trim_ascii().is_empty())
        .count() as u64
}

impl ParseStats {
    /// Counts a returned row.
    #[inline]
    fn add_row(&mut self, time_us: i64, counts: &RowCounts) {
        self.rows += 1;
        self.points += counts.points;
        self.invalid_values += counts.invalid;
        self.empty_values += counts.empty;
        self.missing_values += counts.missing;
        self.extra_values += counts.extra;
        self.first_time_us.get_or_insert(time_us);
        self.last_time_us = Some(time_us);
        self.min_time_us = Some(self.min_time_us.map_or(time_us, |t| t.min(time_us)));
        self.max_time_us = Some(self.max_time_us.map_or(time_us, |t| t.max(time_us)));
    }
}

/// The two header lines split into cells: serial numbers (master first) and labels (marker first).
struct HeaderLines {
    serials: Vec<String>,
    serial_line_no: u64,
    labels: Vec<String>,
    label_line_no: u64,
}

impl HeaderLines {
    /// The device serial numbers and labels of the data columns, checked: valid serials
    /// (`master` too), one per label, at least one column.
    fn data_columns(&self, master: &str) -> Result<(&[String], &[String])> {
        if !is_valid_serial(master) {
            return Err(PowerviewError::InvalidHeader {
                line: self.serial_line_no,
                reason: format!("master serial number {master:?} is not 1-32 letters or digits"),
            });
        }
        let device_serials = self.serials.get(1..).unwrap_or_default();
        let column_labels = self.labels.get(1..).unwrap_or_default();
        if device_serials.len() != column_labels.len() {
            return Err(PowerviewError::InvalidHeader {
                line: self.label_line_no,
                reason: format!(
                    "{} device serial numbers but {} column labels",
                    device_serials.len(),
                    column_labels.len()
                ),
            });
        }
        if column_labels.is_empty() {
            return Err(PowerviewError::InvalidHeader {
                line: self.label_line_no,
                reason: "no data column".to_owned(),
            });
        }
        if let Some(bad) = device_serials.iter().find(|s| !is_valid_serial(s)) {
            return Err(PowerviewError::InvalidHeader {
                line: self.serial_line_no,
                reason: format!("device serial number {bad:?} is not 1-32 letters or digits"),
            });
        }
        Ok((device_serials, column_labels))
    }
}

/// Per-row cell counters, added to [`ParseStats`] once the row is kept.
#[derive(Default)]
struct RowCounts {
    points: u64,
    invalid: u64,
    empty: u64,
    missing: u64,
    extra: u64,
}

/// Exact powers of ten as `f64` (every one up to 1e22 is representable).
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Fast path for the cells loggers write: `[-]digits[.digits]` followed by a tab or the end of the
/// line. Returns the value and the number of bytes used, or `None` for anything else (the caller then
/// takes the general path). With at most 15 significant digits the mantissa is exact, the power of
/// ten is exact, and one IEEE division rounds correctly, so the result is the correctly rounded
/// value, the same as a full decimal parser's.
#[inline]
fn parse_plain_decimal(cells: &[u8]) -> Option<(f64, usize)> {
    let negative = cells.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut mantissa: u64 = 0;
    // The digits from `i` on, appended to `mantissa`; how many.
    let mut take_digits = |i: &mut usize| {
        let start = *i;
        while let Some(d) = cells
            .get(*i)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d <= 9)
        {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            *i += 1;
        }
        *i - start
    };
    let mut digits = take_digits(&mut i);
    let mut fraction_digits = 0usize;
    if cells.get(i) == Some(&b'.') {
        i += 1;
        fraction_digits = take_digits(&mut i);
        digits += fraction_digits;
    }
    if digits == 0 || digits > 15 || !matches!(cells.get(i), None | Some(b'\t')) {
        return None;
    }
    let magnitude = mantissa as f64 / POWERS_OF_TEN.get(fraction_digits)?;
    Some((if negative { -magnitude } else { magnitude }, i))
}

/// Parses one value cell, counting blanks and invalid cells.
#[inline(never)]
fn parse_cell(cell: &[u8], counts: &mut RowCounts) -> Option<f64> {
    let cell = match (cell.first(), cell.last()) {
        (Some(first), Some(last))
            if !first.is_ascii_whitespace() && !last.is_ascii_whitespace() =>
        {
            cell
        }
        _ => cell.trim_ascii(),
    };
    if cell.is_empty() {
        counts.empty += 1;
        return None;
    }
    match fast_float2::parse::<f64, _>(cell) {
        Ok(value) if value.is_finite() => {
            counts.points += 1;
            Some(value)
        }
        _ => {
            counts.invalid += 1;
            None
        }
    }
}

/// Splits a header line on tabs into trimmed cells (decoded as text), dropping trailing blank cells.
fn split_header_cells(line: &[u8], line_no: u64, max_columns: usize) -> Result<Vec<String>> {
    let columns = memchr::memchr_iter(b'\t', line).count();
    // Column 0 (serial or marker) is not a data column.
    if columns > max_columns {
        return Err(PowerviewError::TooManyColumns {
            line: line_no,
            columns,
            limit: max_columns,
        });
    }
    let mut cells: Vec<String> = line
        .split(|&b| b == b'\t')
        .map(|cell| decode_text(cell.trim_ascii()))
        .collect();
    while cells.last().is_some_and(String::is_empty) {
        cells.pop();
    }
    Ok(cells)
}

/// Header text as a string: UTF-8 when valid, else Latin-1 (one char per byte, nothing lost);
/// control characters (which PostgreSQL text may reject, e.g. NUL) become U+FFFD.
fn decode_text(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    };
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect()
    } else {
        text.into_owned()
    }
}

/// Serial numbers go into channel ids, so they are kept to plain letters and digits.
fn is_valid_serial(serial: &str) -> bool {
    !serial.is_empty()
        && serial.len() <= MAX_SERIAL_LEN
        && serial.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What a V003 JSON header says about time and the master.
#[derive(Debug, Default)]
struct FileTimeSettings {
    /// `Some(true)` for `DataTimeSettings: "UTC"`, `Some(false)` for any other string, `None` if
    /// absent or not a string.
    utc: Option<bool>,
    zone_name: Option<String>,
    master_type: Option<PhaseType>,
}

impl FileTimeSettings {
    fn from_json(json: &Value) -> Self {
        let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::trim);
        let utc = text("DataTimeSettings")
            .map(|s| s.eq_ignore_ascii_case("UTC") || s.eq_ignore_ascii_case("GMT"));
        let master_type = match text("MasterType") {
            Some(t) if t.eq_ignore_ascii_case("tri") => Some(PhaseType::Three),
            Some(t) if t.eq_ignore_ascii_case("mono") => Some(PhaseType::Single),
            _ => None,
        };
        Self {
            utc,
            zone_name: text("TimeZoneName").map(str::to_owned),
            master_type,
        }
    }

    /// The file's own statement wins; the caller's zone only fills in when the file says nothing
    /// (or says "local" without a usable zone).
    fn time_basis(&self, caller: Option<Tz>) -> Result<TimeBasis> {
        let from_caller = caller.map_or(TimeBasis::Utc, TimeBasis::Local);
        match self.utc {
            None => Ok(from_caller),
            Some(true) => Ok(TimeBasis::Utc),
            Some(false) => match self.zone_name.as_deref().and_then(lookup_timezone) {
                Some(zone) => Ok(TimeBasis::Local(zone)),
                None => match caller {
                    Some(zone) => Ok(TimeBasis::Local(zone)),
                    None => Err(PowerviewError::FileTimezone {
                        name: self.zone_name.clone().unwrap_or_default(),
                    }),
                },
            },
        }
    }
}

/// Whether a line `END_DATA` appears in the last `window` bytes; the reader is put back where it was.
fn tail_has_end_data<R: Read + Seek>(reader: &mut R, window: u64) -> Result<bool> {
    let origin = reader.stream_position()?;
    let end = reader.seek(SeekFrom::End(0))?;
    let start = end.saturating_sub(window).max(origin);
    // One byte more, to see whether the window starts at the beginning of a line.
    let read_from = if start > origin { start - 1 } else { start };
    reader.seek(SeekFrom::Start(read_from))?;
    let mut tail = Vec::new();
    reader
        .by_ref()
        .take(end.saturating_sub(read_from))
        .read_to_end(&mut tail)?;
    reader.seek(SeekFrom::Start(origin))?;
    let mut lines = tail.split(|&b| b == b'\n');
    if read_from < start {
        // Up to the first newline: the part of a line that starts before the window.
        lines.next();
    }
    Ok(lines.any(|line| line.trim_ascii() == END_DATA))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_decimal_fast_path() {
        assert_eq!(parse_plain_decimal(b"242.25\t1"), Some((242.25, 6)));
        assert_eq!(parse_plain_decimal(b"-0.0"), Some((-0.0, 4)));
        assert!(parse_plain_decimal(b"-0.0").is_some_and(|(v, _)| v.is_sign_negative()));
        assert_eq!(parse_plain_decimal(b"0"), Some((0.0, 1)));
        assert_eq!(parse_plain_decimal(b"5."), Some((5.0, 2)));
        assert_eq!(parse_plain_decimal(b".5\t"), Some((0.5, 2)));
        for other in [
            &b""[..],
            b"-",
            b".",
            b"1e3",
            b"1,5",
            b" 1",
            b"1 ",
            b"+1",
            b"nan",
            b"1.2.3",
            b"1234567890123456",
        ] {
            assert_eq!(
                parse_plain_decimal(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn tail_check_respects_the_start_position() {
        let mut bytes = b"junk line\n".to_vec();
        bytes.extend_from_slice(
            b"START_HEADER\n{}\nEND_HEADER\nSTART_DATA\n1\t1\nMV_T302_V003\tx V\n",
        );
        bytes.extend_from_slice(b"01/01/26 00:00:00\t1\nEND_DATA\n");
        let mut cursor = std::io::Cursor::new(bytes.clone());
        cursor.set_position(10);
        // "END_DATA\n" is 9 bytes: a window of 9 sees the whole line, 8 only its end.
        assert!(tail_has_end_data(&mut cursor, 9).unwrap());
        assert_eq!(cursor.position(), 10);
        assert!(!tail_has_end_data(&mut cursor, 8).unwrap());
        assert_eq!(cursor.position(), 10);
        let mut cursor = std::io::Cursor::new(bytes.clone());
        cursor.set_position(10);
        let mut file = TsvFile::open_seekable(cursor, &ParseOptions::default()).unwrap();
        assert_eq!(file.outcome(), Outcome::Ok);
        assert_eq!(
            file.next_row().unwrap().map(|r| r.values.to_vec()),
            Some(vec![Some(1.0)])
        );
        // Positioned past the end: no END_DATA, no panic.
        let mut cursor = std::io::Cursor::new(bytes);
        cursor.set_position(10_000);
        assert!(!tail_has_end_data(&mut cursor, 8).unwrap());
        let file = TsvFile::open_seekable(cursor, &ParseOptions::default()).unwrap();
        assert_eq!(file.outcome(), Outcome::NoData);
    }

    proptest! {
        #[test]
        fn fast_path_matches_full_parser(negative in any::<bool>(), int in "[0-9]{0,10}", frac in proptest::option::of("[0-9]{0,10}")) {
            let text = format!("{}{}{}", if negative { "-" } else { "" }, int, frac.map(|f| format!(".{f}")).unwrap_or_default());
            if let Some((fast, used)) = parse_plain_decimal(text.as_bytes()) {
                prop_assert_eq!(used, text.len());
                let full: f64 = fast_float2::parse(text.as_bytes()).unwrap();
                prop_assert_eq!(fast.to_bits(), full.to_bits(), "{}", text);
                let std_value: f64 = text.parse().unwrap();
                prop_assert_eq!(fast.to_bits(), std_value.to_bits());
            }
        }
    }
}
