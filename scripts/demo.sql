-- The demo's showcase: a short tour of what sensor_analytics does.
\pset footer off
\echo 'What is running:'
SELECT sensor.version();
SELECT jsonb_pretty(sensor.build_info()) AS build_info;

\echo 'Every function in schema sensor:'
SELECT p.oid::regprocedure AS function, d.description
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_catalog.pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::regclass
WHERE n.nspname = 'sensor'
ORDER BY 1::text;
