-- TDMS ingestion: sensor.delete_dataset, and documentation of the TDMS functions
-- (src/ingest/tdms.rs) and tables (sql/storage.sql).

CREATE FUNCTION sensor.delete_dataset(id bigint) RETURNS bigint
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

COMMENT ON FUNCTION sensor.delete_dataset(bigint) IS
    'Deletes a loaded TDMS dataset: its samples, channels and catalog row. Returns the number of samples deleted. An unknown id is error 42704.';

COMMENT ON FUNCTION sensor.tdms_channels(text) IS
    'One row per channel of a TDMS file on the server: group, channel, object path, LabVIEW data type, number of values, unit (NI_UnitDescription, else unit_string), whether it has waveform time, start time (wf_start_time + wf_start_offset), increment in seconds, properties (jsonb), DAQmx flag, NI scaling (jsonb) and value_type (float8, timestamp, text; NULL when unreadable). Needs pg_read_server_files.';

COMMENT ON FUNCTION sensor.tdms_properties(text) IS
    'File, group and channel properties of a TDMS file on the server: level (file/group/channel), group_name, channel_name, name, value (jsonb; timestamps as ISO 8601 UTC text) and the TDMS data type. Needs pg_read_server_files.';

COMMENT ON FUNCTION sensor.tdms_read(text, text, text, bigint, bigint) IS
    'Streams samples of a TDMS file on the server, NI scaling applied: every channel, or one group and/or channel name, samples offset .. offset + limit of each. time is wf_start_time + wf_start_offset + i * wf_increment (NULL without waveform time). value is float8 (booleans 0/1, timestamps as Unix seconds); value_text holds what float8 cannot: strings, complex values as (re,im), timestamps exactly (ISO 8601 UTC). Memory does not depend on the file. Needs pg_read_server_files.';

COMMENT ON FUNCTION sensor.load_tdms(text, text, boolean) IS
    'Loads a TDMS file on the server into sensor_data.datasets, sensor_data.channels, sensor_data.samples (channels with waveform time) and sensor_data.indexed_samples (the others), in the caller''s transaction, at COPY speed; progress shows in pg_stat_progress_copy (bytes_processed estimated from the share of values read). Returns dataset_id, channels_loaded, channels_skipped (jsonb: group, channel, reason; e.g. string channels), samples, bytes, duration_ms, already_loaded. A file with the same sha256 is not loaded twice (already_loaded, with the existing dataset_id and nothing loaded) unless replace => true, which deletes the old dataset first. name defaults to the file name. Needs pg_read_server_files.';

COMMENT ON FUNCTION sensor.load_tdms_bytes(bytea, text, boolean) IS
    'sensor.load_tdms for TDMS content sent by the client (e.g. pg_read_binary_file, or a bytea parameter): no server-file privilege needed, only INSERT on the sensor tables.';
