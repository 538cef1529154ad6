//! Streaming parser for the TSV files written by T302 power loggers (the PowerView formats
//! `MV_T302_V002` and `MV_T302_V003`).
//!
//! ```no_run
//! use powerview::{Outcome, ParseOptions, TsvFile};
//! let options = ParseOptions::with_timezone_name(None)?;
//! let mut file = TsvFile::open_path("T302_251012_031720.tsv", &options)?;
//! if file.outcome() == Outcome::Ok {
//!     let ids: Vec<String> = file.channels().iter().map(|c| c.channel_id.clone()).collect();
//!     while let Some(row) = file.next_row()? {
//!         for (id, value) in ids.iter().zip(row.values) {
//!             if let Some(v) = value {
//!                 println!("{} {id} {v}", row.time_us);
//!             }
//!         }
//!     }
//! }
//! # Ok::<(), powerview::PowerviewError>(())
//! ```
//!
//! # Rules
//!
//! * **Structure decides the format**: a file whose first non-blank line is `START_HEADER` (or
//!   `START_DATA`) is V003, whatever its marker says (devices wrote `START_HEADER` blocks with the
//!   `MV_T302_V002` marker). Otherwise it is V002. The marker (column 0 of the label line) must be
//!   `MV_T302_V002` or `MV_T302_V003`; any other gives [`Outcome::Unsupported`].
//! * **Outcomes**: empty file or header lines only → [`Outcome::NoData`]; V003 without `END_DATA`
//!   → [`Outcome::Deferred`] (upload in progress, nothing loaded).
//! * **Time**: V002 timestamps are UTC unless the caller gives a zone. V003: `DataTimeSettings`
//!   `"UTC"` → UTC (the caller's zone is ignored); any other string → local time in `TimeZoneName`
//!   (falling back to the caller's zone; an error if neither is usable); absent → as V002. Local
//!   times that do not exist are shifted forward by the gap; repeated ones follow
//!   [`AmbiguousTime`] (default [`AmbiguousTime::Sequential`]).
//! * **Channels**: three-phase if the labels include `Ph 1`, `Ph 2`, `Ph 3` (V003 `MasterType`
//!   `Tri`/`Mono` overrides). Labels are numbered per device in column order: the master's first
//!   three (three-phase) or first one (single-phase) columns are `U1`…, the rest `Ch1`…; a slave's
//!   columns are `Ch1`…. Ownership comes from the serial-number line only.
//! * **Rows**: a line whose timestamp does not parse is skipped (`invalid_timestamps`). A cell that is
//!   not a finite number (`nan`, `inf` included) is skipped (`invalid_values`); a blank cell is
//!   skipped (`empty_values`). A short row loads the cells it has (`missing_values`); cells beyond the
//!   header are ignored (`extra_values` counts the non-blank ones). A last line with no line
//!   terminator and fewer columns than the header is a cut-off write and is skipped entirely
//!   (`truncated_rows`). Blank lines are ignored. CRLF, a UTF-8 BOM and trailing tabs are accepted.

#![forbid(unsafe_code)]

mod channels;
mod error;
mod line_reader;
mod path_tags;
pub mod synthetic;
mod timestamp;
mod tsv_file;

pub use channels::{detect_phase_type, split_label, ChannelInfo, DeviceType, PhaseType};
pub use chrono_tz::Tz;
pub use error::{ErrorCategory, PowerviewError, Result};
pub use path_tags::{parse_path_tags, PathTags};
pub use timestamp::{parse_timezone, AmbiguousTime};
pub use tsv_file::{
    Outcome, ParseOptions, ParseStats, Row, TimeBasis, TsvFile, TsvFormat, TsvHeader, MARKER_V002,
    MARKER_V003, TAIL_WINDOW,
};
