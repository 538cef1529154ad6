//! Equipment availability: the `availability_agg` and `rollup` aggregates over the
//! `availability` crate's mergeable state ([`aggregate`], [`rollup`]), its accessors
//! ([`accessors`]), the old service's `availability_mean`, and the reports over a table of
//! events, `availability_report` and `state_timeline` ([`report`]).

mod accessors;
mod aggregate;
mod report;
mod report_partitions;
mod report_share;
pub(crate) use report_share::define_settings;
mod rollup;
mod timeline;
#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("tests.rs");
}

use ::availability::{AvailabilityConfig, AvailabilityState, GapPolicy, Summary, Weights};
use pgrx::datum::Interval as PgInterval;
use pgrx::JsonB;

use crate::error::SensorResult;
use crate::pg::time;

/// The settings of a state: weights (jsonb), heartbeat liveness, gap policy.
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
        .map(|l| time::length_micros(l, "liveness"))
        .transpose()?;
    let gaps = GapPolicy::parse(gaps.unwrap_or("down"))?;
    Ok(AvailabilityConfig::new(weights, liveness, gaps)?)
}

/// The summary of a stored state.
fn summary(bytes: &[u8]) -> SensorResult<Summary> {
    Ok(AvailabilityState::from_bytes(bytes)?.summary())
}
