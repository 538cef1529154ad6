-- sensor.clickhouse_ddl for the reporting tables and every mapped type, a small export
-- and stream, and the error messages of the export functions.
\set SHOW_CONTEXT never
SET timezone = 'UTC';
CREATE TABLE users (user_id int4 NOT NULL PRIMARY KEY, name text NOT NULL, country text);
CREATE TABLE telemetry_events (
    id int8 NOT NULL, user_id int4 NOT NULL, prosthesis_type text NOT NULL, muscle_group text NOT NULL,
    signal_frequency int4 NOT NULL, signal_duration int4 NOT NULL, signal_amplitude float8 NOT NULL,
    event_timestamp timestamptz NOT NULL, saved_ts timestamptz NOT NULL);
INSERT INTO users SELECT i, 'user ' || i, (ARRAY['FR', 'DE', NULL])[i % 3 + 1] FROM generate_series(1, 10) i;
INSERT INTO telemetry_events
SELECT i, i % 10 + 1, (ARRAY['hand', 'arm'])[i % 2 + 1], 'biceps', 50 + i % 7, 100 + i, i / 4.0,
       timestamptz '2024-01-31 23:00:00+00' + i * interval '1 minute',
       timestamptz '2024-01-31 23:00:00+00' + i * interval '1 minute' + interval '3 seconds'
FROM generate_series(1, 100) i;

\pset format unaligned
\pset tuples_only on
-- The two tables of the reporting service.
SELECT sensor.clickhouse_ddl('SELECT * FROM users', 'users', engine => 'Join(ANY, LEFT, user_id)');
SELECT sensor.clickhouse_ddl('SELECT * FROM telemetry_events', 'telemetry_events',
    order_by => '(user_id, event_timestamp)', partition_by => 'toYYYYMM(event_timestamp)',
    datetime_columns => '{event_timestamp,saved_ts}');

-- Every mapped type; NOT NULL table columns only are not Nullable.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN price AS numeric(12, 2);
CREATE TABLE every_type (
    i2 int2 NOT NULL, i4 int4, i8 int8, f4 float4, f8 float8, b bool, t text, vc varchar(10), nm name,
    lc text, by bytea, tstz timestamptz, ts timestamp, d date, tm time, dec numeric(10, 3), num numeric,
    wide numeric(50, 5), u uuid, js json, jsb jsonb, ints int4[], texts text[], m mood, ip inet,
    p price, ch char(3));
SELECT sensor.clickhouse_ddl('SELECT * FROM every_type', 'every_type', low_cardinality => '{lc}', order_by => 'i2');
SELECT sensor.clickhouse_ddl('SELECT num, tm, tstz, d FROM every_type', 'options', engine => 'Memory',
    numeric_mode => 'float64', time_mode => 'int64', special_values => 'null');
SELECT sensor.clickhouse_ddl('SELECT num FROM every_type', 'as_text', numeric_mode => 'text');
-- Nullability: outer joins, grouping sets, expressions make columns Nullable.
SELECT sensor.clickhouse_ddl('SELECT u.user_id, e.id FROM users u LEFT JOIN telemetry_events e USING (user_id)', 'j', engine => 'Memory');
SELECT sensor.clickhouse_ddl('SELECT user_id, count(*) AS n FROM telemetry_events GROUP BY ROLLUP (user_id)', 'r', engine => 'Memory');
SELECT sensor.clickhouse_ddl('SELECT "order", "Weird `name`" FROM (SELECT 1 AS "order", 2 AS "Weird `name`") s', 'from', engine => 'Memory');
\pset format aligned
\pset tuples_only off

-- A small export and the same rows as a stream.
SELECT rows, batches, bytes > 0 AS has_bytes
FROM sensor.arrow_export('SELECT * FROM telemetry_events ORDER BY id', '/tmp/sensor_regress_fixtures/out/telemetry.arrow', batch_rows => 30);
SELECT count(*) AS chunks, sum(length(c)) > 0 AS has_bytes
FROM sensor.arrow_stream('SELECT * FROM telemetry_events ORDER BY id', batch_rows => 30) AS c;
-- A window: February only.
SELECT rows, batches FROM sensor.arrow_export('SELECT * FROM telemetry_events', '/tmp/sensor_regress_fixtures/out/february.arrow',
    time_column => 'event_timestamp', "from" => '2024-02-01 00:00:00+00', "to" => '2024-03-01 00:00:00+00');

-- Errors.
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/telemetry.arrow');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', 'relative.arrow');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', format => 'parquet');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', compression => 'gzip');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', batch_rows => 0);
SELECT * FROM sensor.arrow_export(NULL, '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a, 2 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a; SELECT 2 AS b', '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export('CREATE TEMP TABLE z (a int)', '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', low_cardinality => '{b}');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', low_cardinality => '{a}');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', datetime_columns => '{a}');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', numeric_mode => 'real');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', special_values => 'zero');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', time_column => 'a', "from" => '2024-01-01');
SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '/tmp/sensor_regress_fixtures/out/x.arrow', time_column => 'b', "from" => '2024-01-01');
SELECT * FROM sensor.arrow_export('SELECT now() AS t', '/tmp/sensor_regress_fixtures/out/x.arrow', time_column => 't');
SELECT * FROM sensor.arrow_export('SELECT now() AS t', '/tmp/sensor_regress_fixtures/out/x.arrow', "to" => '2024-01-01');
SELECT * FROM sensor.arrow_export('SELECT now() AS t', '/tmp/sensor_regress_fixtures/out/x.arrow', time_column => 't',
    "from" => '2024-02-01', "to" => '2024-01-01');
-- Values Arrow cannot hold (a failed export leaves no file behind).
SELECT * FROM sensor.arrow_export($$SELECT 'infinity'::timestamptz AS ts$$, '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export($$SELECT '-infinity'::date AS d$$, '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export($$SELECT 'NaN'::numeric AS n$$, '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export($$SELECT 1e30::numeric AS n$$, '/tmp/sensor_regress_fixtures/out/x.arrow');
SELECT * FROM sensor.arrow_export($$SELECT ARRAY[[1, 2], [3, 4]] AS m$$, '/tmp/sensor_regress_fixtures/out/x.arrow');
-- ... or their documented mappings.
SELECT rows FROM sensor.arrow_export($$SELECT 'infinity'::timestamptz AS ts, 'NaN'::numeric AS n$$,
    '/tmp/sensor_regress_fixtures/out/x.arrow', special_values => 'null');
SELECT sensor.clickhouse_ddl('SELECT 1 AS a', 't', engine => 'Memory', order_by => 'a');
SELECT sensor.clickhouse_ddl('SELECT', 't');
SELECT sensor.clickhouse_ddl('SELECT 1 AS a', NULL);
-- Writing a server file needs pg_write_server_files; streams and DDL do not.
CREATE ROLE sensor_export_reader NOLOGIN;
GRANT USAGE ON SCHEMA sensor TO sensor_export_reader;
GRANT SELECT ON telemetry_events TO sensor_export_reader;
SET ROLE sensor_export_reader;
SELECT * FROM sensor.arrow_export('SELECT * FROM telemetry_events', '/tmp/sensor_regress_fixtures/out/denied.arrow');
SELECT count(*) AS chunks FROM sensor.arrow_stream('SELECT * FROM telemetry_events');
RESET ROLE;
DROP OWNED BY sensor_export_reader;
DROP ROLE sensor_export_reader;
-- Only the successful exports left files.
SELECT name FROM pg_ls_dir('/tmp/sensor_regress_fixtures/out') AS name ORDER BY name;
DROP TABLE every_type, users, telemetry_events;
DROP TYPE mood;
DROP DOMAIN price;
