//! The report of one file (`sensor_data.tsv_files`): how it ended up, what it held, where it
//! went.

use std::io::BufRead;
use std::path::Path;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use powerview::{TsvFile, TsvHeader};

use super::{spi_error, Tags};
use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::time::timestamptz_from_unix;

/// How a file ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Loaded,
    Duplicate,
    Deferred,
    NoData,
    Unsupported,
    Failed,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
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
    pub(super) fn destination_folder(self) -> Option<&'static str> {
        match self {
            Status::Loaded | Status::Duplicate | Status::NoData => Some("parsed"),
            Status::Unsupported | Status::Failed => Some("error"),
            Status::Deferred => None,
        }
    }

    /// Statuses after which an unchanged file is not looked at again by `load_tsv_dir`.
    pub(super) fn is_final(status: &str) -> bool {
        matches!(status, "loaded" | "duplicate" | "no_data" | "unsupported")
    }
}

/// One row of `sensor_data.tsv_files`, as `load_tsv` returns it.
#[derive(Debug, Clone)]
pub(super) struct FileReport {
    pub(super) id: i64,
    pub(super) run_id: Option<i64>,
    pub(super) path: String,
    pub(super) company: Option<String>,
    pub(super) campaign: Option<String>,
    pub(super) device_master_sn: Option<String>,
    pub(super) master_sn: Option<String>,
    pub(super) format: Option<String>,
    pub(super) structure: Option<String>,
    pub(super) status: Status,
    pub(super) rows: i64,
    pub(super) channels: i32,
    pub(super) points: i64,
    pub(super) invalid_timestamps: i64,
    pub(super) invalid_values: i64,
    pub(super) empty_values: i64,
    pub(super) missing_values: i64,
    pub(super) extra_values: i64,
    pub(super) truncated_rows: i64,
    pub(super) zero_rows: i64,
    pub(super) first_time: Option<TimestampWithTimeZone>,
    pub(super) last_time: Option<TimestampWithTimeZone>,
    pub(super) duration_ms: f64,
    pub(super) error_message: Option<String>,
    pub(super) error_sqlstate: Option<String>,
    pub(super) sha256: Option<String>,
    pub(super) bytes: Option<i64>,
    pub(super) loaded_at: Option<TimestampWithTimeZone>,
    pub(super) moved_to: Option<String>,
}

impl FileReport {
    pub(super) fn new(path: &Path, run_id: Option<i64>, tags: Option<&Tags>) -> Self {
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

    pub(super) fn describe(&mut self, header: &TsvHeader) {
        self.master_sn = header.master_sn.clone();
        self.format = header.marker.clone();
        self.structure = header.format.map(|f| f.as_str().to_owned());
        self.channels = i32::try_from(header.channels.len()).unwrap_or(i32::MAX);
        if self.device_master_sn.is_none() {
            self.device_master_sn = header.master_sn.clone();
        }
    }

    pub(super) fn count<R: BufRead>(&mut self, file: &TsvFile<R>) -> SensorResult<()> {
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
    pub(super) fn record(&mut self) -> SensorResult<()> {
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

pub(super) type FileReportRow = (
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
    pub(super) fn into_row(self) -> FileReportRow {
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
