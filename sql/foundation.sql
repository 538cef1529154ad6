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
