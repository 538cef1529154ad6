//! Equipment availability: the `availability_agg` / `rollup` aggregates over the
//! `availability` crate's mergeable state, their accessors, the old service's
//! `availability_mean`, and the `availability_report` / `state_timeline` functions.
//!
//! The aggregate state travels as `sensor.availability_state`, a domain over bytea holding
//! the crate's versioned encoding (size proportional to state changes, not rows). Functions
//! that take or return it declare their SQL by hand (`sql = …`) to name the domain.

use std::collections::HashMap;

use ::availability::{
    AvailabilityConfig, AvailabilityState, GapPolicy, Interval, SampleMean, Summary, Weights,
};
use pgrx::datum::{Internal, Interval as PgInterval, TimestampWithTimeZone, ToIsoString};
use pgrx::prelude::*;
use pgrx::{JsonB, PgMemoryContexts};

use pgrx::pg_sys::panic::ErrorReport;

use crate::error::{ErrorKind, SensorError, SensorResult, SqlResult};
use crate::pg::args::RegClass;
use crate::pg::quoting::{quote_identifier, quote_literal};
use crate::pg::row_stream::{stream_rows, stream_rows_serial, Param, Row, RowSink};
use crate::pg::search_path;

const USECS_PER_DAY: i64 = 86_400_000_000;

/// Raw events a partial state keeps before collapsing runs: below this per worker and
/// group, parallel aggregation is exact (16 bytes each, so at most 256 KB per group).
const PARTIAL_BUFFER_EVENTS: usize = 16_384;

fn micros(ts: TimestampWithTimeZone) -> SensorResult<i64> {
    let us = i64::from(ts);
    if us == i64::MIN || us == i64::MAX {
        return Err(SensorError::new(
            ErrorKind::DatetimeOutOfRange,
            "infinite timestamps are not supported here",
        ));
    }
    Ok(us)
}

fn timestamptz(us: i64) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(us).ok()
}

fn interval(us: i64) -> Option<PgInterval> {
    PgInterval::new(0, 0, us).ok()
}

/// A fixed-length interval in microseconds; months have no fixed length.
fn interval_micros(value: PgInterval, argument: &str) -> SensorResult<i64> {
    if value.months() != 0 {
        return Err(SensorError::invalid_parameter(format!(
            "{argument} must not contain months or years (they have no fixed length)"
        )));
    }
    i64::from(value.days())
        .checked_mul(USECS_PER_DAY)
        .and_then(|d| d.checked_add(value.micros()))
        .filter(|us| *us > 0)
        .ok_or_else(|| {
            SensorError::invalid_parameter(format!("{argument} must be a positive interval"))
        })
}

fn config(
    weights: Option<JsonB>,
    liveness: Option<PgInterval>,
    gaps: Option<&str>,
) -> SensorResult<AvailabilityConfig> {
    let weights = match weights {
        Some(JsonB(value)) => Weights::from_json(&value)?,
        None => Weights::new(),
    };
    let liveness = liveness
        .map(|l| interval_micros(l, "liveness"))
        .transpose()?;
    let gaps = GapPolicy::parse(gaps.unwrap_or("down"))?;
    Ok(AvailabilityConfig::new(weights, liveness, gaps)?)
}

/// The aggregate's memory context, where the state must live across rows.
fn aggregate_context(fcinfo: pg_sys::FunctionCallInfo) -> SensorResult<pg_sys::MemoryContext> {
    let mut context: pg_sys::MemoryContext = std::ptr::null_mut();
    // SAFETY: fcinfo is the current call's; AggCheckCallContext only reads it.
    let in_aggregate = unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) } != 0;
    if !in_aggregate || context.is_null() {
        return Err(SensorError::not_supported(
            "this function may only be called as part of an aggregate",
        ));
    }
    Ok(context)
}

/// Puts `value` into `internal`, allocated in the aggregate context (dropped with it).
fn store<T>(
    internal: &mut Internal,
    value: T,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<()> {
    let context = aggregate_context(fcinfo)?;
    // SAFETY: the context outlives every call of this aggregate group.
    unsafe {
        PgMemoryContexts::For(context).switch_to(|_| {
            internal.insert(value);
        })
    };
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn transition(
    mut internal: Internal,
    time: Option<TimestampWithTimeZone>,
    state: Option<&str>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    carry_in: Option<&str>,
    weights: Option<JsonB>,
    liveness: Option<PgInterval>,
    gaps: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<Internal> {
    // SAFETY: this aggregate's internal state is only ever an AvailabilityState.
    if unsafe { internal.get::<AvailabilityState>() }.is_none() {
        // A row without an event (LEFT JOIN of an empty bucket) still sets the window.
        if time.is_none() && (from.is_none() || to.is_none()) {
            return Ok(internal);
        }
        // Window and settings come from the first row; they are constant per group.
        let (Some(from), Some(to)) = (from, to) else {
            return Err(SensorError::invalid_parameter(
                "\"from\" and \"to\" must not be NULL",
            ));
        };
        let (from, to) = (micros(from)?, micros(to)?);
        if from >= to {
            return Err(SensorError::invalid_parameter(
                "\"to\" must be after \"from\"",
            ));
        }
        let mut fresh =
            AvailabilityState::new(config(weights, liveness, gaps)?, from, to, carry_in)?;
        // Room to keep a parallel worker's share of a group uncollapsed, so that the
        // leader's merge of interleaved shares stays exact (see to_partial_bytes).
        fresh.set_buffer_capacity(PARTIAL_BUFFER_EVENTS);
        store(&mut internal, fresh, fcinfo)?;
    }
    let Some(time) = time else {
        return Ok(internal);
    };
    // SAFETY: as above; initialised just now if it was not.
    if let Some(st) = unsafe { internal.get_mut::<AvailabilityState>() } {
        // A NULL status is a status nobody knows.
        st.push(micros(time)?, state.unwrap_or(::availability::UNKNOWN))?;
    }
    Ok(internal)
}

macro_rules! transition_fn {
    ($name:ident, ($($arg:ident : $ty:ty),*), ($carry:expr, $weights:expr, $live:expr, $gaps:expr)) => {
        #[pg_extern(immutable, parallel_safe)]
        #[allow(clippy::too_many_arguments)]
        fn $name(
            internal: Internal,
            time: Option<TimestampWithTimeZone>,
            state: Option<&str>,
            from: Option<TimestampWithTimeZone>,
            to: Option<TimestampWithTimeZone>,
            $($arg: $ty,)*
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> SqlResult<Internal> {
            Ok(transition(internal, time, state, from, to, $carry, $weights, $live, $gaps, fcinfo)?)
        }
    };
}

transition_fn!(availability_trans4, (), (None, None, None, None));
transition_fn!(availability_trans5, (carry_in: Option<&str>), (carry_in, None, None, None));
transition_fn!(availability_trans6, (carry_in: Option<&str>, weights: Option<JsonB>), (carry_in, weights, None, None));
transition_fn!(
    availability_trans7,
    (carry_in: Option<&str>, weights: Option<JsonB>, liveness: Option<PgInterval>),
    (carry_in, weights, liveness, None)
);
transition_fn!(
    availability_trans8,
    (carry_in: Option<&str>, weights: Option<JsonB>, liveness: Option<PgInterval>, gaps: Option<&str>),
    (carry_in, weights, liveness, gaps)
);

/// `rollup(state)`: merges bucket states into one over the union of their windows.
#[pg_extern(
    immutable,
    parallel_safe,
    sql = "CREATE FUNCTION sensor.availability_rollup_trans(internal, sensor.availability_state) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
fn availability_rollup_trans(
    internal: Internal,
    value: Option<&[u8]>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    Ok(rollup(internal, value, fcinfo)?)
}

/// `rollup(state, "from", "to")`: the same over a stated window, so that time before the
/// first and after the last bucket with rows still counts, in the states next to it.
/// The window is applied once, at the end (see `AvailabilityState::window_only`).
struct WindowedRollup {
    window: (i64, i64),
    state: Option<AvailabilityState>,
}

impl WindowedRollup {
    fn merge(&mut self, other: &AvailabilityState) -> SensorResult<()> {
        match &mut self.state {
            Some(st) => st.merge(other)?,
            None => self.state = Some(other.clone()),
        }
        Ok(())
    }
}

#[pg_extern(
    immutable,
    parallel_safe,
    sql = "CREATE FUNCTION sensor.availability_rollup_window_trans(internal, sensor.availability_state, timestamptz, timestamptz) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
fn availability_rollup_window_trans(
    mut internal: Internal,
    value: Option<&[u8]>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: this aggregate's internal state is only ever a WindowedRollup.
    if unsafe { internal.get::<WindowedRollup>() }.is_none() {
        let (Some(from), Some(to)) = (from, to) else {
            return Err(
                SensorError::invalid_parameter("\"from\" and \"to\" must not be NULL").into(),
            );
        };
        let window = (micros(from)?, micros(to)?);
        if window.0 >= window.1 {
            return Err(SensorError::invalid_parameter("\"to\" must be after \"from\"").into());
        }
        store(
            &mut internal,
            WindowedRollup {
                window,
                state: None,
            },
            fcinfo,
        )?;
    }
    let Some(bytes) = value else {
        return Ok(internal);
    };
    let incoming = AvailabilityState::from_bytes(bytes).map_err(SensorError::from)?;
    // SAFETY: as above.
    if let Some(rollup) = unsafe { internal.get_mut::<WindowedRollup>() } {
        rollup.merge(&incoming)?;
    }
    Ok(internal)
}

#[pg_extern(
    immutable,
    parallel_safe,
    sql = "CREATE FUNCTION sensor.availability_rollup_window_final(internal) RETURNS sensor.availability_state
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
fn availability_rollup_window_final(internal: Internal) -> SqlResult<Option<Vec<u8>>> {
    // SAFETY: this aggregate's internal state is only ever a WindowedRollup.
    let Some(WindowedRollup {
        window: (from, to),
        state: Some(st),
    }) = (unsafe { internal.get::<WindowedRollup>() })
    else {
        return Ok(None);
    };
    let mut widened = AvailabilityState::window_only(st.config().clone(), *from, *to)
        .map_err(SensorError::from)?;
    widened.merge(st).map_err(SensorError::from)?;
    Ok(Some(widened.to_bytes()))
}

#[pg_extern(immutable, parallel_safe)]
fn availability_rollup_window_combine(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: both are WindowedRollup (or empty).
    let Some(right) = (unsafe { b.get::<WindowedRollup>() }) else {
        return Ok(a);
    };
    match unsafe { a.get_mut::<WindowedRollup>() } {
        Some(left) => {
            if let Some(st) = &right.state {
                left.merge(st)?;
            }
        }
        None => store(
            &mut a,
            WindowedRollup {
                window: right.window,
                state: right.state.clone(),
            },
            fcinfo,
        )?,
    }
    Ok(a)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_rollup_window_serialize(internal: Internal) -> Vec<u8> {
    // SAFETY: as above. Layout: from, to (i64 little-endian), then the state's bytes.
    let Some(rollup) = (unsafe { internal.get::<WindowedRollup>() }) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&rollup.window.0.to_le_bytes());
    out.extend_from_slice(&rollup.window.1.to_le_bytes());
    if let Some(st) = &rollup.state {
        out.extend_from_slice(&st.to_bytes());
    }
    out
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_rollup_window_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    let word = |range: std::ops::Range<usize>| -> SensorResult<i64> {
        let raw = bytes.get(range).and_then(|b| <[u8; 8]>::try_from(b).ok());
        raw.map(i64::from_le_bytes)
            .ok_or_else(|| SensorError::invalid_input("truncated rollup state"))
    };
    let window = (word(0..8)?, word(8..16)?);
    let rest = bytes.get(16..).unwrap_or_default();
    let state = if rest.is_empty() {
        None
    } else {
        Some(AvailabilityState::from_bytes(rest).map_err(SensorError::from)?)
    };
    let mut out = Internal::default();
    store(&mut out, WindowedRollup { window, state }, fcinfo)?;
    Ok(out)
}

fn rollup(
    mut internal: Internal,
    value: Option<&[u8]>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<Internal> {
    let Some(bytes) = value else {
        return Ok(internal);
    };
    let incoming = AvailabilityState::from_bytes(bytes)?;
    // SAFETY: this aggregate's internal state is only ever an AvailabilityState.
    match unsafe { internal.get_mut::<AvailabilityState>() } {
        Some(st) => st.merge(&incoming)?,
        None => store(&mut internal, incoming, fcinfo)?,
    }
    Ok(internal)
}

#[pg_extern(
    immutable,
    parallel_safe,
    sql = "CREATE FUNCTION sensor.availability_final(internal) RETURNS sensor.availability_state
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
fn availability_final(internal: Internal) -> Option<Vec<u8>> {
    // SAFETY: this aggregate's internal state is only ever an AvailabilityState.
    unsafe { internal.get::<AvailabilityState>() }.map(AvailabilityState::to_bytes)
}

#[pg_extern(immutable, parallel_safe)]
fn availability_combine(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: both are AvailabilityState (or empty).
    let Some(right) = (unsafe { b.get::<AvailabilityState>() }) else {
        return Ok(a);
    };
    match unsafe { a.get_mut::<AvailabilityState>() } {
        Some(left) => left.merge(right).map_err(SensorError::from)?,
        None => store(&mut a, right.clone(), fcinfo)?,
    }
    Ok(a)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_serialize(internal: Internal) -> Vec<u8> {
    // SAFETY: strict: PostgreSQL only serializes existing states.
    unsafe { internal.get::<AvailabilityState>() }
        .map(AvailabilityState::to_partial_bytes)
        .unwrap_or_default()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    let state = AvailabilityState::from_bytes(bytes).map_err(SensorError::from)?;
    let mut out = Internal::default();
    store(&mut out, state, fcinfo)?;
    Ok(out)
}

// Accessors ------------------------------------------------------------------------

fn summary(bytes: &[u8]) -> SensorResult<Summary> {
    Ok(AvailabilityState::from_bytes(bytes)?.summary())
}

macro_rules! accessor {
    ($name:ident, $sql:literal, $ret:ty, |$s:ident| $body:expr) => {
        #[pg_extern(immutable, parallel_safe, strict, sql = $sql)]
        fn $name(state: &[u8]) -> SqlResult<Option<$ret>> {
            let $s = summary(state)?;
            Ok($body)
        }
    };
}

accessor!(availability, "CREATE FUNCTION sensor.availability(state sensor.availability_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", f64, |s| s.availability);
accessor!(uptime, "CREATE FUNCTION sensor.uptime(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", PgInterval, |s| interval(s.uptime_us));
accessor!(downtime, "CREATE FUNCTION sensor.downtime(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", PgInterval, |s| interval(s.downtime_us));
accessor!(unknown_time, "CREATE FUNCTION sensor.unknown_time(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", PgInterval, |s| interval(s.unknown_us));
accessor!(outages, "CREATE FUNCTION sensor.outages(state sensor.availability_state) RETURNS bigint LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", i64, |s| i64::try_from(s.outages).ok());
accessor!(longest_outage, "CREATE FUNCTION sensor.longest_outage(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", PgInterval, |s| interval(s.longest_outage_us));
accessor!(mtbf, "CREATE FUNCTION sensor.mtbf(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", PgInterval, |s| s.mtbf_us.and_then(interval));
accessor!(mttr, "CREATE FUNCTION sensor.mttr(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", PgInterval, |s| s.mttr_us.and_then(interval));
accessor!(first_state, "CREATE FUNCTION sensor.first_state(state sensor.availability_state) RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", String, |s| s.first_state);
accessor!(last_state, "CREATE FUNCTION sensor.last_state(state sensor.availability_state) RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", String, |s| s.last_state);
accessor!(is_approximate, "CREATE FUNCTION sensor.is_approximate(state sensor.availability_state) RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';", bool, |s| Some(s.approximate));

#[pg_extern(
    immutable,
    parallel_safe,
    strict,
    sql = "CREATE FUNCTION sensor.time_in(state sensor.availability_state, status text) RETURNS interval
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
fn time_in(state: &[u8], status: &str) -> SqlResult<Option<PgInterval>> {
    Ok(interval(summary(state)?.time_in(status)))
}

/// Everything at once, for people and for debugging: the summary as jsonb.
#[pg_extern(
    immutable,
    parallel_safe,
    strict,
    sql = "CREATE FUNCTION sensor.availability_summary(state sensor.availability_state) RETURNS jsonb
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
)]
fn availability_summary(state: &[u8]) -> SqlResult<JsonB> {
    let s = summary(state)?;
    let ts = |us: i64| timestamptz(us).map(|t| t.to_iso_string());
    let secs = |us: i64| us as f64 / 1e6;
    let time_in: serde_json::Map<String, serde_json::Value> = s
        .time_in
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(secs(*v))))
        .collect();
    Ok(JsonB(serde_json::json!({
        "from": ts(s.from),
        "to": ts(s.to),
        "availability": s.availability,
        "uptime_s": secs(s.uptime_us),
        "downtime_s": secs(s.downtime_us),
        "unknown_s": secs(s.unknown_us),
        "excluded_s": secs(s.excluded_us),
        "time_in_s": time_in,
        "outages": s.outages,
        "failures": s.failures,
        "outage_in_progress_at_from": s.outage_in_progress_at_from,
        "outage_in_progress_at_to": s.outage_in_progress_at_to,
        "longest_outage_s": secs(s.longest_outage_us),
        "mtbf_s": s.mtbf_us.map(secs),
        "mttr_s": s.mttr_us.map(secs),
        "first_state": s.first_state,
        "last_state": s.last_state,
        "last_event_time": s.last_event_time.and_then(ts),
        "approximate": s.approximate,
    })))
}

// The old service's sample mean -------------------------------------------------------

#[pg_extern(immutable, parallel_safe)]
fn availability_mean_trans(
    mut internal: Internal,
    status: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: this aggregate's internal state is only ever a SampleMean.
    if unsafe { internal.get::<SampleMean>() }.is_none() {
        store(&mut internal, SampleMean::new(), fcinfo)?;
    }
    if let Some(mean) = unsafe { internal.get_mut::<SampleMean>() } {
        mean.push(status);
    }
    Ok(internal)
}

#[pg_extern(immutable, parallel_safe)]
fn availability_mean_final(internal: Internal) -> Option<f64> {
    // SAFETY: as above.
    unsafe { internal.get::<SampleMean>() }.and_then(SampleMean::value)
}

#[pg_extern(immutable, parallel_safe)]
fn availability_mean_combine(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: as above.
    let Some(right) = (unsafe { b.get::<SampleMean>() }) else {
        return Ok(a);
    };
    match unsafe { a.get_mut::<SampleMean>() } {
        Some(left) => left.merge(right),
        None => store(&mut a, *right, fcinfo)?,
    }
    Ok(a)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_mean_serialize(internal: Internal) -> Vec<u8> {
    // SAFETY: as above.
    unsafe { internal.get::<SampleMean>() }
        .map(SampleMean::to_bytes)
        .unwrap_or_default()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_mean_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    let mean = SampleMean::from_bytes(bytes).map_err(SensorError::from)?;
    let mut out = Internal::default();
    store(&mut out, mean, fcinfo)?;
    Ok(out)
}

// Per-bucket states for availability_report ---------------------------------------------

/// The states of one equipment's buckets `[from + k·width, from + (k+1)·width)`, built in
/// one pass. Rows of a time-ordered scan hit the last bucket again, so the lookup is a
/// comparison, not a search.
struct BucketStates {
    buckets: Vec<(i64, AvailabilityState)>,
}

/// The window, bucket width and settings of a report.
struct BucketSpec {
    config: AvailabilityConfig,
    from: i64,
    to: i64,
    width: i64,
}

impl BucketSpec {
    fn n_buckets(&self) -> i64 {
        (self.to - self.from + self.width - 1) / self.width
    }

    fn bucket(&self, k: i64) -> SensorResult<AvailabilityState> {
        let start = self.from + k * self.width;
        Ok(AvailabilityState::new(
            self.config.clone(),
            start,
            (start + self.width).min(self.to),
            None,
        )?)
    }
}

impl BucketStates {
    fn push(&mut self, spec: &BucketSpec, t: i64, state: &str) -> SensorResult<()> {
        let k = (t - spec.from).div_euclid(spec.width);
        let at = match self.buckets.last() {
            Some((last, _)) if *last == k => self.buckets.len() - 1,
            _ => match self.buckets.binary_search_by_key(&k, |(b, _)| *b) {
                Ok(i) => i,
                Err(i) => {
                    self.buckets.insert(i, (k, spec.bucket(k)?));
                    i
                }
            },
        };
        if let Some((_, st)) = self.buckets.get_mut(at) {
            st.push(t, state)?;
        }
        Ok(())
    }

    /// Every bucket of the window in order, each seeded with the last event before it:
    /// the carry-in for the first, then each bucket's own last event.
    fn report(
        self,
        spec: &BucketSpec,
        carry: Option<(i64, String)>,
    ) -> SensorResult<Vec<ReportRow>> {
        let mut states: HashMap<i64, AvailabilityState> = self.buckets.into_iter().collect();
        let mut last_event = carry;
        let mut rows = Vec::with_capacity(usize::try_from(spec.n_buckets()).unwrap_or(0));
        for k in 0..spec.n_buckets() {
            pgrx::check_for_interrupts!();
            let start = spec.from + k * spec.width;
            let mut st = match states.remove(&k) {
                Some(st) => st,
                None => spec.bucket(k)?,
            };
            if let Some((t, s)) = &last_event {
                st.push(*t, s)?;
            }
            let s = st.summary();
            if let (Some(t), Some(state)) = (s.last_event_time, s.last_state.clone()) {
                if t >= start {
                    last_event = Some((t, state));
                }
            }
            rows.push(ReportRow {
                time: start,
                availability: s.availability,
                uptime: s.uptime_us,
                downtime: s.downtime_us,
                unknown: s.unknown_us,
                outages: i64::try_from(s.outages).ok(),
                last_state: s.last_state,
                approximate: s.approximate,
            });
        }
        Ok(rows)
    }
}

struct ReportRow {
    time: i64,
    availability: Option<f64>,
    uptime: i64,
    downtime: i64,
    unknown: i64,
    outages: Option<i64>,
    last_state: Option<String>,
    approximate: bool,
}

/// Receives the window's events from the executor: per equipment, the bucket states.
/// Integer equipment columns are keyed by value (no text per row); rows of one equipment
/// often follow each other, so the last group is checked before the map.
struct ReportSink<'a> {
    spec: &'a BucketSpec,
    integer_key: bool,
    groups: Vec<(Option<String>, BucketStates)>,
    by_int: HashMap<i64, usize, BuildIntHasher>,
    by_text: HashMap<Vec<u8>, usize>,
    null_group: Option<usize>,
    last: Option<(Option<i64>, usize)>,
    /// The statuses seen so far (a handful), already checked as UTF-8.
    statuses: Vec<(Vec<u8>, String)>,
}

/// A multiplicative hash for integer keys: SipHash's flooding resistance buys nothing for
/// equipment ids of one query and costs more than the rest of the row's work.
#[derive(Default, Clone, Copy)]
struct BuildIntHasher;

#[derive(Default)]
struct IntHasher(u64);

impl std::hash::BuildHasher for BuildIntHasher {
    type Hasher = IntHasher;
    fn build_hasher(&self) -> IntHasher {
        IntHasher(0)
    }
}

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl ReportSink<'_> {
    fn group(&mut self, key: Option<i64>, text: Option<&[u8]>) -> usize {
        let new_group = |groups: &mut Vec<(Option<String>, BucketStates)>,
                         label: Option<String>| {
            groups.push((
                label,
                BucketStates {
                    buckets: Vec::new(),
                },
            ));
            groups.len() - 1
        };
        match (key, text) {
            (Some(k), _) => *self
                .by_int
                .entry(k)
                .or_insert_with(|| new_group(&mut self.groups, Some(k.to_string()))),
            (None, Some(t)) => match self.by_text.get(t) {
                Some(&i) => i,
                None => {
                    let i = new_group(
                        &mut self.groups,
                        Some(String::from_utf8_lossy(t).into_owned()),
                    );
                    self.by_text.insert(t.to_vec(), i);
                    i
                }
            },
            (None, None) => match self.null_group {
                Some(i) => i,
                None => {
                    let i = new_group(&mut self.groups, None);
                    self.null_group = Some(i);
                    i
                }
            },
        }
    }
}

impl RowSink for ReportSink<'_> {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let Some(t) = row.i64(1) else { return Ok(()) };
        let index = if self.integer_key {
            let key = row.i64(0);
            match self.last {
                Some((Some(last), i)) if key == Some(last) => i,
                _ => {
                    let i = match key {
                        Some(k) => self.group(Some(k), None),
                        None => self.group(None, None),
                    };
                    self.last = key.map(|k| (Some(k), i));
                    i
                }
            }
        } else {
            row.with_text(0, |text| self.group(None, text))
        };
        let spec = self.spec;
        let (groups, statuses) = (&mut self.groups, &mut self.statuses);
        let Some((_, group)) = groups.get_mut(index) else {
            return Ok(());
        };
        row.with_text(2, |state| {
            // A NULL status is a status nobody knows.
            let state = match state {
                None => ::availability::UNKNOWN,
                Some(bytes) => match statuses.iter().position(|(b, _)| b.as_slice() == bytes) {
                    Some(i) => statuses[i].1.as_str(),
                    None => {
                        let text = std::str::from_utf8(bytes).map_err(|_| {
                            SensorError::invalid_input("a status is not valid UTF-8")
                        })?;
                        // Remember the first few; a column of free text is just checked per row.
                        if statuses.len() >= 64 {
                            return group.push(spec, t, text);
                        }
                        statuses.push((bytes.to_vec(), text.to_string()));
                        statuses
                            .last()
                            .map(|(_, t)| t.as_str())
                            .unwrap_or(::availability::UNKNOWN)
                    }
                },
            };
            group.push(spec, t, state)
        })
    }
}

// Reports over a table ---------------------------------------------------------------

/// The identifiers and window of a report, validated and quoted once.
struct EventSource {
    relation: String,
    time: String,
    state: String,
    equipment: Option<String>,
    from: i64,
    to: i64,
}

impl EventSource {
    fn new(
        relation: pg_sys::Oid,
        time_column: &str,
        state_column: &str,
        equipment_column: Option<&str>,
        from: TimestampWithTimeZone,
        to: TimestampWithTimeZone,
    ) -> SensorResult<Self> {
        let (from, to) = (micros(from)?, micros(to)?);
        if from >= to {
            return Err(SensorError::invalid_parameter(
                "\"to\" must be after \"from\"",
            ));
        }
        let relation_name = RegClass(relation).qualified_name()?;
        for column in [Some(time_column), Some(state_column), equipment_column]
            .into_iter()
            .flatten()
        {
            let exists = Spi::get_one_with_args::<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped)",
                &[relation.into(), column.into()],
            )
            .ok()
            .flatten()
            .unwrap_or(false);
            if !exists {
                return Err(SensorError::new(
                    ErrorKind::UndefinedColumn,
                    format!("column \"{column}\" of relation {relation_name} does not exist"),
                ));
            }
        }

        Ok(EventSource {
            relation: relation_name,
            time: quote_identifier(time_column),
            state: quote_identifier(state_column),
            equipment: equipment_column.map(quote_identifier),
            from,
            to,
        })
    }

    fn equipment_expr(&self) -> String {
        match &self.equipment {
            Some(e) => format!("{e}::text"),
            None => "NULL::text".to_string(),
        }
    }

    fn window_literals(&self) -> SensorResult<(String, String)> {
        let lit = |us: i64| -> SensorResult<String> {
            let ts = timestamptz(us).ok_or_else(|| {
                SensorError::new(ErrorKind::DatetimeOutOfRange, "timestamp out of range")
            })?;
            Ok(format!(
                "{}::timestamptz",
                quote_literal(&ts.to_iso_string())
            ))
        };
        Ok((lit(self.from)?, lit(self.to)?))
    }

    /// The state in force at `from` for each equipment: its last event before the window.
    fn carry_ins(&self) -> SensorResult<HashMap<Option<String>, (i64, String)>> {
        let (from, _) = self.window_literals()?;
        let (rel, t, s) = (&self.relation, &self.time, &self.state);
        let query = match &self.equipment {
            // One index probe per equipment (a loose index scan), not a scan of history.
            Some(e) => format!(
                "WITH RECURSIVE eq(v) AS (
                    (SELECT {e} FROM {rel} WHERE {e} IS NOT NULL ORDER BY {e} LIMIT 1)
                    UNION ALL
                    SELECT (SELECT {e} FROM {rel} WHERE {e} > eq.v ORDER BY {e} LIMIT 1) FROM eq WHERE eq.v IS NOT NULL)
                 SELECT eq.v::text, last.t, last.s
                 FROM eq CROSS JOIN LATERAL (
                    SELECT {t}::timestamptz AS t, {s}::text AS s FROM {rel}
                    WHERE {e} = eq.v AND {t} < {from} ORDER BY {t} DESC LIMIT 1) last
                 WHERE eq.v IS NOT NULL"
            ),
            None => format!(
                "SELECT NULL::text, {t}::timestamptz, {s}::text FROM {rel} WHERE {t} < {from} ORDER BY {t} DESC LIMIT 1"
            ),
        };
        Spi::connect(|client| {
            let mut out = HashMap::new();
            for row in client.select(&query, None, &[])? {
                let equipment = row.get::<String>(1)?;
                let (Some(time), state) =
                    (row.get::<TimestampWithTimeZone>(2)?, row.get::<String>(3)?)
                else {
                    continue;
                };
                out.insert(
                    equipment,
                    (
                        i64::from(time),
                        state.unwrap_or_else(|| ::availability::UNKNOWN.to_string()),
                    ),
                );
            }
            Ok::<_, pgrx::spi::SpiError>(out)
        })
        .map_err(spi_error)
    }
}

/// Per equipment, per bucket of `bucket` length from `from`: availability, uptime,
/// downtime, unknown time, outages and the last state. One scan of the window streams its
/// rows from the executor into per-bucket states (serially, in heap order, so they stay
/// exact with small buffers); the state in force at `from` is each equipment's last
/// earlier event, found by index probes, and carries from bucket to bucket.
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn availability_report(
    relation: Option<RegClass>,
    time_column: Option<&str>,
    state_column: Option<&str>,
    equipment_column: Option<&str>,
    from: Option<TimestampWithTimeZone>,
    to: Option<TimestampWithTimeZone>,
    bucket: default!(Option<PgInterval>, "'1 hour'"),
    weights: default!(Option<JsonB>, "NULL"),
    liveness: default!(Option<PgInterval>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(equipment, Option<String>),
            name!(time, Option<TimestampWithTimeZone>),
            name!(availability, Option<f64>),
            name!(uptime, Option<PgInterval>),
            name!(downtime, Option<PgInterval>),
            name!(unknown_time, Option<PgInterval>),
            name!(outages, Option<i64>),
            name!(last_state, Option<String>),
            name!(approximate, bool),
        ),
    >,
    ErrorReport,
> {
    // NULL for a required argument gives no rows, as a STRICT function would.
    let (Some(relation), Some(time_column), Some(state_column), Some(from), Some(to), Some(bucket)) =
        (relation, time_column, state_column, from, to, bucket)
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let rows = search_path::pinned(|| {
        report_rows(
            relation.0,
            time_column,
            state_column,
            equipment_column,
            from,
            to,
            bucket,
            weights,
            liveness,
        )
    })?;
    Ok(TableIterator::new(rows))
}

type ReportSqlRow = (
    Option<String>,
    Option<TimestampWithTimeZone>,
    Option<f64>,
    Option<PgInterval>,
    Option<PgInterval>,
    Option<PgInterval>,
    Option<i64>,
    Option<String>,
    bool,
);

#[allow(clippy::too_many_arguments)]
fn report_rows(
    relation: pg_sys::Oid,
    time_column: &str,
    state_column: &str,
    equipment_column: Option<&str>,
    from: TimestampWithTimeZone,
    to: TimestampWithTimeZone,
    bucket: PgInterval,
    weights: Option<JsonB>,
    liveness: Option<PgInterval>,
) -> SensorResult<Vec<ReportSqlRow>> {
    let source = EventSource::new(
        relation,
        time_column,
        state_column,
        equipment_column,
        from,
        to,
    )?;
    let width = interval_micros(bucket, "bucket")?;
    if (source.to - source.from) / width >= 10_000_000 {
        return Err(SensorError::invalid_parameter(
            "bucket is too small for the window (more than 10,000,000 buckets)",
        ));
    }
    let spec = BucketSpec {
        config: config(weights, liveness, None)?,
        from: source.from,
        to: source.to,
        width,
    };
    let integer_key = match equipment_column {
        Some(column) => matches!(
            Spi::get_one_with_args::<pg_sys::Oid>(
                "SELECT atttypid FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $2",
                &[relation.into(), column.into()],
            )
            .ok()
            .flatten(),
            Some(pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID)
        ),
        None => false,
    };
    let equipment = match (&source.equipment, integer_key) {
        (Some(e), true) => format!("{e}::int8"),
        (Some(e), false) => format!("{e}::text"),
        (None, _) => "NULL::text".to_string(),
    };
    let query = format!(
        "SELECT {equipment}, {t}::timestamptz, {s}::text FROM {rel} WHERE {t} >= $1 AND {t} < $2",
        t = source.time,
        s = source.state,
        rel = source.relation
    );
    let mut sink = ReportSink {
        spec: &spec,
        integer_key,
        groups: Vec::new(),
        by_int: HashMap::with_hasher(BuildIntHasher),
        by_text: HashMap::new(),
        null_group: None,
        last: None,
        statuses: Vec::new(),
    };
    // A serial scan delivers each equipment's rows in heap order; a Gather would
    // interleave workers' rows and make the per-bucket states approximate.
    stream_rows_serial(
        &query,
        &[
            Param::timestamptz(source.from),
            Param::timestamptz(source.to),
        ],
        3,
        &mut sink,
    )?;

    let carry = source.carry_ins()?;
    let mut groups: HashMap<Option<String>, BucketStates> = sink.groups.into_iter().collect();
    for e in carry.keys() {
        groups.entry(e.clone()).or_insert(BucketStates {
            buckets: Vec::new(),
        });
    }
    let mut groups: Vec<(Option<String>, BucketStates)> = groups.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rows = Vec::new();
    for (e, states) in groups {
        for r in states.report(&spec, carry.get(&e).cloned())? {
            rows.push((
                e.clone(),
                timestamptz(r.time),
                r.availability,
                interval(r.uptime),
                interval(r.downtime),
                interval(r.unknown),
                r.outages,
                r.last_state,
                r.approximate,
            ));
        }
    }
    Ok(rows)
}

fn spi_error(err: pgrx::spi::SpiError) -> SensorError {
    SensorError::invalid_parameter(format!("could not read the events: {err}"))
}

/// The status history as intervals per equipment; with `points`, at most that many
/// intervals per equipment, keeping the worst state of each slot (for Grafana's
/// state-timeline panel).
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn state_timeline(
    relation: Option<RegClass>,
    time_column: Option<&str>,
    state_column: Option<&str>,
    equipment_column: default!(Option<&str>, "NULL"),
    from: default!(Option<TimestampWithTimeZone>, "NULL"),
    to: default!(Option<TimestampWithTimeZone>, "NULL"),
    points: default!(Option<i32>, "NULL"),
    weights: default!(Option<JsonB>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(equipment, Option<String>),
            name!(state, Option<String>),
            name!(start, Option<TimestampWithTimeZone>),
            name!(end, Option<TimestampWithTimeZone>),
            name!(duration, Option<PgInterval>),
        ),
    >,
    ErrorReport,
> {
    // NULL for a required argument gives no rows, as a STRICT function would.
    let (Some(relation), Some(time_column), Some(state_column)) =
        (relation, time_column, state_column)
    else {
        return Ok(TableIterator::new(Vec::new()));
    };
    let (Some(from), Some(to)) = (from, to) else {
        return Err(SensorError::invalid_parameter("\"from\" and \"to\" are required").into());
    };
    let rows = search_path::pinned(|| {
        timeline_rows(
            relation.0,
            time_column,
            state_column,
            equipment_column,
            from,
            to,
            points,
            weights,
        )
    })?;
    Ok(TableIterator::new(rows))
}

type TimelineRow = (
    Option<String>,
    Option<String>,
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    Option<PgInterval>,
);

#[allow(clippy::too_many_arguments)]
fn timeline_rows(
    relation: pg_sys::Oid,
    time_column: &str,
    state_column: &str,
    equipment_column: Option<&str>,
    from: TimestampWithTimeZone,
    to: TimestampWithTimeZone,
    points: Option<i32>,
    weights: Option<JsonB>,
) -> SensorResult<Vec<TimelineRow>> {
    let source = EventSource::new(
        relation,
        time_column,
        state_column,
        equipment_column,
        from,
        to,
    )?;
    let cfg = config(weights, None, None)?;
    let carry = source.carry_ins()?;
    let query = format!(
        "SELECT {eq}, {t}::timestamptz, {s}::text FROM {rel} WHERE {t} >= $1 AND {t} < $2 ORDER BY 1, 2",
        eq = source.equipment_expr(),
        t = source.time,
        s = source.state,
        rel = source.relation
    );
    // Rows arrive ordered by equipment: one state at a time grows (streamed from the
    // executor, nothing materialized).
    struct TimelineSink {
        config: AvailabilityConfig,
        window: (i64, i64),
        states: Vec<(Option<String>, AvailabilityState)>,
    }
    impl RowSink for TimelineSink {
        fn row(&mut self, row: &Row) -> SensorResult<()> {
            let Some(t) = row.i64(1) else { return Ok(()) };
            let same = row.with_text(0, |e| match (self.states.last(), e) {
                (Some((Some(last), _)), Some(e)) => last.as_bytes() == e,
                (Some((None, _)), None) => true,
                _ => false,
            });
            if !same {
                let equipment =
                    row.with_text(0, |e| e.map(|e| String::from_utf8_lossy(e).into_owned()));
                let state = AvailabilityState::new(
                    self.config.clone(),
                    self.window.0,
                    self.window.1,
                    None,
                )?;
                self.states.push((equipment, state));
            }
            let Some((_, st)) = self.states.last_mut() else {
                return Ok(());
            };
            row.with_text(2, |s| {
                let s = match s {
                    Some(bytes) => std::str::from_utf8(bytes)
                        .map_err(|_| SensorError::invalid_input("a status is not valid UTF-8"))?,
                    None => ::availability::UNKNOWN,
                };
                Ok(st.push(t, s)?)
            })
        }
    }
    let mut sink = TimelineSink {
        config: cfg.clone(),
        window: (source.from, source.to),
        states: Vec::new(),
    };
    stream_rows(
        &query,
        &[
            Param::timestamptz(source.from),
            Param::timestamptz(source.to),
        ],
        3,
        &mut sink,
    )?;
    let mut states = sink.states;
    // Equipment with history before the window but no event in it still has a timeline.
    for equipment in carry.keys() {
        if !states.iter().any(|(e, _)| e == equipment) {
            states.push((
                equipment.clone(),
                AvailabilityState::new(cfg.clone(), source.from, source.to, None)
                    .map_err(SensorError::from)?,
            ));
        }
    }
    states.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rows = Vec::new();
    for (equipment, mut st) in states {
        if let Some((t, s)) = carry.get(&equipment) {
            st.push(*t, s).map_err(SensorError::from)?;
        }
        let mut intervals: Vec<Interval> = st.timeline();
        if let Some(points) = points {
            let points = u64::try_from(points)
                .map_err(|_| SensorError::invalid_parameter("points must be positive"))?;
            intervals = ::availability::reduce_timeline(
                &intervals,
                source.from,
                source.to,
                points,
                cfg.weights(),
            )
            .map_err(SensorError::from)?;
        }
        for iv in intervals {
            rows.push((
                equipment.clone(),
                Some(iv.state.clone()),
                timestamptz(iv.start),
                timestamptz(iv.end),
                interval(iv.duration()),
            ));
        }
    }
    Ok(rows)
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn setup() {
        Spi::run(
            "CREATE TEMP TABLE ev (equipment int, time timestamptz, status text);
             INSERT INTO ev VALUES
               (12, '2026-01-01 00:00+00', 'online'),
               (12, '2026-01-01 06:00+00', 'offline'),
               (12, '2026-01-01 09:00+00', 'online'),
               (12, '2026-01-01 23:00+00', 'offline'),
               (12, '2026-01-02 01:00+00', 'online'),
               (13, '2025-12-31 12:00+00', 'maintenance'),
               (13, '2026-01-01 12:00+00', 'online');",
        )
        .unwrap();
    }

    #[pg_test]
    fn time_weighted_availability_with_carry_in_and_last_state_to_the_end() {
        setup();
        // Equipment 12 on Jan 1: offline 06-09 and 23-24: 4 h down of 24 h.
        let a = Spi::get_one::<f64>(
            "SELECT sensor.availability(sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-02+00'))
             FROM ev WHERE equipment = 12 AND time < '2026-01-02+00'",
        )
        .unwrap()
        .unwrap();
        assert!((a - 20.0 / 24.0).abs() < 1e-12, "{a}");
        // Equipment 12 on Jan 2 0-12h: carry-in offline from before the window: 1 h down.
        let a = Spi::get_one::<f64>(
            "SELECT sensor.availability(sensor.availability_agg(time, status, '2026-01-02+00', '2026-01-02 12:00+00'))
             FROM ev WHERE equipment = 12",
        )
        .unwrap()
        .unwrap();
        assert!((a - 11.0 / 12.0).abs() < 1e-12, "{a}");
    }

    #[pg_test]
    fn hourly_rollup_equals_the_daily_state_across_midnight() {
        setup();
        let (direct, rolled) = Spi::get_two::<f64, f64>(
            "WITH hourly AS (
                SELECT date_trunc('hour', e.time) AS h,
                       sensor.availability_agg(e.time, e.status, date_trunc('hour', e.time), date_trunc('hour', e.time) + interval '1 hour') AS st
                FROM ev e WHERE e.equipment = 12 GROUP BY 1)
             SELECT (SELECT sensor.availability(sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-03+00')) FROM ev WHERE equipment = 12),
                    (SELECT sensor.availability(sensor.rollup(st, '2026-01-01+00', '2026-01-03+00')) FROM hourly)",
        )
        .unwrap();
        // Offline 06:00-09:00 and 23:00-01:00 (across midnight): 5 h down of 48 h.
        assert_eq!(direct, Some(43.0 / 48.0));
        assert_eq!(direct, rolled);
    }

    #[pg_test]
    fn the_old_services_sample_mean() {
        let v = Spi::get_one::<f64>(
            "SELECT sensor.availability_mean(s) FROM (SELECT 'online' FROM generate_series(1, 9) UNION ALL SELECT 'offline') t(s)",
        )
        .unwrap();
        assert_eq!(v, Some(90.0));
    }

    #[pg_test]
    fn report_carries_state_into_each_bucket() {
        setup();
        let rows = Spi::get_one::<i64>(
            "SELECT count(*) FROM sensor.availability_report('ev', 'time', 'status', 'equipment', '2026-01-02+00', '2026-01-02 03:00+00')",
        )
        .unwrap();
        assert_eq!(rows, Some(6)); // 2 equipments × 3 buckets
        let (a, down) = Spi::get_two::<f64, pgrx::datum::Interval>(
            "SELECT availability, downtime FROM sensor.availability_report('ev', 'time', 'status', 'equipment', '2026-01-02+00', '2026-01-02 03:00+00')
             WHERE equipment = '12' AND time = '2026-01-02+00'",
        )
        .unwrap();
        assert_eq!(a, Some(0.0));
        assert_eq!(down.map(|d| d.micros()), Some(3_600_000_000));
    }

    #[pg_test]
    fn errors_have_their_sqlstates() {
        setup();
        let s = crate::tests::sqlstate_of;
        assert_eq!(s("SELECT sensor.availability_agg(time, status, '2026-01-02+00', '2026-01-01+00') FROM ev").as_deref(), Some("22023"));
        assert_eq!(s("SELECT sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-02+00', NULL, '{\"online\": 2}') FROM ev").as_deref(), Some("22023"));
        assert_eq!(s("SELECT sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-02+00', NULL, NULL, '1 month') FROM ev").as_deref(), Some("22023"));
        assert_eq!(
            s("SELECT sensor.availability('\\x0102'::bytea)").as_deref(),
            Some("22P02")
        );
        assert_eq!(s("SELECT * FROM sensor.availability_report('ev', 'nope', 'status', 'equipment', '2026-01-01+00', '2026-01-02+00')").as_deref(), Some("42703"));
    }
}
