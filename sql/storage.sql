-- Storage for loaded data: the TDMS catalog and samples, the T302 (PowerView) channels
-- and samples. Sample tables become hypertables when TimescaleDB is installed
-- (sensor.enable_hypertables(), run at CREATE EXTENSION and callable later).
-- Sample tables have no foreign keys: a per-row FK check would dominate bulk loads;
-- the load and delete functions keep them consistent.

-- TDMS ------------------------------------------------------------------------------
CREATE TABLE sensor.datasets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    source_file text,
    sha256      text NOT NULL,
    bytes       bigint NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    properties  jsonb NOT NULL DEFAULT '{}',
    -- Group properties by group name, and the reader's warnings (e.g. a truncated last segment).
    group_properties jsonb NOT NULL DEFAULT '{}',
    warnings    text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX datasets_sha256 ON sensor.datasets (sha256);

CREATE TABLE sensor.channels (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id  bigint NOT NULL REFERENCES sensor.datasets (id) ON DELETE CASCADE,
    group_name  text NOT NULL,
    name        text NOT NULL,
    unit        text,
    data_type   text NOT NULL,
    has_time    boolean NOT NULL,
    start_time  timestamptz,
    increment_s float8,
    n_samples   bigint NOT NULL,
    properties  jsonb NOT NULL DEFAULT '{}',
    UNIQUE (dataset_id, group_name, name)
);

-- Samples of channels with waveform time.
CREATE TABLE sensor.samples (
    channel_id  bigint NOT NULL,
    time        timestamptz NOT NULL,
    value       float8
);
CREATE INDEX samples_channel_time ON sensor.samples (channel_id, time);

-- Samples of channels without time, addressed by index.
CREATE TABLE sensor.indexed_samples (
    channel_id   bigint NOT NULL,
    sample_index bigint NOT NULL,
    value        float8
);
CREATE INDEX indexed_samples_channel_index ON sensor.indexed_samples (channel_id, sample_index);

-- T302 power loggers (PowerView TSV) -------------------------------------------------
CREATE TABLE sensor.tsv_channels (
    id               integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company          text NOT NULL,
    campaign         text NOT NULL,
    device_master_sn text NOT NULL,
    channel_id       text NOT NULL,
    device_sn        text NOT NULL,
    device_type      text NOT NULL CHECK (device_type IN ('master', 'slave')),
    label            text NOT NULL,
    name             text NOT NULL,
    unit             text,
    source_format    text NOT NULL,
    UNIQUE (company, campaign, channel_id)
);

CREATE TABLE sensor.electrical_samples (
    time     timestamptz NOT NULL,
    channel  integer NOT NULL,
    value    float8,
    PRIMARY KEY (channel, time)
);

-- Hypertables ------------------------------------------------------------------------
CREATE FUNCTION sensor.enable_hypertables() RETURNS text[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tsdb_schema name;
    converted text[] := '{}';
    t record;
BEGIN
    SELECT n.nspname INTO tsdb_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'timescaledb';
    IF tsdb_schema IS NULL THEN
        RETURN converted;
    END IF;
    FOR t IN
        SELECT * FROM (VALUES ('sensor.samples', 'time', interval '1 hour'),
                              ('sensor.electrical_samples', 'time', interval '7 days')) v(rel, col, chunk)
    LOOP
        -- if_not_exists makes a second call harmless.
        EXECUTE format('SELECT %I.create_hypertable(%L::regclass, %L, chunk_time_interval => %L::interval, if_not_exists => true, migrate_data => true)',
                       tsdb_schema, t.rel, t.col, t.chunk);
        converted := converted || t.rel;
    END LOOP;
    RETURN converted;
END
$fn$;

SELECT sensor.enable_hypertables();

-- pg_dump must keep the rows users load into these tables.
SELECT pg_catalog.pg_extension_config_dump('sensor.datasets', '');
SELECT pg_catalog.pg_extension_config_dump('sensor.channels', '');
SELECT pg_catalog.pg_extension_config_dump('sensor.samples', '');
SELECT pg_catalog.pg_extension_config_dump('sensor.indexed_samples', '');
SELECT pg_catalog.pg_extension_config_dump('sensor.tsv_channels', '');
SELECT pg_catalog.pg_extension_config_dump('sensor.electrical_samples', '');

COMMENT ON TABLE sensor.datasets IS 'TDMS files loaded by sensor.load_tdms / load_tdms_bytes: one row per file, with its sha256 and file properties.';
COMMENT ON TABLE sensor.channels IS 'Channels of loaded TDMS datasets: group, name, unit, type, waveform time (start, increment), sample count, properties.';
COMMENT ON TABLE sensor.samples IS 'Samples of TDMS channels with waveform time (channel_id, time, value); a hypertable when TimescaleDB is installed.';
COMMENT ON TABLE sensor.indexed_samples IS 'Samples of TDMS channels without time, addressed by sample index.';
COMMENT ON TABLE sensor.tsv_channels IS 'T302 power-logger channels: one row per company, campaign and channel_id (M{master}_{label} or M{master}_S{slave}_{label}, master = the serial number written in the file); device_master_sn is the upload folder. Row-level security: a role sees the channels of its companies.';
COMMENT ON TABLE sensor.electrical_samples IS 'T302 power-logger points (time, channel, value), unique per channel and time; a hypertable when TimescaleDB is installed.';
COMMENT ON FUNCTION sensor.enable_hypertables() IS 'Turns the sample tables into TimescaleDB hypertables when TimescaleDB is installed (run by CREATE EXTENSION; call it again after installing TimescaleDB later). Returns the tables it converted.';
