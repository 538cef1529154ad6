//! Exact LTTB read in heap order, when the rows of each series come in time order without
//! an ORDER BY: in one pass through a spill for a window without a series column, else as
//! the second pass after the counts.

use std::collections::HashMap;

use ::downsample::{LttbStream, Point};

use super::{Axis, Kernel, Label, Request, SeriesResult, Source};
use crate::error::{SensorError, SensorResult};
use crate::pg::point_spill::PointSpill;
use crate::pg::row_groups::{KeyColumn, RowGroups};
use crate::pg::row_stream::{stream_rows_serial, Row, RowSink};

/// Exact LTTB's second pass without ORDER BY, in a serial plan: where the table was filled
/// in time order (the usual case for sensor data), the rows of each series already come
/// in time order from a sequential or bitmap scan, and neither an index scan nor a sort is
/// needed. `None` at the first row out of time order, or when the kernels would need more
/// than `work_mem`: the caller then reads the window ordered.
pub(super) fn exact_in_heap_order(
    source: &Source,
    request: &Request,
    counts: &HashMap<Label, u64>,
) -> SensorResult<Option<Vec<(Label, SeriesResult)>>> {
    let (sql, columns, key) = match &source.series {
        Some(series) => (source.grouped_scan_sql(series), 3.into(), series.key),
        // Column 0 is absent (NULL): one group.
        None => {
            let scan = source.scan_sql(false);
            (scan.sql, scan.columns, KeyColumn::Text)
        }
    };
    let mut sink = HeapOrderSink {
        request,
        axis: source.axis,
        counts,
        groups: RowGroups::new(key, 0),
        budget: crate::pg::work_mem_bytes(),
        give_up: false,
    };
    let streamed = stream_rows_serial(&sql, &source.all_params(request), columns, &mut sink);
    if sink.give_up {
        return Ok(None);
    }
    streamed?;
    #[cfg(any(test, feature = "pg_test"))]
    HEAP_ORDER_PASSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    sink.groups
        .into_sorted()
        .into_iter()
        .map(|(_, series)| Ok((series.label, series.kernel.finish()?)))
        .collect::<SensorResult<Vec<_>>>()
        .map(Some)
}

/// Exact LTTB windows read in heap order, for tests to tell the two paths apart.
#[cfg(any(test, feature = "pg_test"))]
pub(crate) static HEAP_ORDER_PASSES: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Feeds rows in heap order to each series' exact LTTB kernel, as long as they come in
/// time order.
struct HeapOrderSink<'a> {
    request: &'a Request,
    axis: Axis,
    counts: &'a HashMap<Label, u64>,
    groups: RowGroups<HeapOrderSeries>,
    /// `work_mem`, in bytes.
    budget: u64,
    give_up: bool,
}

impl HeapOrderSink<'_> {
    /// Stops the executor: the caller reads the window again, ordered.
    fn give_up(&mut self) -> SensorError {
        self.give_up = true;
        SensorError::not_supported("rows out of time order")
    }
}

impl RowSink for HeapOrderSink<'_> {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let groups_before = self.groups.len();
        let (request, counts, budget) = (self.request, self.counts, self.budget);
        let group = self.groups.group_of(row, |key| {
            let label = key.label().map(String::into_bytes);
            let total = counts.get(&label).copied().unwrap_or(0);
            // Whole buckets when they fit in this series' share of work_mem (else hulls).
            let share = budget / counts.len().max(1) as u64;
            Ok(HeapOrderSeries {
                label,
                kernel: Kernel::Exact {
                    stream: Box::new(LttbStream::with_memory(total, request.points, share)?),
                    total,
                },
                last_x: i64::MIN,
            })
        })?;
        if let (Some(x), Some(v)) = (row.i64(1), row.f64(2)) {
            if x < group.last_x {
                return Err(self.give_up());
            }
            group.last_x = x;
            group.kernel.push(self.axis.to_kernel(x), v)?;
        }
        if self.groups.len() != groups_before {
            // A bound of a kernel: its fixed part and up to `points` kept points, twice.
            let per_kernel = (std::mem::size_of::<LttbStream>() + 128) as u64
                + 2 * self.request.points as u64 * std::mem::size_of::<Point>() as u64;
            if self.groups.len() as u64 * per_kernel > self.budget {
                return Err(self.give_up());
            }
        }
        Ok(())
    }
}

/// One series of [`HeapOrderSink`].
struct HeapOrderSeries {
    label: Label,
    kernel: Kernel,
    /// The latest x so far: a smaller one means the rows are not in time order.
    last_x: i64,
}

/// Exact LTTB of a window without a series column in one pass: its rows in heap order,
/// checked to come in time order, kept in `work_mem` and beyond it in a temporary file; the
/// kernel then reads them back knowing how many there are. Replaces the count pass and the
/// second read of the table with a write and a read of 16 bytes a point.
pub(super) fn exact_in_one_pass(source: &Source, request: &Request) -> SensorResult<OnePass> {
    let mut sink = SpillSink {
        axis: source.axis,
        points: PointSpill::new(crate::pg::work_mem_bytes()),
        last_x: i64::MIN,
        last_accepted: None,
        rows: 0,
        give_up: false,
    };
    let streamed = source.stream_scan(false, request, true, &mut sink);
    if sink.give_up {
        return Ok(OnePass::OutOfOrder);
    }
    streamed?;
    #[cfg(any(test, feature = "pg_test"))]
    HEAP_ORDER_PASSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if sink.rows == 0 {
        return Ok(OnePass::NoRows);
    }
    // Whole buckets within work_mem (besides the spill's own): exact, and faster.
    let work_mem = crate::pg::work_mem_bytes();
    let mut kernel = LttbStream::with_memory(sink.points.count(), request.points, work_mem)?;
    sink.points.for_each(|p| Ok(kernel.push(p.t, p.v)?))?;
    Ok(OnePass::Points(kernel.finish()?))
}

/// What [`exact_in_one_pass`] found.
pub(super) enum OnePass {
    /// A row came out of time order: the caller counts and reads the window ordered.
    OutOfOrder,
    /// The window holds no row (no series to return).
    NoRows,
    Points(Vec<Point>),
}

/// Keeps the points [`LttbStream`] accepts (finite values, the first of each timestamp)
/// while the rows come in time order.
struct SpillSink {
    axis: Axis,
    points: PointSpill,
    last_x: i64,
    last_accepted: Option<i64>,
    rows: u64,
    give_up: bool,
}

impl RowSink for SpillSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        self.rows += 1;
        let (Some(x), Some(v)) = (row.i64(1), row.f64(2)) else {
            return Ok(());
        };
        if x < self.last_x {
            self.give_up = true;
            // Stops the executor: the caller reads the window again, ordered.
            return Err(SensorError::not_supported("rows out of time order"));
        }
        self.last_x = x;
        if v.is_finite() && self.last_accepted != Some(x) {
            self.last_accepted = Some(x);
            self.points.push(Point::new(self.axis.to_kernel(x), v));
        }
        Ok(())
    }
}
