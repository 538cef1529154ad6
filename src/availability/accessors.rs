//! Accessors of `sensor.availability_state`: the figures of a state's summary.
//!
//! The state travels as `sensor.availability_state`, a domain over bytea holding the
//! `availability` crate's versioned encoding; functions that take it declare their SQL by
//! hand (`sql = …`) to name the domain, with their comment.

use pgrx::datum::{Interval as PgInterval, ToIsoString};
use pgrx::prelude::*;
use pgrx::JsonB;

use super::summary;
use crate::error::{SensorResult, SqlResult};
use crate::pg::aggregate;
use crate::pg::time;

/// A state always has figures (an empty window too).
fn figures(state: &[u8]) -> SensorResult<Option<::availability::Summary>> {
    summary(state).map(Some)
}

macro_rules! accessor {
    ($name:ident, $sql:literal, $ret:ty, |$s:ident| $body:expr) => {
        aggregate::state_accessor!($name, $sql, $ret, figures, |$s| $body);
    };
}

accessor!(availability, "CREATE FUNCTION sensor.availability(state sensor.availability_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.availability(sensor.availability_state) IS 'Time-weighted availability in [0, 1]: sum of weight x duration over time in weighted states; NULL when no weighted time.';", f64, |s| s.availability);
accessor!(uptime, "CREATE FUNCTION sensor.uptime(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.uptime(sensor.availability_state) IS 'Time spent in states of positive weight.';", PgInterval, |s| time::interval(s.uptime_us));
accessor!(downtime, "CREATE FUNCTION sensor.downtime(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.downtime(sensor.availability_state) IS 'Time spent in states of weight 0 (outages).';", PgInterval, |s| time::interval(s.downtime_us));
accessor!(unknown_time, "CREATE FUNCTION sensor.unknown_time(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.unknown_time(sensor.availability_state) IS 'Time with no known state (before the first event without carry-in, or heartbeat gaps with gaps => ''unknown'').';", PgInterval, |s| time::interval(s.unknown_us));
accessor!(outages, "CREATE FUNCTION sensor.outages(state sensor.availability_state) RETURNS bigint LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.outages(sensor.availability_state) IS 'Number of outages (maximal stretches of weight-0 time) touching the window.';", i64, |s| i64::try_from(s.outages).ok());
accessor!(longest_outage, "CREATE FUNCTION sensor.longest_outage(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.longest_outage(sensor.availability_state) IS 'Duration of the longest outage.';", PgInterval, |s| time::interval(s.longest_outage_us));
accessor!(mtbf, "CREATE FUNCTION sensor.mtbf(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.mtbf(sensor.availability_state) IS 'Mean time between failures: uptime / failures (outages that start inside the window).';", PgInterval, |s| s.mtbf_us.and_then(time::interval));
accessor!(mttr, "CREATE FUNCTION sensor.mttr(state sensor.availability_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.mttr(sensor.availability_state) IS 'Mean time to repair: downtime / outages.';", PgInterval, |s| s.mttr_us.and_then(time::interval));
accessor!(first_state, "CREATE FUNCTION sensor.first_state(state sensor.availability_state) RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.first_state(sensor.availability_state) IS 'The first state in the window (the carried-in one if any).';", String, |s| s.first_state);
accessor!(last_state, "CREATE FUNCTION sensor.last_state(state sensor.availability_state) RETURNS text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.last_state(sensor.availability_state) IS 'The state in force at the end of the window: the carry_in for the next window.';", String, |s| s.last_state);
accessor!(is_approximate, "CREATE FUNCTION sensor.is_approximate(state sensor.availability_state) RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.is_approximate(sensor.availability_state) IS 'True when the state was merged from interleaved, out-of-order partial states and figures may be approximate.';", bool, |s| Some(s.approximate));

#[pg_extern(
    immutable,
    parallel_safe,
    strict,
    sql = "CREATE FUNCTION sensor.time_in(state sensor.availability_state, status text) RETURNS interval
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.time_in(sensor.availability_state, text) IS 'Time spent in the given state.';"
)]
fn time_in(state: &[u8], status: &str) -> SqlResult<Option<PgInterval>> {
    Ok(time::interval(summary(state)?.time_in(status)))
}

/// Everything at once, for people and for debugging: the summary as jsonb.
#[pg_extern(
    immutable,
    parallel_safe,
    strict,
    sql = "CREATE FUNCTION sensor.availability_summary(state sensor.availability_state) RETURNS jsonb
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.availability_summary(sensor.availability_state) IS 'Every figure of the state as jsonb (durations in seconds).';"
)]
fn availability_summary(state: &[u8]) -> SqlResult<JsonB> {
    let s = summary(state)?;
    let ts = |us: i64| time::timestamptz(us).ok().map(|t| t.to_iso_string());
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

pgrx::extension_sql!(
    r#"
COMMENT ON DOMAIN sensor.availability_state IS
    'State of sensor.availability_agg / sensor.rollup: runs of identical states over a window, mergeable across adjacent windows. Read it with sensor.availability(), uptime(), downtime(), time_in(), outages(), mtbf(), mttr(), last_state(), availability_summary().';
"#,
    name = "availability_state_comment",
    requires = ["bootstrap"]
);
