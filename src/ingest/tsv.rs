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

mod dir;
mod file_moves;
mod report;
mod sample_writer;
mod subtransaction;

pgrx::extension_sql_file!(
    "../../sql/tsv.sql",
    name = "tsv",
    requires = ["storage", tsv_read, load_tsv, load_tsv_dir]
);
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

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use powerview::{ChannelInfo, Outcome, ParseOptions, PowerviewError, TsvFile};
use sha2::{Digest, Sha256};

use crate::error::{ErrorKind, RaiseError, SensorError, SensorResult};
use crate::pg::args::required;
use crate::pg::privileges::{require_server_file_access, ServerFileAccess};
use crate::pg::search_path;
use crate::pg::time::timestamptz_from_unix;
use dir::{real_directory, real_path_below};
use report::{FileReport, Status};
use sample_writer::SampleWriter;
use subtransaction::Finish;
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
