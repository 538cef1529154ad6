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
use pgrx::{JsonB, PgMemoryContexts, PgRelation};

use pgrx::pg_sys::panic::ErrorReport;

use crate::error::{ErrorKind, SensorError, SensorResult, SqlResult};
use crate::quoting::{quote_identifier, quote_literal};

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
/// one pass by the internal aggregate `sensor.availability_buckets`. Rows of a time-ordered
/// scan hit the last bucket again, so the lookup is a comparison, not a search.
struct BucketStates {
    config: AvailabilityConfig,
    from: i64,
    to: i64,
    width: i64,
    buckets: Vec<(i64, AvailabilityState)>,
}

impl BucketStates {
    fn push(&mut self, t: i64, state: &str) -> SensorResult<()> {
        let k = (t - self.from).div_euclid(self.width);
        let at = match self.buckets.last() {
            Some((last, _)) if *last == k => self.buckets.len() - 1,
            _ => match self.buckets.binary_search_by_key(&k, |(b, _)| *b) {
                Ok(i) => i,
                Err(i) => {
                    let start = self.from + k * self.width;
                    let st = AvailabilityState::new(
                        self.config.clone(),
                        start,
                        (start + self.width).min(self.to),
                        None,
                    )?;
                    self.buckets.insert(i, (k, st));
                    i
                }
            },
        };
        if let Some((_, st)) = self.buckets.get_mut(at) {
            st.push(t, state)?;
        }
        Ok(())
    }

    fn merge(&mut self, other: &BucketStates) -> SensorResult<()> {
        for (k, st) in &other.buckets {
            match self.buckets.binary_search_by_key(k, |(b, _)| *b) {
                Ok(i) => {
                    if let Some((_, mine)) = self.buckets.get_mut(i) {
                        mine.merge(st)?;
                    }
                }
                Err(i) => self.buckets.insert(i, (*k, st.clone())),
            }
        }
        Ok(())
    }

    /// count, then per bucket: k, length, the state's bytes (little-endian u64s).
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [self.from, self.to, self.width, self.buckets.len() as i64] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (k, st) in &self.buckets {
            let bytes = st.to_bytes();
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        out
    }

    fn from_bytes(bytes: &[u8]) -> SensorResult<BucketStates> {
        let truncated = || SensorError::invalid_input("truncated bucket states");
        let word = |at: &mut usize| -> SensorResult<i64> {
            let raw = bytes
                .get(*at..at.saturating_add(8))
                .and_then(|b| <[u8; 8]>::try_from(b).ok());
            *at = at.saturating_add(8);
            raw.map(i64::from_le_bytes).ok_or_else(truncated)
        };
        let mut at = 0usize;
        let (from, to, width, count) = (
            word(&mut at)?,
            word(&mut at)?,
            word(&mut at)?,
            word(&mut at)?,
        );
        let mut buckets = Vec::new();
        let mut config = None;
        for _ in 0..count {
            let (k, len) = (word(&mut at)?, word(&mut at)?);
            let len = usize::try_from(len)
                .map_err(|_| SensorError::invalid_input("bad bucket state length"))?;
            let body = bytes
                .get(at..at.saturating_add(len))
                .ok_or_else(truncated)?;
            at = at.saturating_add(len);
            let st = AvailabilityState::from_bytes(body)?;
            config.get_or_insert_with(|| st.config().clone());
            buckets.push((k, st));
        }
        let config = match config {
            Some(c) => c,
            None => AvailabilityConfig::new(Weights::new(), None, GapPolicy::Down)?,
        };
        Ok(BucketStates {
            config,
            from,
            to,
            width,
            buckets,
        })
    }
}

/// What `sensor.availability_report` aggregates by: the window, the bucket width and the
/// settings, encoded once so the per-row transition takes three arguments, not seven.
struct BucketSpec {
    width: i64,
    window: AvailabilityState,
}

impl BucketSpec {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.width.to_le_bytes().to_vec();
        out.extend_from_slice(&self.window.to_bytes());
        out
    }

    fn from_bytes(bytes: &[u8]) -> SensorResult<BucketSpec> {
        let width = bytes
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(i64::from_le_bytes)
            .filter(|w| *w > 0)
            .ok_or_else(|| SensorError::invalid_input("invalid bucket specification"))?;
        let window = AvailabilityState::from_bytes(bytes.get(8..).unwrap_or_default())?;
        Ok(BucketSpec { width, window })
    }

    fn empty_buckets(&self) -> BucketStates {
        let (from, to) = self.window.window();
        BucketStates {
            config: self.window.config().clone(),
            from,
            to,
            width: self.width,
            buckets: Vec::new(),
        }
    }
}

/// Internal to `sensor.availability_report`: the window, bucket and settings as one value.
#[pg_extern(immutable, parallel_safe)]
fn availability_bucket_spec(
    from: TimestampWithTimeZone,
    to: TimestampWithTimeZone,
    bucket: PgInterval,
    weights: Option<JsonB>,
    liveness: Option<PgInterval>,
) -> SqlResult<Vec<u8>> {
    let width = interval_micros(bucket, "bucket")?;
    let (from, to) = (micros(from)?, micros(to)?);
    if from >= to {
        return Err(SensorError::invalid_parameter("\"to\" must be after \"from\"").into());
    }
    if (to - from) / width >= 10_000_000 {
        return Err(SensorError::invalid_parameter(
            "bucket is too small for the window (more than 10,000,000 buckets)",
        )
        .into());
    }
    let window = AvailabilityState::new(config(weights, liveness, None)?, from, to, None)
        .map_err(SensorError::from)?;
    Ok(BucketSpec { width, window }.to_bytes())
}

#[pg_extern(immutable, parallel_safe)]
fn availability_buckets_trans(
    mut internal: Internal,
    time: Option<TimestampWithTimeZone>,
    state: Option<&str>,
    spec: Option<&[u8]>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    let Some(time) = time else {
        return Ok(internal);
    };
    // SAFETY: this aggregate's internal state is only ever a BucketStates.
    if unsafe { internal.get::<BucketStates>() }.is_none() {
        let spec = spec.ok_or_else(|| {
            SensorError::invalid_parameter("the bucket specification must not be NULL")
        })?;
        store(
            &mut internal,
            BucketSpec::from_bytes(spec)?.empty_buckets(),
            fcinfo,
        )?;
    }
    // SAFETY: as above.
    if let Some(buckets) = unsafe { internal.get_mut::<BucketStates>() } {
        buckets.push(i64::from(time), state.unwrap_or(::availability::UNKNOWN))?;
    }
    Ok(internal)
}

#[pg_extern(immutable, parallel_safe)]
fn availability_buckets_final(internal: Internal) -> Option<Vec<u8>> {
    // SAFETY: as above.
    unsafe { internal.get::<BucketStates>() }.map(BucketStates::to_bytes)
}

#[pg_extern(immutable, parallel_safe)]
fn availability_buckets_combine(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    // SAFETY: both are BucketStates (or empty).
    let Some(right) = (unsafe { b.get::<BucketStates>() }) else {
        return Ok(a);
    };
    match unsafe { a.get_mut::<BucketStates>() } {
        Some(left) => left.merge(right)?,
        None => {
            let copy = BucketStates::from_bytes(&right.to_bytes())?;
            store(&mut a, copy, fcinfo)?
        }
    }
    Ok(a)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_buckets_serialize(internal: Internal) -> Vec<u8> {
    // SAFETY: as above.
    unsafe { internal.get::<BucketStates>() }
        .map(BucketStates::to_bytes)
        .unwrap_or_default()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_buckets_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    let buckets = BucketStates::from_bytes(bytes)?;
    let mut out = Internal::default();
    store(&mut out, buckets, fcinfo)?;
    Ok(out)
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
                    format!("column \"{column}\" does not exist"),
                ));
            }
        }
        // regclass output is already quoted and schema-qualified where needed.
        let relation =
            Spi::get_one_with_args::<String>("SELECT $1::regclass::text", &[relation.into()])
                .ok()
                .flatten()
                .ok_or_else(|| {
                    SensorError::new(ErrorKind::UndefinedObject, "relation does not exist")
                })?;
        Ok(EventSource {
            relation,
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

fn spi_error(err: pgrx::spi::SpiError) -> SensorError {
    SensorError::invalid_parameter(format!("could not read the events: {err}"))
}

/// The report rows of one equipment: every bucket of `[from, to)` in order, each seeded
/// with the last event before it (the carry-in for the first, then each bucket's last
/// event), from the per-bucket states of `sensor.availability_buckets`. Called by the
/// SQL function `sensor.availability_report`, which runs the one aggregating scan.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn availability_bucket_rows(
    buckets: Option<&[u8]>,
    spec: &[u8],
    carry_time: Option<TimestampWithTimeZone>,
    carry_state: Option<&str>,
) -> Result<
    TableIterator<
        'static,
        (
            name!(bucket, Option<TimestampWithTimeZone>),
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
    let spec = BucketSpec::from_bytes(spec)?;
    let (from, to) = spec.window.window();
    let width = spec.width;
    let cfg = spec.window.config().clone();
    let n_buckets = (to - from + width - 1) / width;
    let mut states: HashMap<i64, AvailabilityState> = match buckets {
        Some(bytes) => BucketStates::from_bytes(bytes)?
            .buckets
            .into_iter()
            .collect(),
        None => HashMap::new(),
    };
    let mut last_event = match (carry_time, carry_state) {
        (Some(t), s) => Some((
            i64::from(t),
            s.unwrap_or(::availability::UNKNOWN).to_string(),
        )),
        _ => None,
    };
    let mut rows = Vec::with_capacity(usize::try_from(n_buckets).unwrap_or(0));
    for k in 0..n_buckets {
        pgrx::check_for_interrupts!();
        let start = from + k * width;
        let mut st = match states.remove(&k) {
            Some(st) => st,
            None => AvailabilityState::new(cfg.clone(), start, (start + width).min(to), None)
                .map_err(SensorError::from)?,
        };
        if let Some((t, s)) = &last_event {
            st.push(*t, s).map_err(SensorError::from)?;
        }
        let s = st.summary();
        if let (Some(t), Some(state)) = (s.last_event_time, s.last_state.clone()) {
            if t >= start {
                last_event = Some((t, state));
            }
        }
        rows.push((
            timestamptz(start),
            s.availability,
            interval(s.uptime_us),
            interval(s.downtime_us),
            interval(s.unknown_us),
            i64::try_from(s.outages).ok(),
            s.last_state,
            s.approximate,
        ));
    }
    Ok(TableIterator::new(rows))
}

/// The status history as intervals per equipment; with `points`, at most that many
/// intervals per equipment, keeping the worst state of each slot (for Grafana's
/// state-timeline panel).
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn state_timeline(
    relation: PgRelation,
    time_column: &str,
    state_column: &str,
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
    let (Some(from), Some(to)) = (from, to) else {
        return Err(SensorError::invalid_parameter("\"from\" and \"to\" are required").into());
    };
    let source = EventSource::new(
        relation.oid(),
        time_column,
        state_column,
        equipment_column,
        from,
        to,
    )?;
    let cfg = config(weights, None, None)?;
    let carry = source.carry_ins()?;
    let (lo, hi) = source.window_literals()?;
    let query = format!(
        "SELECT {eq}, {t}::timestamptz, {s}::text FROM {rel} WHERE {t} >= {lo} AND {t} < {hi} ORDER BY 1, 2",
        eq = source.equipment_expr(),
        t = source.time,
        s = source.state,
        rel = source.relation
    );
    let mut states: Vec<(Option<String>, AvailabilityState)> = Vec::new();
    Spi::connect(|client| -> SensorResult<()> {
        let mut cursor = client.open_cursor(&query, &[]);
        loop {
            pgrx::check_for_interrupts!();
            let batch = cursor.fetch(10_000).map_err(spi_error)?;
            if batch.is_empty() {
                break;
            }
            for row in batch {
                let equipment = row.get::<String>(1).map_err(spi_error)?;
                let Some(time) = row.get::<TimestampWithTimeZone>(2).map_err(spi_error)? else {
                    continue;
                };
                let state = row
                    .get::<&str>(3)
                    .map_err(spi_error)?
                    .unwrap_or(::availability::UNKNOWN);
                if states.last().is_none_or(|(e, _)| *e != equipment) {
                    states.push((
                        equipment.clone(),
                        AvailabilityState::new(cfg.clone(), source.from, source.to, None)?,
                    ));
                }
                if let Some((_, st)) = states.last_mut() {
                    st.push(i64::from(time), state)?;
                }
            }
        }
        Ok(())
    })?;
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
    Ok(TableIterator::new(rows))
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
