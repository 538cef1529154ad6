-- TDMS ingestion: tdms_channels, tdms_properties, tdms_read, load_tdms, load_tdms_bytes,
-- delete_dataset, and their error messages. Fixtures: tests/data/tdms (hand-made,
-- see make_fixtures.py). sensor_data.samples is a hypertable when TimescaleDB is installed:
-- the output is the same either way.
\set d '/tmp/sensor_regress_fixtures/tdms/'
\set VERBOSITY default
SET timezone = 'UTC';

-- Metadata --------------------------------------------------------------------------
SELECT group_name, channel_name, path, data_type, n_values, unit, has_time, start_time,
       increment_s, is_daqmx, scaling, value_type
FROM sensor.tdms_channels(:'d' || 'small.tdms');
SELECT channel_name, properties FROM sensor.tdms_channels(:'d' || 'small.tdms') WHERE has_time;
SELECT * FROM sensor.tdms_properties(:'d' || 'small.tdms');
SELECT channel_name, scaling, value_type FROM sensor.tdms_channels(:'d' || 'rtd_scale.tdms');

-- Reading ---------------------------------------------------------------------------
SELECT * FROM sensor.tdms_read(:'d' || 'small.tdms');
SELECT * FROM sensor.tdms_read(:'d' || 'small.tdms', channel_name => 'temp', "offset" => 2, "limit" => 3);
SELECT channel_name, sample_index, time, value FROM sensor.tdms_read(:'d' || 'interleaved.tdms', 'g');
-- Past the end: no rows. No path: no rows (as from a STRICT function).
SELECT count(*) FROM sensor.tdms_read(:'d' || 'small.tdms', "offset" => 1000000);
SELECT count(*) FROM sensor.tdms_read(NULL);
-- A truncated (unclosed) last segment: the valid data, with warnings.
SELECT sample_index, value FROM sensor.tdms_read(:'d' || 'truncated.tdms');
-- Fewer values than the metadata announces: what is there.
SELECT sample_index, value FROM sensor.tdms_read(:'d' || 'data_past_end.tdms');

-- Loading ---------------------------------------------------------------------------
SELECT dataset_id > 0 AS has_id, channels_loaded, channels_skipped, samples, bytes,
       duration_ms >= 0 AS timed, already_loaded
FROM sensor.load_tdms(:'d' || 'small.tdms');
SELECT name, source_file, length(sha256) AS sha256_length, bytes, properties, group_properties, warnings
FROM sensor_data.datasets;
SELECT group_name, name, unit, data_type, has_time, start_time, increment_s, n_samples
FROM sensor_data.channels ORDER BY id;
SELECT c.name, s.time, s.value FROM sensor_data.samples s JOIN sensor_data.channels c ON c.id = s.channel_id
ORDER BY c.id, s.time;
SELECT c.name, s.sample_index, s.value FROM sensor_data.indexed_samples s JOIN sensor_data.channels c ON c.id = s.channel_id
ORDER BY c.id, s.sample_index;
-- The same content again, from a client upload: not loaded twice.
SELECT channels_loaded, samples, already_loaded
FROM sensor.load_tdms_bytes(pg_read_binary_file(:'d' || 'small.tdms'), 'again');
-- replace => true deletes the old dataset first.
SELECT channels_loaded, samples, already_loaded
FROM sensor.load_tdms_bytes(pg_read_binary_file(:'d' || 'small.tdms'), 'again', replace => true);
SELECT name, source_file FROM sensor_data.datasets;
-- Warnings are kept with the dataset.
SELECT samples FROM sensor.load_tdms(:'d' || 'truncated.tdms', name => 'crashed rig');
SELECT name, warnings FROM sensor_data.datasets WHERE name = 'crashed rig';
SELECT sensor.delete_dataset(id) AS samples_deleted FROM sensor_data.datasets ORDER BY id;
SELECT (SELECT count(*) FROM sensor_data.datasets) AS datasets, (SELECT count(*) FROM sensor_data.channels) AS channels,
       (SELECT count(*) FROM sensor_data.samples) AS samples, (SELECT count(*) FROM sensor_data.indexed_samples) AS indexed_samples;

-- Errors ----------------------------------------------------------------------------
SELECT * FROM sensor.tdms_channels(:'d' || 'random.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_channels(:'d' || 'empty.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_channels(:'d' || 'wrong_tag.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_channels(:'d' || 'absurd_count.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_channels(:'d' || 'raw_offset_past_end.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_channels(:'d' || 'missing.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_channels(:'d');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_read(:'d' || 'rtd_scale.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tdms(:'d' || 'rtd_scale.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tdms(:'d' || 'time_overflow.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tdms(:'d' || 'random.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tdms_bytes('\x00010203'::bytea, 'four bytes');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tdms_bytes(NULL, 'nothing');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_read(:'d' || 'small.tdms', 'nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_read(:'d' || 'small.tdms', 'aux', 'temp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_read(:'d' || 'small.tdms', "offset" => -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT sensor.delete_dataset(123456);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Failed loads leave nothing behind.
SELECT (SELECT count(*) FROM sensor_data.datasets) AS datasets, (SELECT count(*) FROM sensor_data.channels) AS channels,
       (SELECT count(*) FROM sensor_data.samples) AS samples, (SELECT count(*) FROM sensor_data.indexed_samples) AS indexed_samples;

-- Privileges: server files need pg_read_server_files; uploads need only table privileges.
CREATE ROLE sensor_tdms_analyst;
GRANT USAGE ON SCHEMA sensor, sensor_data TO sensor_tdms_analyst;
GRANT SELECT, INSERT ON sensor_data.datasets, sensor_data.channels, sensor_data.samples, sensor_data.indexed_samples TO sensor_tdms_analyst;
CREATE TABLE tdms_upload AS SELECT pg_read_binary_file(:'d' || 'interleaved.tdms') AS content;
GRANT SELECT ON tdms_upload TO sensor_tdms_analyst;
SET ROLE sensor_tdms_analyst;
SELECT * FROM sensor.tdms_channels(:'d' || 'small.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tdms_read(:'d' || 'small.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tdms(:'d' || 'small.tdms');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT channels_loaded, samples, already_loaded FROM sensor.load_tdms_bytes((SELECT content FROM tdms_upload), 'uploaded');
RESET ROLE;
SELECT name, source_file, bytes FROM sensor_data.datasets;
SELECT sensor.delete_dataset(id) FROM sensor_data.datasets;
DROP TABLE tdms_upload;
DROP OWNED BY sensor_tdms_analyst;
DROP ROLE sensor_tdms_analyst;
