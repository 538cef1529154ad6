-- sensor_analytics 0.2.0 -> 0.3.0.
-- New: energy over a period (sensor.energy_agg, sensor.rollup(sensor.energy_state) and their
-- accessors, src/energy.rs); rollup tiers (sensor.enable_rollups and the rest of
-- sql/rollups.sql, sensor.rollup(sensor.m4)); sensor.downsample and sensor.channel_window
-- read the tiers and take a new last argument, source, so their old signatures are
-- dropped first (a view that calls them must be recreated). The other statements are the
-- ones `cargo pgrx schema` writes for these objects in the 0.3.0 install script.
\echo Use "ALTER EXTENSION sensor_analytics UPDATE TO '0.3.0'" to load this file. \quit

DROP FUNCTION sensor.downsample(regclass, name, name, timestamptz, timestamptz, integer, text, name, text, interval);
DROP FUNCTION sensor.channel_window(bigint, timestamptz, timestamptz, float8, float8, bigint, bigint, integer, text, boolean, interval);
DROP FUNCTION sensor.channel_window(text, text, text, timestamptz, timestamptz, float8, float8, integer, text, boolean, interval);
CREATE DOMAIN sensor.energy_state AS bytea;

CREATE OR REPLACE FUNCTION sensor.availability_report_share_trans(internal internal, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'availability_report_share_trans';


/* <begin connected objects> */
-- sensor_analytics::downsample::channels::channel_window
CREATE  FUNCTION "channel_window"(
	"channel_id" bigint, /* Option < i64 > */
	"from" timestamp with time zone DEFAULT NULL, /* Option < TimestampWithTimeZone > */
	"to" timestamp with time zone DEFAULT NULL, /* Option < TimestampWithTimeZone > */
	"from_seconds" double precision DEFAULT NULL, /* Option < f64 > */
	"to_seconds" double precision DEFAULT NULL, /* Option < f64 > */
	"from_index" bigint DEFAULT NULL, /* Option < i64 > */
	"to_index" bigint DEFAULT NULL, /* Option < i64 > */
	"points" INT DEFAULT 1000, /* Option < i32 > */
	"method" TEXT DEFAULT 'minmax_lttb', /* Option < & str > */
	"relative" bool DEFAULT false, /* Option < bool > */
	"gap" interval DEFAULT NULL, /* Option < Interval > */
	"source" TEXT DEFAULT 'auto' /* Option < & str > */
) RETURNS TABLE (
	"time" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"seconds" double precision,  /* Option < f64 > */
	"sample_index" bigint,  /* Option < i64 > */
	"value" double precision  /* Option < f64 > */
)
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'channel_window_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::downsample::channels::channel_window
CREATE  FUNCTION "channel_window"(
	"channel_id" TEXT, /* Option < & str > */
	"company" TEXT DEFAULT NULL, /* Option < & str > */
	"campaign" TEXT DEFAULT NULL, /* Option < & str > */
	"from" timestamp with time zone DEFAULT NULL, /* Option < TimestampWithTimeZone > */
	"to" timestamp with time zone DEFAULT NULL, /* Option < TimestampWithTimeZone > */
	"from_seconds" double precision DEFAULT NULL, /* Option < f64 > */
	"to_seconds" double precision DEFAULT NULL, /* Option < f64 > */
	"points" INT DEFAULT 1000, /* Option < i32 > */
	"method" TEXT DEFAULT 'minmax_lttb', /* Option < & str > */
	"relative" bool DEFAULT false, /* Option < bool > */
	"gap" interval DEFAULT NULL, /* Option < Interval > */
	"source" TEXT DEFAULT 'auto' /* Option < & str > */
) RETURNS TABLE (
	"time" timestamp with time zone,  /* TimestampWithTimeZone */
	"seconds" double precision,  /* Option < f64 > */
	"value" double precision  /* Option < f64 > */
)
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'channel_window_t302_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::covered
CREATE FUNCTION sensor.covered(state sensor.energy_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'covered_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::downsample::downsample
CREATE  FUNCTION "downsample"(
	"relation" regclass, /* Option < RegClass > */
	"time_column" name, /* Option < SqlName > */
	"value_column" name, /* Option < SqlName > */
	"from" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"to" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"points" INT, /* Option < i32 > */
	"method" TEXT DEFAULT 'minmax_lttb', /* Option < & str > */
	"series_column" name DEFAULT NULL, /* Option < SqlName > */
	"filter" TEXT DEFAULT NULL, /* Option < & str > */
	"gap" interval DEFAULT NULL, /* Option < Interval > */
	"source" TEXT DEFAULT 'auto' /* Option < & str > */
) RETURNS TABLE (
	"series" TEXT,  /* Option < String > */
	"time" timestamp with time zone,  /* TimestampWithTimeZone */
	"value" double precision  /* Option < f64 > */
)
STABLE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'downsample_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_combine
CREATE  FUNCTION "energy_combine"(
	"a" internal, /* Internal */
	"b" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_combine_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_deserialize
CREATE  FUNCTION "energy_deserialize"(
	"bytes" bytea, /* & [u8] */
	"_unused" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_deserialize_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_final
CREATE FUNCTION sensor.energy_final(internal) RETURNS sensor.energy_state
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_final_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_is_approximate
CREATE FUNCTION sensor.is_approximate(state sensor.energy_state) RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_is_approximate_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_rollup_trans
CREATE FUNCTION sensor.energy_rollup_trans(internal, sensor.energy_state) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_rollup_trans_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_serialize
CREATE  FUNCTION "energy_serialize"(
	"internal" internal /* Internal */
) RETURNS bytea /* SqlResult < Vec < u8 > > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_serialize_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_summary
CREATE FUNCTION sensor.energy_summary(state sensor.energy_state) RETURNS jsonb LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_summary_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_trans_max_gap
CREATE  FUNCTION "energy_trans_max_gap"(
	"internal" internal, /* Internal */
	"time" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"value" double precision, /* Option < f64 > */
	"max_gap" interval /* Option < PgInterval > */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'energy_trans_max_gap_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::energy_wh
CREATE FUNCTION sensor.energy_wh(state sensor.energy_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_wh_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::gap_time
CREATE FUNCTION sensor.gap_time(state sensor.energy_state) RETURNS interval LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gap_time_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::energy::gaps
CREATE FUNCTION sensor.gaps(state sensor.energy_state) RETURNS bigint LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'gaps_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::downsample::aggregates::m4_rollup_transition
CREATE  FUNCTION "m4_rollup_transition"(
	"state" internal, /* Internal */
	"summary" sensor.m4 /* Option < :: pgrx :: heap_tuple :: PgHeapTuple < '_, :: pgrx :: pgbox ::
AllocatedByRust > > */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'm4_rollup_transition_wrapper';
/* </end connected objects> */

CREATE AGGREGATE sensor.rollup(summary sensor.m4) (
    SFUNC = sensor.m4_rollup_transition, STYPE = internal,
    FINALFUNC = sensor.m4_summary_final, COMBINEFUNC = sensor.m4_summary_combine,
    SERIALFUNC = sensor.m4_summary_serialize,
    DESERIALFUNC = sensor.m4_summary_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE sensor.rollup(sensor.m4) IS
    'Merges sensor.m4 summaries (e.g. 1-minute buckets into an hour) into the summary of their union: first, min, max, last, count and sum as sensor.m4_summary over the rows of all of them would give. Combinable and parallel safe.';


/* <begin connected objects> */
-- sensor_analytics::energy::time_weighted_mean
CREATE FUNCTION sensor.time_weighted_mean(state sensor.energy_state) RETURNS float8 LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'time_weighted_mean_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- sensor_analytics::downsample::window_source
CREATE  FUNCTION "window_source"(
	"relation" regclass, /* Option < RegClass > */
	"time_column" name, /* Option < SqlName > */
	"value_column" name, /* Option < SqlName > */
	"from" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"to" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"points" INT, /* Option < i32 > */
	"method" TEXT DEFAULT 'minmax_lttb', /* Option < & str > */
	"series_column" name DEFAULT NULL, /* Option < SqlName > */
	"filter" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS TABLE (
	"source" TEXT,  /* String */
	"rollup" TEXT,  /* Option < String > */
	"tier" interval,  /* Option < Interval > */
	"from" timestamp with time zone,  /* TimestampWithTimeZone */
	"to" timestamp with time zone,  /* TimestampWithTimeZone */
	"points" INT,  /* i32 */
	"raw_from" timestamp with time zone  /* Option < TimestampWithTimeZone > */
)
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'window_source_wrapper';
/* </end connected objects> */

/* <begin connected objects> */
-- requires:
--   bootstrap


CREATE FUNCTION sensor.energy_trans(internal, timestamptz, float8) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'energy_trans';
/* </end connected objects> */

/* <begin connected objects> */
-- requires:
--   channel_window
--   channel_window_t302
--   channel_page


COMMENT ON FUNCTION sensor.channel_window(bigint, timestamptz, timestamptz, float8, float8, bigint, bigint, integer, text, boolean, interval, text) IS
    'A downsampled window of a loaded TDMS channel: by time ("from", "to"), by seconds from the channel''s first sample (from_seconds, to_seconds), or by sample index for channels without time (from_index, to_index); half-open, open ends meaning the first or last sample. relative => true fills seconds (offset from the first sample). With rollup tiers of sensor_data.samples (sensor.enable_rollups), a long window is served from the coarsest tier that gives the points, widened to its buckets, raw rows after what is materialized (source => ''raw'' forces raw rows, ''rollups'' requires a tier). Returns (time, seconds, sample_index, value); 42704 for an unknown channel.';
COMMENT ON FUNCTION sensor.channel_window(text, text, text, timestamptz, timestamptz, float8, float8, integer, text, boolean, interval, text) IS
    'A downsampled window of a T302 power-logger channel by its text id (sensor_data.tsv_channels.channel_id; add company and campaign when the id is in several campaigns), by time or by seconds from its first point; served from the rollup tiers of sensor_data.electrical_samples when they give the points (source as for the TDMS form). Returns (time, seconds, value).';
COMMENT ON FUNCTION sensor.channel_page(bigint, timestamptz, timestamptz, timestamptz, integer) IS
    'Keyset paging through the raw rows of a TDMS channel in [from, to) (NULL: unbounded), after the exclusive cursor after: at most limit rows in time order, except that a page never splits the rows of one timestamp. Every row carries has_more and next_cursor; pass next_cursor as after until has_more is false.';
/* </end connected objects> */

/* <begin connected objects> */
-- requires:
--   energy_trans
--   energy_trans_max_gap
--   energy_final
--   energy_combine
--   energy_serialize
--   energy_deserialize
--   energy_rollup_trans
--   energy_wh
--   time_weighted_mean
--   covered
--   gaps
--   gap_time
--   energy_is_approximate
--   energy_summary


CREATE AGGREGATE sensor.energy_agg("time" timestamptz, value float8) (
    SFUNC = sensor.energy_trans, STYPE = internal,
    FINALFUNC = sensor.energy_final, COMBINEFUNC = sensor.energy_combine,
    SERIALFUNC = sensor.energy_serialize,
    DESERIALFUNC = sensor.energy_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.energy_agg("time" timestamptz, value float8, max_gap interval) (
    SFUNC = sensor.energy_trans_max_gap, STYPE = internal,
    FINALFUNC = sensor.energy_final, COMBINEFUNC = sensor.energy_combine,
    SERIALFUNC = sensor.energy_serialize,
    DESERIALFUNC = sensor.energy_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.rollup(state sensor.energy_state) (
    SFUNC = sensor.energy_rollup_trans, STYPE = internal,
    FINALFUNC = sensor.energy_final, COMBINEFUNC = sensor.energy_combine,
    SERIALFUNC = sensor.energy_serialize,
    DESERIALFUNC = sensor.energy_deserialize, PARALLEL = SAFE);

COMMENT ON DOMAIN sensor.energy_state IS
    'State of sensor.energy_agg / sensor.rollup over a power series: the time integral with the first and last point, so that states of adjacent buckets merge with the segment between them. Read it with sensor.energy_wh(), time_weighted_mean(), covered(), gaps(), gap_time(), is_approximate(), energy_summary().';
COMMENT ON AGGREGATE sensor.energy_agg(timestamptz, float8) IS
    'Trapezoidal time integral of a power series (rows in any order; rows at one instant count as their mean; NULL and non-finite values skipped). Combinable and parallel safe; store it per bucket in a continuous aggregate and merge buckets with sensor.rollup, which adds the segments between buckets. Exact unless sensor.is_approximate says otherwise (a group larger than work_mem fed far out of time order).';
COMMENT ON AGGREGATE sensor.energy_agg(timestamptz, float8, interval) IS
    'sensor.energy_agg that does not integrate across a segment longer than max_gap (a power cut, a logger off): such gaps are counted by sensor.gaps() and sensor.gap_time().';
COMMENT ON AGGREGATE sensor.rollup(sensor.energy_state) IS
    'Merges energy states (e.g. hourly buckets into a day) into the state of the whole range, the segments between buckets included: equal to sensor.energy_agg over the rows of the whole range. States must share max_gap.';
COMMENT ON FUNCTION sensor.energy_wh(sensor.energy_state) IS 'The time integral in value x hours: watt-hours for values in watts.';
COMMENT ON FUNCTION sensor.time_weighted_mean(sensor.energy_state) IS 'The integral divided by the covered time; NULL when nothing is covered (a single instant, or only gaps).';
COMMENT ON FUNCTION sensor.covered(sensor.energy_state) IS 'The time actually integrated: first to last instant minus the gaps longer than max_gap.';
COMMENT ON FUNCTION sensor.gaps(sensor.energy_state) IS 'Number of segments longer than max_gap, not integrated.';
COMMENT ON FUNCTION sensor.gap_time(sensor.energy_state) IS 'Total duration of the gaps longer than max_gap.';
COMMENT ON FUNCTION sensor.is_approximate(sensor.energy_state) IS 'True when some rows could not be placed exactly (a group larger than work_mem fed far out of time order, or overlapping states merged); raise work_mem or feed rows in time order.';
COMMENT ON FUNCTION sensor.energy_summary(sensor.energy_state) IS 'Every figure of the state as jsonb (energy_wh, integral in value x seconds, time_weighted_mean, covered_s, gaps, gap_time_s, rows, first and last time and value, max_gap_s, approximate).';
/* </end connected objects> */

/* <begin connected objects> */
-- requires:
--   storage
--   energy_agg
--   downsample_aggregates

-- Rollup tiers: per series per bucket, an m4 summary (sensor.m4_summary) and an energy
-- state (sensor.energy_agg), at widths such as 1 minute, 1 hour, 1 day, each tier built
-- on the one below. Under TimescaleDB a tier of a hypertable is a hierarchical continuous
-- aggregate with a refresh policy; otherwise it is a table that sensor.refresh_rollups
-- fills. sensor.downsample and sensor.channel_window read the coarsest tier that still
-- gives the points asked for (src/downsample/tiers.rs).
--
-- The registry, sensor_data.rollup_tiers, belongs to the database like the loaded data
-- (sql/storage.sql): pg_dump dumps it with the tiers. It is made on first use.
--
-- Procedures cannot carry SET search_path and still COMMIT, so they set it for their
-- transaction and qualify everything; functions set it as usual.

CREATE FUNCTION sensor.rollup_registry() RETURNS regclass
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t record;
BEGIN
    IF pg_catalog.to_regclass('sensor_data.rollup_tiers') IS NULL THEN
        CREATE TABLE sensor_data.rollup_tiers (
            relation         regclass NOT NULL,
            level            integer NOT NULL CHECK (level >= 1),
            tier             interval NOT NULL,
            rollup           regclass NOT NULL UNIQUE,
            time_column      name NOT NULL,
            series_column    name NOT NULL,
            value_column     name NOT NULL,
            timescaledb      boolean NOT NULL,
            -- Tables only: the end of what sensor.refresh_rollups materialized. TimescaleDB
            -- keeps its own watermark per continuous aggregate.
            materialized_to  timestamptz,
            PRIMARY KEY (relation, level)
        );
        GRANT SELECT ON sensor_data.rollup_tiers TO PUBLIC;
        COMMENT ON TABLE sensor_data.rollup_tiers IS
            'Rollup tiers made by sensor.enable_rollups: per source relation and level, the tier width, the continuous aggregate or table holding it and the source columns. Read sensor.rollups instead.';
    END IF;
    -- Tiers dropped by hand or with DROP EXTENSION ... CASCADE: continuous aggregates go
    -- (they call its aggregates), tables stay without their summary and energy columns
    -- (of its types) and are of no use: dropped.
    FOR t IN SELECT r.rollup, r.timescaledb FROM sensor_data.rollup_tiers r
             WHERE NOT r.timescaledb AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = r.rollup)
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.rollup
                               AND a.attname = 'summary' AND NOT a.attisdropped) LOOP
        EXECUTE format('DROP TABLE %s', t.rollup);
    END LOOP;
    DELETE FROM sensor_data.rollup_tiers r
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = r.rollup)
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = r.relation);
    RETURN 'sensor_data.rollup_tiers'::pg_catalog.regclass;
END
$fn$;

-- The schema TimescaleDB is installed in, or NULL.
CREATE FUNCTION sensor.timescaledb_schema() RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'timescaledb'
$fn$;

-- A tier width as a name suffix: 1m, 15m, 1h, 1d, 1w, 30s.
CREATE FUNCTION sensor.rollup_label(tier interval) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN s % 604800 = 0 THEN (s / 604800) || 'w'
                WHEN s % 86400 = 0 THEN (s / 86400) || 'd'
                WHEN s % 3600 = 0 THEN (s / 3600) || 'h'
                WHEN s % 60 = 0 THEN (s / 60) || 'm'
                ELSE s || 's' END
    FROM (SELECT EXTRACT(epoch FROM tier)::pg_catalog.int8 AS s) e
$fn$;

-- The source columns of a relation: the ones named, else the known tables' (TDMS samples,
-- T302 electrical samples), else the only column that fits.
CREATE FUNCTION sensor.rollup_columns(relation regclass, given_time name, given_series name, given_value name,
                                      OUT time_column name, OUT series_column name, OUT value_column name)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    columns text;
    hint text;
BEGIN
    IF relation = 'sensor_data.samples'::regclass THEN
        time_column := 'time'; series_column := 'channel_id'; value_column := 'value';
    ELSIF relation = 'sensor_data.electrical_samples'::regclass THEN
        time_column := 'time'; series_column := 'channel'; value_column := 'value';
    END IF;
    time_column := coalesce(given_time, time_column);
    series_column := coalesce(given_series, series_column);
    value_column := coalesce(given_value, value_column);
    SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
    INTO columns
    FROM pg_attribute a WHERE a.attrelid = relation AND a.attnum > 0 AND NOT a.attisdropped;
    hint := format('Name it: %s has %s.', relation, columns);
    IF time_column IS NULL THEN
        SELECT min(a.attname) INTO time_column FROM pg_attribute a
        WHERE a.attrelid = relation AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'timestamptz'::regtype
        HAVING count(*) = 1;
    END IF;
    IF value_column IS NULL THEN
        SELECT min(a.attname) INTO value_column FROM pg_attribute a
        WHERE a.attrelid = relation AND a.attnum > 0 AND NOT a.attisdropped
          AND a.atttypid IN ('float8'::regtype, 'float4'::regtype, 'numeric'::regtype)
        HAVING count(*) = 1;
    END IF;
    IF series_column IS NULL THEN
        SELECT min(a.attname) INTO series_column FROM pg_attribute a
        WHERE a.attrelid = relation AND a.attnum > 0 AND NOT a.attisdropped
          AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'text'::regtype, 'varchar'::regtype)
          AND a.attname IS DISTINCT FROM time_column AND a.attname IS DISTINCT FROM value_column
        HAVING count(*) = 1;
    END IF;
    IF time_column IS NULL OR series_column IS NULL OR value_column IS NULL THEN
        RAISE EXCEPTION 'cannot tell the % column of %',
            CASE WHEN time_column IS NULL THEN 'time' WHEN series_column IS NULL THEN 'series' ELSE 'value' END, relation
            USING ERRCODE = '22023', HINT = hint;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = time_column
                   AND NOT a.attisdropped AND a.atttypid = 'timestamptz'::regtype) THEN
        RAISE EXCEPTION 'column % of % is not a timestamptz column', time_column, relation
            USING ERRCODE = '42703', HINT = hint;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = value_column AND NOT a.attisdropped
                   AND a.atttypid IN ('float8'::regtype, 'float4'::regtype, 'numeric'::regtype, 'int2'::regtype,
                                      'int4'::regtype, 'int8'::regtype)) THEN
        RAISE EXCEPTION 'column % of % is not a numeric column', value_column, relation
            USING ERRCODE = '42703', HINT = hint;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = series_column
                   AND a.attnum > 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'column % of % does not exist', series_column, relation
            USING ERRCODE = '42703', HINT = hint;
    END IF;
END
$fn$;

-- Checks the tiers: increasing, fixed widths (no months), each a multiple of the one below.
CREATE FUNCTION sensor.rollup_check_tiers(tiers interval[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    i integer;
    us int8;
    below int8;
BEGIN
    IF tiers IS NULL OR cardinality(tiers) = 0 THEN
        RAISE EXCEPTION 'tiers must name at least one width' USING ERRCODE = '22023';
    END IF;
    FOR i IN 1 .. cardinality(tiers) LOOP
        IF tiers[i] IS NULL OR extract(month FROM tiers[i]) <> 0 OR extract(year FROM tiers[i]) <> 0 THEN
            RAISE EXCEPTION 'tier % must be a fixed width (no months or years), not %', i, coalesce(tiers[i]::text, 'NULL')
                USING ERRCODE = '22023';
        END IF;
        us := (extract(epoch FROM tiers[i]) * 1000000)::int8;
        IF us < 1000000 THEN
            RAISE EXCEPTION 'tier % must be at least 1 second, not %', i, tiers[i] USING ERRCODE = '22023';
        END IF;
        IF below IS NOT NULL AND (us <= below OR us % below <> 0) THEN
            RAISE EXCEPTION 'tier % (%) must be a multiple of the tier below it (%)', i, tiers[i], tiers[i - 1]
                USING ERRCODE = '22023', HINT = 'For example: ARRAY[''1 minute'', ''1 hour'', ''1 day'']::interval[].';
        END IF;
        below := us;
    END LOOP;
END
$fn$;

CREATE FUNCTION sensor.is_hypertable(relation regclass) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    answer boolean;
BEGIN
    IF sensor.timescaledb_schema() IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT FROM _timescaledb_catalog.hypertable h JOIN pg_catalog.pg_class c ON c.relname = h.table_name
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = h.schema_name WHERE c.oid = $1)'
    INTO answer USING relation;
    RETURN answer;
END
$fn$;

CREATE PROCEDURE sensor.enable_rollups(
    relation regclass,
    tiers interval[] DEFAULT ARRAY['1 minute', '15 minutes', '1 hour', '1 day']::interval[],
    time_column name DEFAULT NULL,
    series_column name DEFAULT NULL,
    value_column name DEFAULT NULL,
    backfill boolean DEFAULT true)
LANGUAGE plpgsql
AS $proc$
DECLARE
    saved_path text := pg_catalog.current_setting('search_path');
    cols record;
    tsdb name;
    hyper boolean;
    rel_schema name;
    rel_name name;
    series_type text;
    i integer;
    tier_name text;
    below text;
    query text;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22023';
    END IF;
    PERFORM sensor.rollup_check_tiers(tiers);
    PERFORM sensor.rollup_registry();
    IF EXISTS (SELECT FROM sensor_data.rollup_tiers r WHERE r.relation = enable_rollups.relation) THEN
        RAISE EXCEPTION 'rollups of % exist already', relation
            USING ERRCODE = '42710', HINT = 'sensor.disable_rollups(relation) drops them.';
    END IF;
    cols := sensor.rollup_columns(relation, time_column, series_column, value_column);
    tsdb := sensor.timescaledb_schema();
    hyper := sensor.is_hypertable(relation);
    SELECT n.nspname, c.relname INTO rel_schema, rel_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation;
    SELECT format_type(a.atttypid, a.atttypmod) INTO series_type
    FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = cols.series_column;
    FOR i IN 1 .. cardinality(tiers) LOOP
        tier_name := format('%I.%I', rel_schema, left(rel_name, 40) || '_rollup_' || sensor.rollup_label(tiers[i]));
        IF hyper THEN
            IF i = 1 THEN
                query := format('SELECT %1$I, %2$I.time_bucket(%3$L::pg_catalog.interval, %4$I) AS bucket, '
                                'sensor.m4_summary(%4$I, CAST(%5$I AS pg_catalog.float8)) AS summary, '
                                'sensor.energy_agg(%4$I, CAST(%5$I AS pg_catalog.float8)) AS energy FROM %6$s GROUP BY 1, 2',
                                cols.series_column, tsdb, tiers[i], cols.time_column, cols.value_column, relation);
            ELSE
                query := format('SELECT %1$I, %2$I.time_bucket(%3$L::pg_catalog.interval, bucket) AS bucket, '
                                'sensor.rollup(summary) AS summary, sensor.rollup(energy) AS energy FROM %4$s GROUP BY 1, 2',
                                cols.series_column, tsdb, tiers[i], below);
            END IF;
            EXECUTE format('CREATE MATERIALIZED VIEW %s WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS %s WITH NO DATA',
                           tier_name, query);
            -- A week of buckets of the first tier per chunk (TimescaleDB would take ten
            -- source chunks): a long window plans and reads a few chunks, not hundreds.
            EXECUTE format('SELECT %I.set_chunk_time_interval(%L::pg_catalog.regclass, %L::pg_catalog.interval)',
                           tsdb, tier_name, tiers[i] * 10080);
        ELSE
            EXECUTE format('CREATE TABLE %s (%I %s NOT NULL, bucket timestamptz NOT NULL, summary sensor.m4 NOT NULL, '
                           'energy sensor.energy_state NOT NULL, PRIMARY KEY (%I, bucket))',
                           tier_name, cols.series_column, series_type, cols.series_column);
        END IF;
        -- A continuous aggregate is a view in the catalog.
        EXECUTE format('COMMENT ON %s %s IS %L', CASE WHEN hyper THEN 'VIEW' ELSE 'TABLE' END, tier_name,
                       format('Rollup tier %s of %s (sensor.enable_rollups): per %s per bucket, the sensor.m4 summary and '
                              'the sensor.energy_state of %s.', sensor.rollup_label(tiers[i]), relation,
                              cols.series_column, cols.value_column));
        INSERT INTO sensor_data.rollup_tiers (relation, level, tier, rollup, time_column, series_column, value_column, timescaledb)
        VALUES (relation, i, tiers[i], tier_name::regclass, cols.time_column, cols.series_column, cols.value_column, hyper);
        below := tier_name;
    END LOOP;
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
    IF backfill THEN
        CALL sensor.refresh_rollups(relation);
    END IF;
    -- The policies come after the backfill, which they would otherwise race (TimescaleDB
    -- refuses a refresh of a window another refresh holds). start_offset NULL: late rows
    -- of any age are refreshed, only where invalidated; end_offset: the bucket still
    -- filling is left to the raw rows.
    IF hyper THEN
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
        FOR i IN 1 .. cardinality(tiers) LOOP
            EXECUTE format('SELECT %I.add_continuous_aggregate_policy(%L::pg_catalog.regclass, start_offset => NULL, '
                           'end_offset => %L::pg_catalog.interval, schedule_interval => %L::pg_catalog.interval)',
                           tsdb, (SELECT r.rollup FROM sensor_data.rollup_tiers r
                                  WHERE r.relation = enable_rollups.relation AND r.level = i),
                           tiers[i], least(tiers[i], interval '1 hour'));
        END LOOP;
        PERFORM pg_catalog.set_config('search_path', saved_path, true);
    END IF;
END
$proc$;

CREATE PROCEDURE sensor.refresh_rollups(relation regclass, "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
LANGUAGE plpgsql
AS $proc$
DECLARE
    saved_path text := pg_catalog.current_setting('search_path');
    t record;
    first_tier record;
    top interval;
    lo timestamptz;
    hi timestamptz;
    source_end timestamptz;
    contiguous boolean;
    step interval;
    cursor_at timestamptz;
    step_end timestamptz;
    tier_end timestamptz;
    steps integer;
    done integer := 0;
    tsdb name;
    origin constant timestamptz := '2000-01-03 00:00:00+00';
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    PERFORM sensor.rollup_registry();
    SELECT * INTO first_tier FROM sensor_data.rollup_tiers r WHERE r.relation = refresh_rollups.relation AND r.level = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% has no rollups', relation USING ERRCODE = '42704', HINT = 'CALL sensor.enable_rollups(relation) first.';
    END IF;
    SELECT max(r.tier) INTO top FROM sensor_data.rollup_tiers r WHERE r.relation = refresh_rollups.relation;
    EXECUTE format('SELECT min(%1$I), max(%1$I) FROM %2$s', first_tier.time_column, relation) INTO lo, source_end;
    lo := coalesce("from", lo);
    -- By default only whole buckets: the one holding the last row may still fill up.
    hi := coalesce("to", source_end);
    IF lo IS NULL OR hi IS NULL OR lo >= hi THEN
        RAISE NOTICE 'rollups of %: nothing to refresh', relation;
        PERFORM pg_catalog.set_config('search_path', saved_path, true);
        RETURN;
    END IF;
    -- Whole buckets of the widest tier, so that every tier is refreshed over the same span.
    lo := date_bin(top, lo, origin);
    hi := date_bin(top, hi - interval '1 microsecond', origin) + top;
    contiguous := "from" IS NULL OR lo <= (SELECT min(r.materialized_to) FROM sensor_data.rollup_tiers r
                                           WHERE r.relation = refresh_rollups.relation);
    -- Steps of about a day (whole widest-tier buckets): progress is committed and shown.
    step := top * greatest(1, ceil(extract(epoch FROM interval '1 day') / extract(epoch FROM top)))::integer;
    steps := ceil(extract(epoch FROM hi - lo) / extract(epoch FROM step))::integer;
    tsdb := sensor.timescaledb_schema();
    cursor_at := lo;
    WHILE cursor_at < hi LOOP
        step_end := least(cursor_at + step, hi);
        FOR t IN SELECT * FROM sensor_data.rollup_tiers r WHERE r.relation = refresh_rollups.relation ORDER BY r.level LOOP
            tier_end := step_end;
            IF "to" IS NULL THEN
                tier_end := least(step_end, date_bin(t.tier, source_end, origin));
            END IF;
            CONTINUE WHEN tier_end - cursor_at < t.tier;
            IF t.timescaledb THEN
                -- A static CALL: TimescaleDB refuses to refresh from dynamic SQL (a "function").
                -- Its schema first in the path for this one statement; it holds only its own objects.
                PERFORM pg_catalog.set_config('search_path', pg_catalog.format('%I, pg_catalog, pg_temp', tsdb), true);
                CALL refresh_continuous_aggregate(t.rollup, cursor_at, tier_end);
                PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
            ELSE
                EXECUTE format('DELETE FROM %s WHERE bucket >= $1 AND bucket < $2', t.rollup) USING cursor_at, tier_end;
                IF t.level = 1 THEN
                    EXECUTE format('INSERT INTO %1$s SELECT %2$I, pg_catalog.date_bin(%3$L::pg_catalog.interval, %4$I, %5$L), '
                                   'sensor.m4_summary(%4$I, CAST(%6$I AS pg_catalog.float8)), '
                                   'sensor.energy_agg(%4$I, CAST(%6$I AS pg_catalog.float8)) '
                                   'FROM %7$s WHERE %4$I >= $1 AND %4$I < $2 AND %2$I IS NOT NULL GROUP BY 1, 2 '
                                   'HAVING sensor.m4_summary(%4$I, CAST(%6$I AS pg_catalog.float8)) IS NOT NULL',
                                   t.rollup, t.series_column, t.tier, t.time_column, origin, t.value_column, relation)
                    USING cursor_at, tier_end;
                ELSE
                    EXECUTE format('INSERT INTO %1$s SELECT %2$I, pg_catalog.date_bin(%3$L::pg_catalog.interval, bucket, %4$L), '
                                   'sensor.rollup(summary), sensor.rollup(energy) FROM %5$s '
                                   'WHERE bucket >= $1 AND bucket < $2 GROUP BY 1, 2',
                                   t.rollup, t.series_column, t.tier, origin,
                                   (SELECT b.rollup FROM sensor_data.rollup_tiers b
                                    WHERE b.relation = refresh_rollups.relation AND b.level = t.level - 1))
                    USING cursor_at, tier_end;
                END IF;
                IF contiguous THEN
                    UPDATE sensor_data.rollup_tiers r SET materialized_to = greatest(r.materialized_to, tier_end)
                    WHERE r.relation = refresh_rollups.relation AND r.level = t.level;
                END IF;
            END IF;
        END LOOP;
        done := done + 1;
        RAISE NOTICE 'rollups of %: % to % refreshed (step % of %)', relation, cursor_at, step_end, done, steps;
        cursor_at := step_end;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    END LOOP;
    PERFORM pg_catalog.set_config('search_path', saved_path, true);
END
$proc$;

CREATE FUNCTION sensor.disable_rollups(relation regclass) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t record;
    dropped integer := 0;
BEGIN
    IF pg_catalog.to_regclass('sensor_data.rollup_tiers') IS NULL THEN
        RETURN 0;
    END IF;
    -- Rows of tiers that no longer exist go first.
    PERFORM sensor.rollup_registry();
    FOR t IN SELECT r.rollup, r.timescaledb, r.level FROM sensor_data.rollup_tiers r
             WHERE r.relation = disable_rollups.relation ORDER BY r.level DESC LOOP
        DELETE FROM sensor_data.rollup_tiers r WHERE r.relation = disable_rollups.relation AND r.level = t.level;
        EXECUTE format('DROP %s %s', CASE WHEN t.timescaledb THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, t.rollup);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$fn$;

-- How far a tier is materialized: TimescaleDB's watermark of a continuous aggregate, or
-- what sensor.refresh_rollups recorded for a table. NULL when nothing is.
CREATE FUNCTION sensor.rollup_watermark(rollup regclass) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t record;
    mark timestamptz;
BEGIN
    SELECT r.timescaledb, r.materialized_to INTO t FROM sensor_data.rollup_tiers r WHERE r.rollup = rollup_watermark.rollup;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT t.timescaledb THEN
        RETURN t.materialized_to;
    END IF;
    -- Before the first refresh the watermark is the lowest time TimescaleDB knows.
    EXECUTE 'SELECT CASE WHEN w > -210866803200000000 THEN _timescaledb_functions.to_timestamp(w) END
             FROM _timescaledb_catalog.continuous_agg a
             JOIN pg_catalog.pg_class c ON c.relname = a.user_view_name
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = a.user_view_schema
             CROSS JOIN LATERAL (SELECT _timescaledb_functions.cagg_watermark(a.mat_hypertable_id) AS w) m
             WHERE c.oid = $1'
    INTO mark USING rollup;
    RETURN mark;
END
$fn$;

-- What exists, and how far each tier is materialized.
CREATE FUNCTION sensor.rollup_list()
RETURNS TABLE (relation regclass, level integer, tier interval, rollup regclass, kind text, time_column name,
               series_column name, value_column name, materialized_to timestamptz, refresh_job integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t record;
BEGIN
    IF pg_catalog.to_regclass('sensor_data.rollup_tiers') IS NULL THEN
        RETURN;
    END IF;
    -- Tiers that still hold summaries (see sensor.rollup_registry).
    FOR t IN SELECT * FROM sensor_data.rollup_tiers r
             WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.rollup
                           AND a.attname = 'summary' AND NOT a.attisdropped)
             ORDER BY r.relation::text, r.level LOOP
        relation := t.relation; level := t.level; tier := t.tier; rollup := t.rollup;
        time_column := t.time_column; series_column := t.series_column; value_column := t.value_column;
        materialized_to := sensor.rollup_watermark(t.rollup);
        refresh_job := NULL;
        kind := CASE WHEN t.timescaledb THEN 'continuous aggregate' ELSE 'table' END;
        IF t.timescaledb THEN
            EXECUTE 'SELECT j.id FROM _timescaledb_catalog.continuous_agg a
                     JOIN pg_catalog.pg_class c ON c.relname = a.user_view_name
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace AND n.nspname = a.user_view_schema
                     JOIN _timescaledb_config.bgw_job j ON j.hypertable_id = a.mat_hypertable_id
                          AND j.proc_name = ''policy_refresh_continuous_aggregate''
                     WHERE c.oid = $1'
            INTO refresh_job USING t.rollup;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;

CREATE VIEW sensor.rollups AS SELECT * FROM sensor.rollup_list();

COMMENT ON FUNCTION sensor.rollup_registry() IS 'Makes sensor_data.rollup_tiers, the registry of rollup tiers, when it does not exist; returns it.';
COMMENT ON FUNCTION sensor.timescaledb_schema() IS 'The schema TimescaleDB is installed in, or NULL when it is not installed in this database.';
COMMENT ON FUNCTION sensor.rollup_label(interval) IS 'A tier width as the suffix of its rollup''s name: 1m, 15m, 1h, 1d, 1w, 30s.';
COMMENT ON FUNCTION sensor.rollup_columns(regclass, name, name, name) IS 'The time, series and value columns of a relation for sensor.enable_rollups: those named, else the known tables'' (sensor_data.samples, sensor_data.electrical_samples), else the only column of a fitting type.';
COMMENT ON FUNCTION sensor.rollup_check_tiers(interval[]) IS 'Checks rollup tier widths: increasing, fixed (no months), at least 1 second, each a multiple of the one below (22023 otherwise).';
COMMENT ON FUNCTION sensor.is_hypertable(regclass) IS 'Whether the relation is a TimescaleDB hypertable (false without TimescaleDB).';
COMMENT ON PROCEDURE sensor.enable_rollups(regclass, interval[], name, name, name, boolean) IS
    'Creates rollup tiers of a relation with a time, a series and a value column (default tiers 1 minute, 15 minutes, 1 hour, 1 day): per series per bucket, a sensor.m4 summary and a sensor.energy_state, each tier built on the one below. A hypertable gets hierarchical continuous aggregates with refresh policies; any other table gets tables filled by sensor.refresh_rollups. With backfill (the default) existing rows are materialized at once, a day at a time with a NOTICE each: CALL it outside a transaction block. sensor.downsample and sensor.channel_window then serve long windows from the tiers.';
COMMENT ON PROCEDURE sensor.refresh_rollups(regclass, timestamptz, timestamptz) IS
    'Materializes the rollup tiers of a relation over [from, to) (default: all its rows), widened to whole buckets of the widest tier, a day at a time, committing and reporting each step. Under TimescaleDB it calls refresh_continuous_aggregate (late rows are refreshed by the policies too); for tables, call it again over a window that received late rows.';
COMMENT ON FUNCTION sensor.disable_rollups(regclass) IS 'Drops the rollup tiers of a relation (continuous aggregates with their policies, or tables); returns how many.';
COMMENT ON FUNCTION sensor.rollup_watermark(regclass) IS 'How far a rollup tier is materialized: TimescaleDB''s watermark of its continuous aggregate, or the end of what sensor.refresh_rollups wrote to its table; NULL when nothing is.';
COMMENT ON FUNCTION sensor.rollup_list() IS 'The rollup tiers that exist (see the view sensor.rollups).';
COMMENT ON VIEW sensor.rollups IS
    'Rollup tiers per source relation: level, width, the continuous aggregate or table holding it, the source columns, how far it is materialized (TimescaleDB''s watermark, or what sensor.refresh_rollups did) and its refresh policy''s job.';
/* </end connected objects> */

/* <begin connected objects> */
-- requires:
--   downsample
--   downsample_arrays
--   window_source


COMMENT ON FUNCTION sensor.downsample(regclass, name, name, timestamptz, timestamptz, integer, text, name, text, interval, text) IS
    'Downsamples [from, to) of a table to about points points per series (methods minmax_lttb (default), lttb (exact, equal-count buckets), m4, minmax, uniform, avg), streaming the rows: memory O(points) per series. Returns (series, time, value); series is the series_column value as text, or the value column name. filter is an SQL boolean expression added to the WHERE clause; the function is SECURITY INVOKER, so the query and the filter run with the caller''s privileges. gap inserts a NULL-value row between output neighbours farther apart than gap, so Grafana breaks the line. When the table has rollup tiers (sensor.enable_rollups) and source is ''auto'' (the default), a window long enough is served from the coarsest tier that gives the points, widened to whole buckets (sensor.window_source tells which and how): exact for m4, minmax, minmax_lttb, uniform and avg, approximate for lttb; a filter that mentions another column than the series column falls back to raw rows. source => ''raw'' forces raw rows, ''rollups'' requires a tier. PARALLEL RESTRICTED: the relation may be a temporary table, which parallel workers cannot read; its own query may use a parallel plan.';
COMMENT ON FUNCTION sensor.window_source(regclass, name, name, timestamptz, timestamptz, integer, text, name, text) IS
    'Which source sensor.downsample with the same arguments reads: ''raw'', or ''rollup'' with the tier (its continuous aggregate or table and width), the widened window [from, to) and point count it serves, and raw_from, where the materialized tiers end and raw rows take over (NULL when they cover the window).';
COMMENT ON FUNCTION sensor.downsample_arrays(timestamptz[], float8[], integer, text) IS
    'The batch kernel on arrays of times and values: lttb is identical to the lttb crate (equal-count buckets); other methods use equal-time bins over the points'' span. NULL elements, NaN and infinite values are skipped.';
/* </end connected objects> */


-- As sql/foundation.sql does for every aggregate: each support function says whom it serves.
DO $comment$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT s.fn::pg_catalog.regprocedure AS fn,
               pg_catalog.string_agg(DISTINCT 'sensor.' || p.proname, ', ') AS aggregates
        FROM pg_catalog.pg_aggregate a
        CROSS JOIN LATERAL (VALUES (a.aggtransfn), (a.aggfinalfn), (a.aggcombinefn),
                                   (a.aggserialfn), (a.aggdeserialfn)) s(fn)
        JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid
        WHERE p.pronamespace = 'sensor'::pg_catalog.regnamespace AND s.fn <> 0
        GROUP BY s.fn
    LOOP
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s IS %L', r.fn,
                                  'Support function of the aggregate ' || r.aggregates || '.');
    END LOOP;
END
$comment$;

-- Every function points to its page in docs/, which holds runnable examples. Overloads of
-- one name (rollup, is_approximate) are told apart by their argument type.
DO $pages$
DECLARE
    r record;
    page text;
BEGIN
    FOR r IN
        SELECT p.oid, p.proname, p.prokind, d.description,
               pg_catalog.pg_get_function_identity_arguments(p.oid) AS args
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                                        AND d.objsubid = 0
        WHERE p.pronamespace = 'sensor'::pg_catalog.regnamespace
          AND d.description NOT LIKE 'Support function%' AND d.description NOT LIKE '%docs/%'
    LOOP
        page := CASE
            WHEN r.args LIKE '%energy_state%' THEN 'energy'
            WHEN r.args LIKE '%availability_state%' THEN 'availability'
            WHEN r.proname ~ '^(energy|time_weighted_mean|covered|gaps|gap_time)' THEN 'energy'
            WHEN r.proname ~ '^(downsample|m4_|points|channel_window|channel_page|window_source|enable_rollups|refresh_rollups|disable_rollups|rollup)' THEN 'downsampling'
            WHEN r.proname ~ '^(availability|uptime|downtime|unknown_time|time_in|outages|longest_outage|mtbf|mttr|first_state|last_state|state_timeline|is_approximate)' THEN 'availability'
            WHEN r.proname ~ '^(tof_|spectral_|quality_)' THEN 'quality'
            WHEN r.proname ~ '^(tdms_|load_tdms|delete_dataset|tsv_|load_tsv|grant_company|revoke_company)' THEN 'ingestion'
            WHEN r.proname ~ '^(arrow_|clickhouse_)' THEN 'export'
            WHEN r.proname ~ '^(version|build_info|create_storage|enable_hypertables|timescaledb_schema|is_hypertable)' THEN 'operations'
        END;
        CONTINUE WHEN page IS NULL;
        EXECUTE pg_catalog.format('COMMENT ON %s %s IS %L',
                                  CASE r.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                                  r.oid::pg_catalog.regprocedure, r.description || ' See docs/' || page || '.md.');
    END LOOP;
END
$pages$;
