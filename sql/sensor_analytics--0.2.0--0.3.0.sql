-- sensor_analytics 0.2.0 -> 0.3.0.
-- New: energy over a period, sensor.energy_agg / sensor.rollup(sensor.energy_state) and
-- their accessors (src/energy.rs). Nothing existing changes. The statements below are the
-- ones `cargo pgrx schema` writes for these objects in the 0.3.0 install script.
\echo Use "ALTER EXTENSION sensor_analytics UPDATE TO '0.3.0'" to load this file. \quit

CREATE DOMAIN sensor.energy_state AS bytea;

/* <begin connected objects> */
-- sensor_analytics::energy::covered
CREATE FUNCTION sensor.covered(state sensor.energy_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'covered_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_combine
CREATE  FUNCTION "energy_combine"(
	"a" internal, /* Internal */
	"b" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_combine_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_deserialize
CREATE  FUNCTION "energy_deserialize"(
	"bytes" bytea, /* & [u8] */
	"_unused" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_deserialize_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_final
CREATE FUNCTION sensor.energy_final(internal) RETURNS sensor.energy_state
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_final_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_is_approximate
CREATE FUNCTION sensor.is_approximate(state sensor.energy_state) RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_is_approximate_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_rollup_trans
CREATE FUNCTION sensor.energy_rollup_trans(internal, sensor.energy_state) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_rollup_trans_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_serialize
CREATE  FUNCTION "energy_serialize"(
	"internal" internal /* Internal */
) RETURNS bytea /* SqlResult < Vec < u8 > > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_serialize_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_summary
CREATE FUNCTION sensor.energy_summary(state sensor.energy_state) RETURNS jsonb LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_summary_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_trans
CREATE  FUNCTION "energy_trans"(
	"internal" internal, /* Internal */
	"time" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"value" double precision /* Option < f64 > */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_trans_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_trans_max_gap
CREATE  FUNCTION "energy_trans_max_gap"(
	"internal" internal, /* Internal */
	"time" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"value" double precision, /* Option < f64 > */
	"max_gap" interval /* Option < PgInterval > */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_trans_max_gap_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_wh
CREATE FUNCTION sensor.energy_wh(state sensor.energy_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_wh_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::gap_time
CREATE FUNCTION sensor.gap_time(state sensor.energy_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gap_time_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::gaps
CREATE FUNCTION sensor.gaps(state sensor.energy_state) RETURNS bigint LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gaps_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::time_weighted_mean
CREATE FUNCTION sensor.time_weighted_mean(state sensor.energy_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'time_weighted_mean_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- requires:
--   energy_trans
--   energy_trans_max_gap
--   energy_final
--   energy_combine
--   energy_serialize
--   energy_deserialize
--   energy_rollup_trans
--   energy_wh
--   time_weighted_mean
--   covered
--   gaps
--   gap_time
--   energy_is_approximate
--   energy_summary


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
COMMENT ON FUNCTION sensor.energy_wh(sensor.energy_state) IS 'The time integral in value x hours: watt-hours for values in watts.';
COMMENT ON FUNCTION sensor.time_weighted_mean(sensor.energy_state) IS 'The integral divided by the covered time; NULL when nothing is covered (a single instant, or only gaps).';
COMMENT ON FUNCTION sensor.covered(sensor.energy_state) IS 'The time actually integrated: first to last instant minus the gaps longer than max_gap.';
COMMENT ON FUNCTION sensor.gaps(sensor.energy_state) IS 'Number of segments longer than max_gap, not integrated.';
COMMENT ON FUNCTION sensor.gap_time(sensor.energy_state) IS 'Total duration of the gaps longer than max_gap.';
COMMENT ON FUNCTION sensor.is_approximate(sensor.energy_state) IS 'True when some rows could not be placed exactly (a group larger than work_mem fed far out of time order, or overlapping states merged); raise work_mem or feed rows in time order.';
COMMENT ON FUNCTION sensor.energy_summary(sensor.energy_state) IS 'Every figure of the state as jsonb (energy_wh, integral in value x seconds, time_weighted_mean, covered_s, gaps, gap_time_s, rows, first and last time and value, max_gap_s, approximate).';
/* </end connected objects> */

-- As sql/foundation.sql does for every aggregate: each support function says whom it serves.
DO $comment$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT s.fn::pg_catalog.regprocedure AS fn,
               pg_catalog.string_agg(DISTINCT 'sensor.' || p.proname, ', ') AS aggregates
        FROM pg_catalog.pg_aggregate a
        CROSS JOIN LATERAL (VALUES (a.aggtransfn), (a.aggfinalfn), (a.aggcombinefn),
                                   (a.aggserialfn), (a.aggdeserialfn)) s(fn)
        JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid
        WHERE p.pronamespace = 'sensor'::pg_catalog.regnamespace AND s.fn <> 0
        GROUP BY s.fn
    LOOP
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s IS %L', r.fn,
                                  'Support function of the aggregate ' || r.aggregates || '.');
    END LOOP;
END
$comment$;
