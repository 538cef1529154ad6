//! PowerView T302 TSV ingestion: `sensor.tsv_read`, `sensor.load_tsv` and
//! `sensor.load_tsv_dir`, over the `powerview` crate.
//!
//! Decisions (the crate reports the facts; these are the loader's rules):
//! * **Which serial number goes where.** Channel ids use the master serial number written in the
//!   file (`M{master}_…`), and `sensor_data.tsv_files.master_sn` records it. The `device_master_sn`
//!   tag (in `sensor_data.tsv_channels` and `sensor_data.tsv_files`) is the upload folder
//!   `<base>/<company>/<campaign>/<device_master_sn>/`, the name the upload account used; without
//!   `base_dir` it is the file's master. They differ in real data (the company1 sample sits in
//!   folder 02001084 but was written by master 02001171).
//! * **All-zero rows** (every cell the literal `0`) are power-cut/restart markers, not
//!   measurements: in the V003 sample they are stamped an hour ahead of the UTC rows around them,
//!   and a V002 sample writes one and then a real row at the same second. They are skipped by
//!   default (`skip_zero_rows => true`) and counted in `zero_rows`.
//! * **Repeated times**: a row for a channel and time that already has a value overwrites it,
//!   within a file (the later row) and across files (the later load), as InfluxDB did.
//! * **Identical files**: a file whose sha256 was already loaded into the same company and
//!   campaign is recorded as `duplicate` and not read again.
//! * **Failures**: `load_tsv` raises the error and leaves nothing behind; `load_tsv_dir` rolls
//!   the file's subtransaction back, records it as `failed` with the message and SQLSTATE, and
//!   goes on with the next file.

mod file_moves;
mod sample_writer;
mod subtransaction;
#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("tsv/tests.rs");
}

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use powerview::{ChannelInfo, Outcome, ParseOptions, PowerviewError, TsvFile, TsvHeader};
use sha2::{Digest, Sha256};

use crate::error::{ErrorKind, RaiseError, SensorError, SensorResult};
use crate::pg::privileges::{require_server_file_access, ServerFileAccess};
use crate::pg::search_path;
use crate::pg::time::timestamptz_from_unix;
use sample_writer::SampleWriter;
use subtransaction::{Failure, Finish};

/// How a file ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Loaded,
    Duplicate,
    Deferred,
    NoData,
    Unsupported,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Loaded => "loaded",
            Status::Duplicate => "duplicate",
            Status::Deferred => "deferred",
            Status::NoData => "no_data",
            Status::Unsupported => "unsupported",
            Status::Failed => "failed",
        }
    }

    /// The folder beside the file that `load_tsv_dir(move_files => true)` moves it into; a
    /// deferred file (upload in progress) stays where it is.
    fn destination_folder(self) -> Option<&'static str> {
        match self {
            Status::Loaded | Status::Duplicate | Status::NoData => Some("parsed"),
            Status::Unsupported | Status::Failed => Some("error"),
            Status::Deferred => None,
        }
    }

    /// Statuses after which an unchanged file is not looked at again by `load_tsv_dir`.
    fn is_final(status: &str) -> bool {
        matches!(status, "loaded" | "duplicate" | "no_data" | "unsupported")
    }
}

/// One row of `sensor_data.tsv_files`, as `load_tsv` returns it.
#[derive(Debug, Clone)]
struct FileReport {
    id: i64,
    run_id: Option<i64>,
    path: String,
    company: Option<String>,
    campaign: Option<String>,
    device_master_sn: Option<String>,
    master_sn: Option<String>,
    format: Option<String>,
    structure: Option<String>,
    status: Status,
    rows: i64,
    channels: i32,
    points: i64,
    invalid_timestamps: i64,
    invalid_values: i64,
    empty_values: i64,
    missing_values: i64,
    extra_values: i64,
    truncated_rows: i64,
    zero_rows: i64,
    first_time: Option<TimestampWithTimeZone>,
    last_time: Option<TimestampWithTimeZone>,
    duration_ms: f64,
    error_message: Option<String>,
    error_sqlstate: Option<String>,
    sha256: Option<String>,
    bytes: Option<i64>,
    loaded_at: Option<TimestampWithTimeZone>,
    moved_to: Option<String>,
}

impl FileReport {
    fn new(path: &Path, run_id: Option<i64>, tags: Option<&Tags>) -> Self {
        FileReport {
            id: 0,
            run_id,
            path: path.display().to_string(),
            company: tags.map(|t| t.company.clone()),
            campaign: tags.map(|t| t.campaign.clone()),
            device_master_sn: tags.and_then(|t| t.device_folder.clone()),
            master_sn: None,
            format: None,
            structure: None,
            status: Status::Failed,
            rows: 0,
            channels: 0,
            points: 0,
            invalid_timestamps: 0,
            invalid_values: 0,
            empty_values: 0,
            missing_values: 0,
            extra_values: 0,
            truncated_rows: 0,
            zero_rows: 0,
            first_time: None,
            last_time: None,
            duration_ms: 0.0,
            error_message: None,
            error_sqlstate: None,
            sha256: None,
            bytes: None,
            loaded_at: None,
            moved_to: None,
        }
    }

    fn describe(&mut self, header: &TsvHeader) {
        self.master_sn = header.master_sn.clone();
        self.format = header.marker.clone();
        self.structure = header.format.map(|f| f.as_str().to_owned());
        self.channels = i32::try_from(header.channels.len()).unwrap_or(i32::MAX);
        if self.device_master_sn.is_none() {
            self.device_master_sn = header.master_sn.clone();
        }
    }

    fn count<R: BufRead>(&mut self, file: &TsvFile<R>) -> SensorResult<()> {
        let s = file.stats();
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.rows = n(s.rows);
        self.points = n(s.points);
        self.invalid_timestamps = n(s.invalid_timestamps);
        self.invalid_values = n(s.invalid_values);
        self.empty_values = n(s.empty_values);
        self.missing_values = n(s.missing_values);
        self.extra_values = n(s.extra_values);
        self.truncated_rows = n(s.truncated_rows);
        self.zero_rows = n(s.zero_rows);
        self.first_time = s.min_time_us.map(timestamptz_from_unix).transpose()?;
        self.last_time = s.max_time_us.map(timestamptz_from_unix).transpose()?;
        Ok(())
    }

    /// Inserts the report into `sensor_data.tsv_files`, filling in `id` and `loaded_at`.
    fn record(&mut self) -> SensorResult<()> {
        let args: [DatumWithOid; 27] = [
            self.run_id.into(),
            self.path.clone().into(),
            self.company.clone().into(),
            self.campaign.clone().into(),
            self.device_master_sn.clone().into(),
            self.master_sn.clone().into(),
            self.format.clone().into(),
            self.structure.clone().into(),
            self.status.as_str().into(),
            self.rows.into(),
            self.channels.into(),
            self.points.into(),
            self.invalid_timestamps.into(),
            self.invalid_values.into(),
            self.empty_values.into(),
            self.missing_values.into(),
            self.extra_values.into(),
            self.truncated_rows.into(),
            self.zero_rows.into(),
            self.first_time.into(),
            self.last_time.into(),
            self.duration_ms.into(),
            self.error_message.clone().into(),
            self.error_sqlstate.clone().into(),
            self.sha256.clone().into(),
            self.bytes.into(),
            self.moved_to.clone().into(),
        ];
        let (id, loaded_at) = Spi::get_two_with_args::<i64, TimestampWithTimeZone>(
            "INSERT INTO sensor_data.tsv_files (run_id, path, company, campaign, device_master_sn, master_sn, format, structure, status, \
             rows, channels, points, invalid_timestamps, invalid_values, empty_values, missing_values, extra_values, truncated_rows, zero_rows, \
             first_time, last_time, duration_ms, error_message, error_sqlstate, sha256, bytes, moved_to) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27) \
             ON CONFLICT DO NOTHING RETURNING id, loaded_at",
            &args,
        )
        .map_err(|e| spi_error("could not record the file in sensor_data.tsv_files", e))?;
        // Only a second 'loaded' row for one content, company and campaign conflicts: a
        // concurrent load of the same file got there first (under REPEATABLE READ or
        // SERIALIZABLE the conflict itself raises 40001).
        let Some(id) = id else {
            return Err(SensorError::new(
                ErrorKind::SerializationFailure,
                format!(
                    "\"{}\" was loaded by a concurrent transaction (same sha256)",
                    self.path
                ),
            )
            .with_hint("Retry the transaction."));
        };
        self.id = id;
        self.loaded_at = loaded_at;
        Ok(())
    }
}

fn spi_error(what: &str, err: pgrx::spi::SpiError) -> SensorError {
    SensorError::internal_query(what, err)
}

/// Company, campaign and upload folder of a file.
#[derive(Debug, Clone)]
struct Tags {
    company: String,
    campaign: String,
    /// `<device_master_sn>` folder, when the file was found below a base directory.
    device_folder: Option<String>,
}

/// Tags from the path below `base_dir`, overridden by explicit arguments.
fn resolve_tags(
    path: &Path,
    base_dir: Option<&Path>,
    company: Option<&str>,
    campaign: Option<&str>,
) -> SensorResult<Tags> {
    let from_path = base_dir
        .map(|base| powerview::parse_path_tags(path, base))
        .transpose()?;
    let pick = |arg: Option<&str>, tag: Option<&String>| {
        arg.map(str::to_owned)
            .or_else(|| tag.cloned())
            .filter(|s| !s.is_empty())
    };
    let company = pick(company, from_path.as_ref().map(|t| &t.company));
    let campaign = pick(campaign, from_path.as_ref().map(|t| &t.campaign));
    match (company, campaign) {
        (Some(company), Some(campaign)) => Ok(Tags {
            company,
            campaign,
            device_folder: from_path.map(|t| t.device_master_sn),
        }),
        _ => Err(SensorError::invalid_parameter(format!(
            "the company and campaign of \"{}\" are not known",
            path.display()
        ))
        .with_hint("Pass base_dir => '<base>' for a file stored as <base>/<company>/<campaign>/<device_master_sn>/<file>.tsv, or company => and campaign =>.")),
    }
}

fn parse_options(
    timezone: Option<&str>,
    skip_zero_rows: Option<bool>,
) -> SensorResult<ParseOptions> {
    let mut options = ParseOptions::with_timezone_name(timezone)?;
    options.skip_zero_rows = skip_zero_rows.unwrap_or(true);
    Ok(options)
}

/// A crate error about `path`, with PostgreSQL's wording for file-system errors.
fn file_error(err: PowerviewError, path: &Path) -> SensorError {
    match err {
        PowerviewError::Io(io) => SensorError::file_access(&io, "read", path),
        other => {
            let timezone = matches!(other, PowerviewError::FileTimezone { .. });
            let err = SensorError::from(other);
            let err = SensorError {
                message: format!("invalid T302 file \"{}\": {}", path.display(), err.message),
                ..err
            };
            if timezone {
                err.with_hint("Pass timezone => '<IANA zone>' to read its local times.")
            } else {
                err
            }
        }
    }
}

fn open_file(path: &Path) -> SensorResult<File> {
    let file = File::open(path).map_err(|e| SensorError::file_access(&e, "open", path))?;
    let meta = file
        .metadata()
        .map_err(|e| SensorError::file_access(&e, "stat", path))?;
    if meta.is_dir() {
        return Err(SensorError::new(
            ErrorKind::WrongObjectType,
            format!("\"{}\" is a directory", path.display()),
        ));
    }
    Ok(file)
}

/// The file's sha256 (lowercase hex) and size; the file is read once, then rewound.
fn sha256_of(file: &mut File, path: &Path) -> SensorResult<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SensorError::file_access(&e, "read", path)),
        };
        hasher.update(&buffer[..n]);
        total += n as u64;
        if total % (1 << 24) < n as u64 {
            pgrx::check_for_interrupts!();
        }
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| SensorError::file_access(&e, "seek in", path))?;
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hex, total))
}

/// Whether a file with this sha256 was already loaded into this company and campaign. Takes a
/// transaction-level advisory lock first, so that two sessions loading the same file take turns
/// and the second one sees the first one's row.
fn already_loaded(sha256: &str, tags: &Tags) -> SensorResult<bool> {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock(1414747953, pg_catalog.hashtext($1))",
        &[sha256.into()],
    )
    .map_err(|e| spi_error("could not lock the file's sha256", e))?;
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM sensor_data.tsv_files WHERE sha256 = $1 AND company = $2 AND campaign = $3 AND status = 'loaded')",
        &[sha256.into(), tags.company.as_str().into(), tags.campaign.as_str().into()],
    )
    .map(|found| found.unwrap_or(false))
    .map_err(|e| spi_error("could not look for an identical file", e))
}

const UPSERT_CHANNELS_SQL: &str = "INSERT INTO sensor_data.tsv_channels AS c \
     (company, campaign, device_master_sn, channel_id, device_sn, device_type, label, name, unit, source_format) \
     SELECT $1, $2, $3, u.channel_id, u.device_sn, u.device_type, u.label, u.name, u.unit, u.source_format \
     FROM ROWS FROM (pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), \
                     pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[])) \
          AS u(channel_id, device_sn, device_type, label, name, unit, source_format) \
     ON CONFLICT (company, campaign, channel_id) DO UPDATE SET \
          device_master_sn = EXCLUDED.device_master_sn, device_sn = EXCLUDED.device_sn, device_type = EXCLUDED.device_type, \
          label = EXCLUDED.label, name = EXCLUDED.name, unit = EXCLUDED.unit, source_format = EXCLUDED.source_format \
     WHERE (c.device_master_sn, c.device_sn, c.device_type, c.label, c.name, c.unit, c.source_format) IS DISTINCT FROM \
           (EXCLUDED.device_master_sn, EXCLUDED.device_sn, EXCLUDED.device_type, EXCLUDED.label, EXCLUDED.name, EXCLUDED.unit, EXCLUDED.source_format)";

const CHANNEL_IDS_SQL: &str = "SELECT pg_catalog.array_agg(c.id ORDER BY u.ord) \
     FROM pg_catalog.unnest($3::text[]) WITH ORDINALITY AS u(channel_id, ord) \
     JOIN sensor_data.tsv_channels c ON c.company = $1 AND c.campaign = $2 AND c.channel_id = u.channel_id";

/// Creates or updates the file's channels; returns their ids in column order.
fn upsert_channels(
    tags: &Tags,
    device_master_sn: &str,
    channels: &[ChannelInfo],
) -> SensorResult<Vec<i32>> {
    let column = |f: fn(&ChannelInfo) -> &str| -> Vec<String> {
        channels.iter().map(|c| f(c).to_owned()).collect()
    };
    let ids = column(|c| &c.channel_id);
    let units: Vec<Option<String>> = channels
        .iter()
        .map(|c| Some(c.unit.clone()).filter(|u| !u.is_empty()))
        .collect();
    let found = Spi::connect_mut(|client| {
        client.update(
            UPSERT_CHANNELS_SQL,
            None,
            &[
                tags.company.as_str().into(),
                tags.campaign.as_str().into(),
                device_master_sn.into(),
                ids.clone().into(),
                column(|c| &c.device_sn).into(),
                column(|c| c.device_type.as_str()).into(),
                column(|c| &c.label).into(),
                column(|c| &c.name).into(),
                units.into(),
                column(|c| &c.source_format).into(),
            ],
        )?;
        client
            .update(
                CHANNEL_IDS_SQL,
                Some(1),
                &[
                    tags.company.as_str().into(),
                    tags.campaign.as_str().into(),
                    ids.into(),
                ],
            )?
            .first()
            .get_one::<Vec<i32>>()
    })
    .map_err(|e| spi_error("could not record the channels", e))?
    .unwrap_or_default();
    if found.len() != channels.len() {
        return Err(SensorError::new(
            ErrorKind::UndefinedObject,
            format!(
                "{} of the file's {} channels are not visible in sensor_data.tsv_channels after recording them",
                channels.len().saturating_sub(found.len()),
                channels.len()
            ),
        )
        .with_hint("Row-level security hides them: load as the tables' owner or a role with BYPASSRLS, or grant this role the company with sensor.grant_company_access."));
    }
    Ok(found)
}

/// Streams the rows into the tables. `Ok(false)` when the file turned out to be incomplete
/// (a V003 file whose rows ended without `END_DATA`): what was written must be rolled back.
fn load_rows<R: BufRead>(
    file: &mut TsvFile<R>,
    tags: &Tags,
    device_master_sn: &str,
    path: &Path,
) -> SensorResult<bool> {
    let ids = upsert_channels(tags, device_master_sn, file.channels())?;
    let mut writer = SampleWriter::new(ids)?;
    let mut rows = 0u32;
    while let Some(row) = file.next_row().map_err(|e| file_error(e, path))? {
        writer.push(row.time_us, row.values)?;
        rows = rows.wrapping_add(1);
        if rows.is_multiple_of(1024) {
            pgrx::check_for_interrupts!();
        }
    }
    if file.end_data_missing() {
        return Ok(false);
    }
    let stats = writer.finish()?;
    pgrx::debug1!(
        "load_tsv \"{}\": {} points inserted, {} upserted (bulk path: {}, indexes rebuilt at the end: {})",
        path.display(),
        stats.inserted,
        stats.upserted,
        stats.bulk,
        stats.indexes_deferred
    );
    Ok(true)
}

/// Reads and loads one file; the report is not recorded yet. The caller runs this in a
/// subtransaction and rolls it back when asked to.
fn load_file(
    path: &Path,
    base_dir: Option<&Path>,
    company: Option<&str>,
    campaign: Option<&str>,
    options: &ParseOptions,
    run_id: Option<i64>,
) -> SensorResult<Finish<FileReport>> {
    let started = Instant::now();
    let tags = resolve_tags(path, base_dir, company, campaign)?;
    let mut report = FileReport::new(path, run_id, Some(&tags));
    let mut handle = open_file(path)?;
    let (sha256, bytes) = sha256_of(&mut handle, path)?;
    report.sha256 = Some(sha256.clone());
    report.bytes = Some(i64::try_from(bytes).unwrap_or(i64::MAX));
    let mut file = TsvFile::open_seekable(BufReader::with_capacity(1 << 18, handle), options)
        .map_err(|e| file_error(e, path))?;
    report.describe(file.header());
    let mut finish_with_rollback = false;
    report.status = match file.outcome() {
        Outcome::Deferred => Status::Deferred,
        Outcome::NoData => Status::NoData,
        Outcome::Unsupported { .. } => Status::Unsupported,
        Outcome::Ok if already_loaded(&sha256, &tags)? => Status::Duplicate,
        Outcome::Ok => {
            let device_master_sn = report.device_master_sn.clone().unwrap_or_default();
            if load_rows(&mut file, &tags, &device_master_sn, path)? {
                Status::Loaded
            } else {
                finish_with_rollback = true;
                Status::Deferred
            }
        }
    };
    if report.status == Status::Loaded {
        report.count(&file)?;
    }
    report.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(if finish_with_rollback {
        Finish::Rollback(report)
    } else {
        Finish::Commit(report)
    })
}

type FileReportRow = (
    i64,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
    i32,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    f64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<TimestampWithTimeZone>,
    Option<String>,
);

impl FileReport {
    fn into_row(self) -> FileReportRow {
        (
            self.id,
            self.run_id,
            self.path,
            self.company,
            self.campaign,
            self.device_master_sn,
            self.master_sn,
            self.format,
            self.structure,
            self.status.as_str().to_owned(),
            self.rows,
            self.channels,
            self.points,
            self.invalid_timestamps,
            self.invalid_values,
            self.empty_values,
            self.missing_values,
            self.extra_values,
            self.truncated_rows,
            self.zero_rows,
            self.first_time,
            self.last_time,
            self.duration_ms,
            self.error_message,
            self.error_sqlstate,
            self.sha256,
            self.bytes,
            self.loaded_at,
            self.moved_to,
        )
    }
}

fn required<'a>(value: Option<&'a str>, argument: &str) -> SensorResult<&'a str> {
    value.ok_or_else(|| SensorError::invalid_parameter(format!("{argument} must not be NULL")))
}

/// Streams the points of a T302 TSV file on the database server, without loading anything:
/// one row per value, in file order (blank and invalid cells are skipped).
#[pg_extern(volatile, parallel_safe)]
#[allow(clippy::type_complexity)]
fn tsv_read(
    path: Option<&str>,
    timezone: default!(Option<&str>, "NULL"),
    skip_zero_rows: default!(Option<bool>, true),
) -> Result<
    TableIterator<
        'static,
        (
            name!(time, TimestampWithTimeZone),
            name!(channel_id, String),
            name!(device_sn, String),
            name!(label, String),
            name!(name, String),
            name!(unit, Option<String>),
            name!(value, f64),
        ),
    >,
    ErrorReport,
> {
    let path = PathBuf::from(required(path, "path")?);
    require_server_file_access(ServerFileAccess::Read, &path)?;
    let options = parse_options(timezone, skip_zero_rows)?;
    let handle = open_file(&path)?;
    let file = TsvFile::open_seekable(BufReader::with_capacity(1 << 18, handle), &options)
        .map_err(|e| file_error(e, &path))?;
    match file.outcome() {
        Outcome::Unsupported { marker } => {
            return Err(SensorError::not_supported(format!(
                "\"{}\" is a {marker} file, which is not supported",
                path.display()
            ))
            .with_hint("Supported formats: MV_T302_V002, MV_T302_V003.")
            .into())
        }
        Outcome::Deferred => {
            pgrx::notice!(
                "\"{}\" has no END_DATA yet (upload in progress): nothing to read",
                path.display()
            );
        }
        Outcome::NoData | Outcome::Ok => {}
    }
    Ok(TableIterator::new(PointStream::new(file, path)))
}

/// The points of a file, one at a time (memory: one row).
struct PointStream<R> {
    file: TsvFile<R>,
    path: PathBuf,
    channels: Vec<ChannelInfo>,
    values: Vec<Option<f64>>,
    time: Option<TimestampWithTimeZone>,
    next_column: usize,
    rows: u32,
}

impl<R: BufRead> PointStream<R> {
    fn new(file: TsvFile<R>, path: PathBuf) -> Self {
        let channels = if file.outcome() == Outcome::Ok {
            file.channels().to_vec()
        } else {
            Vec::new()
        };
        PointStream {
            values: vec![None; channels.len()],
            channels,
            file,
            path,
            time: None,
            next_column: 0,
            rows: 0,
        }
    }
}

impl<R: BufRead> Iterator for PointStream<R> {
    type Item = (
        TimestampWithTimeZone,
        String,
        String,
        String,
        String,
        Option<String>,
        f64,
    );

    fn next(&mut self) -> Option<Self::Item> {
        if self.channels.is_empty() {
            return None;
        }
        loop {
            if let Some(time) = self.time {
                while self.next_column < self.values.len() {
                    let column = self.next_column;
                    self.next_column += 1;
                    if let Some(value) = self.values[column] {
                        let c = &self.channels[column];
                        return Some((
                            time,
                            c.channel_id.clone(),
                            c.device_sn.clone(),
                            c.label.clone(),
                            c.name.clone(),
                            Some(c.unit.clone()).filter(|u| !u.is_empty()),
                            value,
                        ));
                    }
                }
            }
            self.rows = self.rows.wrapping_add(1);
            if self.rows.is_multiple_of(1024) {
                pgrx::check_for_interrupts!();
            }
            let row = self
                .file
                .next_row()
                .map_err(|e| file_error(e, &self.path))
                .or_raise()?;
            self.values.copy_from_slice(row.values);
            self.time = Some(timestamptz_from_unix(row.time_us).or_raise());
            self.next_column = 0;
        }
    }
}

/// Loads one T302 TSV file on the database server into `sensor_data.electrical_samples`, records it
/// in `sensor_data.tsv_files` and returns that row.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn load_tsv(
    path: Option<&str>,
    base_dir: default!(Option<&str>, "NULL"),
    company: default!(Option<&str>, "NULL"),
    campaign: default!(Option<&str>, "NULL"),
    timezone: default!(Option<&str>, "NULL"),
    skip_zero_rows: default!(Option<bool>, true),
) -> Result<
    TableIterator<
        'static,
        (
            name!(id, i64),
            name!(run_id, Option<i64>),
            name!(path, String),
            name!(company, Option<String>),
            name!(campaign, Option<String>),
            name!(device_master_sn, Option<String>),
            name!(master_sn, Option<String>),
            name!(format, Option<String>),
            name!(structure, Option<String>),
            name!(status, String),
            name!(rows, i64),
            name!(channels, i32),
            name!(points, i64),
            name!(invalid_timestamps, i64),
            name!(invalid_values, i64),
            name!(empty_values, i64),
            name!(missing_values, i64),
            name!(extra_values, i64),
            name!(truncated_rows, i64),
            name!(zero_rows, i64),
            name!(first_time, Option<TimestampWithTimeZone>),
            name!(last_time, Option<TimestampWithTimeZone>),
            name!(duration_ms, f64),
            name!(error_message, Option<String>),
            name!(error_sqlstate, Option<String>),
            name!(sha256, Option<String>),
            name!(bytes, Option<i64>),
            name!(loaded_at, Option<TimestampWithTimeZone>),
            name!(moved_to, Option<String>),
        ),
    >,
    ErrorReport,
> {
    let path = Path::new(required(path, "path")?);
    require_server_file_access(ServerFileAccess::Read, path)?;
    let options = parse_options(timezone, skip_zero_rows)?;
    // Tags come from the file's real place below base_dir: a symbolic link cannot lend a
    // file to another company, nor reach outside base_dir.
    let (path, base_dir) = match base_dir {
        Some(base) => {
            // A path that is not below base_dir as written is an argument error (22023).
            powerview::parse_path_tags(path, Path::new(base)).map_err(SensorError::from)?;
            let base = real_directory(Path::new(base))?;
            match real_path_below(path, &base)? {
                Ok(real) => (real, Some(base)),
                Err(refusal) => return Err(refusal.into()),
            }
        }
        None => (path.to_path_buf(), None),
    };
    let report = search_path::pinned(|| {
        let mut report = match subtransaction::run(|| {
            load_file(
                &path,
                base_dir.as_deref(),
                company,
                campaign,
                &options,
                None,
            )
        }) {
            Ok(report) => report,
            Err(failure) => failure.raise(),
        };
        report.record()?;
        Ok::<_, SensorError>(report)
    })?;
    Ok(TableIterator::once(report.into_row()))
}

/// `dir` with every symbolic link resolved; it must be a directory.
fn real_directory(dir: &Path) -> SensorResult<PathBuf> {
    let real = std::fs::canonicalize(dir).map_err(|e| directory_error(&e, dir))?;
    if !real.is_dir() {
        return Err(SensorError::new(
            ErrorKind::WrongObjectType,
            format!("\"{}\" is not a directory", dir.display()),
        ));
    }
    Ok(real)
}

/// The real path of `path` (symbolic links resolved), if it lies below `real_base`;
/// otherwise the refusal (42501) to report for it.
fn real_path_below(path: &Path, real_base: &Path) -> SensorResult<Result<PathBuf, SensorError>> {
    let real =
        std::fs::canonicalize(path).map_err(|e| SensorError::file_access(&e, "open", path))?;
    if real.starts_with(real_base) {
        return Ok(Ok(real));
    }
    Ok(Err(SensorError::new(
        ErrorKind::InsufficientPrivilege,
        format!(
            "\"{}\" leads to \"{}\", outside base_dir \"{}\": not read",
            path.display(),
            real.display(),
            real_base.display()
        ),
    )
    .with_hint(
        "A symbolic link below base_dir may only lead to a file below base_dir.",
    )))
}

/// Counters of one `load_tsv_dir` run.
#[derive(Debug, Default)]
struct RunCounts {
    files_total: i32,
    loaded: i32,
    no_data: i32,
    unsupported: i32,
    duplicate: i32,
    deferred: i32,
    failed: i32,
    skipped: i32,
    points: i64,
}

impl RunCounts {
    fn add(&mut self, report: &FileReport) {
        self.files_total += 1;
        let slot = match report.status {
            Status::Loaded => &mut self.loaded,
            Status::NoData => &mut self.no_data,
            Status::Unsupported => &mut self.unsupported,
            Status::Duplicate => &mut self.duplicate,
            Status::Deferred => &mut self.deferred,
            Status::Failed => &mut self.failed,
        };
        *slot += 1;
        if report.status == Status::Loaded {
            self.points += report.points;
        }
    }

    /// Files read without error that need nothing more: loaded, empty, or reported unsupported.
    fn succeeded(&self) -> i32 {
        self.loaded + self.no_data + self.unsupported
    }
}

fn directory_error(err: &std::io::Error, dir: &Path) -> SensorError {
    let e = SensorError::file_access(err, "open", dir);
    SensorError {
        message: e
            .message
            .replacen("could not open file", "could not open directory", 1),
        ..e
    }
}

fn is_tsv_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("tsv"))
}

/// Every `.tsv` file below `base` (hidden files and the `parsed/` and `error/` folders left
/// out), sorted, as found (the caller resolves symbolic links to files). Directory symlinks
/// are not followed (no loops, nothing outside `base`).
fn tsv_files_below(base: &Path) -> SensorResult<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![base.to_path_buf()];
    while let Some(dir) = pending.pop() {
        pgrx::check_for_interrupts!();
        let entries = std::fs::read_dir(&dir).map_err(|e| directory_error(&e, &dir))?;
        for entry in entries {
            let entry = entry.map_err(|e| directory_error(&e, &dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| SensorError::file_access(&e, "stat", &path))?;
            if kind.is_dir() {
                if name != "parsed" && name != "error" {
                    pending.push(path);
                }
            } else if is_tsv_name(&name) && (kind.is_file() || path.is_file()) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Takes the transaction-level advisory lock of one file path.
fn lock_file_path(path: &Path) -> SensorResult<()> {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock(1414747954, pg_catalog.hashtext($1))",
        &[path.display().to_string().into()],
    )
    .map_err(|e| spi_error("could not lock the file's path", e))
}

/// The last recorded status of `path`, if it is final and the file still has the recorded size.
fn final_status_of(path: &Path, bytes: Option<u64>) -> SensorResult<Option<String>> {
    let last = Spi::connect(|client| {
        let table = client.select(
            "SELECT status, bytes FROM sensor_data.tsv_files WHERE path = $1 ORDER BY id DESC LIMIT 1",
            None,
            &[path.display().to_string().into()],
        )?;
        if table.is_empty() {
            return Ok(None);
        }
        table.first().get_two::<String, i64>().map(Some)
    })
    .map_err(|e| spi_error("could not read sensor_data.tsv_files", e))?;
    Ok(match last {
        Some((Some(status), Some(recorded)))
            if Status::is_final(&status) && u64::try_from(recorded).ok() == bytes =>
        {
            Some(status)
        }
        _ => None,
    })
}

fn failed_report(
    path: &Path,
    base: &Path,
    run_id: i64,
    failure: &Failure,
    started: Instant,
) -> FileReport {
    let tags = powerview::parse_path_tags(path, base).ok().map(|t| Tags {
        company: t.company,
        campaign: t.campaign,
        device_folder: Some(t.device_master_sn),
    });
    let mut report = FileReport::new(path, Some(run_id), tags.as_ref());
    report.status = Status::Failed;
    report.error_message = Some(failure.message.clone());
    report.error_sqlstate = Some(failure.sqlstate.clone());
    report.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    report
}

/// Queues the move of `path` into `folder` beside it; returns the destination.
fn queue_move(path: &Path, folder: &str) -> Option<String> {
    match file_moves::destination(path, folder) {
        Ok(to) => {
            let shown = to.display().to_string();
            file_moves::move_at_commit(path.to_path_buf(), to);
            Some(shown)
        }
        Err(err) => {
            pgrx::warning!("{}; the file stays where it is", err.message);
            None
        }
    }
}

type RunRow = (
    i64,
    String,
    bool,
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    f64,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    i64,
);

fn load_dir(base_dir: &str, move_files: bool, options: &ParseOptions) -> SensorResult<RunRow> {
    let started = Instant::now();
    let base = Path::new(base_dir);
    require_server_file_access(ServerFileAccess::Read, base)?;
    if move_files {
        require_server_file_access(ServerFileAccess::Write, base)?;
    }
    let real_base = real_directory(base)?;
    let files = tsv_files_below(base)?;
    let (run_id, started_at) = Spi::get_two_with_args::<i64, TimestampWithTimeZone>(
        "INSERT INTO sensor_data.tsv_runs (base_dir, move_files) VALUES ($1, $2) RETURNING id, started_at",
        &[base_dir.into(), move_files.into()],
    )
    .map_err(|e| spi_error("could not record the run in sensor_data.tsv_runs", e))?;
    let run_id = run_id.unwrap_or_default();
    let mut counts = RunCounts::default();
    let mut seen = std::collections::HashSet::new();
    for found in files {
        pgrx::check_for_interrupts!();
        let file_started = Instant::now();
        let path = match real_path_below(&found, &real_base) {
            Ok(Ok(real)) => real,
            // Gone since the listing: moved or deleted by a concurrent run.
            Err(e) if e.kind == ErrorKind::FileNotFound => {
                counts.skipped += 1;
                continue;
            }
            Err(e) => return Err(e),
            Ok(Err(refusal)) => {
                let failure = Failure::from_error(&refusal);
                let mut report = failed_report(&found, base, run_id, &failure, file_started);
                if move_files {
                    report.moved_to = queue_move(&found, "error");
                }
                report.record()?;
                counts.add(&report);
                continue;
            }
        };
        // A file reached twice (through a link and by its own name) is loaded once.
        if !seen.insert(path.clone()) {
            continue;
        }
        // Runs over the same files take turns file by file (no deadlock: each takes its
        // locks in path order, and holds them until it ends); one that waited finds the
        // file moved away, or recorded, by the other.
        lock_file_path(&path)?;
        if std::fs::symlink_metadata(&path).is_err() {
            counts.skipped += 1;
            continue;
        }
        let bytes = std::fs::metadata(&path).ok().map(|m| m.len());
        if let Some(status) = final_status_of(&path, bytes)? {
            counts.skipped += 1;
            let folder = if status == "unsupported" {
                "error"
            } else {
                "parsed"
            };
            if move_files {
                queue_move(&path, folder);
            }
            continue;
        }
        let outcome = subtransaction::run(|| {
            load_file(&path, Some(&real_base), None, None, options, Some(run_id))
        });
        let mut report = match outcome {
            Ok(report) => report,
            Err(failure) if failure.must_propagate() => failure.raise(),
            Err(failure) => failed_report(&path, &real_base, run_id, &failure, file_started),
        };
        if move_files {
            if let Some(folder) = report.status.destination_folder() {
                report.moved_to = queue_move(&path, folder);
            }
        }
        report.record()?;
        counts.add(&report);
    }
    let duration_ms = started.elapsed().as_secs_f64() * 1e3;
    let finished_at = Spi::get_one_with_args::<TimestampWithTimeZone>(
        "UPDATE sensor_data.tsv_runs SET finished_at = pg_catalog.clock_timestamp(), duration_ms = $2, files_total = $3, succeeded = $4, \
         loaded = $5, no_data = $6, unsupported = $7, duplicate = $8, deferred = $9, failed = $10, skipped = $11, points = $12 \
         WHERE id = $1 RETURNING finished_at",
        &[
            run_id.into(),
            duration_ms.into(),
            counts.files_total.into(),
            counts.succeeded().into(),
            counts.loaded.into(),
            counts.no_data.into(),
            counts.unsupported.into(),
            counts.duplicate.into(),
            counts.deferred.into(),
            counts.failed.into(),
            counts.skipped.into(),
            counts.points.into(),
        ],
    )
    .map_err(|e| spi_error("could not record the run in sensor_data.tsv_runs", e))?;
    Ok((
        run_id,
        base_dir.to_owned(),
        move_files,
        started_at,
        finished_at,
        duration_ms,
        counts.files_total,
        counts.succeeded(),
        counts.loaded,
        counts.no_data,
        counts.unsupported,
        counts.duplicate,
        counts.deferred,
        counts.failed,
        counts.skipped,
        counts.points,
    ))
}

/// Loads every `.tsv` file below `base_dir` not yet recorded, each in its own subtransaction,
/// records the run in `sensor_data.tsv_runs` and returns that row.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn load_tsv_dir(
    base_dir: Option<&str>,
    move_files: default!(Option<bool>, false),
    timezone: default!(Option<&str>, "NULL"),
    skip_zero_rows: default!(Option<bool>, true),
) -> Result<
    TableIterator<
        'static,
        (
            name!(id, i64),
            name!(base_dir, String),
            name!(move_files, bool),
            name!(started_at, Option<TimestampWithTimeZone>),
            name!(finished_at, Option<TimestampWithTimeZone>),
            name!(duration_ms, f64),
            name!(files_total, i32),
            name!(succeeded, i32),
            name!(loaded, i32),
            name!(no_data, i32),
            name!(unsupported, i32),
            name!(duplicate, i32),
            name!(deferred, i32),
            name!(failed, i32),
            name!(skipped, i32),
            name!(points, i64),
        ),
    >,
    ErrorReport,
> {
    let base_dir = required(base_dir, "base_dir")?;
    let options = parse_options(timezone, skip_zero_rows)?;
    let row = search_path::pinned(|| load_dir(base_dir, move_files.unwrap_or(false), &options))?;
    Ok(TableIterator::once(row))
}
