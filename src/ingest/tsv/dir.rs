//! `sensor.load_tsv_dir`: every `.tsv` file below a folder not yet recorded, each in its own
//! subtransaction, with real paths, per-file locks and moves at commit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use powerview::ParseOptions;

use super::report::{FileReport, Status};
use super::subtransaction::{self, Failure};
use super::{file_moves, load_file, parse_options, spi_error, Tags};
use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::args::required;
use crate::pg::privileges::{require_server_file_access, ServerFileAccess};
use crate::pg::search_path;

/// `dir` with every symbolic link resolved; it must be a directory.
pub(super) fn real_directory(dir: &Path) -> SensorResult<PathBuf> {
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
pub(super) fn real_path_below(
    path: &Path,
    real_base: &Path,
) -> SensorResult<Result<PathBuf, SensorError>> {
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

/// One `load_tsv_dir` run: where it reads, what it may do, and its record.
struct Run<'a> {
    id: i64,
    base: &'a Path,
    real_base: PathBuf,
    move_files: bool,
    options: &'a ParseOptions,
}

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
    let run = Run {
        id: run_id.unwrap_or_default(),
        base,
        real_base,
        move_files,
        options,
    };
    let mut counts = RunCounts::default();
    let mut seen = std::collections::HashSet::new();
    for found in files {
        pgrx::check_for_interrupts!();
        run.file(&found, &mut seen, &mut counts)?;
    }
    let duration_ms = started.elapsed().as_secs_f64() * 1e3;
    let finished_at = counts.record(run.id, duration_ms)?;
    Ok(counts.row(
        run.id,
        base_dir,
        move_files,
        (started_at, finished_at),
        duration_ms,
    ))
}

impl Run<'_> {
    /// Loads (or skips, or reports) one file found below the base folder, counted.
    fn file(
        &self,
        found: &Path,
        seen: &mut std::collections::HashSet<PathBuf>,
        counts: &mut RunCounts,
    ) -> SensorResult<()> {
        let started = Instant::now();
        let path = match real_path_below(found, &self.real_base) {
            Ok(Ok(real)) => real,
            // Gone since the listing: moved or deleted by a concurrent run.
            Err(e) if e.kind == ErrorKind::FileNotFound => {
                counts.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(e),
            Ok(Err(refusal)) => {
                let failure = Failure::from_error(&refusal);
                let mut report = failed_report(found, self.base, self.id, &failure, started);
                if self.move_files {
                    report.moved_to = queue_move(found, "error");
                }
                report.record()?;
                counts.add(&report);
                return Ok(());
            }
        };
        // A file reached twice (through a link and by its own name) is loaded once.
        if !seen.insert(path.clone()) {
            return Ok(());
        }
        // Runs over the same files take turns file by file (no deadlock: each takes its
        // locks in path order, and holds them until it ends); one that waited finds the
        // file moved away, or recorded, by the other.
        lock_file_path(&path)?;
        if std::fs::symlink_metadata(&path).is_err() {
            counts.skipped += 1;
            return Ok(());
        }
        let bytes = std::fs::metadata(&path).ok().map(|m| m.len());
        if let Some(status) = final_status_of(&path, bytes)? {
            counts.skipped += 1;
            let folder = if status == "unsupported" {
                "error"
            } else {
                "parsed"
            };
            if self.move_files {
                queue_move(&path, folder);
            }
            return Ok(());
        }
        let outcome = subtransaction::run(|| {
            load_file(
                &path,
                Some(&self.real_base),
                None,
                None,
                self.options,
                Some(self.id),
            )
        });
        let mut report = match outcome {
            Ok(report) => report,
            Err(failure) if failure.must_propagate() => failure.raise(),
            Err(failure) => failed_report(&path, &self.real_base, self.id, &failure, started),
        };
        if self.move_files {
            if let Some(folder) = report.status.destination_folder() {
                report.moved_to = queue_move(&path, folder);
            }
        }
        report.record()?;
        counts.add(&report);
        Ok(())
    }
}

impl RunCounts {
    /// Completes the run's row in sensor_data.tsv_runs; returns its finished_at.
    fn record(&self, run_id: i64, duration_ms: f64) -> SensorResult<Option<TimestampWithTimeZone>> {
        Spi::get_one_with_args::<TimestampWithTimeZone>(
            "UPDATE sensor_data.tsv_runs SET finished_at = pg_catalog.clock_timestamp(), duration_ms = $2, files_total = $3, succeeded = $4, \
             loaded = $5, no_data = $6, unsupported = $7, duplicate = $8, deferred = $9, failed = $10, skipped = $11, points = $12 \
             WHERE id = $1 RETURNING finished_at",
            &[
                run_id.into(),
                duration_ms.into(),
                self.files_total.into(),
                self.succeeded().into(),
                self.loaded.into(),
                self.no_data.into(),
                self.unsupported.into(),
                self.duplicate.into(),
                self.deferred.into(),
                self.failed.into(),
                self.skipped.into(),
                self.points.into(),
            ],
        )
        .map_err(|e| spi_error("could not record the run in sensor_data.tsv_runs", e))
    }

    /// The run's result row, as recorded.
    fn row(
        &self,
        run_id: i64,
        base_dir: &str,
        move_files: bool,
        (started_at, finished_at): (Option<TimestampWithTimeZone>, Option<TimestampWithTimeZone>),
        duration_ms: f64,
    ) -> RunRow {
        (
            run_id,
            base_dir.to_owned(),
            move_files,
            started_at,
            finished_at,
            duration_ms,
            self.files_total,
            self.succeeded(),
            self.loaded,
            self.no_data,
            self.unsupported,
            self.duplicate,
            self.deferred,
            self.failed,
            self.skipped,
            self.points,
        )
    }
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
