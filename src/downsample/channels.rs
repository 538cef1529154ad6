//! Windows over loaded datasets: `sensor.channel_window` (a downsampled window of a TDMS
//! channel, or of a T302 channel by its text id) and `sensor.channel_page` (keyset paging
//! through a TDMS channel's raw rows).
//!
//! Both only read the extension's own tables (sensor_data.channels, sensor_data.samples,
//! sensor_data.indexed_samples, sensor_data.tsv_channels, sensor_data.electrical_samples), so they are
//! PARALLEL SAFE, and they name them schema-qualified.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

use super::tiers::{self, SourceChoice, TierQuery};
use super::{downsample_window_points, with_gaps, Axis, Request, SeriesPoints, Source};
use crate::pg::row_stream::Param;
use pgrx::pg_sys::panic::ErrorReport;

use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::privileges::as_owner_of;
use crate::pg::{search_path, time};

fn spi_error(e: pgrx::spi::Error) -> SensorError {
    SensorError::internal_query("reading the channel tables", e)
}

fn no_channel(channel: impl std::fmt::Display) -> SensorError {
    SensorError::new(
        ErrorKind::UndefinedObject,
        format!("channel {channel} does not exist"),
    )
}

/// Whether TDMS channel `id` has waveform time; 42704 when there is no such channel.
fn tdms_channel_has_time(id: i64) -> SensorResult<bool> {
    crate::pg::spi::get_one_with_args::<bool>(
        "SELECT has_time FROM sensor_data.channels WHERE id = $1",
        &[id.into()],
    )
    .map_err(|e| match e {
        pgrx::spi::Error::InvalidPosition => no_channel(id),
        other => spi_error(other),
    })?
    .ok_or_else(|| no_channel(id))
}

/// Smallest and largest x of a channel's rows, `None` when it has none.
fn x_extent(sql: &str, args: &[DatumWithOid]) -> SensorResult<Option<(i64, i64)>> {
    let (lo, hi) = crate::pg::spi::get_two_with_args::<i64, i64>(sql, args).map_err(spi_error)?;
    Ok(lo.zip(hi))
}

/// Seconds as microseconds, for relative windows.
fn seconds_to_micros(seconds: f64, argument: &str) -> SensorResult<i64> {
    let micros = (seconds * 1e6).round();
    if !micros.is_finite() || micros.abs() >= 9.0e18 {
        return Err(SensorError::invalid_parameter(format!(
            "{argument} must be a finite number of seconds"
        )));
    }
    Ok(micros as i64)
}

/// The window `[from, to)` of a timed channel whose samples span `[first, last]`
/// (kernel time), chosen by absolute time or by seconds from the first sample.
fn time_window(
    first: i64,
    last: i64,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    from_seconds: Option<f64>,
    to_seconds: Option<f64>,
) -> SensorResult<(i64, i64)> {
    if (from.is_some() || to.is_some()) && (from_seconds.is_some() || to_seconds.is_some()) {
        return Err(SensorError::invalid_parameter(
            "select the window either by time (\"from\", \"to\") or by seconds from the first sample (from_seconds, to_seconds), not both",
        ));
    }
    let lo = match (from, from_seconds) {
        (Some(t), _) => time::unix_micros(t, "from")?,
        (None, Some(s)) => first.saturating_add(seconds_to_micros(s, "from_seconds")?),
        (None, None) => first,
    };
    let hi = match (to, to_seconds) {
        (Some(t), _) => time::unix_micros(t, "to")?,
        (None, Some(s)) => first.saturating_add(seconds_to_micros(s, "to_seconds")?),
        (None, None) => last.saturating_add(1),
    };
    Ok((lo, hi))
}

/// A downsampled window of TDMS channel `channel_id`: by absolute time (`from`, `to`), by
/// seconds from the channel's first sample (`from_seconds`, `to_seconds`; `relative`
/// also returns each point's offset in seconds), or, for channels without time, by
/// sample index (`from_index`, `to_index`). Bounds are half-open; absent bounds mean the
/// channel's first or last sample.
#[pg_extern(stable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
// pgrx reads the column names and types from the signature itself, not from an alias.
#[allow(clippy::type_complexity)]
fn channel_window(
    channel_id: Option<i64>,
    from: default!(Option<TimestampWithTimeZone>, "NULL"),
    to: default!(Option<TimestampWithTimeZone>, "NULL"),
    from_seconds: default!(Option<f64>, "NULL"),
    to_seconds: default!(Option<f64>, "NULL"),
    from_index: default!(Option<i64>, "NULL"),
    to_index: default!(Option<i64>, "NULL"),
    points: default!(Option<i32>, 1000),
    method: default!(Option<&str>, "'minmax_lttb'"),
    relative: default!(Option<bool>, false),
    gap: default!(Option<Interval>, "NULL"),
    source: default!(Option<&str>, "'auto'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(time, Option<TimestampWithTimeZone>),
            name!(seconds, Option<f64>),
            name!(sample_index, Option<i64>),
            name!(value, Option<f64>),
        ),
    >,
    ErrorReport,
> {
    let (Some(channel_id), Some(points), Some(method)) = (channel_id, points, method) else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let choice = SourceChoice::parse(source)?;
    let window = ChannelWindow {
        bounds: (from, to, from_seconds, to_seconds),
        relative: relative.unwrap_or(false),
        method,
        points,
        gap,
        choice,
    };
    // Internal queries only: the caller's search_path cannot redirect them.
    let rows = search_path::pinned(|| {
        if tdms_channel_has_time(channel_id)? {
            if from_index.is_some() || to_index.is_some() {
                return Err(SensorError::invalid_parameter(format!(
                    "channel {channel_id} has waveform time: select its window by \"from\"/\"to\" or from_seconds/to_seconds, not by sample index"
                )));
            }
            tdms_timed_window(channel_id, &window)
        } else {
            tdms_indexed_window(channel_id, &window, (from_index, to_index))
        }
    })?;
    Ok(TableIterator::new(rows))
}

/// The window of a TDMS channel with waveform time (sensor_data.samples).
fn tdms_timed_window(channel_id: i64, window: &ChannelWindow) -> SensorResult<Vec<TdmsWindowRow>> {
    let channel = TimedChannel {
        relation: "sensor_data.samples",
        column: "channel_id",
        id: channel_id,
        int4: false,
    };
    Ok(channel
        .window_rows(window)?
        .into_iter()
        .map(|(time, seconds, value)| (Some(time), seconds, None, value))
        .collect())
}

/// The window of a TDMS channel without time (sensor_data.indexed_samples), by sample
/// index; absent bounds are the channel's first and last index.
fn tdms_indexed_window(
    channel_id: i64,
    window: &ChannelWindow,
    (from_index, to_index): (Option<i64>, Option<i64>),
) -> SensorResult<Vec<TdmsWindowRow>> {
    let (from, to, from_seconds, to_seconds) = window.bounds;
    if from.is_some() || to.is_some() || from_seconds.is_some() || to_seconds.is_some() {
        return Err(SensorError::invalid_parameter(format!(
            "channel {channel_id} has no time: select its window by from_index/to_index"
        )));
    }
    if window.gap.is_some() {
        return Err(SensorError::invalid_parameter(format!(
            "channel {channel_id} has no time, so gap (an interval) does not apply"
        )));
    }
    let Some((first, last)) = x_extent(
        "SELECT min(sample_index), max(sample_index) FROM sensor_data.indexed_samples WHERE channel_id = $1",
        &[channel_id.into()],
    )?
    else {
        return Ok(Vec::new());
    };
    let lo = from_index.unwrap_or(first);
    let hi = to_index.unwrap_or(last.saturating_add(1));
    let request = Request::new(window.method, window.points, lo, hi, None)?;
    let source = channel_source(
        "sensor_data.indexed_samples",
        "sample_index",
        "channel_id",
        Param::int8(channel_id),
        Axis::Index,
    );
    let mut rows = Vec::new();
    for series in downsample_window_points(&source, &request)? {
        rows.extend(
            series
                .points
                .iter()
                .map(|p| (None, None, Some(p.t), Some(p.v))),
        );
    }
    Ok(rows)
}

/// A row of a TDMS channel's window: time, seconds, sample index, value.
type TdmsWindowRow = (
    Option<TimestampWithTimeZone>,
    Option<f64>,
    Option<i64>,
    Option<f64>,
);

/// A timed channel's window bounds `(bounds: from, to, from_seconds, to_seconds)`: `(first
/// sample, lo, hi)` in kernel time, `None` when the channel has no samples. The extent query
/// (`sql`, min and max time) runs only when a bound is open or relative to the first
/// sample: over a hypertable of many chunks it costs more than a window from the tiers.
type WindowBounds = (
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    Option<f64>,
    Option<f64>,
);

fn channel_time_window(
    sql: &str,
    args: &[DatumWithOid],
    (from, to, from_seconds, to_seconds): WindowBounds,
    relative: bool,
) -> SensorResult<Option<(i64, i64, i64)>> {
    if let (Some(f), Some(t), false, None, None) = (from, to, relative, from_seconds, to_seconds) {
        let lo = time::unix_micros(f, "from")?;
        return Ok(Some((lo, lo, time::unix_micros(t, "to")?)));
    }
    let Some((first, last)) = time_extent(sql, args)? else {
        return Ok(None);
    };
    let (lo, hi) = time_window(first, last, from, to, from_seconds, to_seconds)?;
    Ok(Some((first, lo, hi)))
}

/// First and last sample time of a timed channel (`sql` selects min and max), in kernel
/// time; `None` when the channel has no samples.
fn time_extent(sql: &str, args: &[DatumWithOid]) -> SensorResult<Option<(i64, i64)>> {
    let (lo, hi) =
        crate::pg::spi::get_two_with_args::<TimestampWithTimeZone, TimestampWithTimeZone>(
            sql, args,
        )
        .map_err(spi_error)?;
    match (lo, hi) {
        (Some(lo), Some(hi)) => Ok(Some((
            time::unix_micros(lo, "time")?,
            time::unix_micros(hi, "time")?,
        ))),
        _ => Ok(None),
    }
}

/// One channel's rows of a sample table (`channel_column = $3`), as a downsampling source.
fn channel_source(
    relation: &str,
    x: &str,
    channel_column: &str,
    channel: Param,
    axis: Axis,
) -> Source {
    Source {
        relation: relation.into(),
        x: x.into(),
        value: "value".into(),
        series: None,
        conditions: vec![format!("{channel_column} OPERATOR(pg_catalog.=) $3")],
        params: vec![channel],
        axis,
        origin: None,
    }
}

/// A row of a timed channel's window: time, seconds since the first sample (when
/// `relative`), value (NULL on a gap row).
type TimedRow = (TimestampWithTimeZone, Option<f64>, Option<f64>);

/// A timed channel of one of the sample tables: where its rows are and its id there.
struct TimedChannel {
    relation: &'static str,
    column: &'static str,
    id: i64,
    /// The column is `integer` (T302), not `bigint` (TDMS).
    int4: bool,
}

/// What a channel window asks for.
struct ChannelWindow<'a> {
    bounds: WindowBounds,
    relative: bool,
    method: &'a str,
    points: i32,
    gap: Option<Interval>,
    choice: SourceChoice,
}

impl TimedChannel {
    fn datum(&self) -> DatumWithOid<'static> {
        if self.int4 {
            i32::try_from(self.id).unwrap_or(i32::MAX).into()
        } else {
            self.id.into()
        }
    }

    fn param(&self) -> Param {
        if self.int4 {
            Param::int4(i32::try_from(self.id).unwrap_or(i32::MAX))
        } else {
            Param::int8(self.id)
        }
    }

    /// The downsampled window with its gap rows; no rows when the channel has none.
    fn window_rows(&self, w: &ChannelWindow) -> SensorResult<Vec<TimedRow>> {
        let extent = format!(
            "SELECT min(time), max(time) FROM {} WHERE {} = $1",
            self.relation, self.column
        );
        let Some((first, lo, hi)) =
            channel_time_window(&extent, &[self.datum()], w.bounds, w.relative)?
        else {
            return Ok(Vec::new());
        };
        let gap = w.gap.map(|g| time::length_micros(g, "gap")).transpose()?;
        let request = Request::new(w.method, w.points, lo, hi, gap)?;
        let source = channel_source(self.relation, "time", self.column, self.param(), Axis::Time);
        let tiered = Tiered {
            relation: self.relation,
            series_column: self.column,
            choice: w.choice,
        };
        timed_rows(&source, &request, first, w.relative, &tiered)
    }
}

/// The rollup tiers a channel window may read: those of `relation` by `series_column`.
struct Tiered {
    relation: &'static str,
    series_column: &'static str,
    choice: SourceChoice,
}

/// A channel's downsampled points: from the coarsest rollup tier that gives them (over a
/// window widened to its buckets, which is returned), else from raw rows.
fn channel_points(
    source: &Source,
    request: &Request,
    tiered: &Tiered,
) -> SensorResult<(Request, Vec<SeriesPoints>)> {
    let relid = crate::pg::spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT $1::pg_catalog.text::pg_catalog.regclass::pg_catalog.oid",
        &[tiered.relation.into()],
    )
    .map_err(spi_error)?
    .ok_or_else(|| SensorError::internal_query("finding the samples table", tiered.relation))?;
    let plan = tiers::plan(
        &TierQuery {
            relid,
            time_column: "time",
            value_column: "value",
            series_column: Some(tiered.series_column),
            filter: None,
            choice: tiered.choice,
        },
        request,
    )?;
    let Some(plan) = plan else {
        return Ok((*request, downsample_window_points(source, request)?));
    };
    let mut series = Vec::new();
    tiers::serve(source, &plan, &mut |s| {
        series.push(s);
        Ok(())
    })?;
    Ok((plan.request, series))
}

/// A timed channel's downsampled window with its gap rows.
fn timed_rows(
    source: &Source,
    request: &Request,
    first: i64,
    relative: bool,
    tiered: &Tiered,
) -> SensorResult<Vec<TimedRow>> {
    let mut rows = Vec::new();
    let (request, series) = channel_points(source, request, tiered)?;
    for series in series {
        for (t, v) in with_gaps(&series.points, request.gap)? {
            let seconds = relative.then(|| (t - first) as f64 / 1e6);
            rows.push((time::timestamptz_from_unix(t)?, seconds, v));
        }
    }
    Ok(rows)
}

/// `sensor_data.tsv_channels.id` of a T302 channel by its text id (and company and campaign
/// when the id alone is ambiguous), among the channels the caller may see: the tenant view
/// shows a tenant its companies only, so another company's channel "does not exist".
fn t302_channel(
    channel_id: &str,
    company: Option<&str>,
    campaign: Option<&str>,
) -> SensorResult<i32> {
    let mut ids: Vec<i32> = Vec::new();
    crate::pg::spi::select(
        "SELECT id FROM sensor_data.electrical_channels WHERE channel_id = $1 AND ($2::text IS NULL OR company = $2) AND ($3::text IS NULL OR campaign = $3) ORDER BY id LIMIT 2",
        &[channel_id.into(), company.into(), campaign.into()],
        None,
        |row| {
            ids.extend(row.get::<i32>(1)?);
            Ok(())
        },
    )
    .map_err(spi_error)?;
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(no_channel(format!("\"{channel_id}\"")).with_hint(
            "The T302 channels you may read are listed in sensor_data.electrical_channels.",
        )),
        _ => Err(SensorError::invalid_parameter(format!(
            "channel \"{channel_id}\" exists in several campaigns"
        ))
        .with_hint("Pass company and campaign as well.")),
    }
}

/// A downsampled window of a T302 power-logger channel (sensor_data.tsv_channels and
/// sensor_data.electrical_samples), by its text id (`M{master}_{label}`, …), with `company`
/// and `campaign` when the id is not unique; windows as for TDMS channels with time.
#[pg_extern(stable, parallel_safe, name = "channel_window")]
#[allow(clippy::too_many_arguments)]
// pgrx reads the column names and types from the signature itself, not from an alias.
#[allow(clippy::type_complexity)]
fn channel_window_t302(
    channel_id: Option<&str>,
    company: default!(Option<&str>, "NULL"),
    campaign: default!(Option<&str>, "NULL"),
    from: default!(Option<TimestampWithTimeZone>, "NULL"),
    to: default!(Option<TimestampWithTimeZone>, "NULL"),
    from_seconds: default!(Option<f64>, "NULL"),
    to_seconds: default!(Option<f64>, "NULL"),
    points: default!(Option<i32>, 1000),
    method: default!(Option<&str>, "'minmax_lttb'"),
    relative: default!(Option<bool>, false),
    gap: default!(Option<Interval>, "NULL"),
    source: default!(Option<&str>, "'auto'"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(time, TimestampWithTimeZone),
            name!(seconds, Option<f64>),
            name!(value, Option<f64>),
        ),
    >,
    ErrorReport,
> {
    let (Some(channel_id), Some(points), Some(method)) = (channel_id, points, method) else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let choice = SourceChoice::parse(source)?;
    let relative = relative.unwrap_or(false);
    // Internal queries only: the caller's search_path cannot redirect them.
    let rows = search_path::pinned(|| {
        let id = t302_channel(channel_id, company, campaign)?;
        // The channel is visible to the caller; its samples are read with the table
        // owner's privileges (tenants have none on the table).
        as_owner_of("sensor_data.electrical_samples", || {
            let channel = TimedChannel {
                relation: "sensor_data.electrical_samples",
                column: "channel",
                id: i64::from(id),
                int4: true,
            };
            channel.window_rows(&ChannelWindow {
                bounds: (from, to, from_seconds, to_seconds),
                relative,
                method,
                points,
                gap,
                choice,
            })
        })
    })?;
    Ok(TableIterator::new(rows))
}

/// Raw rows of TDMS channel `channel_id` in `[from, to)` (NULL bounds: unbounded) after
/// the exclusive cursor `after`, in time order, at most `limit` of them — except that a
/// page never splits the rows of one timestamp (sensor_data.samples may hold several), so a
/// page can exceed `limit` by the rows sharing its last timestamp. Each row carries
/// `has_more` and `next_cursor` (the page's last time): pass it as `after` to get the
/// next page, until `has_more` is false or a page is empty.
#[pg_extern(stable, parallel_safe)]
// pgrx reads the column names and types from the signature itself, not from an alias.
#[allow(clippy::type_complexity)]
fn channel_page(
    channel_id: Option<i64>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    after: default!(Option<TimestampWithTimeZone>, "NULL"),
    limit: default!(Option<i32>, 50000),
) -> Result<
    TableIterator<
        'static,
        (
            name!(time, TimestampWithTimeZone),
            name!(value, Option<f64>),
            name!(has_more, bool),
            name!(next_cursor, Option<TimestampWithTimeZone>),
        ),
    >,
    ErrorReport,
> {
    let Some(channel_id) = channel_id else {
        return Ok(TableIterator::new(Vec::new()));
    };
    // Internal queries only: the caller's search_path cannot redirect them.
    let (rows, has_more) = search_path::pinned(|| -> SensorResult<_> {
        let limit = limit
            .filter(|&l| l >= 1)
            .ok_or_else(|| SensorError::invalid_parameter("limit must be at least 1"))?;
        if !tdms_channel_has_time(channel_id)? {
            return Err(SensorError::invalid_parameter(format!(
                "channel {channel_id} has no time: page through sensor_data.indexed_samples by sample_index"
            )));
        }
        let mut bounds = String::new();
        let mut args: Vec<DatumWithOid> = vec![channel_id.into()];
        for (value, op) in [(from, ">="), (to, "<"), (after, ">")] {
            if let Some(value) = value {
                args.push(value.into());
                bounds.push_str(&format!(" AND time {op} ${}", args.len()));
            }
        }
        let fetch = i64::from(limit) + 1;
        let page_sql = format!(
            "SELECT time, value FROM sensor_data.samples WHERE channel_id = $1{bounds} ORDER BY time, value LIMIT {fetch}"
        );
        let mut rows = read_rows(&page_sql, &args)?;
        let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > page_len && end_page(channel_id, to, &mut rows, page_len)?;
        Ok((rows, has_more))
    })?;
    let next_cursor = rows.last().map(|(t, _)| *t);
    Ok(TableIterator::new(
        rows.into_iter()
            .map(move |(t, v)| (t, v, has_more, next_cursor)),
    ))
}

/// Ends a page of `page_len` rows read with one more: true when rows follow. Rows that
/// share the page's last timestamp all join the page, so that `after` misses none.
fn end_page(
    channel_id: i64,
    to: Option<TimestampWithTimeZone>,
    rows: &mut Vec<(TimestampWithTimeZone, Option<f64>)>,
    page_len: usize,
) -> SensorResult<bool> {
    let last = i64::from(rows[page_len - 1].0);
    let next = i64::from(rows[page_len].0);
    rows.truncate(page_len);
    if next > last {
        return Ok(true);
    }
    // The boundary timestamp continues past the limit: the page takes all its rows.
    let last_time = rows[page_len - 1].0;
    rows.retain(|(t, _)| i64::from(*t) != last);
    rows.extend(read_rows(
        "SELECT time, value FROM sensor_data.samples WHERE channel_id = $1 AND time = $2 ORDER BY value",
        &[channel_id.into(), last_time.into()],
    )?);
    let mut more_args: Vec<DatumWithOid> = vec![channel_id.into(), last_time.into()];
    let mut upper = String::new();
    if let Some(to) = to {
        more_args.push(to.into());
        upper = " AND time < $3".into();
    }
    Ok(crate::pg::spi::get_one_with_args::<bool>(
        &format!("SELECT EXISTS (SELECT FROM sensor_data.samples WHERE channel_id = $1 AND time > $2{upper})"),
        &more_args,
    )
    .map_err(spi_error)?
    .unwrap_or(false))
}

fn read_rows(
    sql: &str,
    args: &[DatumWithOid],
) -> SensorResult<Vec<(TimestampWithTimeZone, Option<f64>)>> {
    let mut out = Vec::new();
    crate::pg::spi::select(sql, args, None, |row| {
        if let Some(t) = row.get::<TimestampWithTimeZone>(1)? {
            out.push((t, row.get::<f64>(2)?));
        }
        Ok(())
    })
    .map_err(spi_error)?;
    Ok(out)
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION sensor.channel_window(bigint, timestamptz, timestamptz, float8, float8, bigint, bigint, integer, text, boolean, interval, text) IS
    'A downsampled window of a loaded TDMS channel: by time ("from", "to"), by seconds from the channel''s first sample (from_seconds, to_seconds), or by sample index for channels without time (from_index, to_index); half-open, open ends meaning the first or last sample. relative => true fills seconds (offset from the first sample). With rollup tiers of sensor_data.samples (sensor.enable_rollups), a long window is served from the coarsest tier that gives the points, widened to its buckets, raw rows after what is materialized (source => ''raw'' forces raw rows, ''rollups'' requires a tier). Returns (time, seconds, sample_index, value); 42704 for an unknown channel.';
COMMENT ON FUNCTION sensor.channel_window(text, text, text, timestamptz, timestamptz, float8, float8, integer, text, boolean, interval, text) IS
    'A downsampled window of a T302 power-logger channel by its text id (sensor_data.tsv_channels.channel_id; add company and campaign when the id is in several campaigns), by time or by seconds from its first point; served from the rollup tiers of sensor_data.electrical_samples when they give the points (source as for the TDMS form). Returns (time, seconds, value).';
COMMENT ON FUNCTION sensor.channel_page(bigint, timestamptz, timestamptz, timestamptz, integer) IS
    'Keyset paging through the raw rows of a TDMS channel in [from, to) (NULL: unbounded), after the exclusive cursor after: at most limit rows in time order, except that a page never splits the rows of one timestamp. Every row carries has_more and next_cursor; pass next_cursor as after until has_more is false.';
"#,
    name = "channel_comments",
    requires = [channel_window, channel_window_t302, channel_page]
);
