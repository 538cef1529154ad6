-- Foie gras quality scoring: the example schema (plain variant), scoring with
-- INSERT ... SELECT, statistics views, and the functions' error messages.
\set use_timescaledb false
\getenv srcdir SENSOR_SOURCE_DIR
\set example :srcdir/sql/examples/quality.sql
-- The example's messages carry its absolute path, which differs per checkout.
SET client_min_messages = warning;
\i :example
RESET client_min_messages;
\set ON_ERROR_STOP off

-- Four samples from two farmers: a clean frame, a frame with a raised zone, a frame
-- with a foreign body (distance 0 in one zone) and a clean frame without a spectrum.
INSERT INTO quality.tof_raw (time, sample_id, eleveur, lot, distance_mm, reflectance, amplitude)
SELECT now() - interval '2 hours' + i * interval '1 minute', 'S' || i, CASE WHEN i % 2 = 0 THEN 'ferme-a' ELSE 'ferme-b' END, 'L1',
       CASE i WHEN 2 THEN (SELECT array_agg(CASE WHEN k = 27 THEN 40 ELSE 60 END::float8) FROM generate_series(0, 63) k)
              WHEN 3 THEN (SELECT array_agg(CASE WHEN k = 36 THEN 0 ELSE 60 END::float8) FROM generate_series(0, 63) k)
              ELSE array_fill(60::float8, ARRAY[8,8]) END,
       array_fill(55::float8, ARRAY[8,8]), array_fill(100::float8, ARRAY[8,8])
FROM generate_series(1, 4) i;
INSERT INTO quality.spectral_raw
SELECT t.time, t.sample_id, 2000, 1800, 2500, 2600, 2400, 2300, 6000, 5200, 3000, 30000, 10
FROM quality.tof_raw t WHERE t.sample_id <> 'S4';

SELECT quality.score_new_samples() AS scored_first_time;
SELECT quality.score_new_samples() AS scored_second_time;

SELECT sample_id, eleveur, round(tof_score::numeric, 6) AS tof_score, tof_grade,
       round(spectral_score::numeric, 6) AS spectral_score, spectral_grade,
       round(final_score::numeric, 6) AS final_score, final_grade, compliant, downgraded, rejected, num_defects
FROM quality.fusion_results ORDER BY sample_id;

-- The ToF-only verdict (no spectrum) and the rejection by a foreign body.
SELECT sample_id, jsonb_array_length(tof_defects) AS tof_defects, tof_defects->0->>'type' AS first_defect
FROM quality.fusion_results WHERE sample_id IN ('S2', 'S3') ORDER BY sample_id;

REFRESH MATERIALIZED VIEW quality.stats_hourly;
REFRESH MATERIALIZED VIEW quality.stats_by_eleveur;
SELECT sum(samples) AS samples, sum(grade_reject) AS rejected, sum(compliant) AS compliant FROM quality.stats_hourly;
SELECT eleveur, sum(samples) AS samples, sum(grade_reject) AS rejected
FROM quality.stats_by_eleveur GROUP BY eleveur ORDER BY eleveur;
SELECT samples, grade_reject, round(compliance_rate::numeric, 4) AS compliance_rate FROM quality.get_recent_stats(24);
SELECT samples FROM quality.get_recent_stats(0);

-- Scoring works where a continuous-aggregate refresh runs: search_path = pg_catalog, pg_temp.
SET search_path = pg_catalog, pg_temp;
SELECT (sensor.quality_fusion(sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), array_fill(55::float8, ARRAY[8,8]), array_fill(100::float8, ARRAY[8,8])),
                              sensor.spectral_analysis(f1 => 2000, f7 => 6000))).final_grade IS NOT NULL AS works;
RESET search_path;

-- Grades.
SELECT s, sensor.quality_grade(s) FROM unnest(ARRAY[0.85, 0.75, 0.6, 0.45, 0.44, 'NaN']::float8[]) s;

-- Errors carry deliberate SQLSTATEs and say what is wrong.
\set SHOW_CONTEXT never
SELECT sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[4,16]), array_fill(1::float8, ARRAY[8,8]));
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]), histograms => array_fill(1::float8, ARRAY[8,8]));
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), ARRAY[1, NULL]::float8[], array_fill(1::float8, ARRAY[8,8]));
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.tof_analysis(array_fill('NaN'::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]));
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]), params => '{"density": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]), array_fill(1::float8, ARRAY[8,8]), params => '[1]');
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.quality_fusion(0.8, 'Grade Z', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.quality_fusion(1.5, 'A', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.quality_fusion(0.8, 'A', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.quality_fusion(0.8, 'A', 0, 0.7);
\echo :LAST_ERROR_SQLSTATE
SELECT sensor.quality_fusion(0.8, 'A', 0, tof_weight => 2);
\echo :LAST_ERROR_SQLSTATE
DROP SCHEMA quality CASCADE;
