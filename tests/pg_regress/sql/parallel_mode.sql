-- The window and report functions called in a query that also runs a parallel scan: the
-- leader is then in parallel mode for the whole query, where assigning a transaction ID
-- fails (an internal lookup that ran as an update used to raise XX000 here).
BEGIN;
SET LOCAL timezone = 'UTC';
\i common/error_of.sql

CREATE TABLE pm_samples (ts timestamptz NOT NULL, sensor int NOT NULL, v float8);
INSERT INTO pm_samples
SELECT '2024-01-01 00:00+00'::timestamptz + i * interval '1 minute', i % 2, i % 7
FROM generate_series(0, 1439) i;
CREATE TABLE pm_events (time timestamptz NOT NULL, equipment text, status text);
INSERT INTO pm_events VALUES
    ('2026-01-01 00:00+00', 'a', 'online'), ('2026-01-01 06:00+00', 'a', 'offline'),
    ('2026-01-01 07:00+00', 'a', 'online');
ANALYZE pm_samples;
ANALYZE pm_events;

-- A parallel plan for any scan, however small.
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT (SELECT count(*) FROM sensor.downsample('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 10)),
       (SELECT count(v) FROM pm_samples);

SELECT (SELECT count(*) FROM sensor.downsample('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 10, series_column => 'sensor')) AS points,
       (SELECT count(v) FROM pm_samples) AS rows;
SELECT (SELECT count(*) FROM sensor.downsample('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 10, 'lttb', filter => 'sensor = 1')) AS points,
       (SELECT count(v) FROM pm_samples) AS rows;
SELECT (SELECT count(*) FROM sensor.window_source('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 10)) AS sources,
       (SELECT count(v) FROM pm_samples) AS rows;
SELECT (SELECT sum(uptime) FROM sensor.availability_report('pm_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02', bucket => '6 hours')) AS uptime,
       (SELECT count(v) FROM pm_samples) AS rows;
SELECT (SELECT count(*) FROM sensor.state_timeline('pm_events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02')) AS intervals,
       (SELECT count(v) FROM pm_samples) AS rows;
-- An integer series column under a parallel plan: one sensor.downsample_series_agg in the
-- workers instead of the stream, the same rows as the serial stream for every method.
CREATE TEMP TABLE pm_serial (m text, series text, "time" timestamptz, value float8);
SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO pm_serial
SELECT m, d.* FROM unnest(ARRAY['m4', 'minmax', 'minmax_lttb', 'uniform', 'avg']) m,
     LATERAL sensor.downsample('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 12, m, series_column => 'sensor') d;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT m, count(*) AS points,
       count(*) FILTER (WHERE (d.series, d.time, d.value) IS DISTINCT FROM (s.series, s.time, s.value)) AS differing
FROM unnest(ARRAY['m4', 'minmax', 'minmax_lttb', 'uniform', 'avg']) m,
     LATERAL (SELECT row_number() OVER () AS n, * FROM sensor.downsample('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 12, m, series_column => 'sensor')) d
     LEFT JOIN LATERAL (SELECT row_number() OVER () AS n, series, time, value FROM pm_serial WHERE pm_serial.m = m.m) s ON s.n = d.n
GROUP BY m ORDER BY m;
-- Without a series column: one sensor.downsample_agg in the workers, the same rows.
TRUNCATE pm_serial;
SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO pm_serial
SELECT m, d.* FROM unnest(ARRAY['m4', 'minmax', 'minmax_lttb', 'uniform', 'avg']) m,
     LATERAL sensor.downsample('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 12, m) d;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT m, count(*) AS points,
       count(*) FILTER (WHERE (d.series, d.time, d.value) IS DISTINCT FROM (s.series, s.time, s.value)) AS differing
FROM unnest(ARRAY['m4', 'minmax', 'minmax_lttb', 'uniform', 'avg']) m,
     LATERAL (SELECT row_number() OVER () AS n, * FROM sensor.downsample('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 12, m)) d
     LEFT JOIN LATERAL (SELECT row_number() OVER () AS n, series, time, value FROM pm_serial WHERE pm_serial.m = m.m) s ON s.n = d.n
GROUP BY m ORDER BY m;

-- A channel that does not exist: its own error, not a failed internal lookup.
SELECT pg_temp.error_of($$SELECT (SELECT count(*) FROM sensor.channel_window(-1::bigint)), (SELECT count(v) FROM pm_samples)$$);
SELECT pg_temp.error_of($$SELECT (SELECT count(*) FROM sensor.channel_window('M0_nothing')), (SELECT count(v) FROM pm_samples)$$);

-- Inside a parallel worker (one worker runs the whole plan): the parallel-safe functions
-- that run queries of their own.
SET LOCAL force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT * FROM sensor.window_source('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 10);
SELECT source, points FROM sensor.window_source('pm_samples', 'ts', 'v', '2024-01-01', '2024-01-02', 10);
SELECT pg_temp.error_of($$SELECT count(*) FROM sensor.channel_window(-1::bigint)$$);
SELECT pg_temp.error_of($$SELECT count(*) FROM sensor.channel_window('M0_nothing')$$);

ROLLBACK;
