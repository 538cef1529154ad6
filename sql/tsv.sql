-- PowerView T302 TSV ingestion: tenant access management (the tables and views are in
-- sql/storage.sql), and documentation of the load functions (src/ingest/tsv.rs).

CREATE FUNCTION sensor.grant_company_access(role regrole, company text) RETURNS void
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

-- Only administrators hand out companies.
REVOKE EXECUTE ON FUNCTION sensor.grant_company_access(regrole, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION sensor.revoke_company_access(regrole, text) FROM PUBLIC;

-- Documentation ---------------------------------------------------------------------------
COMMENT ON FUNCTION sensor.tsv_read(text, text, boolean) IS
    'Streams the points of a T302 TSV file on the server without loading them: (time, channel_id, device_sn, label, name, unit, value). timezone: zone of V002 times (default UTC); skip_zero_rows (default true) drops all-zero power-cut rows. Needs pg_read_server_files.';
COMMENT ON FUNCTION sensor.load_tsv(text, text, text, text, text, boolean) IS
    'Loads a T302 TSV file on the server into sensor_data.electrical_samples (later rows overwrite values at the same channel and time), records it in sensor_data.tsv_files and returns that row. company, campaign and device_master_sn come from the path below base_dir, or from the arguments. Status: loaded, duplicate, deferred (V003 without END_DATA), no_data, unsupported. Needs pg_read_server_files.';
COMMENT ON FUNCTION sensor.load_tsv_dir(text, boolean, text, boolean) IS
    'Loads every .tsv file below base_dir not yet recorded (parsed/ and error/ folders skipped), each in its own subtransaction: a failing file is recorded as failed and the others still load. Records and returns one sensor_data.tsv_runs row. move_files => true moves each file into parsed/ or error/ beside it when the transaction commits (deferred files stay); it needs pg_write_server_files too.';
COMMENT ON FUNCTION sensor.grant_company_access(regrole, text) IS
    'Lets a role (e.g. a Grafana data source) read one company''s T302 data: records the mapping in sensor_data.company_access and grants USAGE on schemas sensor and sensor_data and SELECT on the security-barrier views sensor_data.electrical, electrical_channels and electrical_files, which show it only its companies. The role gets no privilege on any table, so no other path (chunks, compressed chunks) reaches the rows.';
COMMENT ON FUNCTION sensor.revoke_company_access(regrole, text) IS
    'Removes a role''s access to one company (all companies when company is NULL); when no company is left, revokes the SELECT privileges on the views that grant_company_access gave. Returns the number of mappings removed.';
