//! `rollup(state)` and `rollup(state, "from", "to")`: availability states of adjacent or
//! overlapping windows (hourly buckets of a continuous aggregate, say) merged into one.
//! Combinable and parallel safe; the `CREATE AGGREGATE`s are at the end of this file.

use ::availability::{AvailabilityState, WindowedRollup};
use pgrx::datum::{Internal, TimestampWithTimeZone};
use pgrx::prelude::*;

use crate::error::{SensorError, SqlResult};
use crate::pg::{aggregate, time};

/// `rollup(state, "from", "to")`: the same over a stated window, so that time before the
/// first and after the last bucket with rows still counts, in the states next to it.
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
    let rollup = aggregate::get_or_put(&mut internal, fcinfo, || {
        let (Some(from), Some(to)) = (from, to) else {
            return Err(SensorError::invalid_parameter(
                "\"from\" and \"to\" must not be NULL",
            ));
        };
        let (from, to) = (time::pg_micros(from, "from")?, time::pg_micros(to, "to")?);
        Ok(WindowedRollup::new(from, to)?)
    })?;
    if let Some(bytes) = value {
        let incoming = AvailabilityState::from_bytes(bytes).map_err(SensorError::from)?;
        rollup.merge(&incoming).map_err(SensorError::from)?;
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
    let Some(rollup) = aggregate::get::<WindowedRollup>(&internal)? else {
        return Ok(None);
    };
    let widened = rollup.finish().map_err(SensorError::from)?;
    Ok(widened.map(|st| st.to_bytes()))
}

aggregate::parallel_support_functions! {
    WindowedRollup: WindowedRollup::from_bytes, WindowedRollup::merge_rollup, WindowedRollup::to_bytes;
    availability_rollup_window_combine, availability_rollup_window_serialize(internal), availability_rollup_window_deserialize(bytes, _unused)
}

pgrx::extension_sql!(
    r#"
CREATE AGGREGATE sensor.rollup(state sensor.availability_state) (
    SFUNC = sensor.availability_rollup_trans, STYPE = internal,
    FINALFUNC = sensor.availability_final, COMBINEFUNC = sensor.availability_combine,
    SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize, PARALLEL = SAFE);

CREATE AGGREGATE sensor.rollup(state sensor.availability_state, "from" timestamptz, "to" timestamptz) (
    SFUNC = sensor.availability_rollup_window_trans, STYPE = internal,
    FINALFUNC = sensor.availability_rollup_window_final,
    COMBINEFUNC = sensor.availability_rollup_window_combine,
    SERIALFUNC = sensor.availability_rollup_window_serialize,
    DESERIALFUNC = sensor.availability_rollup_window_deserialize, PARALLEL = SAFE);

COMMENT ON AGGREGATE sensor.rollup(sensor.availability_state) IS
    'Merges availability states of adjacent or overlapping windows (e.g. hourly buckets into a day): the state in force and heartbeat liveness carry across bucket boundaries.';
COMMENT ON AGGREGATE sensor.rollup(sensor.availability_state, timestamptz, timestamptz) IS
    'rollup over a stated window [from, to): time after the last bucket with events (buckets without rows) counts in the last known state.';
"#,
    name = "availability_rollup",
    requires = [
        "availability_agg",
        availability_rollup_trans,
        availability_rollup_window_trans,
        availability_rollup_window_final,
        availability_rollup_window_combine,
        availability_rollup_window_serialize,
        availability_rollup_window_deserialize,
    ]
);
