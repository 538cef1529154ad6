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
