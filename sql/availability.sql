-- Equipment availability: aggregates over sensor.availability_state, and documentation.
-- PostgreSQL does not accept named arguments (=>) or defaults in aggregate calls, so
-- availability_agg has one overload per optional argument, in this order:
--   availability_agg(time, state, "from", "to" [, carry_in [, weights [, liveness [, gaps]]]])


CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz) (
    SFUNC = sensor.availability_trans4,
    STYPE = internal,
    FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine,
    SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text) (
    SFUNC = sensor.availability_trans5,
    STYPE = internal,
    FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine,
    SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text, weights jsonb) (
    SFUNC = sensor.availability_trans6,
    STYPE = internal,
    FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine,
    SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text, weights jsonb, liveness interval) (
    SFUNC = sensor.availability_trans7,
    STYPE = internal,
    FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine,
    SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.availability_agg("time" timestamptz, state text, "from" timestamptz, "to" timestamptz, carry_in text, weights jsonb, liveness interval, gaps text) (
    SFUNC = sensor.availability_trans8,
    STYPE = internal,
    FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine,
    SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.rollup(state sensor.availability_state) (
    SFUNC = sensor.availability_rollup_trans,
    STYPE = internal,
    FINALFUNC = sensor.availability_final,
    COMBINEFUNC = sensor.availability_combine,
    SERIALFUNC = sensor.availability_serialize,
    DESERIALFUNC = sensor.availability_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.rollup(state sensor.availability_state, "from" timestamptz, "to" timestamptz) (
    SFUNC = sensor.availability_rollup_window_trans,
    STYPE = internal,
    FINALFUNC = sensor.availability_rollup_window_final,
    COMBINEFUNC = sensor.availability_rollup_window_combine,
    SERIALFUNC = sensor.availability_rollup_window_serialize,
    DESERIALFUNC = sensor.availability_rollup_window_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE sensor.availability_mean(state text) (
    SFUNC = sensor.availability_mean_trans,
    STYPE = internal,
    FINALFUNC = sensor.availability_mean_final,
    COMBINEFUNC = sensor.availability_mean_combine,
    SERIALFUNC = sensor.availability_mean_serialize,
    DESERIALFUNC = sensor.availability_mean_deserialize,
    PARALLEL = SAFE
);

COMMENT ON DOMAIN sensor.availability_state IS
    'State of sensor.availability_agg / sensor.rollup: runs of identical states over a window, mergeable across adjacent windows. Read it with sensor.availability(), uptime(), downtime(), time_in(), outages(), mtbf(), mttr(), last_state(), availability_summary().';

COMMENT ON AGGREGATE sensor.availability_agg(timestamptz, text, timestamptz, timestamptz) IS
    'Time-weighted availability state of (time, state) events over [from, to): each state lasts until the next event, the last one until "to"; the latest event before "from" (or carry_in) is the state in force at "from". weights (jsonb, default online 1, warning 0.5, offline 0; maintenance and unknown excluded), liveness (heartbeat interval: longer silences count as down, or unknown with gaps => ''unknown''). Combinable and parallel safe.';

COMMENT ON AGGREGATE sensor.availability_agg(timestamptz, text, timestamptz, timestamptz, text) IS
    'Time-weighted availability state of (time, state) events over [from, to): each state lasts until the next event, the last one until "to"; the latest event before "from" (or carry_in) is the state in force at "from". weights (jsonb, default online 1, warning 0.5, offline 0; maintenance and unknown excluded), liveness (heartbeat interval: longer silences count as down, or unknown with gaps => ''unknown''). Combinable and parallel safe.';

COMMENT ON AGGREGATE sensor.availability_agg(timestamptz, text, timestamptz, timestamptz, text, jsonb) IS
    'Time-weighted availability state of (time, state) events over [from, to): each state lasts until the next event, the last one until "to"; the latest event before "from" (or carry_in) is the state in force at "from". weights (jsonb, default online 1, warning 0.5, offline 0; maintenance and unknown excluded), liveness (heartbeat interval: longer silences count as down, or unknown with gaps => ''unknown''). Combinable and parallel safe.';

COMMENT ON AGGREGATE sensor.availability_agg(timestamptz, text, timestamptz, timestamptz, text, jsonb, interval) IS
    'Time-weighted availability state of (time, state) events over [from, to): each state lasts until the next event, the last one until "to"; the latest event before "from" (or carry_in) is the state in force at "from". weights (jsonb, default online 1, warning 0.5, offline 0; maintenance and unknown excluded), liveness (heartbeat interval: longer silences count as down, or unknown with gaps => ''unknown''). Combinable and parallel safe.';

COMMENT ON AGGREGATE sensor.availability_agg(timestamptz, text, timestamptz, timestamptz, text, jsonb, interval, text) IS
    'Time-weighted availability state of (time, state) events over [from, to): each state lasts until the next event, the last one until "to"; the latest event before "from" (or carry_in) is the state in force at "from". weights (jsonb, default online 1, warning 0.5, offline 0; maintenance and unknown excluded), liveness (heartbeat interval: longer silences count as down, or unknown with gaps => ''unknown''). Combinable and parallel safe.';

COMMENT ON AGGREGATE sensor.rollup(sensor.availability_state) IS
    'Merges availability states of adjacent or overlapping windows (e.g. hourly buckets into a day): the state in force and heartbeat liveness carry across bucket boundaries.';
COMMENT ON AGGREGATE sensor.rollup(sensor.availability_state, timestamptz, timestamptz) IS
    'rollup over a stated window [from, to): time after the last bucket with events (buckets without rows) counts in the last known state.';
COMMENT ON FUNCTION sensor.availability_rollup_window_trans(internal, sensor.availability_state, timestamptz, timestamptz) IS 'Support function of the availability aggregates.';
COMMENT ON FUNCTION sensor.availability_rollup_window_final(internal) IS 'Support function of the availability aggregates.';
COMMENT ON FUNCTION sensor.availability_rollup_window_combine(internal, internal) IS 'Support function of the availability aggregates.';
COMMENT ON FUNCTION sensor.availability_rollup_window_serialize(internal) IS 'Support function of the availability aggregates.';
COMMENT ON FUNCTION sensor.availability_rollup_window_deserialize(bytea, internal) IS 'Support function of the availability aggregates.';
COMMENT ON AGGREGATE sensor.availability_mean(text) IS
    'The old service''s figure: mean of online 1, warning 0.5, offline 0, anything else -1 over the events, x 100, rounded to 2 decimals. A sample mean of events, not time-weighted: prefer sensor.availability(availability_agg(...)).';
COMMENT ON FUNCTION sensor.availability(sensor.availability_state) IS 'Time-weighted availability in [0, 1]: sum of weight x duration over time in weighted states; NULL when no weighted time.';
COMMENT ON FUNCTION sensor.uptime(sensor.availability_state) IS 'Time spent in states of positive weight.';
COMMENT ON FUNCTION sensor.downtime(sensor.availability_state) IS 'Time spent in states of weight 0 (outages).';
COMMENT ON FUNCTION sensor.unknown_time(sensor.availability_state) IS 'Time with no known state (before the first event without carry-in, or heartbeat gaps with gaps => ''unknown'').';
COMMENT ON FUNCTION sensor.time_in(sensor.availability_state, text) IS 'Time spent in the given state.';
COMMENT ON FUNCTION sensor.outages(sensor.availability_state) IS 'Number of outages (maximal stretches of weight-0 time) touching the window.';
COMMENT ON FUNCTION sensor.longest_outage(sensor.availability_state) IS 'Duration of the longest outage.';
COMMENT ON FUNCTION sensor.mtbf(sensor.availability_state) IS 'Mean time between failures: uptime / failures (outages that start inside the window).';
COMMENT ON FUNCTION sensor.mttr(sensor.availability_state) IS 'Mean time to repair: downtime / outages.';
COMMENT ON FUNCTION sensor.first_state(sensor.availability_state) IS 'The first state in the window (the carried-in one if any).';
COMMENT ON FUNCTION sensor.last_state(sensor.availability_state) IS 'The state in force at the end of the window: the carry_in for the next window.';
COMMENT ON FUNCTION sensor.is_approximate(sensor.availability_state) IS 'True when the state was merged from interleaved, out-of-order partial states and figures may be approximate.';
COMMENT ON FUNCTION sensor.availability_summary(sensor.availability_state) IS 'Every figure of the state as jsonb (durations in seconds).';
COMMENT ON FUNCTION sensor.availability_report(regclass, text, text, text, timestamptz, timestamptz, interval, jsonb, interval) IS
    'One row per equipment per bucket over [from, to): availability, uptime, downtime, unknown time, outages and the last state (approximate is true only if a bucket received more than 1,024 events out of time order). The state in force before "from" is looked up per equipment (its last earlier event) and carried into every bucket.';
COMMENT ON FUNCTION sensor.state_timeline(regclass, text, text, text, timestamptz, timestamptz, integer, jsonb) IS
    'Status history as intervals (equipment, state, start, end, duration) over [from, to), including the state carried in from before "from". With points, at most that many intervals per equipment, keeping the worst state of each slot (for Grafana state timelines).';


COMMENT ON FUNCTION sensor.availability_trans4(internal, timestamptz, text, timestamptz, timestamptz) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_trans5(internal, timestamptz, text, timestamptz, timestamptz, text) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_trans6(internal, timestamptz, text, timestamptz, timestamptz, text, jsonb) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_trans7(internal, timestamptz, text, timestamptz, timestamptz, text, jsonb, interval) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_trans8(internal, timestamptz, text, timestamptz, timestamptz, text, jsonb, interval, text) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_rollup_trans(internal, sensor.availability_state) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_final(internal) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_combine(internal, internal) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_serialize(internal) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_deserialize(bytea, internal) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_mean_trans(internal, text) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_mean_final(internal) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_mean_combine(internal, internal) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_mean_serialize(internal) IS 'Support function of the availability aggregates.';

COMMENT ON FUNCTION sensor.availability_mean_deserialize(bytea, internal) IS 'Support function of the availability aggregates.';
