-- Energy over a period: energy_agg, its rollup and accessors, gaps, the stored state's text
-- form, and error messages.
SET timezone = 'UTC';
SET extra_float_digits = 0;
CREATE TABLE power (channel int NOT NULL, time timestamptz NOT NULL, watts float8);
-- Channel 1: 1 kW, a sample every 15 minutes for a day. Channel 2: a ramp 0 -> 2400 W
-- over the first hour, then 2400 W, and a power cut 12:00-14:00 (no samples).
INSERT INTO power
SELECT 1, timestamptz '2026-01-01' + i * interval '15 minutes', 1000 FROM generate_series(0, 96) i;
INSERT INTO power
SELECT 2, timestamptz '2026-01-01' + i * interval '15 minutes', least(i * 600, 2400)
FROM generate_series(0, 96) i WHERE i NOT BETWEEN 49 AND 55;

-- Channel 1: 24 kWh over 24 h. Channel 2: 1200 (ramp: 600 W per quarter-hour step from 0 to
-- 2400 over 1 h, trapezoids) + 2400 x 23 = 56,400 Wh without a gap limit.
SELECT channel, sensor.energy_wh(s), sensor.time_weighted_mean(s), sensor.covered(s), sensor.gaps(s)
FROM (SELECT channel, sensor.energy_agg(time, watts) s FROM power GROUP BY channel) t ORDER BY channel;

-- With max_gap 20 minutes the cut (12:00-14:00) is not integrated: 4,800 Wh less.
SELECT channel, sensor.energy_wh(s), sensor.covered(s), sensor.gaps(s), sensor.gap_time(s),
       round(sensor.time_weighted_mean(s)::numeric, 6) AS mean
FROM (SELECT channel, sensor.energy_agg(time, watts, interval '20 minutes') s FROM power GROUP BY channel) t
ORDER BY channel;

-- Hourly buckets: each alone misses the quarter-hour between its last sample and the next
-- hour's first; their rollup has it, and equals the direct figure.
CREATE MATERIALIZED VIEW hourly AS
SELECT channel, date_trunc('hour', time) AS hour, sensor.energy_agg(time, watts, interval '20 minutes') AS energy
FROM power GROUP BY 1, 2;
SELECT channel, sum(sensor.energy_wh(energy)) AS sum_of_hours, sensor.energy_wh(sensor.rollup(energy)) AS rollup,
       sensor.gaps(sensor.rollup(energy)) AS gaps
FROM hourly GROUP BY channel ORDER BY channel;
-- Per day (the T302 dashboards' "energy over the period"), from the hours. A day's state
-- holds its own rows: the quarter-hour from 23:45 to the next day's 00:00 belongs to no day,
-- as for energy_agg over each day's rows; the rollup of both days has it.
SELECT channel, date_trunc('day', hour) AS day, round(sensor.energy_wh(sensor.rollup(energy))::numeric, 3) AS wh
FROM hourly GROUP BY 1, 2 ORDER BY 1, 2;

-- Rows at one instant count as their mean; NULL and non-finite values are skipped.
SELECT sensor.energy_summary(sensor.energy_agg(t, v))
FROM (VALUES (timestamptz '2026-01-01 00:00', 100.0::float8), ('2026-01-01 00:00', 300), ('2026-01-01 01:00', 200),
             ('2026-01-01 00:30', 'NaN'), ('2026-01-01 00:40', NULL), (NULL, 5)) r(t, v);
-- No rows: no state.
SELECT sensor.energy_agg(now(), 1) IS NULL AS no_state WHERE false;
-- The stored state is bytes (here: one instant, 5 W).
SELECT sensor.energy_agg(timestamptz '2026-01-01', 5);

-- Errors, each with its SQLSTATE.
SELECT sensor.energy_agg(time, watts, interval '0 seconds') FROM power;
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.energy_agg(time, watts, NULL::interval) FROM power;
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.energy_agg(time, watts, interval '1 month') FROM power;
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.energy_wh('\x0102'::sensor.energy_state);
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.energy_wh('\x4502000000000000000000'::sensor.energy_state);
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.rollup(e) FROM (SELECT sensor.energy_agg(time, watts) e FROM power
                              UNION ALL SELECT energy FROM hourly) x;
\echo :LAST_ERROR_SQLSTATE
