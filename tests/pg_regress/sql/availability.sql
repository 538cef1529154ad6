-- Equipment availability: time-weighted figures, carry-in, heartbeat, rollups,
-- the old service's sample mean, reports and timelines, and error messages.
SET timezone = 'UTC';
CREATE TABLE status_events (equipment int NOT NULL, time timestamptz NOT NULL, status text);
CREATE INDEX ON status_events (equipment, time);
INSERT INTO status_events VALUES
  -- Equipment 12: online, an outage 06:00-09:00, and one across midnight 23:00-01:00.
  (12, '2026-01-01 00:00', 'online'),
  (12, '2026-01-01 06:00', 'offline'),
  (12, '2026-01-01 09:00', 'online'),
  (12, '2026-01-01 12:00', 'warning'),
  (12, '2026-01-01 14:00', 'online'),
  (12, '2026-01-01 23:00', 'offline'),
  (12, '2026-01-02 01:00', 'online'),
  -- Equipment 13: maintenance carried in from the day before, then online.
  (13, '2025-12-31 18:00', 'maintenance'),
  (13, '2026-01-01 12:00', 'online'),
  -- Equipment 14: heartbeats every 10 minutes, then silent from 02:00 to 03:00.
  (14, '2026-01-01 00:00', 'online'), (14, '2026-01-01 00:10', 'online'), (14, '2026-01-01 00:20', 'online'),
  (14, '2026-01-01 00:30', 'online'), (14, '2026-01-01 00:40', 'online'), (14, '2026-01-01 00:50', 'online'),
  (14, '2026-01-01 01:00', 'online'), (14, '2026-01-01 03:00', 'online');

-- Time-weighted over a day: 12 is down 06-09 and 23-24 (4 h), warning 12-14 counts half.
SELECT equipment,
       round(sensor.availability(s)::numeric, 6) AS availability,
       sensor.uptime(s), sensor.downtime(s), sensor.time_in(s, 'warning') AS warning,
       sensor.outages(s), sensor.mtbf(s), sensor.mttr(s), sensor.first_state(s), sensor.last_state(s)
FROM (SELECT equipment, sensor.availability_agg(time, status, '2026-01-01', '2026-01-02') AS s
      FROM status_events WHERE equipment IN (12, 13) GROUP BY equipment) t
ORDER BY equipment;

-- Carry-in: the latest event before "from" is the state in force at "from"; the last
-- state lasts until "to". 12 on Jan 2 00:00-12:00: offline until 01:00, then online.
SELECT round(sensor.availability(sensor.availability_agg(time, status, '2026-01-02', '2026-01-02 12:00'))::numeric, 6) AS with_earlier_rows,
       (SELECT round(sensor.availability(sensor.availability_agg(time, status, '2026-01-02', '2026-01-02 12:00'))::numeric, 6)
        FROM status_events WHERE equipment = 12 AND time >= '2026-01-02') AS without_carry_in,
       (SELECT round(sensor.availability(sensor.availability_agg(time, status, '2026-01-02', '2026-01-02 12:00', 'offline'))::numeric, 6)
        FROM status_events WHERE equipment = 12 AND time >= '2026-01-02') AS with_carry_in_argument
FROM status_events WHERE equipment = 12;
SELECT sensor.unknown_time(sensor.availability_agg(time, status, '2026-01-02', '2026-01-02 12:00'))
FROM status_events WHERE equipment = 12 AND time >= '2026-01-02';

-- Events exactly at "from" override the carry-in; events at "to" are outside [from, to).
SELECT sensor.first_state(s), sensor.last_state(s), sensor.downtime(s)
FROM (SELECT sensor.availability_agg(time, status, '2026-01-01 06:00', '2026-01-01 09:00') AS s
      FROM status_events WHERE equipment = 12) t;

-- Duplicate timestamps: the worst state (lowest weight) wins, whatever the input order.
SELECT sensor.availability(sensor.availability_agg(t, s, '2026-01-01', '2026-01-01 01:00')) AS availability,
       sensor.last_state(sensor.availability_agg(t, s, '2026-01-01', '2026-01-01 01:00'))
FROM (VALUES ('2026-01-01 00:00'::timestamptz, 'online'), ('2026-01-01 00:30', 'offline'), ('2026-01-01 00:30', 'online')) v(t, s);

-- Unknown and excluded states: maintenance and unknown are left out of the denominator.
SELECT sensor.availability_summary(sensor.availability_agg(time, status, '2026-01-01', '2026-01-02'))
FROM status_events WHERE equipment = 13;
-- Custom weights: maintenance counts as up; a state without weight is excluded.
SELECT round(sensor.availability(sensor.availability_agg(time, status, '2026-01-01', '2026-01-02', NULL, '{"online": 1, "maintenance": 1}'))::numeric, 6)
FROM status_events WHERE equipment = 13;

-- Heartbeat: with a 15-minute liveness, the silence 01:15-03:00 is down (or unknown).
SELECT sensor.downtime(sensor.availability_agg(time, status, '2026-01-01', '2026-01-01 04:00', NULL, NULL, '15 minutes')) AS down,
       sensor.outages(sensor.availability_agg(time, status, '2026-01-01', '2026-01-01 04:00', NULL, NULL, '15 minutes')) AS outages,
       sensor.unknown_time(sensor.availability_agg(time, status, '2026-01-01', '2026-01-01 04:00', NULL, NULL, '15 minutes', 'unknown')) AS unknown
FROM status_events WHERE equipment = 14;

-- Rollup: hourly states merged into the two days equal the direct computation,
-- including the outage across midnight (offline 23:00 to 01:00).
CREATE MATERIALIZED VIEW hourly_availability AS
SELECT equipment, date_trunc('hour', time) AS bucket,
       sensor.availability_agg(time, status, date_trunc('hour', time), date_trunc('hour', time) + interval '1 hour') AS state
FROM status_events GROUP BY 1, 2;
SELECT h.equipment,
       round(sensor.availability(sensor.rollup(h.state, '2026-01-01', '2026-01-03'))::numeric, 9) AS rolled_up,
       round((SELECT sensor.availability(sensor.availability_agg(e.time, e.status, '2026-01-01', '2026-01-03'))
              FROM status_events e WHERE e.equipment = h.equipment)::numeric, 9) AS direct,
       sensor.outages(sensor.rollup(h.state, '2026-01-01', '2026-01-03')) AS outages
FROM hourly_availability h WHERE h.bucket >= '2026-01-01' GROUP BY h.equipment ORDER BY 1;

-- The old service's figure: a sample mean of events, not time-weighted.
SELECT sensor.availability_mean(s) FROM (SELECT 'online' FROM generate_series(1, 9) UNION ALL SELECT 'offline') t(s);
SELECT sensor.availability_mean(status) AS event_mean,
       round(100 * sensor.availability(sensor.availability_agg(time, status, '2026-01-01', '2026-01-02'))::numeric, 2) AS time_weighted
FROM status_events WHERE equipment = 12 AND time < '2026-01-02';

-- Report: one row per equipment per bucket, carry-in from before "from".
SELECT equipment, time, round(availability::numeric, 4) AS availability, downtime, outages, last_state
FROM sensor.availability_report('status_events', 'time', 'status', 'equipment', '2026-01-01 22:00', '2026-01-02 02:00', bucket => '1 hour')
ORDER BY equipment, time;

-- Timeline: intervals, and reduced to 8 slots of 3 hours keeping the worst state.
SELECT equipment, state, start, "end", duration
FROM sensor.state_timeline('status_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02') WHERE equipment = '12';
SELECT equipment, state, start, "end"
FROM sensor.state_timeline('status_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02', points => 8) WHERE equipment = '12';

-- Parallel partial aggregation: workers keep their share of a group uncollapsed (up to
-- 16,384 events each), so the leader's merge of interleaved shares is exact.
CREATE TABLE many_events AS
SELECT e AS equipment, '2026-01-01'::timestamptz + i * interval '1 minute' AS time,
       CASE WHEN (i / 10) % 37 = 0 THEN 'offline' ELSE 'online' END AS status
FROM generate_series(1, 10) e, generate_series(1, 5000) i ORDER BY e, i;
ANALYZE many_events;
CREATE TEMP TABLE serial_result AS
SELECT equipment, sensor.availability_agg(time, status, '2026-01-01', '2026-01-05') AS s FROM many_events GROUP BY equipment;
CREATE TEMP TABLE serial_report AS
SELECT * FROM sensor.availability_report('many_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-05', bucket => '6 hours');
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT equipment, sensor.availability_agg(time, status, '2026-01-01', '2026-01-05') FROM many_events GROUP BY equipment;
SELECT count(*) AS equipments,
       count(*) FILTER (WHERE sensor.availability(p.s) = sensor.availability(r.s) AND sensor.outages(p.s) = sensor.outages(r.s)) AS same_as_serial,
       count(*) FILTER (WHERE sensor.is_approximate(p.s)) AS approximate
FROM (SELECT equipment, sensor.availability_agg(time, status, '2026-01-01', '2026-01-05') AS s FROM many_events GROUP BY equipment) p
JOIN serial_result r USING (equipment);
-- availability_report in parallel (the default; shares compressed to run boundaries): the same rows.
SELECT (SELECT count(*) FROM serial_report) AS report_rows,
       (SELECT count(*) FROM serial_report WHERE approximate) AS approximate,
       count(*) AS differing_rows
FROM (SELECT * FROM sensor.availability_report('many_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-05', bucket => '6 hours')
      EXCEPT SELECT * FROM serial_report) d;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size; RESET max_parallel_workers_per_gather;

-- Errors.
\set SHOW_CONTEXT never
SELECT sensor.availability_agg(time, status, '2026-01-02', '2026-01-01') FROM status_events;
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.availability_agg(time, status, '2026-01-01', '2026-01-02', NULL, '{"online": 2}') FROM status_events;
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.availability_agg(time, status, '2026-01-01', '2026-01-02', NULL, NULL, '1 month') FROM status_events;
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.availability_agg(time, status, '2026-01-01', '2026-01-02', NULL, NULL, '1 hour', 'sometimes') FROM status_events;
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.availability('\x0102'::bytea);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.availability_report('status_events', 'nope', 'status', 'equipment', '2026-01-01', '2026-01-02');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.availability_report('status_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02', bucket => '1 month');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.state_timeline('status_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02', points => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.state_timeline('status_events', 'time', 'nope', 'equipment', '2026-01-01', '2026-01-02');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE status_events, many_events CASCADE;

-- States written by earlier versions (frozen bytes, crates/availability/tests/frozen/v1)
-- still read through the accessors.
\getenv srcdir SENSOR_SOURCE_DIR
\set frozen_basic `cat :srcdir/crates/availability/tests/frozen/v1/online_offline.hex`
\set frozen_heartbeat `cat :srcdir/crates/availability/tests/frozen/v1/heartbeats_weights_unknown_gaps.hex`
SELECT name, round(sensor.availability(s)::numeric, 6) AS availability, sensor.uptime(s), sensor.downtime(s),
       sensor.unknown_time(s), sensor.outages(s), sensor.last_state(s)
FROM (VALUES ('online_offline', decode(:'frozen_basic', 'hex')::sensor.availability_state),
             ('heartbeats_weights_unknown_gaps', decode(:'frozen_heartbeat', 'hex')::sensor.availability_state)) v(name, s);
