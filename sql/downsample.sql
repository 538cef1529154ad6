-- Downsampling for Grafana: the aggregates over the support functions of
-- src/downsample/aggregates.rs, the companion set-returning function sensor.points, and
-- documentation. Aggregates cannot have DEFAULT arguments nor be called with named
-- arguments, so each comes in two arities: without method (minmax_lttb) and with it.

CREATE AGGREGATE sensor.downsample_agg("time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer, method text) (
    SFUNC = sensor.downsample_agg_transition,
    STYPE = internal,
    FINALFUNC = sensor.downsample_agg_final,
    COMBINEFUNC = sensor.downsample_agg_combine,
    SERIALFUNC = sensor.downsample_agg_serialize,
    DESERIALFUNC = sensor.downsample_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.downsample_agg("time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer) (
    SFUNC = sensor.downsample_agg_transition,
    STYPE = internal,
    FINALFUNC = sensor.downsample_agg_final,
    COMBINEFUNC = sensor.downsample_agg_combine,
    SERIALFUNC = sensor.downsample_agg_serialize,
    DESERIALFUNC = sensor.downsample_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.m4_summary("time" timestamptz, value float8) (
    SFUNC = sensor.m4_summary_transition,
    STYPE = internal,
    FINALFUNC = sensor.m4_summary_final,
    COMBINEFUNC = sensor.m4_summary_combine,
    SERIALFUNC = sensor.m4_summary_serialize,
    DESERIALFUNC = sensor.m4_summary_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.downsample_summaries(bucket timestamptz, summary sensor.m4, "from" timestamptz, "to" timestamptz, points integer, method text) (
    SFUNC = sensor.downsample_summaries_transition,
    STYPE = internal,
    FINALFUNC = sensor.downsample_summaries_final,
    COMBINEFUNC = sensor.downsample_summaries_combine,
    SERIALFUNC = sensor.downsample_summaries_serialize,
    DESERIALFUNC = sensor.downsample_summaries_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.downsample_summaries(bucket timestamptz, summary sensor.m4, "from" timestamptz, "to" timestamptz, points integer) (
    SFUNC = sensor.downsample_summaries_transition,
    STYPE = internal,
    FINALFUNC = sensor.downsample_summaries_final,
    COMBINEFUNC = sensor.downsample_summaries_combine,
    SERIALFUNC = sensor.downsample_summaries_serialize,
    DESERIALFUNC = sensor.downsample_summaries_deserialize,
    PARALLEL = SAFE
);

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

COMMENT ON FUNCTION sensor.downsample(regclass, name, name, timestamptz, timestamptz, integer, text, name, text, interval) IS
    'Downsamples [from, to) of a table to about points points per series (methods minmax_lttb (default), lttb (exact, equal-count buckets), m4, minmax, uniform, avg), streaming the rows: memory O(points) per series. Returns (series, time, value); series is the series_column value as text, or the value column name. filter is an SQL boolean expression added to the WHERE clause; the function is SECURITY INVOKER, so the query and the filter run with the caller''s privileges. gap inserts a NULL-value row between output neighbours farther apart than gap, so Grafana breaks the line. PARALLEL RESTRICTED: the relation may be a temporary table, which parallel workers cannot read; its own query may use a parallel plan.';
COMMENT ON FUNCTION sensor.downsample_arrays(timestamptz[], float8[], integer, text) IS
    'The batch kernel on arrays of times and values: lttb is identical to the lttb crate (equal-count buckets); other methods use equal-time bins over the points'' span. NULL elements, NaN and infinite values are skipped.';
COMMENT ON FUNCTION sensor.points(sensor.timevector) IS
    'The points of a sensor.timevector as (time, value) rows, e.g. SELECT series, p.* FROM (SELECT series, sensor.downsample_agg(...) AS d FROM t GROUP BY series) s, sensor.points(s.d) p.';

COMMENT ON AGGREGATE sensor.downsample_agg(timestamptz, float8, timestamptz, timestamptz, integer, text) IS
    'Downsamples the rows of a group to about points points of [from, to) with method (minmax_lttb, m4, minmax, uniform, avg; lttb here is LTTB over per-bucket M4 candidates). Equal-time buckets fixed by from, to and points keep the state small and mergeable: combinable, parallel safe. Returns a sensor.timevector; sensor.points() turns it into rows.';
COMMENT ON AGGREGATE sensor.downsample_agg(timestamptz, float8, timestamptz, timestamptz, integer) IS
    'sensor.downsample_agg with method minmax_lttb.';
COMMENT ON AGGREGATE sensor.m4_summary(timestamptz, float8) IS
    'First, min, max and last point (with their times), count and sum of the rows of a group, as a sensor.m4. Combinable and parallel safe; store it per time bucket (e.g. 1 minute) in a materialized view or continuous aggregate and zoom out with sensor.downsample_summaries.';
COMMENT ON AGGREGATE sensor.downsample_summaries(timestamptz, sensor.m4, timestamptz, timestamptz, integer, text) IS
    'Merges stored sensor.m4 summaries (bucket start, summary) into about points points of [from, to) with method (minmax_lttb, m4, minmax, uniform, avg, lttb), so a long range never touches raw rows. Combinable and parallel safe. Returns a sensor.timevector.';
COMMENT ON AGGREGATE sensor.downsample_summaries(timestamptz, sensor.m4, timestamptz, timestamptz, integer) IS
    'sensor.downsample_summaries with method minmax_lttb.';

COMMENT ON FUNCTION sensor.channel_window(bigint, timestamptz, timestamptz, float8, float8, bigint, bigint, integer, text, boolean, interval) IS
    'A downsampled window of a loaded TDMS channel: by time ("from", "to"), by seconds from the channel''s first sample (from_seconds, to_seconds), or by sample index for channels without time (from_index, to_index); half-open, open ends meaning the first or last sample. relative => true fills seconds (offset from the first sample). Returns (time, seconds, sample_index, value); 42704 for an unknown channel.';
COMMENT ON FUNCTION sensor.channel_window(text, text, text, timestamptz, timestamptz, float8, float8, integer, text, boolean, interval) IS
    'A downsampled window of a T302 power-logger channel by its text id (sensor_data.tsv_channels.channel_id; add company and campaign when the id is in several campaigns), by time or by seconds from its first point. Returns (time, seconds, value).';
COMMENT ON FUNCTION sensor.channel_page(bigint, timestamptz, timestamptz, timestamptz, integer) IS
    'Keyset paging through the raw rows of a TDMS channel in [from, to) (NULL: unbounded), after the exclusive cursor after: at most limit rows in time order, except that a page never splits the rows of one timestamp. Every row carries has_more and next_cursor; pass next_cursor as after until has_more is false.';

COMMENT ON FUNCTION sensor.downsample_agg_transition(internal, timestamptz, float8, timestamptz, timestamptz, integer, text) IS
    'Support function of sensor.downsample_agg (transition).';
COMMENT ON FUNCTION sensor.downsample_agg_transition(internal, timestamptz, float8, timestamptz, timestamptz, integer) IS
    'Support function of sensor.downsample_agg (transition, method minmax_lttb).';
COMMENT ON FUNCTION sensor.downsample_agg_final(internal) IS
    'Support function of sensor.downsample_agg (final).';
COMMENT ON FUNCTION sensor.downsample_agg_combine(internal, internal) IS
    'Support function of sensor.downsample_agg (combine).';
COMMENT ON FUNCTION sensor.downsample_agg_serialize(internal) IS
    'Support function of sensor.downsample_agg (serialize: versioned bytes).';
COMMENT ON FUNCTION sensor.downsample_agg_deserialize(bytea, internal) IS
    'Support function of sensor.downsample_agg (deserialize, validating).';
COMMENT ON FUNCTION sensor.m4_summary_transition(internal, timestamptz, float8) IS
    'Support function of sensor.m4_summary (transition).';
COMMENT ON FUNCTION sensor.m4_summary_final(internal) IS
    'Support function of sensor.m4_summary (final).';
COMMENT ON FUNCTION sensor.m4_summary_combine(internal, internal) IS
    'Support function of sensor.m4_summary (combine).';
COMMENT ON FUNCTION sensor.m4_summary_serialize(internal) IS
    'Support function of sensor.m4_summary (serialize: versioned bytes).';
COMMENT ON FUNCTION sensor.m4_summary_deserialize(bytea, internal) IS
    'Support function of sensor.m4_summary (deserialize, validating).';
COMMENT ON FUNCTION sensor.downsample_summaries_transition(internal, timestamptz, sensor.m4, timestamptz, timestamptz, integer, text) IS
    'Support function of sensor.downsample_summaries (transition).';
COMMENT ON FUNCTION sensor.downsample_summaries_transition(internal, timestamptz, sensor.m4, timestamptz, timestamptz, integer) IS
    'Support function of sensor.downsample_summaries (transition, method minmax_lttb).';
COMMENT ON FUNCTION sensor.downsample_summaries_final(internal) IS
    'Support function of sensor.downsample_summaries (final).';
COMMENT ON FUNCTION sensor.downsample_summaries_combine(internal, internal) IS
    'Support function of sensor.downsample_summaries (combine).';
COMMENT ON FUNCTION sensor.downsample_summaries_serialize(internal) IS
    'Support function of sensor.downsample_summaries (serialize: versioned bytes).';
COMMENT ON FUNCTION sensor.downsample_summaries_deserialize(bytea, internal) IS
    'Support function of sensor.downsample_summaries (deserialize, validating).';
