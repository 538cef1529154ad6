-- sensor_analytics 0.1.0 -> 0.2.0.
-- Loaded data moves from schema sensor to schema sensor_data, which belongs to the database
-- and not to the extension (see sql/storage.sql): pg_dump dumps it like any schema, a restore
-- adopts it, DROP EXTENSION leaves it. Tables move with ALTER TABLE ... SET SCHEMA: rows,
-- hypertable chunks, indexes, identity sequences, grants and policies stay as they are.
-- Tenant roles lose their table privileges and read security-barrier views instead.
-- Functions implemented in C keep their signatures; their library is the new one already.
\echo Use "ALTER EXTENSION sensor_analytics UPDATE TO '0.2.0'" to load this file. \quit

CREATE OR REPLACE FUNCTION sensor.enable_hypertables() RETURNS text[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tsdb_schema name;
    converted text[] := '{}';
    t record;
BEGIN
    SELECT n.nspname INTO tsdb_schema
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'timescaledb';
    IF tsdb_schema IS NULL THEN
        RETURN converted;
    END IF;
    FOR t IN
        SELECT * FROM (VALUES ('sensor_data.samples', 'time', interval '1 hour'),
                              ('sensor_data.electrical_samples', 'time', interval '7 days')) v(rel, col, chunk)
    LOOP
        -- if_not_exists makes a second call harmless.
        EXECUTE pg_catalog.format('SELECT %I.create_hypertable(%L::pg_catalog.regclass, %L, chunk_time_interval => %L::pg_catalog.interval, if_not_exists => true, migrate_data => true)',
                                  tsdb_schema, t.rel, t.col, t.chunk);
        converted := converted || t.rel;
    END LOOP;
    RETURN converted;
END
$fn$;

CREATE FUNCTION sensor.create_storage() RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ext oid;
    member record;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'sensor_data') THEN
        RETURN false;
    END IF;
    CREATE SCHEMA sensor_data;
    COMMENT ON SCHEMA sensor_data IS
        'Data loaded by sensor_analytics (TDMS datasets, T302 points, load reports, tenant mappings). It belongs to the database, not to the extension: pg_dump dumps it like any schema and DROP EXTENSION sensor_analytics leaves it; CREATE EXTENSION adopts it when it exists.';

    -- TDMS ---------------------------------------------------------------------------
    CREATE TABLE sensor_data.datasets (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name        text NOT NULL,
        source_file text,
        sha256      text NOT NULL,
        bytes       bigint NOT NULL,
        loaded_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
        properties  jsonb NOT NULL DEFAULT '{}',
        -- Group properties by group name, and the reader's warnings (e.g. a truncated last segment).
        group_properties jsonb NOT NULL DEFAULT '{}',
        warnings    text[] NOT NULL DEFAULT '{}'
    );
    -- One dataset per file content: concurrent loads of one file load it once, at any
    -- isolation level (the second waits, then finds it, or fails with 40001).
    CREATE UNIQUE INDEX datasets_sha256 ON sensor_data.datasets (sha256);

    CREATE TABLE sensor_data.channels (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dataset_id  bigint NOT NULL REFERENCES sensor_data.datasets (id) ON DELETE CASCADE,
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
    CREATE TABLE sensor_data.samples (
        channel_id  bigint NOT NULL,
        time        timestamptz NOT NULL,
        value       float8
    );
    CREATE INDEX samples_channel_time ON sensor_data.samples (channel_id, time);

    -- Samples of channels without time, addressed by index.
    CREATE TABLE sensor_data.indexed_samples (
        channel_id   bigint NOT NULL,
        sample_index bigint NOT NULL,
        value        float8
    );
    CREATE INDEX indexed_samples_channel_index ON sensor_data.indexed_samples (channel_id, sample_index);

    -- T302 power loggers (PowerView TSV) ---------------------------------------------
    CREATE TABLE sensor_data.tsv_channels (
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

    CREATE TABLE sensor_data.electrical_samples (
        time     timestamptz NOT NULL,
        channel  integer NOT NULL,
        value    float8,
        PRIMARY KEY (channel, time)
    );

    CREATE TABLE sensor_data.tsv_runs (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        base_dir    text NOT NULL,
        move_files  boolean NOT NULL,
        started_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
        finished_at timestamptz,
        duration_ms float8,
        files_total integer NOT NULL DEFAULT 0,
        succeeded   integer NOT NULL DEFAULT 0,
        loaded      integer NOT NULL DEFAULT 0,
        no_data     integer NOT NULL DEFAULT 0,
        unsupported integer NOT NULL DEFAULT 0,
        duplicate   integer NOT NULL DEFAULT 0,
        deferred    integer NOT NULL DEFAULT 0,
        failed      integer NOT NULL DEFAULT 0,
        skipped     integer NOT NULL DEFAULT 0,
        points      bigint NOT NULL DEFAULT 0
    );

    -- Column order = the row load_tsv returns.
    CREATE TABLE sensor_data.tsv_files (
        id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id             bigint REFERENCES sensor_data.tsv_runs (id) ON DELETE SET NULL,
        path               text NOT NULL,
        company            text,
        campaign           text,
        device_master_sn   text,
        master_sn          text,
        format             text,
        structure          text,
        status             text NOT NULL
                           CHECK (status IN ('loaded', 'duplicate', 'deferred', 'no_data', 'unsupported', 'failed')),
        rows               bigint NOT NULL DEFAULT 0,
        channels           integer NOT NULL DEFAULT 0,
        points             bigint NOT NULL DEFAULT 0,
        invalid_timestamps bigint NOT NULL DEFAULT 0,
        invalid_values     bigint NOT NULL DEFAULT 0,
        empty_values       bigint NOT NULL DEFAULT 0,
        missing_values     bigint NOT NULL DEFAULT 0,
        extra_values       bigint NOT NULL DEFAULT 0,
        truncated_rows     bigint NOT NULL DEFAULT 0,
        zero_rows          bigint NOT NULL DEFAULT 0,
        first_time         timestamptz,
        last_time          timestamptz,
        duration_ms        float8 NOT NULL DEFAULT 0,
        error_message      text,
        error_sqlstate     text,
        sha256             text,
        bytes              bigint,
        loaded_at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
        moved_to           text
    );
    CREATE INDEX tsv_files_path ON sensor_data.tsv_files (path);
    -- One loaded record per content and company and campaign, whatever the isolation level.
    CREATE UNIQUE INDEX tsv_files_loaded_sha256 ON sensor_data.tsv_files (company, campaign, sha256) WHERE status = 'loaded';
    CREATE INDEX tsv_files_run_id ON sensor_data.tsv_files (run_id);

    -- Tenants ------------------------------------------------------------------------
    -- Which role may read which company's T302 data. Tenants (Grafana data sources) get no
    -- privilege on any table here, so neither chunks nor other paths reach the rows: they read
    -- the security-barrier views below, owned by the extension's owner, which show a caller
    -- the companies mapped to roles whose privileges it has, or everything to a role that
    -- may read the table without row-level security (superusers, the owner, BYPASSRLS).
    CREATE TABLE sensor_data.company_access (
        role    regrole NOT NULL,
        company text NOT NULL,
        PRIMARY KEY (role, company)
    );

    -- Row-level security keeps a loading role (INSERT on the tables, without BYPASSRLS) to
    -- the companies mapped to it: it creates and sees only their channels and reports. It is
    -- a guard against loading into the wrong company, not a wall: loading needs
    -- pg_read_server_files, which reads any file the server can. The samples table has no
    -- policy (TimescaleDB refuses continuous aggregates on a hypertable with row security);
    -- a loader writes samples only for the channels it sees.
    ALTER TABLE sensor_data.company_access ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own_companies ON sensor_data.company_access FOR SELECT
        USING (pg_catalog.pg_has_role(role::oid, 'USAGE'));
    ALTER TABLE sensor_data.tsv_channels ENABLE ROW LEVEL SECURITY;
    CREATE POLICY company_access ON sensor_data.tsv_channels
        USING (company IN (SELECT a.company FROM sensor_data.company_access a));
    ALTER TABLE sensor_data.tsv_files ENABLE ROW LEVEL SECURITY;
    CREATE POLICY company_access ON sensor_data.tsv_files
        USING (company IN (SELECT a.company FROM sensor_data.company_access a));

    -- The filter of the tenant views: evaluated once per query (an InitPlan and a hashed
    -- subplan); only leakproof conditions of the caller's query are pushed below it.
    CREATE VIEW sensor_data.electrical_channels WITH (security_barrier = true) AS
    SELECT c.id, c.company, c.campaign, c.device_master_sn, c.channel_id, c.device_sn,
           c.device_type, c.label, c.name, c.unit, c.source_format
    FROM sensor_data.tsv_channels c
    WHERE (SELECT pg_catalog.has_table_privilege('sensor_data.tsv_channels'::pg_catalog.regclass, 'SELECT')
                  AND NOT pg_catalog.row_security_active('sensor_data.tsv_channels'::pg_catalog.regclass))
       OR c.company IN (SELECT a.company FROM sensor_data.company_access a
                        WHERE pg_catalog.pg_has_role(a.role::oid, 'USAGE'));

    CREATE VIEW sensor_data.electrical WITH (security_barrier = true) AS
    SELECT s.time, c.company, c.campaign, c.device_master_sn, c.device_sn, c.device_type,
           c.channel_id, c.label, c.name, c.unit, c.source_format, s.value, s.channel
    FROM sensor_data.electrical_samples s
    JOIN sensor_data.tsv_channels c ON c.id = s.channel
    WHERE (SELECT pg_catalog.has_table_privilege('sensor_data.electrical_samples'::pg_catalog.regclass, 'SELECT')
                  AND pg_catalog.has_table_privilege('sensor_data.tsv_channels'::pg_catalog.regclass, 'SELECT')
                  AND NOT pg_catalog.row_security_active('sensor_data.tsv_channels'::pg_catalog.regclass))
       OR c.company IN (SELECT a.company FROM sensor_data.company_access a
                        WHERE pg_catalog.pg_has_role(a.role::oid, 'USAGE'));

    CREATE VIEW sensor_data.electrical_files WITH (security_barrier = true) AS
    SELECT f.id, f.path, f.company, f.campaign, f.device_master_sn, f.master_sn, f.format,
           f.structure, f.status, f.rows, f.channels, f.points, f.invalid_timestamps,
           f.invalid_values, f.empty_values, f.missing_values, f.extra_values, f.truncated_rows,
           f.zero_rows, f.first_time, f.last_time, f.error_message, f.error_sqlstate, f.sha256,
           f.bytes, f.loaded_at
    FROM sensor_data.tsv_files f
    WHERE (SELECT pg_catalog.has_table_privilege('sensor_data.tsv_files'::pg_catalog.regclass, 'SELECT')
                  AND NOT pg_catalog.row_security_active('sensor_data.tsv_files'::pg_catalog.regclass))
       OR f.company IN (SELECT a.company FROM sensor_data.company_access a
                        WHERE pg_catalog.pg_has_role(a.role::oid, 'USAGE'));

    -- Documentation ------------------------------------------------------------------
    COMMENT ON TABLE sensor_data.datasets IS 'TDMS files loaded by sensor.load_tdms / load_tdms_bytes: one row per file content (sha256 is unique), with its file properties.';
    COMMENT ON TABLE sensor_data.channels IS 'Channels of loaded TDMS datasets: group, name, unit, type, waveform time (start, increment), sample count, properties.';
    COMMENT ON TABLE sensor_data.samples IS 'Samples of TDMS channels with waveform time (channel_id, time, value); a hypertable when TimescaleDB is installed.';
    COMMENT ON TABLE sensor_data.indexed_samples IS 'Samples of TDMS channels without time, addressed by sample index.';
    COMMENT ON TABLE sensor_data.tsv_channels IS 'T302 power-logger channels: one row per company, campaign and channel_id (M{master}_{label} or M{master}_S{slave}_{label}, master = the serial number written in the file); device_master_sn is the upload folder. Tenants read sensor_data.electrical_channels.';
    COMMENT ON TABLE sensor_data.electrical_samples IS 'T302 power-logger points (time, channel, value), unique per channel and time; a hypertable when TimescaleDB is installed. Tenants read sensor_data.electrical.';
    COMMENT ON TABLE sensor_data.tsv_runs IS
        'One row per sensor.load_tsv_dir call: files examined (files_total = succeeded + duplicate + deferred + failed; succeeded = loaded + no_data + unsupported), files skipped because already recorded or loaded by a concurrent run, points loaded, duration.';
    COMMENT ON TABLE sensor_data.tsv_files IS
        'One row per T302 TSV file examined by sensor.load_tsv / load_tsv_dir: tags, format, status (loaded, duplicate, deferred, no_data, unsupported, failed), counts of rows, points and skipped cells, time range, sha256, error. Tenants read sensor_data.electrical_files.';
    COMMENT ON COLUMN sensor_data.tsv_files.device_master_sn IS
        'Upload folder <base>/<company>/<campaign>/<device_master_sn>/ (the file''s master_sn when loaded without base_dir).';
    COMMENT ON COLUMN sensor_data.tsv_files.master_sn IS
        'Master serial number written in the file (line 1, column 0); channel ids are built from it.';
    COMMENT ON COLUMN sensor_data.tsv_files.format IS
        'Format marker of the file (MV_T302_V002, MV_T302_V003, or the unsupported marker found).';
    COMMENT ON COLUMN sensor_data.tsv_files.structure IS
        'V003 when the file has a START_HEADER/START_DATA block (whatever its marker says), else V002.';
    COMMENT ON COLUMN sensor_data.tsv_files.points IS
        'Values read from the file and written (a later row for the same channel and time overwrites an earlier one).';
    COMMENT ON COLUMN sensor_data.tsv_files.zero_rows IS
        'All-zero rows (every cell the literal 0: power-cut markers), skipped unless skip_zero_rows => false.';
    COMMENT ON COLUMN sensor_data.tsv_files.first_time IS 'Earliest row time of the file (UTC).';
    COMMENT ON COLUMN sensor_data.tsv_files.last_time IS 'Latest row time of the file (UTC).';
    COMMENT ON COLUMN sensor_data.tsv_files.moved_to IS
        'Where load_tsv_dir(move_files => true) moves the file when the transaction commits (NULL when it stays).';
    COMMENT ON TABLE sensor_data.company_access IS
        'Which role may read which company''s T302 data, through the views electrical, electrical_channels and electrical_files (and the functions that read T302 channels). Managed by sensor.grant_company_access / revoke_company_access.';
    COMMENT ON VIEW sensor_data.electrical IS
        'T302 points with their channel tags (company, campaign, device_master_sn, device_sn, device_type, channel_id, label, name, unit), for Grafana. A security barrier: a role sees the companies granted to it (sensor.grant_company_access); a role that may read sensor_data.electrical_samples and reads sensor_data.tsv_channels without row-level security (superuser, owner, BYPASSRLS) sees everything.';
    COMMENT ON VIEW sensor_data.electrical_channels IS
        'T302 channels of the companies the caller may see (all of them for a role that reads sensor_data.tsv_channels without row-level security). A security barrier, for tenants.';
    COMMENT ON VIEW sensor_data.electrical_files IS
        'Load reports of T302 files of the companies the caller may see (all of them for a role that reads sensor_data.tsv_files without row-level security). A security barrier, for tenants.';

    PERFORM sensor.enable_hypertables();

    -- Inside CREATE EXTENSION everything above became a member of the extension: give it
    -- up, so that it is dumped, restored and kept like the user's own objects.
    SELECT e.oid INTO ext FROM pg_catalog.pg_extension e WHERE e.extname = 'sensor_analytics';
    FOR member IN
        SELECT o.type, o.identity
        FROM pg_catalog.pg_depend d,
             LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, 0) o
        WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.refobjid = ext AND d.deptype = 'e'
          AND (o.schema = 'sensor_data'
               OR (o.type = 'schema' AND o.identity = 'sensor_data'))
        ORDER BY o.type = 'schema'
    LOOP
        EXECUTE pg_catalog.format('ALTER EXTENSION sensor_analytics DROP %s %s', member.type, member.identity);
    END LOOP;
    RETURN true;
END
$fn$;

REVOKE EXECUTE ON FUNCTION sensor.create_storage() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION sensor.enable_hypertables() FROM PUBLIC;

-- Storage ---------------------------------------------------------------------------------
CREATE SCHEMA sensor_data;
COMMENT ON SCHEMA sensor_data IS
    'Data loaded by sensor_analytics (TDMS datasets, T302 points, load reports, tenant mappings). It belongs to the database, not to the extension: pg_dump dumps it like any schema and DROP EXTENSION sensor_analytics leaves it; CREATE EXTENSION adopts it when it exists.';

ALTER TABLE sensor.datasets SET SCHEMA sensor_data;
ALTER TABLE sensor.channels SET SCHEMA sensor_data;
ALTER TABLE sensor.samples SET SCHEMA sensor_data;
ALTER TABLE sensor.indexed_samples SET SCHEMA sensor_data;
ALTER TABLE sensor.tsv_channels SET SCHEMA sensor_data;
ALTER TABLE sensor.electrical_samples SET SCHEMA sensor_data;
ALTER TABLE sensor.tsv_runs SET SCHEMA sensor_data;
ALTER TABLE sensor.tsv_files SET SCHEMA sensor_data;
ALTER TABLE sensor.company_access SET SCHEMA sensor_data;
-- The view keeps its OID, so objects built on it and grants on it stay valid; it becomes a
-- security barrier that filters by itself (below).
ALTER VIEW sensor.electrical SET SCHEMA sensor_data;
ALTER VIEW sensor_data.electrical RESET (security_invoker);
-- Tenants no longer read the samples table, and TimescaleDB refuses continuous aggregates
-- on a hypertable with row security: the samples table loses its policy.
DROP POLICY company_access ON sensor_data.electrical_samples;
ALTER TABLE sensor_data.electrical_samples DISABLE ROW LEVEL SECURITY;

-- One dataset per content, and one loaded record per content, company and campaign (exactly
-- once under any isolation level). Data loaded twice by 0.1.0 under REPEATABLE READ keeps
-- the old indexes, with a warning.
DO $update$
BEGIN
    IF EXISTS (SELECT FROM sensor_data.datasets GROUP BY sha256 HAVING count(*) > 1) THEN
        RAISE WARNING 'sensor_data.datasets holds the same file (sha256) more than once: its sha256 index stays non-unique'
            USING HINT = 'Delete the extra datasets with sensor.delete_dataset(id), then: DROP INDEX sensor_data.datasets_sha256; CREATE UNIQUE INDEX datasets_sha256 ON sensor_data.datasets (sha256);';
    ELSE
        DROP INDEX sensor_data.datasets_sha256;
        CREATE UNIQUE INDEX datasets_sha256 ON sensor_data.datasets (sha256);
    END IF;
    IF EXISTS (SELECT FROM sensor_data.tsv_files WHERE status = 'loaded'
               GROUP BY company, campaign, sha256 HAVING count(*) > 1) THEN
        RAISE WARNING 'sensor_data.tsv_files records a file (sha256) as loaded more than once for one company and campaign: its index stays non-unique'
            USING HINT = 'Once the extra rows are gone: DROP INDEX sensor_data.tsv_files_loaded_sha256; CREATE UNIQUE INDEX tsv_files_loaded_sha256 ON sensor_data.tsv_files (company, campaign, sha256) WHERE status = ''loaded'';';
    ELSE
        DROP INDEX sensor_data.tsv_files_loaded_sha256;
        CREATE UNIQUE INDEX tsv_files_loaded_sha256 ON sensor_data.tsv_files (company, campaign, sha256) WHERE status = 'loaded';
    END IF;
END
$update$;

-- The filter of the tenant views: evaluated once per query (an InitPlan and a hashed
-- subplan); only leakproof conditions of the caller's query are pushed below it.
CREATE VIEW sensor_data.electrical_channels WITH (security_barrier = true) AS
SELECT c.id, c.company, c.campaign, c.device_master_sn, c.channel_id, c.device_sn,
       c.device_type, c.label, c.name, c.unit, c.source_format
FROM sensor_data.tsv_channels c
WHERE (SELECT pg_catalog.has_table_privilege('sensor_data.tsv_channels'::pg_catalog.regclass, 'SELECT')
              AND NOT pg_catalog.row_security_active('sensor_data.tsv_channels'::pg_catalog.regclass))
   OR c.company IN (SELECT a.company FROM sensor_data.company_access a
                    WHERE pg_catalog.pg_has_role(a.role::oid, 'USAGE'));

CREATE OR REPLACE VIEW sensor_data.electrical WITH (security_barrier = true) AS
SELECT s.time, c.company, c.campaign, c.device_master_sn, c.device_sn, c.device_type,
       c.channel_id, c.label, c.name, c.unit, c.source_format, s.value, s.channel
FROM sensor_data.electrical_samples s
JOIN sensor_data.tsv_channels c ON c.id = s.channel
WHERE (SELECT pg_catalog.has_table_privilege('sensor_data.electrical_samples'::pg_catalog.regclass, 'SELECT')
              AND pg_catalog.has_table_privilege('sensor_data.tsv_channels'::pg_catalog.regclass, 'SELECT')
              AND NOT pg_catalog.row_security_active('sensor_data.tsv_channels'::pg_catalog.regclass))
   OR c.company IN (SELECT a.company FROM sensor_data.company_access a
                    WHERE pg_catalog.pg_has_role(a.role::oid, 'USAGE'));

CREATE VIEW sensor_data.electrical_files WITH (security_barrier = true) AS
SELECT f.id, f.path, f.company, f.campaign, f.device_master_sn, f.master_sn, f.format,
       f.structure, f.status, f.rows, f.channels, f.points, f.invalid_timestamps,
       f.invalid_values, f.empty_values, f.missing_values, f.extra_values, f.truncated_rows,
       f.zero_rows, f.first_time, f.last_time, f.error_message, f.error_sqlstate, f.sha256,
       f.bytes, f.loaded_at
FROM sensor_data.tsv_files f
WHERE (SELECT pg_catalog.has_table_privilege('sensor_data.tsv_files'::pg_catalog.regclass, 'SELECT')
              AND NOT pg_catalog.row_security_active('sensor_data.tsv_files'::pg_catalog.regclass))
   OR f.company IN (SELECT a.company FROM sensor_data.company_access a
                    WHERE pg_catalog.pg_has_role(a.role::oid, 'USAGE'));


-- Documentation ------------------------------------------------------------------
COMMENT ON TABLE sensor_data.datasets IS 'TDMS files loaded by sensor.load_tdms / load_tdms_bytes: one row per file content (sha256 is unique), with its file properties.';
COMMENT ON TABLE sensor_data.channels IS 'Channels of loaded TDMS datasets: group, name, unit, type, waveform time (start, increment), sample count, properties.';
COMMENT ON TABLE sensor_data.samples IS 'Samples of TDMS channels with waveform time (channel_id, time, value); a hypertable when TimescaleDB is installed.';
COMMENT ON TABLE sensor_data.indexed_samples IS 'Samples of TDMS channels without time, addressed by sample index.';
COMMENT ON TABLE sensor_data.tsv_channels IS 'T302 power-logger channels: one row per company, campaign and channel_id (M{master}_{label} or M{master}_S{slave}_{label}, master = the serial number written in the file); device_master_sn is the upload folder. Tenants read sensor_data.electrical_channels.';
COMMENT ON TABLE sensor_data.electrical_samples IS 'T302 power-logger points (time, channel, value), unique per channel and time; a hypertable when TimescaleDB is installed. Tenants read sensor_data.electrical.';
COMMENT ON TABLE sensor_data.tsv_runs IS
    'One row per sensor.load_tsv_dir call: files examined (files_total = succeeded + duplicate + deferred + failed; succeeded = loaded + no_data + unsupported), files skipped because already recorded or loaded by a concurrent run, points loaded, duration.';
COMMENT ON TABLE sensor_data.tsv_files IS
    'One row per T302 TSV file examined by sensor.load_tsv / load_tsv_dir: tags, format, status (loaded, duplicate, deferred, no_data, unsupported, failed), counts of rows, points and skipped cells, time range, sha256, error. Tenants read sensor_data.electrical_files.';
COMMENT ON COLUMN sensor_data.tsv_files.device_master_sn IS
    'Upload folder <base>/<company>/<campaign>/<device_master_sn>/ (the file''s master_sn when loaded without base_dir).';
COMMENT ON COLUMN sensor_data.tsv_files.master_sn IS
    'Master serial number written in the file (line 1, column 0); channel ids are built from it.';
COMMENT ON COLUMN sensor_data.tsv_files.format IS
    'Format marker of the file (MV_T302_V002, MV_T302_V003, or the unsupported marker found).';
COMMENT ON COLUMN sensor_data.tsv_files.structure IS
    'V003 when the file has a START_HEADER/START_DATA block (whatever its marker says), else V002.';
COMMENT ON COLUMN sensor_data.tsv_files.points IS
    'Values read from the file and written (a later row for the same channel and time overwrites an earlier one).';
COMMENT ON COLUMN sensor_data.tsv_files.zero_rows IS
    'All-zero rows (every cell the literal 0: power-cut markers), skipped unless skip_zero_rows => false.';
COMMENT ON COLUMN sensor_data.tsv_files.first_time IS 'Earliest row time of the file (UTC).';
COMMENT ON COLUMN sensor_data.tsv_files.last_time IS 'Latest row time of the file (UTC).';
COMMENT ON COLUMN sensor_data.tsv_files.moved_to IS
    'Where load_tsv_dir(move_files => true) moves the file when the transaction commits (NULL when it stays).';
COMMENT ON TABLE sensor_data.company_access IS
    'Which role may read which company''s T302 data, through the views electrical, electrical_channels and electrical_files (and the functions that read T302 channels). Managed by sensor.grant_company_access / revoke_company_access.';
COMMENT ON VIEW sensor_data.electrical IS
    'T302 points with their channel tags (company, campaign, device_master_sn, device_sn, device_type, channel_id, label, name, unit), for Grafana. A security barrier: a role sees the companies granted to it (sensor.grant_company_access); a role that may read sensor_data.electrical_samples and reads sensor_data.tsv_channels without row-level security (superuser, owner, BYPASSRLS) sees everything.';
COMMENT ON VIEW sensor_data.electrical_channels IS
    'T302 channels of the companies the caller may see (all of them for a role that reads sensor_data.tsv_channels without row-level security). A security barrier, for tenants.';
COMMENT ON VIEW sensor_data.electrical_files IS
    'Load reports of T302 files of the companies the caller may see (all of them for a role that reads sensor_data.tsv_files without row-level security). A security barrier, for tenants.';


-- Tenants: from table privileges (with row-level security, which does not reach
-- TimescaleDB chunks) to the views only.
DO $update$
DECLARE
    r regrole;
BEGIN
    FOR r IN SELECT DISTINCT a.role FROM sensor_data.company_access a LOOP
        EXECUTE format('REVOKE SELECT ON sensor_data.tsv_channels, sensor_data.electrical_samples, '
                       'sensor_data.tsv_files, sensor_data.company_access FROM %s', r);
        EXECUTE format('GRANT USAGE ON SCHEMA sensor, sensor_data TO %s', r);
        EXECUTE format('GRANT SELECT ON sensor_data.electrical, sensor_data.electrical_channels, '
                       'sensor_data.electrical_files TO %s', r);
    END LOOP;
END
$update$;

-- Give the storage up to the database.
DO $update$
DECLARE
    ext oid;
    member record;
BEGIN
-- Inside CREATE EXTENSION everything above became a member of the extension: give it
-- up, so that it is dumped, restored and kept like the user's own objects.
SELECT e.oid INTO ext FROM pg_catalog.pg_extension e WHERE e.extname = 'sensor_analytics';
FOR member IN
    SELECT o.type, o.identity
    FROM pg_catalog.pg_depend d,
         LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, 0) o
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid = ext AND d.deptype = 'e'
      AND (o.schema = 'sensor_data'
           OR (o.type = 'schema' AND o.identity = 'sensor_data'))
    ORDER BY o.type = 'schema'
LOOP
    EXECUTE pg_catalog.format('ALTER EXTENSION sensor_analytics DROP %s %s', member.type, member.identity);
END LOOP;
END
$update$;

-- SQL functions over the moved tables ------------------------------------------------------
CREATE OR REPLACE FUNCTION sensor.delete_dataset(id bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- Schema-qualified throughout; fixed search_path so callers cannot redirect it.
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    deleted bigint := 0;
    n bigint;
BEGIN
    IF delete_dataset.id IS NULL THEN
        RAISE EXCEPTION 'dataset id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Locks the dataset row, so that two deletes of one dataset take turns.
    PERFORM 1 FROM sensor_data.datasets d WHERE d.id = delete_dataset.id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dataset % does not exist', delete_dataset.id
            USING ERRCODE = 'undefined_object', HINT = 'sensor_data.datasets lists the loaded datasets.';
    END IF;
    -- The sample tables have no foreign keys (they would slow loads down): delete by hand.
    DELETE FROM sensor_data.samples s USING sensor_data.channels c
    WHERE c.dataset_id = delete_dataset.id AND s.channel_id = c.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;
    DELETE FROM sensor_data.indexed_samples s USING sensor_data.channels c
    WHERE c.dataset_id = delete_dataset.id AND s.channel_id = c.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;
    -- Channels go with their dataset (ON DELETE CASCADE).
    DELETE FROM sensor_data.datasets d WHERE d.id = delete_dataset.id;
    RETURN deleted;
END
$fn$;

CREATE OR REPLACE FUNCTION sensor.grant_company_access(role regrole, company text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF grant_company_access.role IS NULL OR grant_company_access.company IS NULL
       OR grant_company_access.company = '' THEN
        RAISE EXCEPTION 'role and company must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    INSERT INTO sensor_data.company_access (role, company)
    VALUES (grant_company_access.role, grant_company_access.company)
    ON CONFLICT DO NOTHING;
    -- regrole's text form is already a quoted identifier. Tenants read the security-barrier
    -- views only: no table privilege, so no chunk of a hypertable is readable either.
    EXECUTE format('GRANT USAGE ON SCHEMA sensor, sensor_data TO %s', grant_company_access.role);
    EXECUTE format('GRANT SELECT ON sensor_data.electrical, sensor_data.electrical_channels, '
                   'sensor_data.electrical_files TO %s', grant_company_access.role);
END
$fn$;

CREATE OR REPLACE FUNCTION sensor.revoke_company_access(role regrole, company text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    removed integer;
BEGIN
    IF revoke_company_access.role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = '22023';
    END IF;
    DELETE FROM sensor_data.company_access a
    WHERE a.role = revoke_company_access.role
      AND (revoke_company_access.company IS NULL OR a.company = revoke_company_access.company);
    GET DIAGNOSTICS removed = ROW_COUNT;
    IF NOT EXISTS (SELECT 1 FROM sensor_data.company_access a WHERE a.role = revoke_company_access.role) THEN
        EXECUTE format('REVOKE SELECT ON sensor_data.electrical, sensor_data.electrical_channels, '
                       'sensor_data.electrical_files FROM %s', revoke_company_access.role);
    END IF;
    RETURN removed;
END
$fn$;

-- Documentation ---------------------------------------------------------------------------
COMMENT ON FUNCTION sensor.enable_hypertables() IS 'Turns the sample tables sensor_data.samples and sensor_data.electrical_samples into TimescaleDB hypertables when TimescaleDB is installed (sensor.create_storage runs it; call it again after installing TimescaleDB later). Returns the tables it converted.';
COMMENT ON FUNCTION sensor.create_storage() IS 'Creates schema sensor_data with the tables of loaded data, the tenant views and their policies, when it does not exist, and leaves them to the database (not members of the extension). CREATE EXTENSION runs it; it returns false and changes nothing when sensor_data exists (a restore, or a re-install after DROP EXTENSION).';
COMMENT ON FUNCTION sensor.load_tdms(text, text, boolean) IS
    'Loads a TDMS file on the server into sensor_data.datasets, sensor_data.channels, sensor_data.samples (channels with waveform time) and sensor_data.indexed_samples (the others), in the caller''s transaction, at COPY speed; progress shows in pg_stat_progress_copy (bytes_processed estimated from the share of values read). Returns dataset_id, channels_loaded, channels_skipped (jsonb: group, channel, reason; e.g. string channels), samples, bytes, duration_ms, already_loaded. A file with the same sha256 is not loaded twice (already_loaded, with the existing dataset_id and nothing loaded) unless replace => true, which deletes the old dataset first. name defaults to the file name. Needs pg_read_server_files.';
COMMENT ON FUNCTION sensor.load_tsv(text, text, text, text, text, boolean) IS
    'Loads a T302 TSV file on the server into sensor_data.electrical_samples (later rows overwrite values at the same channel and time), records it in sensor_data.tsv_files and returns that row. company, campaign and device_master_sn come from the path below base_dir, or from the arguments. Status: loaded, duplicate, deferred (V003 without END_DATA), no_data, unsupported. Needs pg_read_server_files.';
COMMENT ON FUNCTION sensor.load_tsv_dir(text, boolean, text, boolean) IS
    'Loads every .tsv file below base_dir not yet recorded (parsed/ and error/ folders skipped), each in its own subtransaction: a failing file is recorded as failed and the others still load. Records and returns one sensor_data.tsv_runs row. move_files => true moves each file into parsed/ or error/ beside it when the transaction commits (deferred files stay); it needs pg_write_server_files too.';
COMMENT ON FUNCTION sensor.grant_company_access(regrole, text) IS
    'Lets a role (e.g. a Grafana data source) read one company''s T302 data: records the mapping in sensor_data.company_access and grants USAGE on schemas sensor and sensor_data and SELECT on the security-barrier views sensor_data.electrical, electrical_channels and electrical_files, which show it only its companies. The role gets no privilege on any table, so no other path (chunks, compressed chunks) reaches the rows.';
COMMENT ON FUNCTION sensor.revoke_company_access(regrole, text) IS
    'Removes a role''s access to one company (all companies when company is NULL); when no company is left, revokes the SELECT privileges on the views that grant_company_access gave. Returns the number of mappings removed.';
COMMENT ON FUNCTION sensor.channel_window(text, text, text, timestamptz, timestamptz, float8, float8, integer, text, boolean, interval) IS
    'A downsampled window of a T302 power-logger channel by its text id (sensor_data.tsv_channels.channel_id; add company and campaign when the id is in several campaigns), by time or by seconds from its first point. Returns (time, seconds, value).';

-- New in 0.2.0: availability_report in parallel plans ----------------------------------------
CREATE FUNCTION sensor."availability_report_share_combine"(
	"a" internal, /* Internal */
	"b" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_share_combine_wrapper';

CREATE FUNCTION sensor."availability_report_share_deserialize"(
	"bytes" bytea, /* & [u8] */
	"_unused" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_share_deserialize_wrapper';

CREATE FUNCTION sensor."availability_report_share_final"(
	"internal" internal /* Internal */
) RETURNS bytea /* SqlResult < Option < Vec < u8 > > > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_share_final_wrapper';

CREATE FUNCTION sensor."availability_report_share_serialize"(
	"internal" internal /* Internal */
) RETURNS bytea /* SqlResult < Vec < u8 > > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_share_serialize_wrapper';

CREATE FUNCTION sensor."availability_report_share_trans"(
	"internal" internal, /* Internal */
	"relation" oid, /* Option < pg_sys :: Oid > */
	"row_id" tid, /* Option < pg_sys :: ItemPointerData > */
	"time" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"state" TEXT, /* Option < & str > */
	"spec" bytea /* Option < & [u8] > */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_share_trans_wrapper';

CREATE AGGREGATE sensor.availability_report_share(relation oid, row_id tid, "time" timestamptz, state text, spec bytea) (
    SFUNC = sensor.availability_report_share_trans, STYPE = internal,
    FINALFUNC = sensor.availability_report_share_final,
    COMBINEFUNC = sensor.availability_report_share_combine,
    SERIALFUNC = sensor.availability_report_share_serialize,
    DESERIALFUNC = sensor.availability_report_share_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE sensor.availability_report_share(oid, tid, timestamptz, text, bytea) IS
    'Used by availability_report in parallel plans: one equipment''s events, each parallel worker''s share compressed to run boundaries, merged by the leader. Its arguments and bytes are internal (they may change in any version); call availability_report instead.';

-- Every support function of an aggregate says which aggregates it serves (pg_aggregate
-- knows), so that nothing in schema sensor ships undocumented.
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
