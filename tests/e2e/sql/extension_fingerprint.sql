-- Everything the extension defines, and the storage it creates, one line per fact: two
-- databases with equal fingerprints have the same functions, types, tables, views,
-- policies, comments, privileges (a default ACL and its explicit form read the same) and
-- extension membership. Used to prove that
-- ALTER EXTENSION ... UPDATE gives what CREATE EXTENSION gives.
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'sensor_analytics'),
members AS (
    SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0) AS fact
    FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'
),
functions AS (
    SELECT 'function ' || p.oid::regprocedure || ' ' ||
           CASE WHEN p.prokind = 'a' THEN
               (SELECT concat_ws(' ', a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                                 a.aggdeserialfn, a.aggtranstype::regtype, a.aggfinalextra, a.aggfinalmodify,
                                 a.agginitval, a.aggkind)
                FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
           ELSE pg_get_functiondef(p.oid) END
           || ' acl=' || coalesce(p.proacl, acldefault('f', p.proowner))::text
           || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-') AS fact
    FROM pg_proc p WHERE p.pronamespace IN ('sensor'::regnamespace, 'sensor_data'::regnamespace)
),
types AS (
    SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text || ' ' ||
           coalesce(t.typbasetype::regtype::text, '') || ' ' ||
           coalesce((SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
                     FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0), '') ||
           ' comment=' || coalesce(obj_description(t.oid, 'pg_type'), '-') AS fact
    FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
    WHERE t.typnamespace = 'sensor'::regnamespace AND t.typelem = 0 AND (c.oid IS NULL OR c.relkind = 'c')
),
relations AS (
    SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity ||
           ' options=' || coalesce(c.reloptions::text, '-') ||
           ' acl=' || coalesce(c.relacl, acldefault('r', c.relowner))::text ||
           ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-') ||
           CASE WHEN c.relkind = 'v' THEN ' view=' || pg_get_viewdef(c.oid) ELSE '' END AS fact
    FROM pg_class c WHERE c.relnamespace IN ('sensor'::regnamespace, 'sensor_data'::regnamespace)
      AND c.relkind IN ('r', 'v', 'm', 'p', 'S')
),
columns AS (
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
           ' notnull=' || a.attnotnull || ' identity=' || a.attidentity::text ||
           ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-') ||
           ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '-') AS fact
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'sensor_data'::regnamespace AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped
),
constraints AS (
    SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS fact
    FROM pg_constraint WHERE connamespace = 'sensor_data'::regnamespace
),
indexes AS (
    SELECT 'index ' || indexdef AS fact FROM pg_indexes WHERE schemaname = 'sensor_data'
),
policies AS (
    SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || cmd::text || ' ' ||
           array_to_string(roles, ',') || ' ' || coalesce(qual, '-') || ' ' || coalesce(with_check, '-') AS fact
    FROM pg_policies WHERE schemaname = 'sensor_data'
),
schemas AS (
    SELECT 'schema ' || nspname || ' acl=' || coalesce(nspacl, acldefault('n', nspowner))::text ||
           ' comment=' || coalesce(obj_description(oid, 'pg_namespace'), '-') AS fact
    FROM pg_namespace WHERE nspname IN ('sensor', 'sensor_data')
)
SELECT fact FROM (
    SELECT fact FROM members UNION ALL SELECT fact FROM functions UNION ALL SELECT fact FROM types
    UNION ALL SELECT fact FROM relations UNION ALL SELECT fact FROM columns
    UNION ALL SELECT fact FROM constraints UNION ALL SELECT fact FROM indexes
    UNION ALL SELECT fact FROM policies UNION ALL SELECT fact FROM schemas
) f ORDER BY fact;
