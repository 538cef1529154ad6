//! Windows served from rollup tiers (sql/rollups.sql): per series per bucket, the
//! `sensor.m4` summaries of a relation at widths such as 1 minute, 1 hour, 1 day.
//!
//! A window of `points` points needs `bins` equal-time bins (the method's count). The
//! coarsest tier whose width `w` fits at least once in a bin serves it: the window is
//! widened to whole multiples of `w` (`from` down to the tier's grid, bins of `k × w`), so
//! every bucket falls in one bin and the binned methods (m4, minmax, minmax_lttb, uniform,
//! and avg up to float rounding) give exactly what the raw rows of the widened window give.
//! Exact `lttb` runs over the bins' M4 candidates: approximate.
//!
//! A tier holds what is materialized up to its watermark; after it, the next finer tier,
//! and after the finest one's, raw rows (each row its own summary). A filter is applied to
//! the tiers only when it mentions no column but the series column.

use std::collections::HashMap;

use ::downsample::{bins_for, M4Summary, Method, Point, SummaryBins, DEFAULT_RATIO};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::aggregates::m4_fields;
use super::{points_arg, Axis, Emit, Label, Request, SeriesPoints, Source};
use crate::error::{SensorError, SensorResult};
use crate::pg::row_stream::{stream_rows, Param, Row, RowSink};
use crate::pg::time;

// The tiers themselves: their registry and the procedures that make and refresh them.
pgrx::extension_sql_file!(
    "../../sql/rollups.sql",
    name = "rollups",
    requires = ["storage", "energy_agg", "downsample_aggregates"]
);

/// Where a window may come from (the `source` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceChoice {
    /// The coarsest tier that gives the points, else raw rows.
    Auto,
    /// Raw rows only.
    Raw,
    /// Tiers only: an error when none can serve the window.
    Rollups,
}

impl SourceChoice {
    pub(crate) fn parse(text: Option<&str>) -> SensorResult<Self> {
        match text.unwrap_or("auto") {
            "auto" => Ok(SourceChoice::Auto),
            "raw" => Ok(SourceChoice::Raw),
            "rollups" => Ok(SourceChoice::Rollups),
            other => Err(SensorError::invalid_parameter(format!(
                "source must be 'auto', 'raw' or 'rollups', not '{other}'"
            ))),
        }
    }
}

/// The columns a window reads, to match against the registry.
pub(crate) struct TierQuery<'a> {
    pub relid: pg_sys::Oid,
    pub time_column: &'a str,
    pub value_column: &'a str,
    /// The series column the window groups by; without one, the window merges the rows
    /// of every series its filter keeps.
    pub series_column: Option<&'a str>,
    /// The caller's filter: the tiers answer it only if it mentions no other column than
    /// their series column.
    pub filter: Option<&'a str>,
    pub choice: SourceChoice,
}

/// One registered tier the caller may read.
#[derive(Debug, Clone)]
pub(crate) struct Tier {
    pub width: i64,
    /// Its continuous aggregate or table, as qualified SQL.
    pub rollup: String,
    pub series_column: String,
}

/// How a window is served from tiers.
#[derive(Debug, Clone)]
pub(crate) struct TierPlan {
    /// The widened request: aligned window, point count for its bins.
    pub request: Request,
    /// The serving tier.
    pub tier: Tier,
    /// `(tier, start, end)`: buckets of each tier used, coarsest first.
    pub segments: Vec<(Tier, i64, i64)>,
    /// Raw rows from here to the window's end.
    pub raw_from: i64,
}

/// time_bucket's and date_bin's origin for fixed widths: 2000-01-03 00:00 UTC, Unix µs.
const GRID_ORIGIN: i64 = 946_857_600_000_000;

fn floor_to_grid(t: i64, width: i64) -> i64 {
    let d = (i128::from(t) - i128::from(GRID_ORIGIN)).div_euclid(i128::from(width));
    i64::try_from(d * i128::from(width) + i128::from(GRID_ORIGIN)).unwrap_or(t)
}

fn spi_error(e: pgrx::spi::Error) -> SensorError {
    SensorError::internal_query("reading the rollup tiers", e)
}

/// The tiers registered for the query's columns that the caller may read, finest first.
fn registered(query: &TierQuery) -> SensorResult<Vec<Tier>> {
    // Only a caller who may read the registry gets tiers (a role with SELECT on its table
    // alone reads raw rows, as before tiers existed).
    let registry = crate::pg::spi::get_one::<bool>(
        "SELECT CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) 'sensor_data')
                      AND pg_catalog.has_schema_privilege('sensor_data', 'USAGE')
                 THEN pg_catalog.to_regclass('sensor_data.rollup_tiers') IS NOT NULL
                      AND pg_catalog.has_table_privilege('sensor_data.rollup_tiers', 'SELECT')
                 ELSE false END",
    )
    .map_err(spi_error)?;
    if registry != Some(true) {
        return Ok(Vec::new());
    }
    let relid = i64::from(u32::from(query.relid));
    let args: Vec<DatumWithOid> = vec![
        relid.into(),
        query.time_column.into(),
        query.value_column.into(),
        query.series_column.into(),
    ];
    let mut tiers = Vec::new();
    crate::pg::spi::select(
        "SELECT (EXTRACT(epoch FROM r.tier) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8, r.rollup::pg_catalog.text,
                r.series_column::pg_catalog.text
         FROM sensor_data.rollup_tiers r
         WHERE r.relation OPERATOR(pg_catalog.=) $1::pg_catalog.oid
           AND r.time_column OPERATOR(pg_catalog.=) $2::pg_catalog.name
           AND r.value_column OPERATOR(pg_catalog.=) $3::pg_catalog.name
           AND ($4::pg_catalog.name IS NULL OR r.series_column OPERATOR(pg_catalog.=) $4::pg_catalog.name)
           AND CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) r.rollup
                                 AND a.attname OPERATOR(pg_catalog.=) 'summary' AND NOT a.attisdropped)
                    THEN pg_catalog.has_table_privilege(r.rollup, 'SELECT') ELSE false END
         ORDER BY r.level",
        &args,
        None,
        |row| {
            if let (Some(width), Some(rollup), Some(series_column)) =
                (row.get::<i64>(1)?, row.get::<String>(2)?, row.get::<String>(3)?)
            {
                tiers.push(Tier { width, rollup, series_column });
            }
            Ok(())
        },
    )
    .map_err(spi_error)?;
    // A filter the tiers cannot answer: raw rows.
    let mut usable = Vec::with_capacity(tiers.len());
    for tier in tiers {
        let answerable = match query.filter {
            Some(filter) => super::filter_mentions_only(filter, &tier.series_column)?,
            None => true,
        };
        if answerable {
            usable.push(tier);
        }
    }
    Ok(usable)
}

/// How far a tier is materialized (Unix µs), `None` when nothing is.
fn watermark(tier: &Tier) -> SensorResult<Option<i64>> {
    let mark = crate::pg::spi::get_one_with_args::<TimestampWithTimeZone>(
        "SELECT sensor.rollup_watermark($1::pg_catalog.text::pg_catalog.regclass)",
        &[tier.rollup.as_str().into()],
    )
    .map_err(spi_error)?;
    mark.map(|m| time::unix_micros(m, "watermark")).transpose()
}

/// The point count whose method needs exactly `bins` bins (the inverse of `bins_for`).
fn points_for_bins(method: Method, bins: u64) -> Option<usize> {
    let points = match method {
        Method::M4 => bins.checked_mul(4)?,
        Method::MinMax => bins.checked_mul(2)?.checked_add(2)?,
        Method::Avg | Method::Lttb => bins,
        Method::Uniform => bins.checked_add(1)?,
        Method::MinMaxLttb => {
            let ratio = DEFAULT_RATIO as u64;
            if !(bins * 2).is_multiple_of(ratio) {
                return None;
            }
            bins * 2 / ratio
        }
    };
    let points = usize::try_from(points).ok()?;
    (bins_for(method, points, DEFAULT_RATIO).ok()? == bins).then_some(points)
}

/// The widened request for a tier of width `w`, if a bin holds at least one bucket.
fn aligned(request: &Request, width: i64) -> SensorResult<Option<Request>> {
    let bins = i128::from(bins_for(request.method, request.points, DEFAULT_RATIO)?);
    let from = floor_to_grid(request.from, width);
    let span = i128::from(request.to) - i128::from(from);
    let w = i128::from(width);
    let k = span / (bins * w);
    if k < 1 {
        return Ok(None);
    }
    let bin = k * w;
    let mut count = (span + bin - 1) / bin;
    loop {
        let Ok(count_u) = u64::try_from(count) else {
            return Ok(None);
        };
        if let Some(points) = points_for_bins(request.method, count_u) {
            let Ok(to) = i64::try_from(i128::from(from) + count * bin) else {
                return Ok(None);
            };
            if points_arg(i32::try_from(points).unwrap_or(i32::MAX), request.method).is_err() {
                return Ok(None);
            }
            return Ok(Some(Request {
                points,
                from,
                to,
                ..*request
            }));
        }
        // minmax_lttb needs an even bin count: one more bin.
        count += 1;
        if count > 4 * bins + 4 {
            return Ok(None);
        }
    }
}

/// The plan for serving `request` from the registered tiers, or `None` for raw rows.
pub(crate) fn plan(query: &TierQuery, request: &Request) -> SensorResult<Option<TierPlan>> {
    if query.choice == SourceChoice::Raw {
        return Ok(None);
    }
    let tiers = registered(query)?;
    for (at, tier) in tiers.iter().enumerate().rev() {
        let Some(widened) = aligned(request, tier.width)? else {
            continue;
        };
        let mut segments = Vec::new();
        let mut start = widened.from;
        for finer in tiers[..=at].iter().rev() {
            let end = watermark(finer)?.unwrap_or(start).clamp(start, widened.to);
            if end > start {
                segments.push((finer.clone(), start, end));
                start = end;
            }
        }
        return Ok(Some(TierPlan {
            request: widened,
            tier: tier.clone(),
            segments,
            raw_from: start,
        }));
    }
    if query.choice == SourceChoice::Rollups {
        return Err(SensorError::invalid_parameter(
            "no rollup tier can serve this window (none registered for these columns, or the window holds fewer than one bucket per bin)",
        )
        .with_hint("sensor.rollups lists the tiers; source => 'auto' falls back to raw rows."));
    }
    Ok(None)
}

/// Per-series bins of the widened window, fed by tier rows and raw rows.
struct TierSink<'a> {
    request: &'a Request,
    series: HashMap<Label, SummaryBins>,
    /// The label of the previous row: rows of one series come in runs, so most rows find
    /// their bins without copying their label.
    last_label: Option<Label>,
    /// Tier rows carry a summary; raw rows a value.
    summaries: bool,
}

impl TierSink<'_> {
    /// The bins of the series in column 0 of `row`.
    fn bins(&mut self, row: &Row) -> SensorResult<&mut SummaryBins> {
        let same = row.with_text(0, |t| {
            self.last_label.as_ref().is_some_and(|l| l.as_deref() == t)
        });
        if !same {
            let label: Label = row.with_text(0, |t| t.map(<[u8]>::to_vec));
            if !self.series.contains_key(&label) {
                let r = self.request;
                let bins = SummaryBins::new(r.from, r.to, r.points, r.method)?;
                self.series.insert(label.clone(), bins);
            }
            self.last_label = Some(label);
        }
        let label = self.last_label.as_ref().ok_or_else(|| {
            SensorError::internal_query("reading rollup rows", "a row without a series")
        })?;
        self.series.get_mut(label).ok_or_else(|| {
            SensorError::internal_query("reading rollup rows", "a series without bins")
        })
    }

    /// A `sensor.m4` datum's fields, read in place once (ten `(summary).field`
    /// projections would deform it ten times); `None` with a NULL field.
    fn summary(&self, datum: pg_sys::Datum) -> Option<M4Summary> {
        // SAFETY: the column is sensor.m4 (our query selects it), non-NULL.
        let fields = unsafe { m4_fields(datum) }.ok()?;
        let point = |i: usize| {
            Point::new(
                Axis::Time.to_kernel(fields[i] as i64),
                f64::from_bits(fields[i + 1]),
            )
        };
        Some(M4Summary {
            first: point(0),
            min: point(2),
            max: point(4),
            last: point(6),
            count: u64::try_from(fields[8] as i64).unwrap_or(0),
            sum: f64::from_bits(fields[9]),
        })
    }
}

fn kernel_time(row: &Row, i: usize) -> Option<i64> {
    row.i64(i).map(|t| Axis::Time.to_kernel(t))
}

impl RowSink for TierSink<'_> {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        if !self.summaries {
            let (Some(t), Some(v)) = (kernel_time(row, 1), row.f64(2)) else {
                return Ok(());
            };
            if let Some(summary) = M4Summary::new(t, v) {
                self.bins(row)?.push(t, &summary);
            }
            return Ok(());
        }
        let (Some(start), Some(datum)) = (kernel_time(row, 1), row.datum(2)) else {
            return Ok(());
        };
        if let Some(summary) = self.summary(datum) {
            self.bins(row)?.push(start, &summary);
        }
        Ok(())
    }
}

/// Serves the window by `plan`, one result per series in key order.
pub(crate) fn serve(source: &Source, plan: &TierPlan, emit: &mut Emit<'_>) -> SensorResult<()> {
    let request = &plan.request;
    let mut sink = TierSink {
        request,
        series: HashMap::new(),
        last_label: None,
        summaries: true,
    };
    let mut params = vec![Param::timestamptz(0), Param::timestamptz(0)];
    params.extend(source.params.iter().copied());
    let extra: String = source
        .conditions
        .iter()
        .map(|c| format!(" AND {c}"))
        .collect();
    for (tier, start, end) in &plan.segments {
        params[0] = Axis::Time.param(Axis::Time.to_stored(*start));
        params[1] = Axis::Time.param(Axis::Time.to_stored(*end));
        let sql = format!(
            "SELECT {series}, bucket, summary \
             FROM {rollup} WHERE bucket OPERATOR(pg_catalog.>=) $1 AND bucket OPERATOR(pg_catalog.<) $2{extra}",
            series = source.series_text(),
            rollup = tier.rollup,
        );
        stream_rows(&sql, &params, 3, &mut sink)?;
    }
    if plan.raw_from < request.to {
        sink.summaries = false;
        let tail = Request {
            from: plan.raw_from,
            ..*request
        };
        source.stream_scan(false, &tail, false, &mut sink)?;
    }
    let mut series: Vec<(Label, SummaryBins)> = sink.series.into_iter().collect();
    sort_labels(&mut series);
    for (label, bins) in series {
        let points = bins.finish()?;
        if !points.is_empty() {
            emit(SeriesPoints { label, points })?;
        }
    }
    Ok(())
}

/// Key order as the raw path gives it: numeric when every label is an integer.
fn sort_labels<T>(series: &mut [(Label, T)]) {
    let numeric =
        |l: &Label| -> Option<i128> { std::str::from_utf8(l.as_deref()?).ok()?.parse().ok() };
    if series
        .iter()
        .all(|(l, _)| l.is_none() || numeric(l).is_some())
    {
        series.sort_by_key(|(l, _)| (l.is_none(), numeric(l)));
    } else {
        series.sort_by(|a, b| (a.0.is_none(), &a.0).cmp(&(b.0.is_none(), &b.0)));
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_grid_is_time_buckets() {
        // 2026-01-01 00:00:30 UTC down to the minute and to the week (Monday 2025-12-29).
        let t = 1_767_225_630_000_000;
        assert_eq!(floor_to_grid(t, 60_000_000), 1_767_225_600_000_000);
        assert_eq!(floor_to_grid(t, 7 * 86_400_000_000), 1_766_966_400_000_000);
    }

    #[test]
    fn bins_and_points_invert() {
        for method in Method::ALL {
            for bins in [2u64, 10, 1000, 2001] {
                if let Some(points) = points_for_bins(method, bins) {
                    assert_eq!(bins_for(method, points, DEFAULT_RATIO).unwrap(), bins);
                }
            }
        }
    }
}
