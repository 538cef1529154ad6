-- Downsampling for Grafana: sensor.downsample, downsample_arrays, downsample_agg + points,
-- m4_summary + downsample_summaries, channel_window, channel_page; results on small
-- deterministic data, then every error with its SQLSTATE.
-- One transaction, rolled back at the end: nothing is left for the tests after this one.
BEGIN;
SET LOCAL timezone = 'UTC';
\i common/error_of.sql

-- 1,440 minutes of two series; values exact in binary (multiples of 1/8).
CREATE TABLE ds_minutes (ts timestamptz NOT NULL, sensor text, v float8);
INSERT INTO ds_minutes
SELECT '2024-01-01 00:00+00'::timestamptz + i * interval '1 minute', 's' || (i % 2),
       round(sin(i / 60.0) * 800) / 8
FROM generate_series(0, 1439) i;
CREATE INDEX ON ds_minutes (sensor, ts);
ANALYZE ds_minutes;

-- Each method, one series (the series is named after the value column).
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 6, 'lttb', filter => 'sensor = ''s0''');
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 6, filter => 'sensor = ''s0''');
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 8, 'm4', filter => 'sensor = ''s0''');
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 6, 'minmax', filter => 'sensor = ''s0''');
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 4, 'uniform', filter => 'sensor = ''s0''');
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 4, 'avg', filter => 'sensor = ''s0''');

-- Per series, in series order; lttb keeps exactly points per series.
SELECT series, count(*), min(time), max(time)
FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 50, 'lttb', series_column => 'sensor')
GROUP BY series ORDER BY series;

-- A window smaller than points returns its rows; an empty window returns nothing.
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01 10:00', '2024-01-01 10:04', 100, series_column => 'sensor');
SELECT count(*) FROM sensor.downsample('ds_minutes', 'ts', 'v', '2025-01-01', '2025-01-02', 100);

-- gap: a NULL-value row where neighbours are more than 2 hours apart.
DELETE FROM ds_minutes WHERE ts >= '2024-01-01 06:00' AND ts < '2024-01-01 09:00';
SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-01 12:00', 8, 'm4', filter => 'sensor = ''s1''', gap => '2 hours');

-- The batch kernel on arrays (NULL elements, NaN and infinities skipped).
SELECT * FROM sensor.downsample_arrays(
    ARRAY['2024-01-01 00:00', '2024-01-01 00:01', '2024-01-01 00:02', '2024-01-01 00:03', '2024-01-01 00:04', NULL]::timestamptz[],
    ARRAY[1, 5, 'NaN', -3, 2, 7]::float8[], 3, 'lttb');

-- downsample_agg with GROUP BY, then sensor.points (or unnest) into rows.
SELECT s.sensor, p.*
FROM (SELECT sensor, sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 4, 'minmax') AS d
      FROM ds_minutes GROUP BY sensor) s,
     sensor.points(s.d) p
ORDER BY s.sensor, p.time;
SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 3) FROM ds_minutes WHERE sensor = 's0';
SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 3) IS NULL AS no_rows_no_result FROM ds_minutes WHERE false;

-- m4_summary per hour in a materialized view; zoom out with downsample_summaries.
CREATE MATERIALIZED VIEW ds_hourly AS
SELECT sensor, date_trunc('hour', ts) AS bucket, sensor.m4_summary(ts, v) AS summary
FROM ds_minutes GROUP BY 1, 2;
SELECT sensor, bucket, (summary).* FROM ds_hourly WHERE bucket = '2024-01-01 00:00' ORDER BY sensor;
SELECT s.sensor, p.*
FROM (SELECT sensor, sensor.downsample_summaries(bucket, summary, '2024-01-01', '2024-01-02', 4, 'm4') AS d
      FROM ds_hourly GROUP BY sensor) s,
     sensor.points(s.d) p
ORDER BY s.sensor, p.time;
SELECT cardinality((sensor.downsample_summaries(bucket, summary, '2024-01-01', '2024-01-02', 10)).time) AS points
FROM ds_hourly WHERE sensor = 's0';

-- Loaded channels: a TDMS channel with time (with two equal rows at one timestamp), one without,
-- and a T302 channel.
INSERT INTO sensor_data.datasets (name, sha256, bytes) VALUES ('regress', 'none', 0);
INSERT INTO sensor_data.channels (dataset_id, group_name, name, data_type, has_time, start_time, increment_s, n_samples)
SELECT id, 'g', 'timed', 'float64', true, '2024-03-01'::timestamptz, 0.5, 20 FROM sensor_data.datasets WHERE name = 'regress'
UNION ALL
SELECT id, 'g', 'untimed', 'float64', false, NULL, NULL, 10 FROM sensor_data.datasets WHERE name = 'regress';
SELECT id AS timed FROM sensor_data.channels WHERE name = 'timed' \gset
SELECT id AS untimed FROM sensor_data.channels WHERE name = 'untimed' \gset
INSERT INTO sensor_data.samples
SELECT :timed, '2024-03-01'::timestamptz + i * interval '500 ms', i % 7 FROM generate_series(0, 19) i
UNION ALL SELECT :timed, '2024-03-01 00:00:02', 4;
INSERT INTO sensor_data.indexed_samples SELECT :untimed, i, i * i FROM generate_series(0, 9) i;
INSERT INTO sensor_data.tsv_channels (company, campaign, device_master_sn, channel_id, device_sn, device_type, label, name, unit, source_format)
VALUES ('acme', 'c1', '02001084', 'M02001084_U1', '02001084', 'master', 'U1', 'Voltage L1', 'V', 'MV_T302_V002');
INSERT INTO sensor_data.electrical_samples
SELECT '2024-03-01'::timestamptz + i * interval '1 minute', (SELECT id FROM sensor_data.tsv_channels WHERE channel_id = 'M02001084_U1'), 230 + i % 3
FROM generate_series(0, 59) i;

SELECT * FROM sensor.channel_window(:timed, points => 4, method => 'minmax');
SELECT * FROM sensor.channel_window(:timed, from_seconds => 2, to_seconds => 4, points => 100, relative => true);
SELECT * FROM sensor.channel_window(:timed, "from" => '2024-03-01 00:00:08', points => 3, method => 'lttb');
SELECT * FROM sensor.channel_window(:untimed, from_index => 2, to_index => 8, points => 3, method => 'lttb');
SELECT * FROM sensor.channel_window('M02001084_U1', points => 4, method => 'minmax', relative => true);

-- Paging: the rows at 00:00:02 are never split; the cursor is exclusive.
SELECT * FROM sensor.channel_page(:timed, NULL, NULL, "limit" => 5);
SELECT * FROM sensor.channel_page(:timed, NULL, NULL, after => '2024-03-01 00:00:02', "limit" => 5);
SELECT * FROM sensor.channel_page(:timed, '2024-03-01 00:00:09', '2024-03-01 00:00:10', "limit" => 5);

-- Errors.
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 2, 'lttb')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 3, 'm4')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 10, 'spline')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-02', '2024-01-01', 10)$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', 'infinity', 10)$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 10, gap => '0 seconds')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'value', '2024-01-01', '2024-01-02', 10)$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 10, series_column => 'device')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('no_such_table', 'ts', 'v', '2024-01-01', '2024-01-02', 10)$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'sensor', 'v', '2024-01-01', '2024-01-02', 10)$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 10, filter => 'true) OR (true')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 10, filter => '1; DROP TABLE ds_minutes')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample('ds_minutes', 'ts', 'v', '2024-01-01', '2024-01-02', 10, filter => 'sensor = ''s0'' LIMIT 3')$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.downsample_arrays(ARRAY[now()], ARRAY[1.0, 2.0], 3)$$);
SELECT pg_temp.error_of($$SELECT sensor.downsample_agg(ts, v, '2024-01-01', ts, 10) FROM ds_minutes$$);
SELECT pg_temp.error_of($$SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 2, 'lttb') FROM ds_minutes$$);
SELECT pg_temp.error_of($$SELECT sensor.downsample_summaries(now(), ROW(now(), 1, now(), 5, now(), 0, now(), 1, 1, 1)::sensor.m4, now() - interval '1 day', now() + interval '1 day', 10)$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.channel_window(-1)$$);
SELECT pg_temp.error_of($$SELECT * FROM sensor.channel_window('M9_U1')$$);
SELECT pg_temp.error_of(format($$SELECT * FROM sensor.channel_window(%s, from_index => 3)$$, :timed));
SELECT pg_temp.error_of(format($$SELECT * FROM sensor.channel_window(%s, "from" => now(), from_seconds => 1)$$, :timed));
SELECT pg_temp.error_of(format($$SELECT * FROM sensor.channel_window(%s, "from" => now())$$, :untimed));
SELECT pg_temp.error_of(format($$SELECT * FROM sensor.channel_page(%s, NULL, NULL, "limit" => 0)$$, :timed));
SELECT pg_temp.error_of(format($$SELECT * FROM sensor.channel_page(%s, NULL, NULL)$$, :untimed));

ROLLBACK;
