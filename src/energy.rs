//! Energy over a period: `energy_agg(time, value [, max_gap])` → `sensor.energy_state`, its
//! `rollup`, and the accessors `energy_wh`, `time_weighted_mean`, `covered`, `gaps`,
//! `gap_time`, `is_approximate` and `energy_summary`. The state is the `energy` crate's
//! ([`EnergyState`]): combinable and parallel safe, and its rollups keep the segments
//! between buckets. `sensor.energy_state` is a domain over bytea in that crate's versioned
//! encoding; functions that take it declare their SQL by hand to name the domain.

use ::energy::{EnergyState, Summary};
use pgrx::datum::{Internal, Interval as PgInterval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::{RaiseError, SensorError, SensorResult, SqlResult};
use crate::pg::{aggregate, fmgr, time};

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("energy_tests.rs");
}

/// Raw rows a group buffers before folding them into runs: work_mem's worth (16 bytes a
/// row), so a group that fits in work_mem is exact in any input order.
fn buffer_rows() -> usize {
    usize::try_from(crate::pg::work_mem_bytes() / 16)
        .unwrap_or(usize::MAX)
        .clamp(1024, 1 << 24)
}

fn max_gap_micros(max_gap: Option<PgInterval>) -> SensorResult<Option<i64>> {
    let Some(gap) = max_gap else {
        return Ok(None);
    };
    Ok(Some(time::length_micros(gap, "max_gap")?))
}

fn transition(
    mut internal: Internal,
    time: Option<TimestampWithTimeZone>,
    value: Option<f64>,
    max_gap: Option<PgInterval>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<Internal> {
    let (Some(t), Some(v)) = (time.and_then(time::row_unix_micros), value) else {
        return Ok(internal);
    };
    match aggregate::get_mut::<EnergyState>(&mut internal)? {
        Some(st) => {
            // Compared per row only when given: the 2-argument form passes None.
            if max_gap.is_some() && st.max_gap() != max_gap_micros(max_gap)? {
                return Err(SensorError::invalid_parameter(
                    "max_gap must be the same for every row of a group",
                ));
            }
            st.push(t, v);
        }
        None => {
            let mut st = EnergyState::new(max_gap_micros(max_gap)?)?;
            st.set_buffer_capacity(buffer_rows());
            st.push(t, v);
            aggregate::put(&mut internal, fcinfo, st)?;
        }
    }
    Ok(internal)
}

crate::v1_function!(
    /// Transition function of `sensor.energy_agg(time, value)`, called once per row: a plain
    /// version-1 C function ([`crate::pg::fmgr`]) of three arguments: `internal`,
    /// `timestamptz`, `float8`.
    energy_trans,
    pg_finfo_energy_trans,
    |fcinfo| {
        // SAFETY: the function manager passes the 3 declared arguments.
        let args = unsafe { fmgr::args(fcinfo, 3) };
        let mut internal = fmgr::internal_arg(&args[0]);
        let unix = fmgr::i64_arg(&args[1]).and_then(time::raw_row_unix_micros);
        if let (Some(t), Some(v)) = (unix, fmgr::f64_arg(&args[2])) {
            let pushed = match aggregate::get_mut::<EnergyState>(&mut internal) {
                Ok(Some(st)) => {
                    st.push(t, v);
                    Ok(())
                }
                Ok(None) => EnergyState::new(None)
                    .map_err(SensorError::from)
                    .and_then(|mut st| {
                        st.set_buffer_capacity(buffer_rows());
                        st.push(t, v);
                        aggregate::put(&mut internal, fcinfo, st)
                    }),
                Err(e) => Err(e),
            };
            pushed.or_raise();
        }
        // SAFETY: fcinfo is this call's.
        unsafe { fmgr::return_internal(fcinfo, internal) }
    }
);

pgrx::extension_sql!(
    r#"
CREATE FUNCTION sensor.energy_trans(internal, timestamptz, float8) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_trans';
"#,
    name = "energy_trans",
    requires = ["bootstrap"]
);

/// Transition function of `sensor.energy_agg(time, value, max_gap)`.
#[pg_extern(immutable, parallel_safe)]
fn energy_trans_max_gap(
    internal: Internal,
    time: Option<TimestampWithTimeZone>,
    value: Option<f64>,
    max_gap: Option<PgInterval>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    if max_gap.is_none() {
        return Err(SensorError::invalid_parameter(
            "max_gap must not be NULL (use energy_agg(time, value) for no limit)",
        )
        .into());
    }
    Ok(transition(internal, time, value, max_gap, fcinfo)?)
}

aggregate::stored_state_functions! {
    EnergyState: EnergyState::to_final_bytes;
    energy_final: "CREATE FUNCTION sensor.energy_final(internal) RETURNS sensor.energy_state LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';",
    energy_rollup_trans: "CREATE FUNCTION sensor.energy_rollup_trans(internal, sensor.energy_state) RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';"
}

/// A stored or shipped state, with room for work_mem's worth of raw rows: a leader merging
/// workers' rows keeps that many before folding.
fn decode_energy(bytes: &[u8]) -> SensorResult<EnergyState> {
    let mut st = EnergyState::from_bytes(bytes)?;
    st.set_buffer_capacity(buffer_rows());
    Ok(st)
}

aggregate::parallel_support_functions! {
    EnergyState: decode_energy, EnergyState::merge, EnergyState::to_bytes;
    energy_combine, energy_serialize(internal), energy_deserialize(bytes, _unused)
}

/// The figures of a stored state.
fn summary(bytes: &[u8]) -> SensorResult<Option<Summary>> {
    Ok(EnergyState::from_bytes(bytes)?.summary())
}

macro_rules! accessor {
    ($name:ident, $sql:literal, $ret:ty, |$s:ident| $body:expr) => {
        aggregate::state_accessor!($name, $sql, $ret, summary, |$s| $body);
    };
}

accessor!(energy_wh, "CREATE FUNCTION sensor.energy_wh(state sensor.energy_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.energy_wh(sensor.energy_state) IS 'The time integral in value x hours: watt-hours for values in watts.';", f64, |s| Some(s.energy_wh()));
accessor!(time_weighted_mean, "CREATE FUNCTION sensor.time_weighted_mean(state sensor.energy_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.time_weighted_mean(sensor.energy_state) IS 'The integral divided by the covered time; NULL when nothing is covered (a single instant, or only gaps).';", f64, |s| s.time_weighted_mean());
accessor!(covered, "CREATE FUNCTION sensor.covered(state sensor.energy_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.covered(sensor.energy_state) IS 'The time actually integrated: first to last instant minus the gaps longer than max_gap.';", PgInterval, |s| time::interval(s.covered));
accessor!(gaps, "CREATE FUNCTION sensor.gaps(state sensor.energy_state) RETURNS bigint LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.gaps(sensor.energy_state) IS 'Number of segments longer than max_gap, not integrated.';", i64, |s| i64::try_from(s.gaps).ok());
accessor!(gap_time, "CREATE FUNCTION sensor.gap_time(state sensor.energy_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.gap_time(sensor.energy_state) IS 'Total duration of the gaps longer than max_gap.';", PgInterval, |s| time::interval(s.gap_time));
accessor!(energy_is_approximate, "CREATE FUNCTION sensor.is_approximate(state sensor.energy_state) RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.is_approximate(sensor.energy_state) IS 'True when some rows could not be placed exactly (a group larger than work_mem fed far out of time order, or overlapping states merged); raise work_mem or feed rows in time order.';", bool, |s| Some(s.approximate));

#[pg_extern(
    immutable,
    parallel_safe,
    strict,
    sql = "CREATE FUNCTION sensor.energy_summary(state sensor.energy_state) RETURNS jsonb LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION sensor.energy_summary(sensor.energy_state) IS 'Every figure of the state as jsonb (energy_wh, integral in value x seconds, time_weighted_mean, covered_s, gaps, gap_time_s, rows, first and last time and value, max_gap_s, approximate).';"
)]
fn energy_summary(state: &[u8]) -> SqlResult<Option<JsonB>> {
    let st = EnergyState::from_bytes(state).map_err(SensorError::from)?;
    let Some(s) = st.summary() else {
        return Ok(None);
    };
    let secs = |us: i64| us as f64 / 1e6;
    let ts = |unix_us: i64| -> SensorResult<String> {
        use pgrx::datum::ToIsoString;
        Ok(time::timestamptz_from_unix(unix_us)?.to_iso_string())
    };
    Ok(Some(JsonB(serde_json::json!({
        "energy_wh": s.energy_wh(),
        "integral": s.integral,
        "time_weighted_mean": s.time_weighted_mean(),
        "covered_s": secs(s.covered),
        "gaps": s.gaps,
        "gap_time_s": secs(s.gap_time),
        "rows": s.rows,
        "first_time": ts(s.first_time)?,
        "first_value": s.first_value,
        "last_time": ts(s.last_time)?,
        "last_value": s.last_value,
        "max_gap_s": st.max_gap().map(secs),
        "approximate": s.approximate,
    }))))
}

pgrx::extension_sql!(
    r#"
CREATE AGGREGATE sensor.energy_agg("time" timestamptz, value float8) (
    SFUNC = sensor.energy_trans, STYPE = internal,
    FINALFUNC = sensor.energy_final, COMBINEFUNC = sensor.energy_combine,
    SERIALFUNC = sensor.energy_serialize,
    DESERIALFUNC = sensor.energy_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.energy_agg("time" timestamptz, value float8, max_gap interval) (
    SFUNC = sensor.energy_trans_max_gap, STYPE = internal,
    FINALFUNC = sensor.energy_final, COMBINEFUNC = sensor.energy_combine,
    SERIALFUNC = sensor.energy_serialize,
    DESERIALFUNC = sensor.energy_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.rollup(state sensor.energy_state) (
    SFUNC = sensor.energy_rollup_trans, STYPE = internal,
    FINALFUNC = sensor.energy_final, COMBINEFUNC = sensor.energy_combine,
    SERIALFUNC = sensor.energy_serialize,
    DESERIALFUNC = sensor.energy_deserialize, PARALLEL = SAFE);

COMMENT ON DOMAIN sensor.energy_state IS
    'State of sensor.energy_agg / sensor.rollup over a power series: the time integral with the first and last point, so that states of adjacent buckets merge with the segment between them. Read it with sensor.energy_wh(), time_weighted_mean(), covered(), gaps(), gap_time(), is_approximate(), energy_summary().';
COMMENT ON AGGREGATE sensor.energy_agg(timestamptz, float8) IS
    'Trapezoidal time integral of a power series (rows in any order; rows at one instant count as their mean; NULL and non-finite values skipped). Combinable and parallel safe; store it per bucket in a continuous aggregate and merge buckets with sensor.rollup, which adds the segments between buckets. Exact unless sensor.is_approximate says otherwise (a group larger than work_mem fed far out of time order).';
COMMENT ON AGGREGATE sensor.energy_agg(timestamptz, float8, interval) IS
    'sensor.energy_agg that does not integrate across a segment longer than max_gap (a power cut, a logger off): such gaps are counted by sensor.gaps() and sensor.gap_time().';
COMMENT ON AGGREGATE sensor.rollup(sensor.energy_state) IS
    'Merges energy states (e.g. hourly buckets into a day) into the state of the whole range, the segments between buckets included: equal to sensor.energy_agg over the rows of the whole range. States must share max_gap.';
"#,
    name = "energy_agg",
    requires = [
        "energy_trans",
        energy_trans_max_gap,
        energy_final,
        energy_combine,
        energy_serialize,
        energy_deserialize,
        energy_rollup_trans,
    ]
);
