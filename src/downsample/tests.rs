// `#[pg_test]`s of the downsampling functions.

use crate::tests::{assert_sqlstate, error_of, sqlstate_of};
use pgrx::prelude::*;

/// (time as text, value) rows of a query, in its order.
fn points(sql: &str) -> Vec<(String, Option<f64>)> {
    Spi::connect(|client| {
        client
            .select(sql, None, &[])
            .unwrap()
            .map(|row| {
                (
                    row.get::<String>(1).unwrap().unwrap_or_default(),
                    row.get::<f64>(2).unwrap(),
                )
            })
            .collect()
    })
}

/// 20,000 noisy points of one series, 1 s apart, and three series of another table.
fn setup() {
    Spi::run(
        "CREATE TABLE ds_one (ts timestamptz NOT NULL, v float8);
         INSERT INTO ds_one SELECT '2024-01-01'::timestamptz + i * interval '1 second',
                sin(i / 300.0) + ((i * 7919) % 101) / 500.0 FROM generate_series(0, 19999) i;
         CREATE INDEX ON ds_one (ts);
         CREATE TABLE ds_multi (ts timestamptz NOT NULL, sensor text, v real);
         INSERT INTO ds_multi SELECT '2024-01-01'::timestamptz + (i / 3) * interval '1 second',
                's' || (i % 3), cos(i / 900.0) * (1 + i % 3) FROM generate_series(0, 29999) i;
         CREATE INDEX ON ds_multi (sensor, ts);
         ANALYZE ds_one; ANALYZE ds_multi;",
    )
    .unwrap();
}

// From the first point of ds_one to just after its last: the span the batch kernel bins.
const WINDOW: &str = "'2024-01-01', '2024-01-01 05:33:19.000001'";

fn batch(points: i32, method: &str) -> Vec<(String, Option<f64>)> {
    self::points(&format!(
        "SELECT time::text, value FROM sensor.downsample_arrays(
             (SELECT array_agg(ts ORDER BY ts) FROM ds_one),
             (SELECT array_agg(v ORDER BY ts) FROM ds_one), {points}, '{method}')"
    ))
}

fn streamed(points: i32, method: &str) -> Vec<(String, Option<f64>)> {
    self::points(&format!(
        "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, {points}, '{method}')"
    ))
}

#[pg_test]
fn streamed_methods_equal_the_batch_kernel() {
    setup();
    // The batch kernel bins [first, last + 1), which is exactly WINDOW here; exact lttb
    // is equal-count in both.
    for method in ["lttb", "minmax_lttb", "m4", "minmax", "avg"] {
        let want = batch(200, method);
        let got = streamed(200, method);
        assert!(!want.is_empty());
        assert_eq!(got.len(), want.len(), "{method}");
        assert_eq!(got, want, "{method}");
    }
    assert_eq!(streamed(200, "lttb").len(), 200);
    assert_eq!(streamed(200, "uniform").len(), 200);
}

#[pg_test]
fn series_are_downsampled_separately() {
    setup();
    let all = points(
        "SELECT series || ' ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 50, 'lttb', series_column => 'sensor')",
    );
    assert_eq!(all.len(), 150);
    for s in ["s0", "s1", "s2"] {
        let one = points(&format!(
            "SELECT '{s} ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 50, 'lttb', filter => 'sensor = ''{s}''')"
        ));
        let part: Vec<_> = all
            .iter()
            .filter(|(k, _)| k.starts_with(s))
            .cloned()
            .collect();
        assert_eq!(part.len(), one.len(), "{s}");
        assert_eq!(part, one, "{s}");
    }
    // Without a series column the series is named after the value column.
    let name = Spi::get_one::<String>(
        "SELECT DISTINCT series FROM sensor.downsample('ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 10)",
    )
    .unwrap();
    assert_eq!(name.as_deref(), Some("v"));
}

#[pg_test]
fn exact_lttb_skips_null_nan_and_repeated_times_like_the_batch_kernel() {
    setup();
    Spi::run(
        "INSERT INTO ds_one VALUES ('2024-01-01 00:10:00', NULL), ('2024-01-01 00:20:00', 'NaN'),
                                   ('2024-01-01 00:30:00', 42), ('2024-01-01 01:00:00', 'Infinity')",
    )
    .unwrap();
    // The batch kernel keeps the first of equal times in array order; give it the
    // same order as the stream (time, then the stored order of the duplicates).
    let want = points(
        "SELECT time::text, value FROM sensor.downsample_arrays(
             (SELECT array_agg(ts ORDER BY ts, ctid) FROM ds_one),
             (SELECT array_agg(v ORDER BY ts, ctid) FROM ds_one), 300, 'lttb')",
    );
    let got = points(&format!(
        "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 300, 'lttb')"
    ));
    assert_eq!(got.len(), 300);
    assert_eq!(got, want);
}

#[pg_test]
fn exact_lttb_reads_rows_in_heap_order_when_it_is_time_order() {
    use std::sync::atomic::Ordering::Relaxed;
    // Filled in time order, as a logger fills it: the window is read without ORDER BY.
    Spi::run(
        "CREATE TEMP TABLE ds_heap AS SELECT (i % 4) AS channel, timestamptz '2024-01-01' + (i / 4) * interval '1 second' AS ts,
                (sin(i / 50.0) + (i % 7) / 10.0)::float8 AS v FROM generate_series(0, 39999) i;
         CREATE INDEX ON ds_heap (ts); CREATE INDEX ON ds_heap (channel, ts); ANALYZE ds_heap;
         CREATE TEMP TABLE ds_shuffled AS SELECT * FROM ds_heap ORDER BY md5(ts::text || channel);
         CREATE INDEX ON ds_shuffled (ts); CREATE INDEX ON ds_shuffled (channel, ts); ANALYZE ds_shuffled;",
    )
    .unwrap();
    let window = "'2024-01-01', '2024-01-02'";
    let read = |table: &str, series: bool| {
        let before = super::HEAP_ORDER_PASSES.load(Relaxed);
        // One channel without a series column: times repeat across channels, and which
        // of equal times is kept follows the stored order.
        let column = if series { ", series_column => 'channel'" } else { ", filter => 'channel = 1'" };
        let rows = points(&format!(
            "SELECT series || ' ' || time::text, value FROM sensor.downsample('{table}', 'ts', 'v', {window}, 100, 'lttb'{column})"
        ));
        (rows, super::HEAP_ORDER_PASSES.load(Relaxed) - before)
    };
    for series in [false, true] {
        let (in_order, heap_passes) = read("ds_heap", series);
        let (shuffled, shuffled_heap_passes) = read("ds_shuffled", series);
        assert_eq!(heap_passes, 1, "series {series}");
        // Out of time order at once: the window is read again, ordered.
        assert_eq!(shuffled_heap_passes, 0, "series {series}");
        assert_eq!(in_order.len(), if series { 400 } else { 100 });
        assert_eq!(in_order, shuffled, "series {series}");
    }
    // One series beyond work_mem: its points go through a temporary file, same result.
    let (in_memory, _) = read("ds_heap", false);
    Spi::run("SET LOCAL work_mem = '64kB'").unwrap();
    let (spilled, spilled_passes) = read("ds_heap", false);
    Spi::run("RESET work_mem").unwrap();
    assert_eq!(spilled_passes, 1);
    assert_eq!(spilled, in_memory);
    // The batch kernel on one series agrees.
    let want = points(
        "SELECT '2 ' || time::text, value FROM sensor.downsample_arrays(
             (SELECT array_agg(ts ORDER BY ts) FROM ds_heap WHERE channel = 2),
             (SELECT array_agg(v ORDER BY ts) FROM ds_heap WHERE channel = 2), 100, 'lttb')",
    );
    let got: Vec<_> = read("ds_heap", true).0.into_iter().filter(|(k, _)| k.starts_with("2 ")).collect();
    assert_eq!(got, want);
    // One bucket of 10,000 points per channel: kept whole within the default work_mem,
    // reduced to its hull within 64 kB; the same points either way, and the batch's.
    let three = |table: &str| {
        points(&format!(
            "SELECT series || ' ' || time::text, value FROM sensor.downsample('{table}', 'ts', 'v', {window}, 3, 'lttb', series_column => 'channel')"
        ))
    };
    let whole = three("ds_heap");
    Spi::run("SET LOCAL work_mem = '64kB'").unwrap();
    let hulls = three("ds_heap");
    let ordered_hulls = three("ds_shuffled");
    Spi::run("RESET work_mem").unwrap();
    let ordered_whole = three("ds_shuffled");
    assert_eq!(whole.len(), 12);
    assert_eq!(whole, hulls);
    assert_eq!(whole, ordered_hulls);
    assert_eq!(whole, ordered_whole);
    let batch = points(
        "SELECT '2 ' || time::text, value FROM sensor.downsample_arrays(
             (SELECT array_agg(ts ORDER BY ts) FROM ds_heap WHERE channel = 2),
             (SELECT array_agg(v ORDER BY ts) FROM ds_heap WHERE channel = 2), 3, 'lttb')",
    );
    let got: Vec<_> = whole.into_iter().filter(|(k, _)| k.starts_with("2 ")).collect();
    assert_eq!(got, batch);
    // One series in one pass (its points spilled within 64 kB): the same.
    let one = || {
        points(&format!(
            "SELECT '2 ' || time::text, value FROM sensor.downsample('ds_heap', 'ts', 'v', {window}, 3, 'lttb', filter => 'channel = 2')"
        ))
    };
    assert_eq!(one(), batch);
    Spi::run("SET LOCAL work_mem = '64kB'").unwrap();
    assert_eq!(one(), batch);
    Spi::run("RESET work_mem").unwrap();
}

#[pg_test]
fn gap_inserts_null_rows_between_distant_neighbours() {
    setup();
    Spi::run("DELETE FROM ds_one WHERE ts >= '2024-01-01 02:00' AND ts < '2024-01-01 03:00'")
        .unwrap();
    let rows = points(&format!(
        "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 100, 'm4', gap => '30 minutes')"
    ));
    let nulls: Vec<_> = rows.iter().filter(|(_, v)| v.is_none()).collect();
    assert_eq!(nulls.len(), 1, "{nulls:?}");
    assert_eq!(nulls[0].0, "2024-01-01 01:59:59.000001+00");
    let without = points(&format!(
        "SELECT time::text, value FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 100, 'm4')"
    ));
    assert_eq!(rows.len(), without.len() + 1);
    assert_sqlstate(&format!(
            "SELECT * FROM sensor.downsample('ds_one', 'ts', 'v', {WINDOW}, 100, gap => '-1 second')"
        ), "22023");
}

#[pg_test]
fn arguments_are_checked_with_deliberate_sqlstates() {
    setup();
    let call = |args: &str| format!("SELECT * FROM sensor.downsample({args})");
    let cases = [
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 2, 'lttb'", "22023"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 2, 'minmax_lttb'", "22023"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, 'spline'", "22023"),
        ("'ds_one', 'ts', 'v', '2024-01-02', '2024-01-01', 100", "22023"),
        ("'ds_one', 'ts', 'v', '-infinity', '2024-01-01', 100", "22008"),
        ("'ds_one', 'ts', 'nope', '2024-01-01', '2024-01-02', 100", "42703"),
        ("'ds_one', 'nope', 'v', '2024-01-01', '2024-01-02', 100", "42703"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, series_column => 'nope'", "42703"),
        ("'no_such_table', 'ts', 'v', '2024-01-01', '2024-01-02', 100", "42P01"),
        ("4294967295::oid::regclass, 'ts', 'v', '2024-01-01', '2024-01-02', 100", "42704"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'true) OR (true'", "22023"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'true; DROP TABLE ds_one'", "22023"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'true ORDER BY 1'", "22023"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'v > 0 --'", "OK"),
        ("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, filter => 'nope > 0'", "42703"),
    ];
    for (args, want) in cases {
        let got = sqlstate_of(&call(args)).unwrap_or_else(|| "OK".into());
        assert_eq!(got, want, "{args}");
    }
    assert_eq!(
        error_of(&call(
            "'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 2, 'lttb'"
        )),
        "22023|points must be at least 3 for lttb (got 2)"
    );
    assert_eq!(
        error_of(&call("'ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100, 'spline'")),
        "22023|unknown downsampling method \"spline\" (expected lttb, minmax_lttb, m4, minmax, uniform or avg)"
    );
    // NULL for a required argument: no rows, as from a STRICT function.
    let n = Spi::get_one::<i64>(
        "SELECT count(*) FROM sensor.downsample('ds_one', 'ts', 'v', NULL, '2024-01-02', 100)",
    )
    .unwrap();
    assert_eq!(n, Some(0));
}

#[pg_test]
fn the_query_runs_with_the_callers_privileges() {
    setup();
    Spi::run("CREATE ROLE ds_reader NOLOGIN").unwrap();
    Spi::run("GRANT USAGE ON SCHEMA tests, sensor TO ds_reader").unwrap();
    Spi::run("SET ROLE ds_reader").unwrap();
    let denied = sqlstate_of(
        "SELECT * FROM sensor.downsample('ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100)",
    );
    Spi::run("RESET ROLE").unwrap();
    Spi::run("GRANT SELECT ON ds_one TO ds_reader").unwrap();
    Spi::run("SET ROLE ds_reader").unwrap();
    let allowed = sqlstate_of(
        "SELECT * FROM sensor.downsample('ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 100)",
    );
    Spi::run("RESET ROLE").unwrap();
    assert_eq!(denied.as_deref(), Some("42501"));
    assert_eq!(allowed, None);
}

/// The plan of `source`'s ordered scan over one day.
fn ordered_scan_plan(source: &super::Source) -> String {
    Spi::run("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off").unwrap();
    Spi::run(&format!(
        "PREPARE ds_scan(timestamptz, timestamptz) AS {}",
        source.scan_sql(true).sql
    ))
    .unwrap();
    let plan = Spi::explain("EXECUTE ds_scan('2024-01-01', '2024-01-02')")
        .unwrap()
        .0
        .to_string();
    Spi::run("DEALLOCATE ds_scan").unwrap();
    plan
}

fn series_source(relation: &str, column: &str, key: crate::pg::row_groups::KeyColumn) -> super::Source {
    super::Source {
        relation: relation.into(),
        x: "ts".into(),
        value: "v".into(),
        series: Some(super::Series {
            column: column.into(),
            key,
        }),
        conditions: Vec::new(),
        params: Vec::new(),
        axis: super::Axis::Time,
        origin: None,
    }
}

#[pg_test]
fn an_index_serves_the_ordered_scan_without_a_sort() {
    use crate::pg::row_groups::{IntWidth, KeyColumn};
    setup();
    let plan = ordered_scan_plan(&series_source("ds_multi", "sensor", KeyColumn::Text));
    assert!(plan.contains("Index"), "{plan}");
    assert!(!plan.contains("\"Sort\""), "{plan}");
    // An integer series column too: the ORDER BY means the column, not its text (which
    // would sort 10 before 9 and defeat the index).
    Spi::run(
        "CREATE TEMP TABLE ds_int AS SELECT (i % 12) AS channel, timestamptz '2024-01-01' + i * interval '1 minute' AS ts, i::float8 AS v FROM generate_series(0, 5000) i;
         CREATE INDEX ON ds_int (channel, ts); ANALYZE ds_int",
    )
    .unwrap();
    let plan = ordered_scan_plan(&series_source("ds_int", "channel", KeyColumn::Integer(IntWidth::Int4)));
    assert!(plan.contains("Index"), "{plan}");
    assert!(!plan.contains("\"Sort\""), "{plan}");
}

#[pg_test]
fn series_come_out_in_key_order_with_and_without_work_mem() {
    Spi::run(
        "CREATE TEMP TABLE ds_keys AS SELECT (i % 12) AS channel, timestamptz '2024-01-01' + i * interval '1 minute' AS ts, sin(i)::float8 AS v FROM generate_series(0, 20000) i",
    )
    .unwrap();
    let run = || {
        Spi::get_one::<String>(
            "SELECT string_agg(series || ':' || n || ':' || round(s::numeric, 9), ',' ORDER BY o) FROM (
               SELECT series, count(*) AS n, sum(value) AS s, min(ordinality) AS o
               FROM sensor.downsample('ds_keys', 'ts', 'v', '2024-01-01', '2024-01-20', 50, series_column => 'channel')
                    WITH ORDINALITY GROUP BY series) g",
        )
        .unwrap()
        .unwrap()
    };
    let grouped = run();
    // 64 kB of work_mem is less than twelve kernels: one series at a time, by series.
    Spi::run("SET LOCAL work_mem = '64kB'").unwrap();
    let ordered = run();
    assert_eq!(grouped, ordered);
    let order: Vec<&str> = grouped.split(',').map(|g| g.split(':').next().unwrap()).collect();
    let expected: Vec<String> = (0..12).map(|c| c.to_string()).collect();
    assert_eq!(order, expected);
}

#[pg_test]
fn a_result_larger_than_work_mem_spills_and_comes_back_whole() {
    Spi::run(
        "CREATE TEMP TABLE ds_wide AS SELECT (i % 5000) AS channel, timestamptz '2024-01-01' + i * interval '1 second' AS ts, cos(i)::float8 AS v FROM generate_series(0, 40000) i",
    )
    .unwrap();
    let run = || {
        Spi::get_two::<i64, String>(
            "SELECT count(*), md5(string_agg(series || ' ' || time || ' ' || value, ',' ORDER BY o))
             FROM sensor.downsample('ds_wide', 'ts', 'v', '2024-01-01', '2024-01-02', 4, 'm4', series_column => 'channel')
                  WITH ORDINALITY AS d(series, time, value, o)",
        )
        .unwrap()
    };
    Spi::run("SET LOCAL work_mem = '64MB'").unwrap();
    let in_memory = run();
    // More than 64 kB of output rows: they wait in a temporary file.
    Spi::run("SET LOCAL work_mem = '64kB'").unwrap();
    let spilled = run();
    // 5,000 series of 8 rows, each down to 2 to 4 points (m4 of one bin).
    let rows = in_memory.0.unwrap_or(0);
    assert!((10_000..=20_000).contains(&rows), "{rows}");
    assert_eq!(in_memory, spilled);
    // In a target list under LIMIT the rows are dropped unread; the next call is whole.
    let first = Spi::get_one::<String>(
        "SELECT (d).series FROM (SELECT sensor.downsample('ds_wide', 'ts', 'v', '2024-01-01', '2024-01-02', 4, 'm4', series_column => 'channel') AS d LIMIT 1) s",
    )
    .unwrap();
    assert_eq!(first.as_deref(), Some("0"));
    assert_eq!(run(), spilled);
}

#[pg_test]
fn downsample_agg_groups_and_matches_the_stream() {
    setup();
    // Same equal-time bins as the stream: identical points per series.
    for method in ["m4", "minmax", "minmax_lttb"] {
        let agg = points(&format!(
            "SELECT s.sensor || ' ' || p.time::text, p.value FROM (
                 SELECT sensor, sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 40, '{method}') AS d
                 FROM ds_multi GROUP BY sensor) s, sensor.points(s.d) p ORDER BY s.sensor, p.time"
        ));
        let stream = points(&format!(
            "SELECT series || ' ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 40, '{method}', series_column => 'sensor')"
        ));
        assert!(!stream.is_empty());
        assert_eq!(agg.len(), stream.len(), "{method}");
        assert_eq!(agg, stream, "{method}");
    }
    let five = Spi::get_one::<i32>(
        "SELECT cardinality((sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 5)).time) FROM ds_one",
    )
    .unwrap();
    assert_eq!(five, Some(5));
    assert_sqlstate("SELECT sensor.downsample_agg(ts, v, '2024-01-01', ts + interval '1 day', 5) FROM ds_one", "22023");
    assert_sqlstate("SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 2, 'lttb') FROM ds_one", "22023");
    let empty = Spi::get_one::<bool>(
        "SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 5) IS NULL FROM ds_one WHERE false",
    )
    .unwrap();
    assert_eq!(empty, Some(true));
}

#[pg_test]
fn constant_window_arguments_read_once_give_the_checked_rows_points() {
    setup();
    // Constants take the fast path (window read on the first row only); the same values
    // computed per row (volatile-free expressions over a column) take the checked one.
    let constant = points(
        "SELECT p.time::text, p.value FROM (SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 7, 'm4') AS d
             FROM ds_one) s, sensor.points(s.d) p",
    );
    let per_row = points(
        "SELECT p.time::text, p.value FROM (SELECT sensor.downsample_agg(ts, v, date_trunc('year', ts), date_trunc('year', ts) + interval '1 day',
                 7 + (v * 0)::int, CASE WHEN v IS NULL THEN 'm4' ELSE 'm4' END) AS d
             FROM ds_one) s, sensor.points(s.d) p",
    );
    assert!(!constant.is_empty());
    assert_eq!(constant.len(), per_row.len());
    assert_eq!(constant, per_row);
    // As a window function there is no Agg node: every row is checked, results agree.
    let window = Spi::get_one::<String>(
        "SELECT (sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 7, 'm4') OVER ())::text FROM ds_one LIMIT 1",
    )
    .unwrap();
    let plain = Spi::get_one::<String>(
        "SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 7, 'm4')::text FROM ds_one",
    )
    .unwrap();
    assert!(plain.is_some());
    assert_eq!(window, plain);
    // A method that changes between rows is still an error.
    assert_sqlstate(
        "SELECT sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-02', 7, CASE WHEN v > 0 THEN 'm4' ELSE 'minmax' END) FROM ds_one",
        "22023",
    );
}

#[pg_test]
fn parallel_partial_aggregation_equals_the_serial_plan() {
    Spi::run(
        "CREATE TABLE ds_big AS SELECT '2024-01-01'::timestamptz + i * interval '10 ms' AS ts,
                (i % 4)::text AS sensor, sin(i / 1000.0) + ((i::int8 * 7919) % 101) / 500.0 AS v
         FROM generate_series(0, 399999) i;
         ANALYZE ds_big;",
    )
    .unwrap();
    let query = "SELECT concat_ws('|', sensor, d::text, (m).first_value, (m).max_time, (m).count,
                                  round((m).sum::numeric, 6))
                 FROM (SELECT sensor,
                              sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-01 02:00', 60, 'minmax_lttb') AS d,
                              sensor.m4_summary(ts, v) AS m
                       FROM ds_big GROUP BY sensor) g ORDER BY 1";
    let run = || -> Vec<String> {
        Spi::connect(|client| {
            client
                .select(query, None, &[])
                .unwrap()
                .map(|row| row.get::<String>(1).unwrap().unwrap_or_default())
                .collect()
        })
    };
    Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
    let serial = run();
    Spi::run(
        "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
         SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2",
    )
    .unwrap();
    let plan = Spi::explain(query).unwrap().0.to_string();
    assert!(plan.contains("Partial"), "{plan}");
    assert!(plan.contains("Gather"), "{plan}");
    let parallel = run();
    assert_eq!(serial.len(), 4);
    assert_eq!(parallel, serial);
}

#[pg_test]
fn summaries_of_a_materialized_view_zoom_like_raw_rows() {
    setup();
    Spi::run(
        "CREATE MATERIALIZED VIEW ds_minutes AS
             SELECT sensor, date_trunc('minute', ts) AS bucket, sensor.m4_summary(ts, v) AS summary
             FROM ds_multi GROUP BY 1, 2",
    )
    .unwrap();
    // One day in 24 one-hour bins (m4, 96 points) or 1,000 bins of 86.4 s
    // (minmax_lttb, 500 points × 4 / 2): minute buckets nest in hour bins only.
    let from_summaries = points(
        "SELECT s.sensor || ' ' || p.time::text, p.value FROM (
             SELECT sensor, sensor.downsample_summaries(bucket, summary, '2024-01-01', '2024-01-02', 96, 'm4') AS d
             FROM ds_minutes GROUP BY sensor) s, sensor.points(s.d) p ORDER BY 1",
    );
    let from_rows = points(
        "SELECT series || ' ' || time::text, value FROM sensor.downsample('ds_multi', 'ts', 'v', '2024-01-01', '2024-01-02', 96, 'm4', series_column => 'sensor') ORDER BY 1",
    );
    assert!(!from_rows.is_empty());
    assert_eq!(from_summaries.len(), from_rows.len());
    assert_eq!(from_summaries, from_rows);
    // The summary itself: count and extremes of a minute.
    let (count, max) = Spi::get_two::<i64, f64>(
        "SELECT (summary).count, (summary).max_value FROM ds_minutes WHERE sensor = 's2' AND bucket = '2024-01-01 00:00'",
    )
    .unwrap();
    let (want_count, want_max) = Spi::get_two::<i64, f64>(
        "SELECT count(*), max(v)::float8 FROM ds_multi WHERE sensor = 's2' AND ts < '2024-01-01 00:01'",
    )
    .unwrap();
    assert_eq!(count, want_count);
    assert_eq!(max, want_max);
    // A forged inconsistent summary is refused.
    assert_sqlstate("SELECT sensor.downsample_summaries(now(), ROW(now(), 1, now(), 5, now(), 0, now(), 1, 1, 1)::sensor.m4, now() - interval '1 day', now() + interval '1 day', 10)", "22P02");
}

#[pg_test]
fn m4_arguments_are_read_in_place_and_checked() {
    // Read by field offset (src/downsample/aggregates.rs m4_of_datum): every field in its
    // place, from a table (short varlena headers) as from an expression.
    Spi::run(
        "CREATE TABLE m4_in_place AS
         SELECT s FROM (SELECT sensor.m4_summary(t, v) AS s
                        FROM (VALUES ('2024-01-01 00:00:01+00'::timestamptz, 2.0::float8),
                                     ('2024-01-01 00:00:02+00', -1.5), ('2024-01-01 00:00:03+00', 7.25),
                                     ('2024-01-01 00:00:04+00', 0.5)) r(t, v)) q",
    )
    .unwrap();
    let whole = Spi::get_one::<String>("SELECT sensor.rollup(s)::text FROM m4_in_place")
        .unwrap()
        .unwrap();
    assert_eq!(
        whole,
        "(\"2024-01-01 00:00:01+00\",2,\"2024-01-01 00:00:02+00\",-1.5,\"2024-01-01 00:00:03+00\",7.25,\"2024-01-01 00:00:04+00\",0.5,4,8.25)"
    );
    let points = Spi::get_one::<String>(
        "SELECT sensor.downsample_summaries('2024-01-01 00:00:00+00', s, '2024-01-01', '2024-01-02', 4, 'm4')::text FROM m4_in_place",
    )
    .unwrap()
    .unwrap();
    assert!(points.contains("7.25") && points.contains("-1.5"), "{points}");
    // NULL summaries are skipped: a group of only NULLs has no state.
    assert_eq!(
        Spi::get_one::<bool>("SELECT sensor.rollup(NULL::sensor.m4) IS NULL FROM generate_series(1, 3)").unwrap(),
        Some(true)
    );
    let forged = |row: &str| format!("SELECT sensor.rollup(ROW({row})::sensor.m4)");
    let t = "'2024-01-01'::timestamptz";
    // A NULL field, a negative count, an infinite time.
    assert_sqlstate(&forged(&format!("{t}, 1, {t}, 1, {t}, 1, {t}, NULL, 1, 1")), "22P02");
    assert_sqlstate(&forged(&format!("{t}, 1, {t}, 1, {t}, 1, {t}, 1, -1, 1")), "22P02");
    assert_sqlstate(
        &forged("'infinity'::timestamptz, 1, 'infinity', 1, 'infinity', 1, 'infinity', 1, 1, 1"),
        "22008",
    );
}

#[pg_test]
fn aggregates_work_with_the_continuous_aggregate_search_path() {
    setup();
    let schema = Spi::get_one::<String>("SELECT current_schema()::text")
        .unwrap()
        .unwrap();
    Spi::run("SET LOCAL search_path = pg_catalog, pg_temp").unwrap();
    let n = Spi::get_one::<i64>(&format!(
        "SELECT count(*) FROM sensor.points((SELECT sensor.downsample_summaries(b, s, '2024-01-01', '2024-01-02', 20)
             FROM (SELECT pg_catalog.date_trunc('minute', ts) b, sensor.m4_summary(ts, v) s FROM {schema}.ds_one GROUP BY 1) m))"
    ))
    .unwrap();
    assert_eq!(n, Some(20));
    let m = Spi::get_one::<i64>(&format!(
        "SELECT count(*) FROM sensor.downsample('{schema}.ds_one', 'ts', 'v', '2024-01-01', '2024-01-02', 20, 'lttb')"
    ))
    .unwrap();
    assert_eq!(m, Some(20));
}

#[pg_test]
fn parallel_plans_downsample_through_an_aggregate_with_the_streams_rows() {
    use std::sync::atomic::Ordering::Relaxed;
    Spi::run(
        "CREATE TABLE ds_par AS SELECT '2024-01-01'::timestamptz + i * interval '100 ms' AS ts,
                (i % 3) AS sensor, (i % 2)::int8 AS wide, 'tag ' || (i % 4) AS tag,
                sin(i / 700.0) + ((i::int8 * 7919) % 101) / 500.0 AS v
         FROM generate_series(0, 299999) i;
         ANALYZE ds_par;",
    )
    .unwrap();
    let (partitioned, aggregated) = (
        &super::parallel_partitions::PARTITIONED_WINDOWS,
        &super::parallel_series::PARALLEL_WINDOWS,
    );
    for method in ["m4", "minmax", "minmax_lttb", "uniform"] {
        for series in [
            "",
            ", series_column => 'sensor'",
            ", series_column => 'wide', filter => 'v > 0'",
            ", series_column => 'tag'",
        ] {
            let query = format!(
                "SELECT coalesce(series, '-') || ' ' || time::text, value FROM sensor.downsample('ds_par', 'ts', 'v',
                     '2024-01-01', '2024-01-01 08:00', 50, '{method}'{series})"
            );
            Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
            let (p0, a0) = (partitioned.load(Relaxed), aggregated.load(Relaxed));
            let serial = points(&query);
            assert_eq!((partitioned.load(Relaxed), aggregated.load(Relaxed)), (p0, a0));
            assert!(!serial.is_empty());
            Spi::run(
                "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
                 SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2",
            )
            .unwrap();
            // Partitions read by the workers (a Parallel Append of sensor.downsample_partition).
            let by_partitions = points(&query);
            assert_eq!(partitioned.load(Relaxed), p0 + 1, "{method}{series}");
            assert_eq!(serial.len(), by_partitions.len(), "{method}{series}");
            assert_eq!(serial, by_partitions, "{method}{series}");
            // Without Parallel Append: one aggregate, partial states from the workers (an
            // integer series; a text one is read serially then).
            Spi::run("SET LOCAL enable_parallel_append = off").unwrap();
            let by_aggregate = points(&query);
            Spi::run("RESET enable_parallel_append").unwrap();
            assert_eq!(partitioned.load(Relaxed), p0 + 1, "{method}{series}");
            let aggregate_runs = if series.contains("'tag'") { 1 } else { 2 };
            assert_eq!(aggregated.load(Relaxed), a0 + aggregate_runs, "{method}{series}");
            assert_eq!(serial.len(), by_aggregate.len(), "{method}{series}");
            assert_eq!(serial, by_aggregate, "{method}{series}");
        }
    }
    // A materialized view is cut into block ranges as a table is.
    Spi::run("CREATE MATERIALIZED VIEW ds_par_mv AS SELECT * FROM ds_par; ANALYZE ds_par_mv").unwrap();
    let query = "SELECT coalesce(series, '-') || ' ' || time::text, value FROM sensor.downsample('ds_par_mv', 'ts', 'v',
                     '2024-01-01', '2024-01-01 08:00', 50, series_column => 'sensor')";
    Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
    let serial = points(query);
    Spi::run("SET LOCAL max_parallel_workers_per_gather = 2").unwrap();
    let p0 = partitioned.load(Relaxed);
    let parallel = points(query);
    assert_eq!(partitioned.load(Relaxed), p0 + 1);
    assert_eq!(serial.len(), parallel.len());
    assert_eq!(serial, parallel);
    // Read through an index, the window is cut into time ranges instead (each an index
    // range): the same rows.
    Spi::run("CREATE INDEX ON ds_par (ts); ANALYZE ds_par; SET LOCAL enable_seqscan = off").unwrap();
    for series in ["", ", series_column => 'sensor'"] {
        let query = format!(
            "SELECT coalesce(series, '-') || ' ' || time::text, value FROM sensor.downsample('ds_par', 'ts', 'v',
                 '2024-01-01 01:00', '2024-01-01 05:00', 40, 'm4'{series})"
        );
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
        let serial = points(&query);
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 2").unwrap();
        let p0 = partitioned.load(Relaxed);
        let parallel = points(&query);
        assert_eq!(partitioned.load(Relaxed), p0 + 1, "{series}");
        assert!(!serial.is_empty());
        assert_eq!(serial.len(), parallel.len(), "{series}");
        assert_eq!(serial, parallel, "{series}");
    }
}

#[pg_test]
fn a_partition_refuses_what_it_cannot_merge() {
    Spi::run(
        "CREATE TABLE ds_part AS SELECT '2024-01-01'::timestamptz + i * interval '1 s' AS ts,
                'k' || (i % 2) AS tag, i::float8 AS v FROM generate_series(0, 99) i",
    )
    .unwrap();
    let call = |series: &str, method: &str| {
        format!(
            "SELECT sensor.downsample_partition('ds_part', 'ts', 'v', {series}, NULL, '2024-01-01', '2024-01-02', 10,
                 '{method}', '2024-01-01', '2024-01-02', NULL, NULL)"
        )
    };
    assert_eq!(sqlstate_of(&call("NULL", "lttb")).as_deref(), Some("22023"));
    assert_eq!(sqlstate_of(&call("NULL", "avg")).as_deref(), Some("22023"));
    // A text series is read too (its keys travel as text).
    let tagged = Spi::get_one::<Vec<u8>>(&call("'tag'", "m4")).unwrap().unwrap();
    assert!(tagged.windows(2).any(|w| w == b"k1"));
    // A block past the end reads nothing: an empty state, not an error.
    let empty = Spi::get_one::<Vec<u8>>(&call("NULL", "m4").replace("NULL, NULL)", "100000, NULL)"))
        .unwrap()
        .unwrap();
    assert!(!empty.is_empty());
}
