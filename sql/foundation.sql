-- Documentation for the foundation objects. Every object in schema sensor gets a comment.
COMMENT ON SCHEMA sensor IS
    'sensor_analytics: TDMS and T302 ingestion, downsampling for Grafana, availability, quality scoring and ClickHouse Arrow export';

COMMENT ON FUNCTION sensor.version() IS
    'The sensor_analytics version and the git commit it was built from, e.g. "sensor_analytics 0.1.0 (commit 1a2b3c4d5e6f)".';

COMMENT ON FUNCTION sensor.build_info() IS
    'Build and run-time facts as jsonb: PostgreSQL major version built for and running, build profile, and whether TimescaleDB is installed in this database (with its version).';

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
