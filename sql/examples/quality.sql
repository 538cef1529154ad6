-- The foie gras quality line, in the database: raw sensor tables, scoring with
-- sensor_analytics, the fused results, and grade statistics per hour and per farmer.
--
--   psql -d mydb -f sql/examples/quality.sql
--
-- With TimescaleDB installed, the tables are hypertables and the two statistics views
-- are continuous aggregates with refresh policies; without it they are plain tables
-- and materialized views (REFRESH MATERIALIZED VIEW to update them).
-- Set the psql variable use_timescaledb to force a variant (the golden test forces
-- the plain one):  psql -v use_timescaledb=false -f sql/examples/quality.sql
\set ON_ERROR_STOP on
\if :{?use_timescaledb}
\else
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS use_timescaledb \gset
\endif

CREATE EXTENSION IF NOT EXISTS sensor_analytics;
CREATE SCHEMA quality;

-- Raw VL53L8CH frames: 8×8 matrices (histograms 8×8×n, optional).
CREATE TABLE quality.tof_raw (
    time             timestamptz NOT NULL,
    sample_id        text NOT NULL,
    eleveur          text NOT NULL,
    lot              text NOT NULL,
    distance_mm      float8[] NOT NULL,
    reflectance      float8[] NOT NULL,
    amplitude        float8[] NOT NULL,
    histograms       float8[],
    sensor_height_mm float8 NOT NULL DEFAULT 100,
    zone_size_mm     float8 NOT NULL DEFAULT 25
);

-- Raw AS7341 spectra (counts per channel; NULL = channel missing).
CREATE TABLE quality.spectral_raw (
    time      timestamptz NOT NULL,
    sample_id text NOT NULL,
    f1 float8, f2 float8, f3 float8, f4 float8, f5 float8, f6 float8, f7 float8, f8 float8,
    nir float8, clear float8, flicker float8
);

-- One fused verdict per sample.
CREATE TABLE quality.fusion_results (
    time             timestamptz NOT NULL,
    sample_id        text NOT NULL,
    eleveur          text NOT NULL,
    lot              text NOT NULL,
    tof_score        float8 NOT NULL,
    tof_grade        text NOT NULL,
    spectral_score   float8,
    spectral_grade   text,
    final_score      float8 NOT NULL,
    final_grade      text NOT NULL,
    score_100        float8 NOT NULL,
    compliant        boolean NOT NULL,
    downgraded       boolean NOT NULL,
    rejected         boolean NOT NULL,
    num_defects      integer NOT NULL,
    tof_defects      jsonb NOT NULL,
    spectral_defects jsonb,
    PRIMARY KEY (sample_id, time)
);
CREATE INDEX ON quality.tof_raw (sample_id, time);
CREATE INDEX ON quality.spectral_raw (sample_id, time);

\if :use_timescaledb
SELECT create_hypertable('quality.tof_raw', 'time');
SELECT create_hypertable('quality.spectral_raw', 'time');
SELECT create_hypertable('quality.fusion_results', 'time');
\endif

-- Scores every raw frame not scored yet. Each scoring function runs once per row
-- (functions in FROM, not (f(x)).* in the select list, which would call f per column).
CREATE FUNCTION quality.score_new_samples() RETURNS bigint
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    WITH scored AS (
        INSERT INTO quality.fusion_results
        SELECT t.time, t.sample_id, t.eleveur, t.lot,
               tof.quality_score, tof.grade, spec.quality_score, spec.grade,
               f.final_score, f.final_grade, f.score_100, f.compliant, f.downgraded, f.rejected,
               f.num_defects, tof.defects, spec.defects
        FROM quality.tof_raw t
        LEFT JOIN quality.spectral_raw s ON s.sample_id = t.sample_id
        CROSS JOIN LATERAL sensor.tof_analysis(t.distance_mm, t.reflectance, t.amplitude, t.histograms,
                                               t.sensor_height_mm, t.zone_size_mm) tof
        LEFT JOIN LATERAL sensor.spectral_analysis(f1 => s.f1, f2 => s.f2, f3 => s.f3, f4 => s.f4,
                                                   f5 => s.f5, f6 => s.f6, f7 => s.f7, f8 => s.f8,
                                                   nir => s.nir, clear => s.clear, flicker => s.flicker) spec
               ON s.sample_id IS NOT NULL
        CROSS JOIN LATERAL sensor.quality_fusion(tof, spec) f
        WHERE NOT EXISTS (SELECT 1 FROM quality.fusion_results r
                          WHERE r.sample_id = t.sample_id AND r.time = t.time)
        RETURNING 1
    )
    SELECT count(*) FROM scored;
END;

-- Grade statistics. Continuous aggregates may not call now(); get_recent_stats does.
-- One definition per view; the variant only changes how a bucket is cut and what the
-- view is (a continuous aggregate, or a materialized view with a unique index).
\if :use_timescaledb
\set hour_bucket 'time_bucket(''1 hour'', time)'
\set day_bucket 'time_bucket(''1 day'', time)'
\set view_kind 'WITH (timescaledb.continuous)'
\else
\set hour_bucket 'date_trunc(''hour'', time)'
\set day_bucket 'date_trunc(''day'', time)'
\set view_kind ''
\endif
\set grade_stats 'count(*) AS samples, count(*) FILTER (WHERE final_grade = ''A+'') AS grade_a_plus, count(*) FILTER (WHERE final_grade = ''A'') AS grade_a, count(*) FILTER (WHERE final_grade = ''B'') AS grade_b, count(*) FILTER (WHERE final_grade = ''C'') AS grade_c, count(*) FILTER (WHERE final_grade = ''REJECT'') AS grade_reject, count(*) FILTER (WHERE compliant) AS compliant, avg(final_score) AS avg_score, min(final_score) AS min_score, max(final_score) AS max_score'
CREATE MATERIALIZED VIEW quality.stats_hourly :view_kind AS
SELECT :hour_bucket AS bucket, :grade_stats
FROM quality.fusion_results
GROUP BY 1
WITH NO DATA;
CREATE MATERIALIZED VIEW quality.stats_by_eleveur :view_kind AS
SELECT :day_bucket AS bucket, eleveur, :grade_stats
FROM quality.fusion_results
GROUP BY 1, 2
WITH NO DATA;
\if :use_timescaledb
SELECT add_continuous_aggregate_policy('quality.stats_hourly',
    start_offset => interval '3 days', end_offset => interval '1 hour', schedule_interval => interval '15 minutes');
SELECT add_continuous_aggregate_policy('quality.stats_by_eleveur',
    start_offset => interval '7 days', end_offset => interval '1 hour', schedule_interval => interval '1 hour');
\else
CREATE UNIQUE INDEX ON quality.stats_hourly (bucket);
CREATE UNIQUE INDEX ON quality.stats_by_eleveur (bucket, eleveur);
\endif

-- Statistics over the last `hours` hours, from the hourly statistics (a weighted
-- average, so buckets with more samples count more).
CREATE FUNCTION quality.get_recent_stats(hours integer DEFAULT 24)
RETURNS TABLE (samples bigint, grade_a_plus bigint, grade_a bigint, grade_b bigint, grade_c bigint,
               grade_reject bigint, compliance_rate float8, avg_score float8, min_score float8, max_score float8)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT coalesce(sum(h.samples), 0)::bigint, coalesce(sum(h.grade_a_plus), 0)::bigint,
           coalesce(sum(h.grade_a), 0)::bigint, coalesce(sum(h.grade_b), 0)::bigint,
           coalesce(sum(h.grade_c), 0)::bigint, coalesce(sum(h.grade_reject), 0)::bigint,
           sum(h.compliant)::float8 / nullif(sum(h.samples), 0),
           sum(h.avg_score * h.samples) / nullif(sum(h.samples), 0),
           min(h.min_score), max(h.max_score)
    FROM quality.stats_hourly h
    WHERE h.bucket >= date_trunc('hour', now() - make_interval(hours => hours));
END;

COMMENT ON TABLE quality.fusion_results IS 'Fused quality verdicts, scored from quality.tof_raw and quality.spectral_raw by quality.score_new_samples().';
COMMENT ON FUNCTION quality.get_recent_stats(integer) IS 'Grade counts, compliance rate and scores over the last N hours (from quality.stats_hourly).';
