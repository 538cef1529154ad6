// `#[pg_test]`s of the Arrow export functions.

use std::path::PathBuf;

use crate::tests::{assert_sqlstate, error_fields_of, sqlstate_of};
use pgrx::prelude::*;

fn one(sql: &str) -> String {
    Spi::get_one::<String>(sql).unwrap().unwrap_or_default()
}

/// An empty directory of this backend for one test's files.
fn test_dir(test: &str) -> PathBuf {
    // SAFETY: MyProcPid is set in every backend.
    let pid = unsafe { pg_sys::MyProcPid };
    let dir = std::env::temp_dir().join(format!("sensor_export_{test}_{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &PathBuf) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn telemetry(rows: i64) {
    Spi::run(&format!(
        "CREATE TABLE telemetry_events (
            id int8 NOT NULL, user_id int4 NOT NULL, prosthesis_type text NOT NULL,
            muscle_group text NOT NULL, signal_frequency int4 NOT NULL,
            signal_duration int4 NOT NULL, signal_amplitude float8 NOT NULL,
            event_timestamp timestamptz NOT NULL, saved_ts timestamptz NOT NULL);
         INSERT INTO telemetry_events
         SELECT i, i % 100, (ARRAY['hand','arm','leg'])[i % 3 + 1], 'biceps', i % 500, i % 1000,
                i / 8.0, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
                timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' + interval '1 second'
         FROM generate_series(1, {rows}) AS i"
    ))
    .unwrap();
}

#[pg_test]
fn ddl_of_the_issue_tables() {
    telemetry(10);
    Spi::run("CREATE TABLE users (user_id int4 NOT NULL, name text NOT NULL, country text)")
        .unwrap();
    assert_eq!(
        one("SELECT sensor.clickhouse_ddl('SELECT * FROM users', 'users', engine => 'Join(ANY, LEFT, user_id)')"),
        "CREATE TABLE users (user_id Int32, name String, country Nullable(String)) ENGINE = Join(ANY, LEFT, user_id)"
    );
    assert_eq!(
        one("SELECT sensor.clickhouse_ddl('SELECT * FROM telemetry_events', 'telemetry_events',
                order_by => '(user_id, event_timestamp)', partition_by => 'toYYYYMM(event_timestamp)',
                datetime_columns => '{event_timestamp,saved_ts}')"),
        "CREATE TABLE telemetry_events (id Int64, user_id Int32, prosthesis_type String, muscle_group String, \
         signal_frequency Int32, signal_duration Int32, signal_amplitude Float64, event_timestamp DateTime, \
         saved_ts DateTime) ENGINE = MergeTree PARTITION BY toYYYYMM(event_timestamp) ORDER BY (user_id, event_timestamp)"
    );
}

#[pg_test]
fn every_type_maps_as_documented() {
    Spi::run(
        "CREATE TYPE mood AS ENUM ('sad', 'ok');
         CREATE DOMAIN price AS numeric(12, 2);
         CREATE TABLE every (
            a int2 NOT NULL, b int4, c int8, d float4, e float8, f bool, g text, h varchar(5),
            i name, j bytea, k timestamptz, l timestamp, m date, n time, o numeric(10, 3),
            p numeric, q numeric(50, 5), r uuid, s json, t jsonb, u int4[], v text[], w mood,
            x inet, y price, z char(3))",
    )
    .unwrap();
    let ddl = one("SELECT sensor.clickhouse_ddl('SELECT * FROM every', 'every', low_cardinality => '{g}')");
    assert_eq!(
        ddl,
        "CREATE TABLE every (a Int16, b Nullable(Int32), c Nullable(Int64), d Nullable(Float32), \
         e Nullable(Float64), f Nullable(Bool), g LowCardinality(Nullable(String)), h Nullable(String), \
         i Nullable(String), j Nullable(String), k Nullable(DateTime64(6, 'UTC')), l Nullable(DateTime64(6)), \
         m Nullable(Date32), n Nullable(Time64(6)), o Nullable(Decimal(10, 3)), p Nullable(Decimal(38, 9)), \
         q Nullable(String), r Nullable(UUID), s Nullable(String), t Nullable(String), \
         u Array(Nullable(Int32)), v Array(Nullable(String)), w LowCardinality(Nullable(String)), \
         x Nullable(String), y Nullable(Decimal(12, 2)), z Nullable(String)) ENGINE = MergeTree ORDER BY tuple()"
    );
    let options = one(
        "SELECT sensor.clickhouse_ddl('SELECT p, n, k FROM every', 't', numeric_mode => 'float64', time_mode => 'int64', special_values => 'null')",
    );
    assert_eq!(
        options,
        "CREATE TABLE t (p Nullable(Float64), n Nullable(Int64), k Nullable(DateTime64(6, 'UTC'))) ENGINE = MergeTree ORDER BY tuple()"
    );
    assert_eq!(
        one("SELECT sensor.clickhouse_ddl('SELECT p FROM every', 't', numeric_mode => 'TEXT')"),
        "CREATE TABLE t (p Nullable(String)) ENGINE = MergeTree ORDER BY tuple()"
    );
}

#[pg_test]
fn nullability_follows_not_null_table_columns_only() {
    Spi::run(
        "CREATE TABLE a (id int4 NOT NULL, v int4 NOT NULL, w int4);
         CREATE TABLE b (id int4 NOT NULL, x int4 NOT NULL);
         CREATE VIEW av AS SELECT id, v FROM a",
    )
    .unwrap();
    let columns = |query: &str| {
        let ddl = Spi::get_one_with_args::<String>(
            "SELECT sensor.clickhouse_ddl($1, 't', engine => 'Memory')",
            &[query.into()],
        )
        .unwrap()
        .unwrap();
        ddl.trim_start_matches("CREATE TABLE t (")
            .trim_end_matches(") ENGINE = Memory")
            .to_string()
    };
    assert_eq!(
        columns("SELECT id, v, w FROM a"),
        "id Int32, v Int32, w Nullable(Int32)"
    );
    // Through subqueries, CTEs and inner joins the trace holds.
    assert_eq!(columns("SELECT s.v FROM (SELECT v FROM a) s"), "v Int32");
    assert_eq!(
        columns("WITH c AS (SELECT v FROM a) SELECT v FROM c"),
        "v Int32"
    );
    assert_eq!(
        columns("SELECT a.v, b.x FROM a JOIN b USING (id)"),
        "v Int32, x Int32"
    );
    // Outer joins, grouping sets, expressions, views, set operations: nullable.
    assert_eq!(
        columns("SELECT a.v, b.x FROM a LEFT JOIN b USING (id)"),
        "v Nullable(Int32), x Nullable(Int32)"
    );
    assert_eq!(
        columns("SELECT s.x FROM (SELECT b.x FROM a LEFT JOIN b USING (id)) s"),
        "x Nullable(Int32)"
    );
    assert_eq!(
        columns("SELECT v FROM a GROUP BY ROLLUP (v)"),
        "v Nullable(Int32)"
    );
    assert_eq!(columns("SELECT v + 0 AS v FROM a"), "v Nullable(Int32)");
    assert_eq!(columns("SELECT v FROM av"), "v Nullable(Int32)");
    assert_eq!(
        columns("SELECT v FROM a UNION ALL SELECT x FROM b"),
        "v Nullable(Int32)"
    );
    assert_eq!(columns("SELECT 1 AS one"), "one Nullable(Int32)");
}

#[pg_test]
fn export_writes_a_complete_file_atomically() {
    telemetry(25_000);
    let dir = test_dir("atomic");
    let path = dir.join("t.arrow");
    let sql = format!(
        "SELECT rows, batches, bytes FROM sensor.arrow_export('SELECT * FROM telemetry_events', '{}', batch_rows => 10000)",
        path.display()
    );
    let (rows, batches, bytes) = Spi::get_three::<i64, i32, i64>(&sql).unwrap();
    assert_eq!((rows, batches), (Some(25_000), Some(3)));
    let data = std::fs::read(&path).unwrap();
    assert_eq!(bytes, Some(data.len() as i64));
    assert!(data.starts_with(b"ARROW1") && data.ends_with(b"ARROW1"));
    assert_eq!(entries(&dir), vec!["t.arrow"], "no temporary file is left");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&path).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o644);

    // An existing file is refused, or replaced with overwrite => true.
    assert_sqlstate(&sql, "58P02");
    let replaced = Spi::get_one::<i64>(&format!(
        "SELECT rows FROM sensor.arrow_export('SELECT 1 AS x', '{}', overwrite => true)",
        path.display()
    ))
    .unwrap();
    assert_eq!(replaced, Some(1));
    assert!(std::fs::read(&path).unwrap().len() < data.len());
    assert_eq!(entries(&dir), vec!["t.arrow"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[pg_test]
fn a_failed_export_leaves_nothing_behind() {
    let dir = test_dir("failed");
    let path = dir.join("f.arrow");
    // Fails in the third batch, after two were written.
    let failing = format!(
        "SELECT * FROM sensor.arrow_export('SELECT 1 / (i - 25000) AS x FROM generate_series(1, 30000) i', '{}', batch_rows => 10000)",
        path.display()
    );
    assert_sqlstate(&failing, "22012");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

    // A failed overwrite keeps the old file as it was.
    std::fs::write(&path, b"old").unwrap();
    let infinity = format!(
        "SELECT * FROM sensor.arrow_export($$SELECT CASE WHEN i = 70000 THEN 'infinity'::timestamptz ELSE now() END AS ts FROM generate_series(1, 70000) i$$, '{}', overwrite => true)",
        path.display()
    );
    assert_eq!(
        error_fields_of(&infinity),
        "22008|cannot export column \"ts\": infinite value in a timestamp||Pass special_values => 'null' to export ±infinity and NaN as NULL, or filter them out in the query."
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(entries(&dir), vec!["f.arrow"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[pg_test]
fn values_arrow_cannot_hold_have_deliberate_sqlstates() {
    let dir = test_dir("values");
    let export = |query: &str, extra: &str| {
        format!(
            "SELECT * FROM sensor.arrow_export($q${query}$q$, '{}', overwrite => true{extra})",
            dir.join("v.arrow").display()
        )
    };
    assert_eq!(
        error_fields_of(&export("SELECT 'NaN'::numeric AS n", "")),
        "22003|cannot export column \"n\": NaN in a numeric||Pass special_values => 'null' to export ±infinity and NaN as NULL, or filter them out in the query."
    );
    assert_eq!(
        error_fields_of(&export("SELECT 1e40::numeric AS n", "")),
        "22003|cannot export column \"n\": numeric 10000000000000000000000000000000000000000 does not fit Decimal(38, 9)||The column is exported as Decimal(38, 9); pass numeric_mode => 'text' or 'float64' for unconstrained numeric, or cast it in the query."
    );
    assert_eq!(
        sqlstate_of(&export("SELECT '-infinity'::date AS d", "")).as_deref(),
        Some("22008")
    );
    assert_eq!(
        sqlstate_of(&export("SELECT ARRAY['infinity'::timestamp] AS a", "")).as_deref(),
        Some("22008")
    );
    assert_eq!(
        error_fields_of(&export("SELECT ARRAY[[1, 2], [3, 4]] AS m", "")).split('|').take(2).collect::<Vec<_>>(),
        vec!["0A000", "cannot export column \"m\": a 2-dimensional array (only one-dimensional arrays become ClickHouse arrays)"]
    );
    // The documented mappings instead of errors.
    let rows = |query: &str, extra: &str| {
        Spi::get_one::<i64>(&format!("SELECT rows FROM ({}) r", export(query, extra))).unwrap()
    };
    assert_eq!(
        rows(
            "SELECT 'NaN'::numeric AS n, 'infinity'::timestamptz AS t, 'infinity'::date AS d",
            ", special_values => 'null'"
        ),
        Some(1)
    );
    assert_eq!(
        rows(
            "SELECT 'NaN'::numeric AS n, 1e40::numeric AS m",
            ", numeric_mode => 'float64'"
        ),
        Some(1)
    );
    assert_eq!(
        rows("SELECT 1e40::numeric AS n", ", numeric_mode => 'text'"),
        Some(1)
    );
    assert_eq!(
        rows("SELECT 'NaN'::float8 AS f, '-infinity'::float4 AS g", ""),
        Some(1)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[pg_test]
fn arguments_are_checked_before_any_work() {
    let dir = test_dir("arguments");
    let out = dir.join("a.arrow");
    let out = out.display();
    let cases = [
        ("SELECT * FROM sensor.arrow_export('SELECT 1', 'relative.arrow')".to_string(), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{out}', format => 'parquet')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{out}', batch_rows => 0)"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{out}', compression => 'gzip')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export(NULL, '{out}')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{}')", dir.display()), "42809"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1', '{}/missing/x.arrow')", dir.display()), "58P01"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a, 2 AS a', '{out}')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a; SELECT 2 AS a', '{out}')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('CREATE TEMP TABLE z (a int)', '{out}')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', low_cardinality => '{{b}}')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', low_cardinality => '{{a}}')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', datetime_columns => '{{a}}')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', numeric_mode => 'real')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{out}', time_column => 'a', \"from\" => now())"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', time_column => 't')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', \"from\" => now())"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', time_column => 'u', \"to\" => now())"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELECT now() AS t', '{out}', time_column => 't', \"from\" => now(), \"to\" => now() - interval '1 day')"), "22023"),
        (format!("SELECT * FROM sensor.arrow_export('SELEC 1', '{out}')"), "42601"),
        ("SELECT sensor.clickhouse_ddl('SELECT 1 AS a', 't', engine => 'Memory', order_by => 'a')".to_string(), "22023"),
        ("SELECT sensor.clickhouse_ddl('SELECT 1 AS a', NULL)".to_string(), "22023"),
        ("SELECT sensor.clickhouse_ddl('SELECT', 't')".to_string(), "22023"),
        ("SELECT count(*) FROM sensor.arrow_stream('SELECT 1', batch_rows => -1)".to_string(), "22023"),
    ];
    for (sql, code) in &cases {
        assert_eq!(sqlstate_of(sql).as_deref(), Some(*code), "{sql}");
    }
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[pg_test]
fn writing_needs_pg_write_server_files() {
    let dir = test_dir("privilege");
    Spi::run("CREATE ROLE sensor_export_plain NOLOGIN").unwrap();
    Spi::run("GRANT USAGE ON SCHEMA tests, sensor TO sensor_export_plain").unwrap();
    Spi::run("SET ROLE sensor_export_plain").unwrap();
    let denied = error_fields_of(&format!(
        "SELECT * FROM sensor.arrow_export('SELECT 1 AS a', '{}')",
        dir.join("p.arrow").display()
    ));
    // Streams and DDL touch no server file.
    let chunks =
        Spi::get_one::<i64>("SELECT count(*) FROM sensor.arrow_stream('SELECT 1 AS a')")
            .unwrap();
    Spi::run("RESET ROLE").unwrap();
    assert!(
        denied.starts_with("42501|permission denied to write server file"),
        "{denied}"
    );
    assert!(
        denied.ends_with("GRANT pg_write_server_files TO sensor_export_plain;"),
        "{denied}"
    );
    assert_eq!(chunks, Some(3));
    assert!(entries(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[pg_test]
fn stream_chunks_concatenate_to_the_stream_file() {
    telemetry(2_500);
    let dir = test_dir("stream");
    let path = dir.join("s.arrows");
    let query = "SELECT id, prosthesis_type, event_timestamp FROM telemetry_events ORDER BY id";
    let batches = Spi::get_one::<i32>(&format!(
        "SELECT batches FROM sensor.arrow_export('{query}', '{}', format => 'stream', batch_rows => 1000, low_cardinality => '{{prosthesis_type}}')",
        path.display()
    ))
    .unwrap();
    assert_eq!(batches, Some(3));
    let chunks: Vec<Vec<u8>> = Spi::connect(|client| {
        client
            .select(
                &format!("SELECT c FROM sensor.arrow_stream('{query}', batch_rows => 1000, low_cardinality => '{{prosthesis_type}}') c"),
                None,
                &[],
            )
            .unwrap()
            .map(|row| row.get::<Vec<u8>>(1).unwrap().unwrap())
            .collect()
    });
    // The schema message, one chunk per batch, the end-of-stream marker.
    assert_eq!(chunks.len(), 3 + 2);
    assert!(chunks[0].starts_with(&[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(chunks[4], vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(chunks.concat(), std::fs::read(&path).unwrap());
    // Lazy: reading two chunks runs the query for one batch only, so the division by
    // zero in its third batch is never reached; reading all of them reaches it.
    let failing = "SELECT sensor.arrow_stream('SELECT i, 1 / (i - 2500) AS x FROM generate_series(1, 3000) i', batch_rows => 1000)";
    let first_two = Spi::get_one::<i64>(&format!(
        "SELECT count(*) FROM (SELECT c FROM ({failing}) AS s(c) LIMIT 2) AS l"
    ))
    .unwrap();
    assert_eq!(first_two, Some(2));
    assert_sqlstate(&format!("SELECT count(*) FROM ({failing}) AS s(c)"), "22012");
    // An empty result is a schema and the end marker.
    let empty = Spi::get_one::<i64>(
        "SELECT count(*) FROM sensor.arrow_stream('SELECT 1 AS a WHERE false')",
    )
    .unwrap();
    assert_eq!(empty, Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[pg_test]
fn a_window_exports_exactly_its_rows() {
    telemetry(5_000);
    Spi::run("ALTER TABLE telemetry_events RENAME COLUMN event_timestamp TO \"Event Time\"")
        .unwrap();
    let dir = test_dir("window");
    let rows = Spi::get_one::<i64>(&format!(
        "SELECT rows FROM sensor.arrow_export('SELECT * FROM telemetry_events;', '{}', time_column => 'Event Time',
             \"from\" => '2024-01-02 00:00:00+00', \"to\" => '2024-01-03 00:00:00+00')",
        dir.join("w.arrow").display()
    ))
    .unwrap();
    let expected = Spi::get_one::<i64>(
        "SELECT count(*) FROM telemetry_events WHERE \"Event Time\" >= '2024-01-02 00:00:00+00' AND \"Event Time\" < '2024-01-03 00:00:00+00'",
    )
    .unwrap();
    assert_eq!(rows, expected);
    assert_eq!(rows, Some(1440));
    // Open-ended windows, a trailing comment, and the refresh search_path.
    Spi::run("SET LOCAL search_path = pg_catalog, pg_temp").unwrap();
    let after = Spi::get_one::<i64>(
        "SELECT count(*) FROM sensor.arrow_stream('SELECT * FROM public.telemetry_events -- all', batch_rows => 100000,
             time_column => 'Event Time', \"from\" => '2024-01-04 00:00:00+00')",
    )
    .unwrap();
    let chunks_expected = Spi::get_one::<i64>(
        "SELECT CASE WHEN count(*) > 0 THEN 3 ELSE 2 END FROM public.telemetry_events WHERE \"Event Time\" >= '2024-01-04 00:00:00+00'",
    )
    .unwrap();
    assert_eq!(after, chunks_expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[pg_test]
fn a_cancelled_export_stops_and_leaves_nothing() {
    let dir = test_dir("cancel");
    // OTHERS does not catch a cancel: this block catches exactly that.
    Spi::run(
        "CREATE FUNCTION pg_temp.cancel_state(query text) RETURNS text LANGUAGE plpgsql AS $fn$
         BEGIN EXECUTE query; RETURN NULL;
         EXCEPTION WHEN query_canceled THEN RETURN SQLSTATE; END $fn$",
    )
    .unwrap();
    // The backend cancels itself in the middle of the third batch.
    let code = Spi::get_one_with_args::<String>(
        "SELECT pg_temp.cancel_state($1)",
        &[format!(
            "SELECT * FROM sensor.arrow_export('SELECT i, CASE WHEN i = 2500 THEN pg_catalog.pg_cancel_backend(pg_catalog.pg_backend_pid()) END AS c FROM generate_series(1, 100000) i', '{}', batch_rows => 1000)",
            dir.join("c.arrow").display()
        )
        .into()],
    )
    .unwrap();
    assert_eq!(code.as_deref(), Some("57014"));
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}
