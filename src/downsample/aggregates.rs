//! The downsampling aggregates, all combinable and PARALLEL SAFE, with their support
//! functions and `CREATE AGGREGATE`s:
//!
//! - `sensor.downsample_agg(time, value, from, to, points[, method])` → `sensor.timevector`:
//!   equal-time buckets fixed by `from`, `to` and `points` (the crate's [`MethodBuckets`]),
//!   so each partial state is small and merges; works per group with `GROUP BY series`.
//! - `sensor.m4_summary(time, value)` → `sensor.m4`: first, min, max and last (each with
//!   its time), count and sum of a bucket, to store in a materialized view or a
//!   continuous aggregate.
//! - `sensor.downsample_summaries(bucket, summary, from, to, points[, method])` →
//!   `sensor.timevector`: merges stored `sensor.m4` summaries into `points` points
//!   (the crate's [`SummaryBins`]).
//!
//! Aggregates cannot have DEFAULT arguments nor be called with named arguments, so the
//! range aggregates come in two arities: without method (minmax_lttb) and with it.

use ::downsample::{
    bins_for, M4Summary, Method, MethodBuckets, Point, SeriesBuckets, SummaryBins, DEFAULT_RATIO,
};
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::{AllocatedByRust, Internal};

use super::{parse_method, points_arg};
use crate::error::{RaiseError, SensorError, SensorResult, SqlResult};
use crate::pg::composite::sensor_composite;
use crate::pg::{aggregate, fmgr, time};

type Composite = PgHeapTuple<'static, AllocatedByRust>;

fn mismatch(what: &str) -> SensorError {
    SensorError::invalid_parameter(format!("{what} must be the same for every row of a group"))
}

/// A `sensor.timevector` of kernel points.
fn timevector(points: &[Point]) -> SensorResult<Composite> {
    let times = points
        .iter()
        .map(|p| time::timestamptz_from_unix(p.t))
        .collect::<SensorResult<Vec<_>>>()?;
    let values: Vec<f64> = points.iter().map(|p| p.v).collect();
    sensor_composite(c"timevector", [times.into_datum(), values.into_datum()])
}

/// The bins of a range aggregate: [from, to) cut by the first row's arguments, fed one
/// input a row (a point, or a bucket's summary).
pub(super) trait RangeBins: Clone + Sized + 'static {
    type Input;
    fn new(from: i64, to: i64, points: usize, method: Method) -> SensorResult<Self>;
    /// from, to and the number of points.
    fn window(&self) -> (i64, i64, usize);
    fn method(&self) -> Method;
    fn push(&mut self, input: Self::Input) -> SensorResult<()>;
    fn merge(&mut self, other: &Self) -> SensorResult<()>;
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> SensorResult<Self>;
}

/// Bins that finish as one series' points (a `sensor.timevector`).
trait SeriesPointsBins: RangeBins {
    fn finish(&self) -> SensorResult<Vec<Point>>;
}

impl RangeBins for MethodBuckets {
    type Input = (i64, f64);
    fn new(from: i64, to: i64, points: usize, method: Method) -> SensorResult<Self> {
        Ok(MethodBuckets::new(from, to, points, method)?)
    }
    fn window(&self) -> (i64, i64, usize) {
        (
            self.buckets.from(),
            self.buckets.to(),
            self.buckets.points(),
        )
    }
    fn method(&self) -> Method {
        self.method
    }
    fn push(&mut self, (t, v): (i64, f64)) -> SensorResult<()> {
        self.buckets.push(t, v);
        Ok(())
    }
    fn merge(&mut self, other: &Self) -> SensorResult<()> {
        MethodBuckets::merge(self, other)
            .map_err(|_| mismatch("method, \"from\", \"to\" and points"))
    }
    fn to_bytes(&self) -> Vec<u8> {
        MethodBuckets::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> SensorResult<Self> {
        Ok(MethodBuckets::from_bytes(bytes)?)
    }
}

impl SeriesPointsBins for MethodBuckets {
    fn finish(&self) -> SensorResult<Vec<Point>> {
        Ok(self.buckets.finish(self.method)?)
    }
}

impl RangeBins for SummaryBins {
    type Input = (i64, M4Summary);
    fn new(from: i64, to: i64, points: usize, method: Method) -> SensorResult<Self> {
        Ok(SummaryBins::new(from, to, points, method)?)
    }
    fn window(&self) -> (i64, i64, usize) {
        (self.from(), self.to(), self.points())
    }
    fn method(&self) -> Method {
        SummaryBins::method(self)
    }
    fn push(&mut self, (start, summary): (i64, M4Summary)) -> SensorResult<()> {
        SummaryBins::push(self, start, &summary);
        Ok(())
    }
    fn merge(&mut self, other: &Self) -> SensorResult<()> {
        Ok(SummaryBins::merge(self, other)?)
    }
    fn to_bytes(&self) -> Vec<u8> {
        SummaryBins::to_bytes(self)
    }
    fn from_bytes(bytes: &[u8]) -> SensorResult<Self> {
        Ok(SummaryBins::from_bytes(bytes)?)
    }
}

impl SeriesPointsBins for SummaryBins {
    fn finish(&self) -> SensorResult<Vec<Point>> {
        Ok(SummaryBins::finish(self)?)
    }
}

/// A range aggregate's state and the method text of its previous row, so that each row
/// costs a comparison, not a parse.
#[derive(Clone)]
struct WithMethodText<S> {
    state: S,
    method_text: String,
    /// The window and method arguments are constants (or query parameters) in the call: the
    /// rows after the first push their input without reading or checking them.
    fixed_window: bool,
}

impl<S: RangeBins> WithMethodText<S> {
    fn same_method(&mut self, current: &[u8]) -> SensorResult<()> {
        if self.method_text.as_bytes() != current {
            let current = method_str(current)?;
            if parse_method(current)? != self.state.method() {
                return Err(mismatch("method"));
            }
            self.method_text = current.to_string();
        }
        Ok(())
    }

    fn decode(bytes: &[u8]) -> SensorResult<Self> {
        let state = S::from_bytes(bytes)?;
        let method_text = state.method().name().to_string();
        Ok(WithMethodText {
            state,
            method_text,
            fixed_window: false,
        })
    }

    fn merge(&mut self, other: &Self) -> SensorResult<()> {
        self.state.merge(&other.state)
    }

    fn bytes(&self) -> Vec<u8> {
        self.state.to_bytes()
    }
}

/// A method argument's text (its bytes are compared per row, parsed only when they change).
fn method_str(bytes: &[u8]) -> SensorResult<&str> {
    std::str::from_utf8(bytes)
        .map_err(|_| SensorError::invalid_parameter("method is not valid UTF-8"))
}

/// One row of a range aggregate whose window is not fixed yet (callers take
/// [`push_if_fixed`] first): `input` (read after the window arguments, so their errors
/// come first) pushed into the group's bins, made from the first row's arguments. A NULL
/// method, window argument or input skips the row. The window arguments are the
/// aggregate's last ones, from `window_arg` (0-based, as written in the call).
#[allow(clippy::too_many_arguments)]
fn range_step<'m, S: RangeBins>(
    mut internal: Internal,
    from: Option<i64>,
    to: Option<i64>,
    points: Option<i32>,
    method: impl FnOnce() -> Option<&'m [u8]>,
    (fcinfo, window_arg): (pg_sys::FunctionCallInfo, usize),
    input: impl FnOnce() -> SensorResult<Option<S::Input>>,
) -> SensorResult<Internal> {
    let Some(method) = method() else {
        return Ok(internal);
    };
    let Some(row) = RangeRow::of(from, to, points, method)? else {
        return Ok(internal);
    };
    let Some(input) = input()? else {
        return Ok(internal);
    };
    let s = aggregate::get_or_put(&mut internal, fcinfo, || {
        let (method, n) = row.parsed()?;
        Ok(WithMethodText {
            state: S::new(row.from, row.to, n, method)?,
            method_text: method_str(row.method)?.to_string(),
            // SAFETY: fcinfo is this transition call's.
            fixed_window: unsafe { aggregate::fixed_args_from(fcinfo, window_arg) },
        })
    })?;
    let (from, to, points) = s.state.window();
    row.check(from, to, points)?;
    s.same_method(row.method)?;
    s.state.push(input)?;
    Ok(internal)
}

/// A row of a group whose window is fixed (see [`WithMethodText::fixed_window`]): its
/// input pushed without reading or checking the window arguments, so the caller returns
/// its state as it came (4 % of a series aggregate's time against [`range_step`]). Hands
/// `input` back, with nothing done, when the group has no such state yet.
fn push_if_fixed<S: RangeBins, F: FnOnce() -> SensorResult<Option<S::Input>>>(
    internal: &mut Internal,
    input: F,
) -> SensorResult<Option<F>> {
    match aggregate::get_mut::<WithMethodText<S>>(internal)? {
        Some(s) if s.fixed_window => {
            if let Some(input) = input()? {
                s.state.push(input)?;
            }
            Ok(None)
        }
        _ => Ok(Some(input)),
    }
}

/// A range aggregate's final function: its points as a `sensor.timevector`.
fn range_final<S: SeriesPointsBins>(internal: &Internal) -> SensorResult<Option<Composite>> {
    let Some(s) = aggregate::get::<WithMethodText<S>>(internal)? else {
        return Ok(None);
    };
    timevector(&s.state.finish()?).map(Some)
}

/// The window, point count and method of a range aggregate's row, checked against the
/// group's state (or used to make it).
struct RangeRow<'a> {
    from: i64,
    to: i64,
    points: i32,
    method: &'a [u8],
}

impl<'a> RangeRow<'a> {
    /// From raw `timestamptz` values (PostgreSQL microseconds).
    fn of(
        from: Option<i64>,
        to: Option<i64>,
        points: Option<i32>,
        method: &'a [u8],
    ) -> SensorResult<Option<Self>> {
        let (Some(from), Some(to), Some(points)) = (from, to, points) else {
            return Ok(None);
        };
        Ok(Some(RangeRow {
            from: time::finite_pg_micros(from, "from")? + time::UNIX_TO_PG_US,
            to: time::finite_pg_micros(to, "to")? + time::UNIX_TO_PG_US,
            points,
            method,
        }))
    }

    fn check(&self, from: i64, to: i64, points: usize) -> SensorResult<()> {
        if from != self.from || to != self.to {
            return Err(mismatch("\"from\" and \"to\""));
        }
        if i64::try_from(points).ok() != Some(i64::from(self.points)) {
            return Err(mismatch("points"));
        }
        Ok(())
    }

    fn parsed(&self) -> SensorResult<(Method, usize)> {
        let method = parse_method(method_str(self.method)?)?;
        Ok((method, points_arg(self.points, method)?))
    }
}

// ---------------------------------------------------------------------------------------
// downsample_agg

type DownsampleAggState = WithMethodText<MethodBuckets>;

/// One row of a range aggregate's transition: `(state, <input>..., "from", "to", points)`,
/// "from" at argument `window_at`, then the method's text when the form has one (else
/// minmax_lttb). `input` reads the row's input from the arguments, only when the row
/// counts; once the group's window is fixed the state comes back as it came.
///
/// # Safety
/// `fcinfo` is the current call's, of a function declared with `window_at + 3` arguments,
/// one more when `with_method`.
unsafe fn range_row<S: RangeBins>(
    fcinfo: pg_sys::FunctionCallInfo,
    window_at: usize,
    with_method: bool,
    input: impl FnOnce(&[pg_sys::NullableDatum]) -> SensorResult<Option<S::Input>>,
) -> pg_sys::Datum {
    // SAFETY: see above.
    let args = unsafe { fmgr::args(fcinfo, window_at + 3 + usize::from(with_method)) };
    let method = || {
        if with_method {
            // SAFETY: the argument after points is the method's text.
            unsafe { fmgr::varlena_arg(&args[window_at + 3]) }
        } else {
            Some(Method::MinMaxLttb.name().as_bytes())
        }
    };
    let mut internal = fmgr::internal_arg(&args[0]);
    let Some(row) = push_if_fixed::<S, _>(&mut internal, || input(args)).or_raise() else {
        return args[0].value;
    };
    let (from, to, points) = (
        fmgr::i64_arg(&args[window_at]),
        fmgr::i64_arg(&args[window_at + 1]),
        fmgr::i32_arg(&args[window_at + 2]),
    );
    // The Aggref's arguments do not include the state: "from" is its (window_at - 1)th.
    let internal = range_step::<S>(
        internal,
        from,
        to,
        points,
        method,
        (fcinfo, window_at - 1),
        row,
    )
    .or_raise();
    // SAFETY: fcinfo is this call's.
    unsafe { fmgr::return_internal(fcinfo, internal) }
}

/// `sensor.downsample_agg`'s input: (time, value); NULL, NaN and infinite values and
/// infinite times are skipped.
fn agg_point(args: &[pg_sys::NullableDatum]) -> SensorResult<Option<(i64, f64)>> {
    let time = fmgr::i64_arg(&args[1]).and_then(time::raw_row_unix_micros);
    Ok(time.zip(fmgr::f64_arg(&args[2])))
}

crate::v1_function!(
    /// Transition function of `sensor.downsample_agg` (5 arguments: method minmax_lttb),
    /// called once per row: a plain version-1 C function ([`crate::pg::fmgr`]) under the
    /// symbol the installed `CREATE FUNCTION` of 0.2.0 names.
    downsample_agg_transition_wrapper,
    pg_finfo_downsample_agg_transition_wrapper,
    |fcinfo| {
        // SAFETY: declared with 6 arguments.
        unsafe { range_row::<MethodBuckets>(fcinfo, 3, false, agg_point) }
    }
);

crate::v1_function!(
    /// Transition function of `sensor.downsample_agg` (6 arguments).
    downsample_agg_transition_method_wrapper,
    pg_finfo_downsample_agg_transition_method_wrapper,
    |fcinfo| {
        // SAFETY: declared with 7 arguments.
        unsafe { range_row::<MethodBuckets>(fcinfo, 3, true, agg_point) }
    }
);

pgrx::extension_sql!(
    r#"
CREATE FUNCTION sensor.downsample_agg_transition(state internal, "time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'downsample_agg_transition_wrapper';
CREATE FUNCTION sensor.downsample_agg_transition(state internal, "time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer, method text) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'downsample_agg_transition_method_wrapper';
"#,
    name = "downsample_agg_transitions",
    requires = ["bootstrap"]
);

#[pg_extern(immutable, parallel_safe)]
fn downsample_agg_final(
    state: Internal,
) -> Option<pgrx::composite_type!('static, "sensor.timevector")> {
    range_final::<MethodBuckets>(&state).or_raise()
}

aggregate::parallel_support_functions! {
    DownsampleAggState: DownsampleAggState::decode, DownsampleAggState::merge, DownsampleAggState::bytes;
    downsample_agg_combine, downsample_agg_serialize(state), downsample_agg_deserialize(bytes, _state)
}

// ---------------------------------------------------------------------------------------
// m4_summary

/// A `sensor.m4` value: first, min, max, last (time and value each), count, sum.
fn m4_composite(s: &M4Summary) -> SensorResult<Composite> {
    let point = |p: &Point| -> SensorResult<_> {
        Ok((
            time::timestamptz_from_unix(p.t)?.into_datum(),
            p.v.into_datum(),
        ))
    };
    let (ft, fv) = point(&s.first)?;
    let (nt, nv) = point(&s.min)?;
    let (xt, xv) = point(&s.max)?;
    let (lt, lv) = point(&s.last)?;
    sensor_composite(
        c"m4",
        [
            ft,
            fv,
            nt,
            nv,
            xt,
            xv,
            lt,
            lv,
            i64::try_from(s.count).unwrap_or(i64::MAX).into_datum(),
            s.sum.into_datum(),
        ],
    )
}

/// Fields of a `sensor.m4`: four (time, value) points, count and sum, all 8 bytes wide.
const M4_FIELDS: u16 = 10;

/// The ten fields of a `sensor.m4` datum as raw 8-byte values, read in place: they are
/// fixed-width and 8-byte aligned, so each sits at its offset without deforming the tuple
/// through a tuple descriptor (rollups and zoom-outs read one a row). Errs on a NULL field.
///
/// # Safety
/// `datum` is a non-NULL `sensor.m4` datum.
pub(super) unsafe fn m4_fields(datum: pg_sys::Datum) -> Result<[u64; 10], &'static str> {
    // SAFETY: a composite datum is a varlena HeapTupleHeader (detoasted into the call's
    // memory when stored compressed, out of line or with a short header).
    unsafe {
        let td =
            pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::HeapTupleHeaderData>();
        if (*td).t_infomask2 & pg_sys::HEAP_NATTS_MASK as u16 != M4_FIELDS {
            return Err("a sensor.m4 summary has ten fields");
        }
        if (*td).t_infomask & pg_sys::HEAP_HASNULL as u16 != 0 {
            return Err("a sensor.m4 summary must not have NULL fields");
        }
        let data = td.cast::<u8>().add(usize::from((*td).t_hoff));
        let mut fields = [0u64; M4_FIELDS as usize];
        for (i, field) in fields.iter_mut().enumerate() {
            *field = data.add(8 * i).cast::<u64>().read_unaligned();
        }
        Ok(fields)
    }
}

/// A `sensor.m4` argument read in place ([`m4_fields`]), validated.
///
/// # Safety
/// `datum` is a non-NULL `sensor.m4` datum.
unsafe fn m4_of_datum(datum: pg_sys::Datum) -> SensorResult<M4Summary> {
    let bad = || SensorError::invalid_input("a sensor.m4 summary must not have NULL fields");
    // SAFETY: see above.
    let fields = unsafe { m4_fields(datum) }.map_err(SensorError::invalid_input)?;
    let time = |i: usize| -> SensorResult<i64> {
        Ok(time::finite_pg_micros(fields[i] as i64, "sensor.m4 time")? + time::UNIX_TO_PG_US)
    };
    let point = |i: usize| -> SensorResult<Point> {
        Ok(Point::new(time(i)?, f64::from_bits(fields[i + 1])))
    };
    let s = M4Summary {
        first: point(0)?,
        min: point(2)?,
        max: point(4)?,
        last: point(6)?,
        count: u64::try_from(fields[8] as i64).map_err(|_| bad())?,
        sum: f64::from_bits(fields[9]),
    };
    s.validate().map_err(|_| {
        SensorError::invalid_input(
            "inconsistent sensor.m4 summary: it needs first_time <= min_time, max_time <= last_time and min_value <= first_value, last_value <= max_value",
        )
    })?;
    Ok(s)
}

#[pg_extern(immutable, parallel_safe)]
fn m4_summary_transition(
    mut state: Internal,
    time: Option<TimestampWithTimeZone>,
    value: Option<f64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // NULL, NaN and infinite values and infinite times are skipped.
    let (Some(t), Some(value)) = (time.and_then(time::row_unix_micros), value) else {
        return Ok(state);
    };
    match aggregate::get_mut::<M4Summary>(&mut state)? {
        Some(s) => {
            s.push(t, value);
        }
        None => {
            if let Some(s) = M4Summary::new(t, value) {
                aggregate::put(&mut state, fcinfo, s)?;
            }
        }
    }
    Ok(state)
}

#[pg_extern(immutable, parallel_safe)]
fn m4_summary_final(state: Internal) -> Option<pgrx::composite_type!('static, "sensor.m4")> {
    let s = aggregate::get::<M4Summary>(&state).or_raise()?;
    m4_composite(s).map(Some).or_raise()
}

aggregate::parallel_support_functions! {
    M4Summary: M4Summary::from_bytes, M4Summary::merge, M4Summary::to_bytes;
    m4_summary_combine, m4_summary_serialize(state), m4_summary_deserialize(bytes, _state)
}

crate::v1_function!(
    /// Transition function of `sensor.rollup(sensor.m4)`: summaries of adjacent buckets
    /// merged into the summary of their union (the tiers of `sensor.enable_rollups`), under
    /// the symbol the installed `CREATE FUNCTION` names.
    m4_rollup_transition_wrapper,
    pg_finfo_m4_rollup_transition_wrapper,
    |fcinfo| {
        // SAFETY: declared with 2 arguments.
        let args = unsafe { fmgr::args(fcinfo, 2) };
        let mut state = fmgr::internal_arg(&args[0]);
        if args[1].isnull {
            // SAFETY: fcinfo is this call's (a NULL state stays NULL).
            return unsafe { fmgr::return_internal(fcinfo, state) };
        }
        let mut step = || -> SensorResult<()> {
            // SAFETY: the 2nd argument is a non-NULL sensor.m4.
            let summary = unsafe { m4_of_datum(args[1].value) }?;
            match aggregate::get_mut::<M4Summary>(&mut state)? {
                Some(s) => s.merge(&summary),
                None => aggregate::put(&mut state, fcinfo, summary)?,
            }
            Ok(())
        };
        step().or_raise();
        // SAFETY: fcinfo is this call's.
        unsafe { fmgr::return_internal(fcinfo, state) }
    }
);

// ---------------------------------------------------------------------------------------
// downsample_summaries

type SummariesState = WithMethodText<SummaryBins>;

/// `sensor.downsample_summaries`' input: (bucket start, summary); a NULL one is skipped.
fn bucket_summary(args: &[pg_sys::NullableDatum]) -> SensorResult<Option<(i64, M4Summary)>> {
    let Some(bucket) = fmgr::i64_arg(&args[1]) else {
        return Ok(None);
    };
    if args[2].isnull {
        return Ok(None);
    }
    let bucket = time::finite_pg_micros(bucket, "bucket")? + time::UNIX_TO_PG_US;
    // SAFETY: the 3rd argument is a non-NULL sensor.m4.
    Ok(Some((bucket, unsafe { m4_of_datum(args[2].value) }?)))
}

crate::v1_function!(
    /// Transition function of `sensor.downsample_summaries` (5 arguments: minmax_lttb),
    /// under the symbol the installed `CREATE FUNCTION` names.
    downsample_summaries_transition_wrapper,
    pg_finfo_downsample_summaries_transition_wrapper,
    |fcinfo| {
        // SAFETY: declared with 6 arguments.
        unsafe { range_row::<SummaryBins>(fcinfo, 3, false, bucket_summary) }
    }
);

crate::v1_function!(
    /// Transition function of `sensor.downsample_summaries` (6 arguments).
    downsample_summaries_transition_method_wrapper,
    pg_finfo_downsample_summaries_transition_method_wrapper,
    |fcinfo| {
        // SAFETY: declared with 7 arguments.
        unsafe { range_row::<SummaryBins>(fcinfo, 3, true, bucket_summary) }
    }
);

pgrx::extension_sql!(
    r#"
CREATE FUNCTION sensor.m4_rollup_transition(state internal, summary sensor.m4) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'm4_rollup_transition_wrapper';
CREATE FUNCTION sensor.downsample_summaries_transition(state internal, bucket timestamptz, summary sensor.m4, "from" timestamptz, "to" timestamptz, points integer) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'downsample_summaries_transition_wrapper';
CREATE FUNCTION sensor.downsample_summaries_transition(state internal, bucket timestamptz, summary sensor.m4, "from" timestamptz, "to" timestamptz, points integer, method text) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'downsample_summaries_transition_method_wrapper';
"#,
    name = "summary_transitions",
    requires = ["bootstrap"]
);

#[pg_extern(immutable, parallel_safe)]
fn downsample_summaries_final(
    state: Internal,
) -> Option<pgrx::composite_type!('static, "sensor.timevector")> {
    range_final::<SummaryBins>(&state).or_raise()
}

aggregate::parallel_support_functions! {
    SummariesState: SummariesState::decode, SummariesState::merge, SummariesState::bytes;
    downsample_summaries_combine, downsample_summaries_serialize(state), downsample_summaries_deserialize(bytes, _state)
}

// ---------------------------------------------------------------------------------------
// downsample_series_agg: sensor.downsample with an integer series column, in parallel

/// Per-series buckets within `work_mem`: beyond it the state stops taking rows and says so,
/// and `sensor.downsample` reads the window series by series instead.
#[derive(Clone)]
pub(super) struct BoundedSeries {
    pub buckets: SeriesBuckets,
    /// Series the state may hold.
    budget: usize,
    pub over_budget: bool,
}

impl BoundedSeries {
    /// Series that fit in `work_mem`, each counted with all its bins filled.
    fn budget(points: usize, method: Method) -> usize {
        let bins = usize::try_from(bins_for(method, points, DEFAULT_RATIO).unwrap_or(u64::MAX))
            .unwrap_or(usize::MAX);
        let per_series = bins
            .saturating_mul(std::mem::size_of::<M4Summary>() + 48)
            .saturating_add(points.saturating_mul(std::mem::size_of::<Point>()))
            .saturating_add(256);
        let work_mem = usize::try_from(crate::pg::work_mem_bytes()).unwrap_or(usize::MAX);
        (work_mem / per_series.max(1)).max(1)
    }

    #[inline]
    fn check_budget(&mut self) -> SensorResult<()> {
        if self.buckets.series_count() > self.budget {
            return self.drop_series();
        }
        Ok(())
    }

    #[cold]
    fn drop_series(&mut self) -> SensorResult<()> {
        self.over_budget = true;
        let (from, to, points, method) = self.buckets.window();
        self.buckets = SeriesBuckets::new(from, to, points, method)?;
        Ok(())
    }
}

impl RangeBins for BoundedSeries {
    /// (series, time, value).
    type Input = (Option<i64>, i64, f64);
    fn new(from: i64, to: i64, points: usize, method: Method) -> SensorResult<Self> {
        Ok(BoundedSeries {
            buckets: SeriesBuckets::new(from, to, points, method)?,
            budget: BoundedSeries::budget(points, method),
            over_budget: false,
        })
    }
    fn window(&self) -> (i64, i64, usize) {
        let (from, to, points, _) = self.buckets.window();
        (from, to, points)
    }
    fn method(&self) -> Method {
        self.buckets.window().3
    }
    fn push(&mut self, (series, t, v): (Option<i64>, i64, f64)) -> SensorResult<()> {
        if self.over_budget {
            return Ok(());
        }
        self.buckets.push(series, t, v)?;
        self.check_budget()
    }
    fn merge(&mut self, other: &Self) -> SensorResult<()> {
        self.over_budget |= other.over_budget;
        if !self.over_budget {
            self.buckets
                .merge(&other.buckets)
                .map_err(|_| mismatch("method, \"from\", \"to\" and points"))?;
        }
        self.check_budget()
    }
    /// `u8` 1 when over work_mem (no series then), else 0; then [`SeriesBuckets`] bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![u8::from(self.over_budget)];
        out.extend_from_slice(&self.buckets.to_bytes());
        out
    }
    fn from_bytes(bytes: &[u8]) -> SensorResult<Self> {
        let (&flag, rest) = bytes
            .split_first()
            .ok_or_else(|| SensorError::invalid_input("empty series state"))?;
        if flag > 1 {
            return Err(SensorError::invalid_input("bad series state"));
        }
        let buckets = SeriesBuckets::from_bytes(rest)?;
        let (_, _, points, method) = buckets.window();
        Ok(BoundedSeries {
            buckets,
            budget: BoundedSeries::budget(points, method),
            over_budget: flag == 1,
        })
    }
}

impl BoundedSeries {
    /// The final value of `sensor.downsample_series_agg` read back.
    pub(super) fn decode(bytes: &[u8]) -> SensorResult<Self> {
        <BoundedSeries as RangeBins>::from_bytes(bytes)
    }
}

type SeriesAggState = WithMethodText<BoundedSeries>;

crate::v1_function!(
    /// Transition function of `sensor.downsample_series_agg`, once per row: `(state, series
    /// bigint, time, value, "from", "to", points, method)`.
    downsample_series_trans,
    pg_finfo_downsample_series_trans,
    |fcinfo| {
        let row = |args: &[pg_sys::NullableDatum]| {
            let series = fmgr::i64_arg(&args[1]);
            // NULL, NaN and infinite values and infinite times are skipped.
            let time = fmgr::i64_arg(&args[2]).and_then(time::raw_row_unix_micros);
            Ok(time.zip(fmgr::f64_arg(&args[3])).map(|(t, v)| (series, t, v)))
        };
        // SAFETY: declared with 8 arguments, "from" the 5th.
        unsafe { range_row::<BoundedSeries>(fcinfo, 4, true, row) }
    }
);

/// The per-series state's bytes (see [`BoundedSeries::to_bytes`]), read by
/// `sensor.downsample`.
#[pg_extern(immutable, parallel_safe)]
fn downsample_series_final(state: Internal) -> SqlResult<Option<Vec<u8>>> {
    Ok(aggregate::get::<SeriesAggState>(&state)?.map(|s| s.state.to_bytes()))
}

aggregate::parallel_support_functions! {
    SeriesAggState: SeriesAggState::decode, SeriesAggState::merge, SeriesAggState::bytes;
    downsample_series_combine, downsample_series_serialize(state), downsample_series_deserialize(bytes, _state)
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION sensor.downsample_series_trans(state internal, series bigint, "time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer, method text) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'downsample_series_trans';
"#,
    name = "downsample_series_trans",
    requires = ["bootstrap"]
);

pgrx::extension_sql!(
    r#"
CREATE AGGREGATE sensor.downsample_agg("time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer, method text) (
    SFUNC = sensor.downsample_agg_transition, STYPE = internal,
    FINALFUNC = sensor.downsample_agg_final, COMBINEFUNC = sensor.downsample_agg_combine,
    SERIALFUNC = sensor.downsample_agg_serialize,
    DESERIALFUNC = sensor.downsample_agg_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.downsample_agg("time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer) (
    SFUNC = sensor.downsample_agg_transition, STYPE = internal,
    FINALFUNC = sensor.downsample_agg_final, COMBINEFUNC = sensor.downsample_agg_combine,
    SERIALFUNC = sensor.downsample_agg_serialize,
    DESERIALFUNC = sensor.downsample_agg_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.downsample_series_agg(series bigint, "time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer, method text) (
    SFUNC = sensor.downsample_series_trans, STYPE = internal,
    FINALFUNC = sensor.downsample_series_final, COMBINEFUNC = sensor.downsample_series_combine,
    SERIALFUNC = sensor.downsample_series_serialize,
    DESERIALFUNC = sensor.downsample_series_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.m4_summary("time" timestamptz, value float8) (
    SFUNC = sensor.m4_summary_transition, STYPE = internal,
    FINALFUNC = sensor.m4_summary_final, COMBINEFUNC = sensor.m4_summary_combine,
    SERIALFUNC = sensor.m4_summary_serialize,
    DESERIALFUNC = sensor.m4_summary_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.rollup(summary sensor.m4) (
    SFUNC = sensor.m4_rollup_transition, STYPE = internal,
    FINALFUNC = sensor.m4_summary_final, COMBINEFUNC = sensor.m4_summary_combine,
    SERIALFUNC = sensor.m4_summary_serialize,
    DESERIALFUNC = sensor.m4_summary_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.downsample_summaries(bucket timestamptz, summary sensor.m4, "from" timestamptz, "to" timestamptz, points integer, method text) (
    SFUNC = sensor.downsample_summaries_transition, STYPE = internal,
    FINALFUNC = sensor.downsample_summaries_final,
    COMBINEFUNC = sensor.downsample_summaries_combine,
    SERIALFUNC = sensor.downsample_summaries_serialize,
    DESERIALFUNC = sensor.downsample_summaries_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.downsample_summaries(bucket timestamptz, summary sensor.m4, "from" timestamptz, "to" timestamptz, points integer) (
    SFUNC = sensor.downsample_summaries_transition, STYPE = internal,
    FINALFUNC = sensor.downsample_summaries_final,
    COMBINEFUNC = sensor.downsample_summaries_combine,
    SERIALFUNC = sensor.downsample_summaries_serialize,
    DESERIALFUNC = sensor.downsample_summaries_deserialize, PARALLEL = SAFE);

-- Not STRICT and a single SELECT, so the planner inlines it into the calling query.
-- Schema-qualified: it may run inside a continuous-aggregate refresh.
CREATE FUNCTION sensor.points(vector sensor.timevector)
RETURNS TABLE("time" timestamptz, value float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT * FROM ROWS FROM (pg_catalog.unnest((vector)."time"), pg_catalog.unnest((vector).value)) $fn$;

COMMENT ON TYPE sensor.timevector IS
    'Downsampled points of one series: time timestamptz[] and value float8[], time-ordered. Result of sensor.downsample_agg and sensor.downsample_summaries; sensor.points(v) turns it into rows.';
COMMENT ON TYPE sensor.m4 IS
    'Per-bucket summary made by sensor.m4_summary: first, min, max and last point (each time and value), count and sum of the finite values. Store it in a materialized view or continuous aggregate; sensor.downsample_summaries zooms out of it.';
COMMENT ON FUNCTION sensor.points(sensor.timevector) IS
    'The points of a sensor.timevector as (time, value) rows, e.g. SELECT series, p.* FROM (SELECT series, sensor.downsample_agg(...) AS d FROM t GROUP BY series) s, sensor.points(s.d) p.';
COMMENT ON AGGREGATE sensor.downsample_agg(timestamptz, float8, timestamptz, timestamptz, integer, text) IS
    'Downsamples the rows of a group to about points points of [from, to) with method (minmax_lttb, m4, minmax, uniform, avg; lttb here is LTTB over per-bucket M4 candidates). Equal-time buckets fixed by from, to and points keep the state small and mergeable: combinable, parallel safe. Returns a sensor.timevector; sensor.points() turns it into rows.';
COMMENT ON AGGREGATE sensor.downsample_agg(timestamptz, float8, timestamptz, timestamptz, integer) IS
    'sensor.downsample_agg with method minmax_lttb.';
COMMENT ON AGGREGATE sensor.downsample_series_agg(bigint, timestamptz, float8, timestamptz, timestamptz, integer, text) IS
    'Internal to sensor.downsample with an integer series column under a parallel plan: every series of the rows downsampled by one aggregate (no GROUP BY), its partial states merged exactly; returns them as bytes that sensor.downsample reads.';
COMMENT ON AGGREGATE sensor.m4_summary(timestamptz, float8) IS
    'First, min, max and last point (with their times), count and sum of the rows of a group, as a sensor.m4. Combinable and parallel safe; store it per time bucket (e.g. 1 minute) in a materialized view or continuous aggregate and zoom out with sensor.downsample_summaries.';
COMMENT ON AGGREGATE sensor.rollup(sensor.m4) IS
    'Merges sensor.m4 summaries (e.g. 1-minute buckets into an hour) into the summary of their union: first, min, max, last, count and sum as sensor.m4_summary over the rows of all of them would give. Combinable and parallel safe.';
COMMENT ON AGGREGATE sensor.downsample_summaries(timestamptz, sensor.m4, timestamptz, timestamptz, integer, text) IS
    'Merges stored sensor.m4 summaries (bucket start, summary) into about points points of [from, to) with method (minmax_lttb, m4, minmax, uniform, avg, lttb), so a long range never touches raw rows. Combinable and parallel safe. Returns a sensor.timevector.';
COMMENT ON AGGREGATE sensor.downsample_summaries(timestamptz, sensor.m4, timestamptz, timestamptz, integer) IS
    'sensor.downsample_summaries with method minmax_lttb.';
"#,
    name = "downsample_aggregates",
    requires = [
        "downsample_agg_transitions",
        "downsample_series_trans",
        downsample_series_final,
        downsample_series_combine,
        downsample_series_serialize,
        downsample_series_deserialize,
        downsample_agg_final,
        downsample_agg_combine,
        downsample_agg_serialize,
        downsample_agg_deserialize,
        m4_summary_transition,
        m4_summary_final,
        m4_summary_combine,
        m4_summary_serialize,
        m4_summary_deserialize,
        "summary_transitions",
        downsample_summaries_final,
        downsample_summaries_combine,
        downsample_summaries_serialize,
        downsample_summaries_deserialize,
    ]
);
