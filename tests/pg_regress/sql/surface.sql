-- The public SQL surface: every object in schemas sensor and sensor_data (the storage the
-- extension creates), with volatility, parallel safety and whether it is documented. A
-- change here is a change to the public API.
-- One line per object, so that a diff shows exactly what changed.
\pset format unaligned
SELECT p.oid::regprocedure AS function,
       CASE p.prokind WHEN 'f' THEN 'function' WHEN 'a' THEN 'aggregate' WHEN 'p' THEN 'procedure' WHEN 'w' THEN 'window' END AS kind,
       pg_get_function_result(p.oid) AS returns,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS volatility,
       CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END AS parallel,
       p.proisstrict AS strict,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS documented
FROM pg_proc p
WHERE p.pronamespace = 'sensor'::regnamespace
ORDER BY p.proname, pg_get_function_identity_arguments(p.oid);

SELECT c.oid::regclass AS relation,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'p' THEN 'partitioned table' WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' ELSE c.relkind::text END AS kind,
       c.relrowsecurity AS row_security,
       obj_description(c.oid, 'pg_class') IS NOT NULL AS documented
FROM pg_class c
WHERE c.relnamespace IN ('sensor'::regnamespace, 'sensor_data'::regnamespace) AND c.relkind NOT IN ('i', 'S', 'c')
ORDER BY c.relnamespace::regnamespace::text, c.relname;

SELECT t.oid::regtype AS type,
       CASE t.typtype WHEN 'c' THEN 'composite' WHEN 'b' THEN 'base' WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' ELSE t.typtype::text END AS kind,
       obj_description(t.oid, 'pg_type') IS NOT NULL AS documented
FROM pg_type t
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE t.typnamespace = 'sensor'::regnamespace
  AND t.typelem = 0 AND (c.oid IS NULL OR c.relkind = 'c')
ORDER BY t.typname;

\pset format aligned
-- Nothing undocumented may ship.
SELECT (SELECT count(*) FROM pg_proc p
        WHERE p.pronamespace = 'sensor'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL) AS undocumented_functions,
       (SELECT count(*) FROM pg_class c
        WHERE c.relnamespace IN ('sensor'::regnamespace, 'sensor_data'::regnamespace) AND c.relkind IN ('r', 'v', 'm', 'p')
          AND obj_description(c.oid, 'pg_class') IS NULL) AS undocumented_relations,
       (SELECT count(*) FROM pg_type t
        WHERE t.typnamespace = 'sensor'::regnamespace AND t.typtype IN ('c', 'b', 'e', 'd') AND t.typelem = 0
          AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
          AND obj_description(t.oid, 'pg_type') IS NULL) AS undocumented_types;
