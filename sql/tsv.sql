-- PowerView T302 TSV ingestion: the file and run reports, the Grafana view, tenant isolation
-- (row-level security per company), and documentation of the load functions (src/ingest/tsv.rs).

-- Reports ----------------------------------------------------------------------------
CREATE TABLE sensor.tsv_runs (
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
CREATE TABLE sensor.tsv_files (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id             bigint REFERENCES sensor.tsv_runs (id) ON DELETE SET NULL,
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
CREATE INDEX tsv_files_path ON sensor.tsv_files (path);
CREATE INDEX tsv_files_loaded_sha256 ON sensor.tsv_files (sha256) WHERE status = 'loaded';
CREATE INDEX tsv_files_run_id ON sensor.tsv_files (run_id);

-- Grafana view ------------------------------------------------------------------------
-- security_invoker: the querying role's row-level security applies, not the view owner's.
CREATE VIEW sensor.electrical WITH (security_invoker = true) AS
SELECT s.time,
       c.company,
       c.campaign,
       c.device_master_sn,
       c.device_sn,
       c.device_type,
       c.channel_id,
       c.label,
       c.name,
       c.unit,
       c.source_format,
       s.value,
       s.channel
FROM sensor.electrical_samples s
JOIN sensor.tsv_channels c ON c.id = s.channel;

-- Tenant isolation ----------------------------------------------------------------------
-- A role sees the rows of the companies granted to it (or to a role whose privileges it has).
-- Superusers, the tables' owner and BYPASSRLS roles see everything, as usual.
CREATE TABLE sensor.company_access (
    role    regrole NOT NULL,
    company text NOT NULL,
    PRIMARY KEY (role, company)
);

-- Each role sees only its own mappings, so the policies below can read this table as the
-- querying role without showing anyone the other companies.
ALTER TABLE sensor.company_access ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_companies ON sensor.company_access FOR SELECT
    USING (pg_catalog.pg_has_role(role::oid, 'USAGE'));

ALTER TABLE sensor.tsv_channels ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_access ON sensor.tsv_channels
    USING (company IN (SELECT a.company FROM sensor.company_access a));

-- The channel subquery is itself filtered by the policy above, and is evaluated once per
-- query (a hashed subplan), not once per sample.
ALTER TABLE sensor.electrical_samples ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_access ON sensor.electrical_samples
    USING (channel IN (SELECT c.id FROM sensor.tsv_channels c));

ALTER TABLE sensor.tsv_files ENABLE ROW LEVEL SECURITY;
CREATE POLICY company_access ON sensor.tsv_files
    USING (company IN (SELECT a.company FROM sensor.company_access a));

CREATE FUNCTION sensor.grant_company_access(role regrole, company text) RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF grant_company_access.role IS NULL OR grant_company_access.company IS NULL
       OR grant_company_access.company = '' THEN
        RAISE EXCEPTION 'role and company must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    INSERT INTO sensor.company_access (role, company)
    VALUES (grant_company_access.role, grant_company_access.company)
    ON CONFLICT DO NOTHING;
    -- regrole's text form is already a quoted identifier.
    EXECUTE format('GRANT USAGE ON SCHEMA sensor TO %s', grant_company_access.role);
    EXECUTE format('GRANT SELECT ON sensor.tsv_channels, sensor.electrical_samples, sensor.electrical, '
                   'sensor.tsv_files, sensor.company_access TO %s', grant_company_access.role);
END
$fn$;

CREATE FUNCTION sensor.revoke_company_access(role regrole, company text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    removed integer;
BEGIN
    IF revoke_company_access.role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = '22023';
    END IF;
    DELETE FROM sensor.company_access a
    WHERE a.role = revoke_company_access.role
      AND (revoke_company_access.company IS NULL OR a.company = revoke_company_access.company);
    GET DIAGNOSTICS removed = ROW_COUNT;
    IF NOT EXISTS (SELECT 1 FROM sensor.company_access a WHERE a.role = revoke_company_access.role) THEN
        EXECUTE format('REVOKE SELECT ON sensor.tsv_channels, sensor.electrical_samples, sensor.electrical, '
                       'sensor.tsv_files, sensor.company_access FROM %s', revoke_company_access.role);
    END IF;
    RETURN removed;
END
$fn$;

-- Only administrators hand out companies.
REVOKE EXECUTE ON FUNCTION sensor.grant_company_access(regrole, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION sensor.revoke_company_access(regrole, text) FROM PUBLIC;

-- pg_dump must keep the reports and the access mappings.
SELECT pg_catalog.pg_extension_config_dump('sensor.tsv_runs', '');
SELECT pg_catalog.pg_extension_config_dump('sensor.tsv_files', '');
SELECT pg_catalog.pg_extension_config_dump('sensor.company_access', '');

-- Documentation ---------------------------------------------------------------------------
COMMENT ON TABLE sensor.tsv_runs IS
    'One row per sensor.load_tsv_dir call: files examined (files_total = succeeded + duplicate + deferred + failed; succeeded = loaded + no_data + unsupported), files skipped because already recorded, points loaded, duration.';
COMMENT ON TABLE sensor.tsv_files IS
    'One row per T302 TSV file examined by sensor.load_tsv / load_tsv_dir: tags, format, status (loaded, duplicate, deferred, no_data, unsupported, failed), counts of rows, points and skipped cells, time range, sha256, error. Row-level security: a role sees the files of its companies.';
COMMENT ON COLUMN sensor.tsv_files.device_master_sn IS
    'Upload folder <base>/<company>/<campaign>/<device_master_sn>/ (the file''s master_sn when loaded without base_dir).';
COMMENT ON COLUMN sensor.tsv_files.master_sn IS
    'Master serial number written in the file (line 1, column 0); channel ids are built from it.';
COMMENT ON COLUMN sensor.tsv_files.format IS
    'Format marker of the file (MV_T302_V002, MV_T302_V003, or the unsupported marker found).';
COMMENT ON COLUMN sensor.tsv_files.structure IS
    'V003 when the file has a START_HEADER/START_DATA block (whatever its marker says), else V002.';
COMMENT ON COLUMN sensor.tsv_files.points IS
    'Values read from the file and written (a later row for the same channel and time overwrites an earlier one).';
COMMENT ON COLUMN sensor.tsv_files.zero_rows IS
    'All-zero rows (every cell the literal 0: power-cut markers), skipped unless skip_zero_rows => false.';
COMMENT ON COLUMN sensor.tsv_files.first_time IS 'Earliest row time of the file (UTC).';
COMMENT ON COLUMN sensor.tsv_files.last_time IS 'Latest row time of the file (UTC).';
COMMENT ON TABLE sensor.company_access IS
    'Which role may see which company''s T302 data (row-level security on tsv_channels, electrical_samples, tsv_files and the view electrical). Managed by sensor.grant_company_access / revoke_company_access.';
COMMENT ON VIEW sensor.electrical IS
    'T302 points with their channel tags (company, campaign, device_master_sn, device_sn, device_type, channel_id, label, name, unit), for Grafana. security_invoker: the caller sees only the companies granted to it.';

COMMENT ON FUNCTION sensor.tsv_read(text, text, boolean) IS
    'Streams the points of a T302 TSV file on the server without loading them: (time, channel_id, device_sn, label, name, unit, value). timezone: zone of V002 times (default UTC); skip_zero_rows (default true) drops all-zero power-cut rows. Needs pg_read_server_files.';
COMMENT ON FUNCTION sensor.load_tsv(text, text, text, text, text, boolean) IS
    'Loads a T302 TSV file on the server into sensor.electrical_samples (later rows overwrite values at the same channel and time), records it in sensor.tsv_files and returns that row. company, campaign and device_master_sn come from the path below base_dir, or from the arguments. Status: loaded, duplicate, deferred (V003 without END_DATA), no_data, unsupported. Needs pg_read_server_files.';
COMMENT ON FUNCTION sensor.load_tsv_dir(text, boolean, text, boolean) IS
    'Loads every .tsv file below base_dir not yet recorded (parsed/ and error/ folders skipped), each in its own subtransaction: a failing file is recorded as failed and the others still load. Records and returns one sensor.tsv_runs row. move_files => true moves each file into parsed/ or error/ beside it when the transaction commits (deferred files stay); it needs pg_write_server_files too.';
COMMENT ON FUNCTION sensor.grant_company_access(regrole, text) IS
    'Lets a role (e.g. a Grafana data source) see one company''s T302 data: records the mapping and grants USAGE on schema sensor and SELECT on tsv_channels, electrical_samples, electrical, tsv_files and company_access. Row-level security hides the other companies.';
COMMENT ON FUNCTION sensor.revoke_company_access(regrole, text) IS
    'Removes a role''s access to one company (all companies when company is NULL); when no company is left, revokes the SELECT privileges that grant_company_access gave. Returns the number of mappings removed.';
