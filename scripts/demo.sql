-- The demo's showcase: a short tour of what sensor_analytics does.
\pset footer off
\echo '== What is running'
SELECT sensor.version();
SELECT sensor.build_info()->'timescaledb' AS timescaledb;

\echo '== Quality: score a time-of-flight frame and a spectrum, and fuse them'
SELECT tof.grade AS tof_grade, round(tof.quality_score::numeric, 3) AS tof_score,
       spec.grade AS spectral_grade, f.final_grade, round(f.score_100::numeric, 1) AS score_100, f.compliant
FROM sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), array_fill(55::float8, ARRAY[8,8]), array_fill(100::float8, ARRAY[8,8])) tof,
     sensor.spectral_analysis(f1 => 2000, f2 => 1800, f3 => 2500, f4 => 2600, f5 => 2400, f6 => 2300, f7 => 6000, f8 => 5200, nir => 3000, clear => 30000) spec,
     sensor.quality_fusion(tof, spec) f;

\echo '== Availability: time-weighted, with the state carried in from before the window'
WITH events(equipment, time, status) AS (VALUES
    (12, '2026-01-01 00:00+00'::timestamptz, 'online'), (12, '2026-01-01 06:00+00', 'offline'),
    (12, '2026-01-01 09:00+00', 'online'), (12, '2026-01-01 23:00+00', 'offline'), (12, '2026-01-02 01:00+00', 'online'))
SELECT round(100 * sensor.availability(s)::numeric, 2) AS availability_pct, sensor.downtime(s), sensor.outages(s),
       sensor.mttr(s), sensor.last_state(s),
       (SELECT sensor.availability_mean(status) FROM events) AS old_service_event_mean
FROM (SELECT sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-02+00') AS s FROM events) t;

\echo '== Export: the ClickHouse table that receives a query''s Arrow export'
SELECT sensor.clickhouse_ddl(
    'SELECT 1::int8 AS id, 2::int4 AS user_id, now() AS event_timestamp, 1.5::float8 AS signal_amplitude',
    'telemetry_events', order_by => '(user_id, event_timestamp)', partition_by => 'toYYYYMM(event_timestamp)') AS ddl;

\echo '== Downsampling: a million-point noisy sine to 12 points for a Grafana panel'
\set QUIET on
SET client_min_messages = warning;
DROP TABLE IF EXISTS demo_measurements;
RESET client_min_messages;
CREATE TABLE demo_measurements AS
SELECT timestamptz '2026-01-01' + i * interval '1 second' AS time,
       sin(i / 5000.0) + (random() - 0.5) * 0.1 AS value
FROM generate_series(0, 999999) i;
CREATE INDEX ON demo_measurements (time);
ANALYZE demo_measurements;
\set QUIET off
SELECT time, round(value::numeric, 4) AS value
FROM sensor.downsample('demo_measurements', 'time', 'value', '2026-01-01', '2026-01-13', 12, method => 'lttb');

\echo '== T302 power logger: the channels of a real file, and a few of its points'
\getenv fixtures SENSOR_DEMO_FIXTURES
\if :{?fixtures}
\set tsv :fixtures '/powerview/company2/format_v003/02001311/T302_260122_162658_UTC.tsv'
SELECT channel_id, name, unit, count(*) AS points, min(time) AS first, max(time) AS last
FROM sensor.tsv_read(:'tsv') GROUP BY 1, 2, 3 ORDER BY 1;
SELECT status, channels, points FROM sensor.load_tsv(:'tsv', company => 'demo', campaign => 'showcase');
\echo '== Energy over the period: a three-phase logger''s power channels per day (power cuts over 10 minutes left out)'
\set tsv3 :fixtures '/powerview/company1/campaign1/02001084/T302_251012_031720.tsv'
SELECT status, channels, points FROM sensor.load_tsv(:'tsv3', company => 'demo', campaign => 'three-phase');
SELECT channel_id, name, date_trunc('day', time) AS day,
       round(sensor.energy_wh(sensor.energy_agg(time, value, interval '10 minutes'))::numeric, 1) AS wh,
       sensor.gaps(sensor.energy_agg(time, value, interval '10 minutes')) AS power_cuts
FROM sensor_data.electrical WHERE company = 'demo' AND campaign = 'three-phase' AND unit = 'W' AND device_type = 'master'
GROUP BY 1, 2, 3 ORDER BY 1, 3;
\endif

\echo '== Rollup tiers: a week of 3 power channels at 10 s, zoomed from 1-minute and 1-hour tiers'
\set QUIET on
SET client_min_messages = warning;
SELECT sensor.disable_rollups(oid::regclass) FROM pg_catalog.pg_class WHERE relname = 'demo_power' AND relnamespace = 'public'::regnamespace \g /dev/null
DROP TABLE IF EXISTS demo_power;
CREATE TABLE demo_power (channel int NOT NULL, time timestamptz NOT NULL, watts float8);
SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'timescaledb') AS tsdb \gset
\if :tsdb
SELECT create_hypertable('demo_power', 'time', chunk_time_interval => interval '1 day') \g /dev/null
\endif
INSERT INTO demo_power
SELECT c, timestamptz '2026-01-05' + i * interval '10 seconds', 1000 * c + 300 * sin(i / 900.0) + (i * 7919 % 101)
FROM generate_series(1, 3) c, generate_series(0, 7 * 8640 - 1) i;
RESET client_min_messages;
\set QUIET off
CALL sensor.enable_rollups('demo_power', ARRAY['1 minute', '1 hour']::interval[]);
SELECT level, tier, rollup, kind, materialized_to FROM sensor.rollups WHERE relation = 'demo_power'::regclass ORDER BY level;
-- A week at 200 points comes from a tier, an hour from raw rows; m4 from the tier equals raw rows.
SELECT w.source, w.tier, w."from", w."to", w.points,
       (SELECT array_agg(d ORDER BY d.series, d.time) FROM sensor.downsample('demo_power', 'time', 'watts', w."from", w."to", w.points, 'm4', series_column => 'channel', source => 'rollups') d)
     = (SELECT array_agg(d ORDER BY d.series, d.time) FROM sensor.downsample('demo_power', 'time', 'watts', w."from", w."to", w.points, 'm4', series_column => 'channel', source => 'raw') d)
       AS equal_to_raw_rows
FROM sensor.window_source('demo_power', 'time', 'watts', '2026-01-05', '2026-01-12', 200, 'm4', series_column => 'channel') w;
SELECT source FROM sensor.window_source('demo_power', 'time', 'watts', '2026-01-06', '2026-01-06 01:00', 1000, series_column => 'channel');
-- Energy of the week per channel, from the hourly tier (the segments between hours included).
SELECT channel, round(sensor.energy_wh(sensor.rollup(energy))::numeric, 1) AS wh_from_tier,
       (SELECT round(sensor.energy_wh(sensor.energy_agg(time, watts))::numeric, 1) FROM demo_power p
        WHERE p.channel = h.channel AND time < (SELECT max(bucket) + interval '1 hour' FROM demo_power_rollup_1h)) AS wh_from_rows
FROM demo_power_rollup_1h h GROUP BY channel ORDER BY channel;
\echo '== Tables the provisioned Grafana dashboards read (grafana/): status events and quality scans'
\set QUIET on
SET client_min_messages = warning;
\ir ../grafana/sample_tables.sql
RESET client_min_messages;
\set QUIET off
SELECT (SELECT count(*) FROM public.status_events) AS status_events, (SELECT count(*) FROM public.quality_scans) AS quality_scans;
\echo '== Every function in schema sensor'
SELECT p.proname AS function, left(regexp_replace(d.description, '(?<!e\.g|i\.e)\.\s.*$', '', 's'), 110) AS what
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_catalog.pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::regclass
WHERE n.nspname = 'sensor' AND d.description NOT LIKE 'Support function%' AND d.description NOT LIKE 'Internal to%'
GROUP BY 1, 2 ORDER BY 1;
