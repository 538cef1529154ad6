-- T302 (PowerView) TSV ingestion: sensor.tsv_read, load_tsv, load_tsv_dir, the reports,
-- the Grafana view and row-level security per company. Fixtures: run-regress copies
-- fixtures/ and tests/data to /tmp/sensor_regress_fixtures.
SET timezone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\set pv '/tmp/sensor_regress_fixtures/powerview'
\set dir '/tmp/sensor_regress_fixtures/tsv_dir'

-- Every shared fixture, with its tags from the path below base_dir.
\pset format unaligned
SELECT f.name, r.status, r.company, r.campaign, r.device_master_sn, r.master_sn, r.format, r.structure,
       r.rows, r.channels, r.points, r.invalid_timestamps, r.invalid_values, r.truncated_rows, r.zero_rows,
       r.first_time, r.last_time, r.bytes, left(r.sha256, 16) AS sha256_prefix
FROM (VALUES ('company1/campaign1/02001084/T302_251012_031720.tsv'),
             ('company2/format_v003/02001311/T302_260122_162658_UTC.tsv'),
             ('company3/base/02001283/T202_251022_121951.tsv'),
             ('company3/base/02001283/T302_251024_204336.tsv'),
             ('company3/base/02001283/T302_260109_102002.tsv'),
             ('company3/base/02001283/T302_260109_120045.tsv'),
             ('company3/base/02001283/T302_260109_133915.tsv')) AS f(name)
CROSS JOIN LATERAL sensor.load_tsv(:'pv' || '/' || f.name, base_dir => :'pv') AS r;
\pset format aligned

-- Channels: ids from the file's master (02001171), device_master_sn from the upload folder.
SELECT channel_id, device_master_sn, device_sn, device_type, label, name, unit, source_format
FROM sensor_data.tsv_channels WHERE company = 'company1' ORDER BY id LIMIT 8;
SELECT company, campaign, device_master_sn, count(*) AS channels
FROM sensor_data.tsv_channels GROUP BY 1, 2, 3 ORDER BY 1;

-- Points per company through the Grafana view (repeated times keep the later row).
SELECT company, count(*) AS points, count(DISTINCT channel_id) AS channels, min(time), max(time)
FROM sensor_data.electrical GROUP BY company ORDER BY company;
SELECT time, channel_id, name, unit, value FROM sensor_data.electrical
WHERE channel_id IN ('M02001171_U1', 'M02001171_S04001344_Ch5') AND time = '2025-08-03 03:20:00+00' ORDER BY channel_id;
SELECT time, channel_id, value FROM sensor_data.electrical
WHERE company = 'company3' AND channel_id = 'M02001283_U1' AND time IN ('2025-10-24 20:37:39+00', '2025-07-29 11:13:46+00') ORDER BY time;

-- Loading again: the same sha256 in the same company and campaign is a duplicate.
SELECT status, points FROM sensor.load_tsv(:'pv' || '/company1/campaign1/02001084/T302_251012_031720.tsv', base_dir => :'pv');
-- Explicit tags instead of base_dir: another campaign, loaded again (nothing duplicated inside it).
SELECT status, company, campaign, device_master_sn, points
FROM sensor.load_tsv(:'pv' || '/company1/campaign1/02001084/T302_251012_031720.tsv', company => 'company1', campaign => 'copy');
SELECT count(*) FROM sensor_data.electrical WHERE campaign = 'copy';

-- tsv_read streams without loading; skip_zero_rows => false keeps the power-cut rows.
SELECT * FROM sensor.tsv_read(:'pv' || '/company2/format_v003/02001311/T302_260122_162658_UTC.tsv') LIMIT 7;
SELECT count(*) AS with_zero_rows, count(*) FILTER (WHERE time = '2026-01-21 12:01:15+00') AS at_marker
FROM sensor.tsv_read(:'pv' || '/company2/format_v003/02001311/T302_260122_162658_UTC.tsv', skip_zero_rows => false);
SELECT count(*) FROM sensor.tsv_read(:'pv' || '/company3/base/02001283/T302_260109_120045.tsv');

-- A directory run: a bad file between good ones, an upload still in progress, parsed/ skipped.
SELECT files_total, succeeded, loaded, no_data, unsupported, duplicate, deferred, failed, skipped, points
FROM sensor.load_tsv_dir(:'dir');
SELECT replace(path, :'dir', '<dir>') AS path, status, rows, points, invalid_timestamps, invalid_values,
       error_sqlstate, replace(error_message, :'dir', '<dir>') AS error_message
FROM sensor_data.tsv_files WHERE run_id IS NOT NULL ORDER BY path;
-- T302_c.tsv (CRLF) re-sends 00:10 and 00:20: its values win.
SELECT time, channel_id, value FROM sensor_data.electrical WHERE company = 'acme' ORDER BY channel_id, time;
-- A second run skips what is recorded and retries the rest.
SELECT files_total, failed, deferred, skipped FROM sensor.load_tsv_dir(:'dir');

-- Tenants: each role reads its companies only, through the views; no table is readable.
CREATE ROLE tsv_grafana_acme NOLOGIN;
CREATE ROLE tsv_grafana_c3 NOLOGIN;
SELECT sensor.grant_company_access('tsv_grafana_acme', 'acme');
SELECT sensor.grant_company_access('tsv_grafana_c3', 'company3');
SET ROLE tsv_grafana_acme;
SELECT (SELECT count(*) FROM sensor_data.electrical_channels) AS channels, (SELECT count(*) FROM sensor_data.electrical) AS points,
       (SELECT string_agg(DISTINCT company, ',') FROM sensor_data.electrical_files) AS files_of,
       (SELECT count(*) FROM sensor_data.electrical WHERE company <> 'acme') AS other_companies;
SELECT count(*) FROM sensor_data.electrical_samples;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM sensor_data.tsv_channels;
\echo :LAST_ERROR_SQLSTATE
SET ROLE tsv_grafana_c3;
SELECT (SELECT count(*) FROM sensor_data.electrical_channels) AS channels, (SELECT count(*) FROM sensor_data.electrical) AS points,
       (SELECT string_agg(DISTINCT company, ',') FROM sensor_data.electrical_files) AS files_of,
       (SELECT count(*) FROM sensor_data.electrical WHERE company <> 'company3') AS other_companies;
SELECT sensor.grant_company_access('tsv_grafana_c3', 'company1');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT sensor.revoke_company_access('tsv_grafana_c3');
SET ROLE tsv_grafana_c3;
SELECT count(*) FROM sensor_data.electrical;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Errors and their SQLSTATEs.
SELECT * FROM sensor.load_tsv(:'pv' || '/company1/campaign1/02001084/T302_251012_031720.tsv');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tsv(:'pv' || '/company1/campaign1/02001084/T302_251012_031720.tsv', base_dir => '/srv/data');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tsv(:'pv' || '/company1/missing.tsv', company => 'c', campaign => 'k');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tsv(:'pv', company => 'c', campaign => 'k');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tsv(:'dir' || '/acme/site1/02001999/T302_b_bad.tsv', base_dir => :'dir');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tsv(:'dir' || '/acme/site1/02001999/T302_a.tsv', base_dir => :'dir', timezone => 'Paris');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.tsv_read(:'pv' || '/company3/base/02001283/T202_251022_121951.tsv');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tsv_dir(:'pv' || '/nowhere');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM sensor.load_tsv(NULL);
\echo :LAST_ERROR_SQLSTATE
CREATE ROLE tsv_plain NOLOGIN;
GRANT USAGE ON SCHEMA sensor TO tsv_plain;
SET ROLE tsv_plain;
\set VERBOSITY default
SELECT * FROM sensor.tsv_read(:'pv' || '/company1/campaign1/02001084/T302_251012_031720.tsv');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
CREATE ROLE tsv_reader NOLOGIN IN ROLE pg_read_server_files;
GRANT USAGE ON SCHEMA sensor TO tsv_reader;
SET ROLE tsv_reader;
SELECT * FROM sensor.load_tsv_dir(:'dir', move_files => true);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DROP OWNED BY tsv_grafana_acme, tsv_grafana_c3, tsv_plain, tsv_reader;
DROP ROLE tsv_grafana_acme, tsv_grafana_c3, tsv_plain, tsv_reader;
