//! `availability_agg`: the time-weighted availability state of a group's events, and
//! `availability_mean`, the old service's sample mean. Both combinable and parallel safe;
//! their `CREATE AGGREGATE`s are at the end of this file.

use ::availability::{AvailabilityState, SampleMean};
use pgrx::datum::{Internal, Interval as PgInterval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::JsonB;

use super::config;
use crate::error::{SensorError, SensorResult, SqlResult};
use crate::pg::{aggregate, time};

/// Raw events a partial state keeps before collapsing runs: below this per worker and
/// group, parallel aggregation is exact (16 bytes each, so at most 256 KB per group).
const PARTIAL_BUFFER_EVENTS: usize = 16_384;

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
    if aggregate::get::<AvailabilityState>(&internal)?.is_none() {
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
        let (from, to) = (time::pg_micros(from, "from")?, time::pg_micros(to, "to")?);
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
        aggregate::put(&mut internal, fcinfo, fresh)?;
    }
    let Some(time) = time else {
        return Ok(internal);
    };
    if let Some(st) = aggregate::get_mut::<AvailabilityState>(&mut internal)? {
        // A NULL status is a status nobody knows.
        st.push(
            time::pg_micros(time, "time")?,
            state.unwrap_or(::availability::UNKNOWN),
        )?;
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

// `rollup(state)` merges stored states; its aggregates are in `rollup.rs`.
aggregate::stored_state_functions! {
    AvailabilityState: AvailabilityState::to_bytes;
    availability_final: "CREATE FUNCTION sensor.availability_final(internal) RETURNS sensor.availability_state LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';",
    availability_rollup_trans: "CREATE FUNCTION sensor.availability_rollup_trans(internal, sensor.availability_state) RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
}

aggregate::parallel_support_functions! {
    AvailabilityState: AvailabilityState::from_bytes, AvailabilityState::merge, AvailabilityState::to_partial_bytes;
    availability_combine, availability_serialize(internal), availability_deserialize(bytes, _unused)
}

// The old service's sample mean -------------------------------------------------------

#[pg_extern(immutable, parallel_safe)]
fn availability_mean_trans(
    mut internal: Internal,
    status: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    aggregate::get_or_put(&mut internal, fcinfo, || Ok(SampleMean::new()))?.push(status);
    Ok(internal)
}

#[pg_extern(immutable, parallel_safe)]
fn availability_mean_final(internal: Internal) -> SqlResult<Option<f64>> {
    Ok(aggregate::get::<SampleMean>(&internal)?.and_then(SampleMean::value))
}

aggregate::parallel_support_functions! {
    SampleMean: SampleMean::from_bytes, SampleMean::merge, SampleMean::to_bytes;
    availability_mean_combine, availability_mean_serialize(internal), availability_mean_deserialize(bytes, _unused)
}

// PostgreSQL does not accept named arguments (=>) or defaults in aggregate calls, so
// availability_agg has one overload per optional argument, in this order:
//   availability_agg(time, state, "from", "to" [, carry_in [, weights [, liveness [, gaps]]]])
pgrx::extension_sql!(
    r#"
CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz) (
    SFUNC = sensor.availability_trans4, STYPE = internal, FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine, SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text) (
    SFUNC = sensor.availability_trans5, STYPE = internal, FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine, SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text, weights jsonb) (
    SFUNC = sensor.availability_trans6, STYPE = internal, FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine, SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text, weights jsonb, liveness interval) (
    SFUNC = sensor.availability_trans7, STYPE = internal, FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine, SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text, weights jsonb, liveness interval, gaps text) (
    SFUNC = sensor.availability_trans8, STYPE = internal, FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine, SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.availability_mean(state text) (
    SFUNC = sensor.availability_mean_trans, STYPE = internal,
    FINALFUNC = sensor.availability_mean_final, COMBINEFUNC = sensor.availability_mean_combine,
    SERIALFUNC = sensor.availability_mean_serialize,
    DESERIALFUNC = sensor.availability_mean_deserialize, PARALLEL = SAFE);

DO $comment$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'sensor'::regnamespace AND p.proname = 'availability_agg' LOOP
        EXECUTE format('COMMENT ON AGGREGATE %s IS %L', f,
            'Time-weighted availability state of (time, state) events over [from, to): each state lasts until the next event, the last one until "to"; the latest event before "from" (or carry_in) is the state in force at "from". weights (jsonb, default online 1, warning 0.5, offline 0; maintenance and unknown excluded), liveness (heartbeat interval: longer silences count as down, or unknown with gaps => ''unknown''). Combinable and parallel safe.');
    END LOOP;
END
$comment$;
COMMENT ON AGGREGATE sensor.availability_mean(text) IS
    'The old service''s figure: mean of online 1, warning 0.5, offline 0, anything else -1 over the events, x 100, rounded to 2 decimals. A sample mean of events, not time-weighted: prefer sensor.availability(availability_agg(...)).';
"#,
    name = "availability_agg",
    requires = [
        availability_trans4,
        availability_trans5,
        availability_trans6,
        availability_trans7,
        availability_trans8,
        availability_final,
        availability_combine,
        availability_serialize,
        availability_deserialize,
        availability_mean_trans,
        availability_mean_final,
        availability_mean_combine,
        availability_mean_serialize,
        availability_mean_deserialize,
    ]
);
