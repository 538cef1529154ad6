-- sensor.version() and sensor.build_info()
SELECT sensor.version() ~ '^sensor_analytics [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{7,40}|unknown)\)$' AS version_format_ok;

SELECT sensor.build_info()->>'extension' AS extension,
       sensor.build_info()->>'postgresql_built_for' AS built_for,
       (sensor.build_info()->>'postgresql_running') LIKE current_setting('server_version') AS running_matches,
       sensor.build_info()->>'version' = split_part(sensor.version(), ' ', 2) AS version_matches;

SELECT (sensor.build_info()->'timescaledb'->>'installed')::boolean
         = EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb_flag_matches,
       (sensor.build_info()->'timescaledb'->>'version') IS NOT DISTINCT FROM
         (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb_version_matches;

SELECT array_agg(key ORDER BY key) AS build_info_keys FROM jsonb_object_keys(sensor.build_info()) AS key;

-- Both work where a continuous-aggregate refresh runs them: search_path = pg_catalog, pg_temp.
SET search_path = pg_catalog, pg_temp;
SELECT sensor.version() IS NOT NULL AS works_without_search_path,
       sensor.build_info() ? 'timescaledb' AS build_info_works_without_search_path;
RESET search_path;
