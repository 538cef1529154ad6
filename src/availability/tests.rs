// `#[pg_test]`s of the availability functions.

use pgrx::prelude::*;

fn setup() {
    Spi::run(
        "CREATE TEMP TABLE ev (equipment int, time timestamptz, status text);
         INSERT INTO ev VALUES
           (12, '2026-01-01 00:00+00', 'online'),
           (12, '2026-01-01 06:00+00', 'offline'),
           (12, '2026-01-01 09:00+00', 'online'),
           (12, '2026-01-01 23:00+00', 'offline'),
           (12, '2026-01-02 01:00+00', 'online'),
           (13, '2025-12-31 12:00+00', 'maintenance'),
           (13, '2026-01-01 12:00+00', 'online');",
    )
    .unwrap();
}

#[pg_test]
fn time_weighted_availability_with_carry_in_and_last_state_to_the_end() {
    setup();
    // Equipment 12 on Jan 1: offline 06-09 and 23-24: 4 h down of 24 h.
    let a = Spi::get_one::<f64>(
        "SELECT sensor.availability(sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-02+00'))
         FROM ev WHERE equipment = 12 AND time < '2026-01-02+00'",
    )
    .unwrap()
    .unwrap();
    assert!((a - 20.0 / 24.0).abs() < 1e-12, "{a}");
    // Equipment 12 on Jan 2 0-12h: carry-in offline from before the window: 1 h down.
    let a = Spi::get_one::<f64>(
        "SELECT sensor.availability(sensor.availability_agg(time, status, '2026-01-02+00', '2026-01-02 12:00+00'))
         FROM ev WHERE equipment = 12",
    )
    .unwrap()
    .unwrap();
    assert!((a - 11.0 / 12.0).abs() < 1e-12, "{a}");
}

#[pg_test]
fn hourly_rollup_equals_the_daily_state_across_midnight() {
    setup();
    let (direct, rolled) = Spi::get_two::<f64, f64>(
        "WITH hourly AS (
            SELECT date_trunc('hour', e.time) AS h,
                   sensor.availability_agg(e.time, e.status, date_trunc('hour', e.time), date_trunc('hour', e.time) + interval '1 hour') AS st
            FROM ev e WHERE e.equipment = 12 GROUP BY 1)
         SELECT (SELECT sensor.availability(sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-03+00')) FROM ev WHERE equipment = 12),
                (SELECT sensor.availability(sensor.rollup(st, '2026-01-01+00', '2026-01-03+00')) FROM hourly)",
    )
    .unwrap();
    // Offline 06:00-09:00 and 23:00-01:00 (across midnight): 5 h down of 48 h.
    assert_eq!(direct, Some(43.0 / 48.0));
    assert_eq!(direct, rolled);
}

#[pg_test]
fn the_old_services_sample_mean() {
    let v = Spi::get_one::<f64>(
        "SELECT sensor.availability_mean(s) FROM (SELECT 'online' FROM generate_series(1, 9) UNION ALL SELECT 'offline') t(s)",
    )
    .unwrap();
    assert_eq!(v, Some(90.0));
}

#[pg_test]
fn report_carries_state_into_each_bucket() {
    setup();
    let rows = Spi::get_one::<i64>(
        "SELECT count(*) FROM sensor.availability_report('ev', 'time', 'status', 'equipment', '2026-01-02+00', '2026-01-02 03:00+00')",
    )
    .unwrap();
    assert_eq!(rows, Some(6)); // 2 equipments × 3 buckets
    let (a, down) = Spi::get_two::<f64, pgrx::datum::Interval>(
        "SELECT availability, downtime FROM sensor.availability_report('ev', 'time', 'status', 'equipment', '2026-01-02+00', '2026-01-02 03:00+00')
         WHERE equipment = '12' AND time = '2026-01-02+00'",
    )
    .unwrap();
    assert_eq!(a, Some(0.0));
    assert_eq!(down.map(|d| d.micros()), Some(3_600_000_000));
}

#[pg_test]
fn errors_have_their_sqlstates() {
    setup();
    let s = crate::tests::sqlstate_of;
    assert_eq!(s("SELECT sensor.availability_agg(time, status, '2026-01-02+00', '2026-01-01+00') FROM ev").as_deref(), Some("22023"));
    assert_eq!(s("SELECT sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-02+00', NULL, '{\"online\": 2}') FROM ev").as_deref(), Some("22023"));
    assert_eq!(s("SELECT sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-02+00', NULL, NULL, '1 month') FROM ev").as_deref(), Some("22023"));
    assert_eq!(
        s("SELECT sensor.availability('\\x0102'::bytea)").as_deref(),
        Some("22P02")
    );
    assert_eq!(s("SELECT * FROM sensor.availability_report('ev', 'nope', 'status', 'equipment', '2026-01-01+00', '2026-01-02+00')").as_deref(), Some("42703"));
}

#[pg_test]
fn state_timeline_streams_equipment_in_column_order_with_carry_only_equipment() {
    Spi::run(
        "CREATE TEMP TABLE tl (equipment int, time timestamptz, status text);
         INSERT INTO tl SELECT e, timestamptz '2026-01-01' + i * interval '1 minute',
                (ARRAY['online', 'offline', 'maintenance'])[1 + (i / (e % 3 + 1)) % 3]
         FROM generate_series(1, 12) e, generate_series(0, 4319) i;
         -- Only history before the window: its carried state fills the window.
         INSERT INTO tl VALUES (20, '2026-01-01 03:00+00', 'offline');
         CREATE INDEX ON tl (equipment, time); ANALYZE tl;",
    )
    .unwrap();
    let timeline = "SELECT equipment, state, duration, ordinality FROM sensor.state_timeline('tl', 'time', 'status', 'equipment', '2026-01-02', '2026-01-03') WITH ORDINALITY";
    let order = Spi::get_one::<String>(&format!(
        "SELECT string_agg(equipment, ',' ORDER BY first) FROM (SELECT equipment, min(ordinality) AS first FROM ({timeline}) t GROUP BY equipment) g"
    ))
    .unwrap();
    // Numeric order (9 before 10), each equipment's rows together, 20 included.
    assert_eq!(order.as_deref(), Some("1,2,3,4,5,6,7,8,9,10,11,12,20"));
    let contiguous = Spi::get_one::<bool>(&format!(
        "SELECT bool_and(n = last - first + 1) FROM (SELECT count(*) AS n, min(ordinality) AS first, max(ordinality) AS last FROM ({timeline}) t GROUP BY equipment) g"
    ))
    .unwrap();
    assert_eq!(contiguous, Some(true));
    // Each equipment's intervals tile the window, neighbours differ in state (chunks of
    // its history are joined where they meet).
    let seams = Spi::get_one::<i64>(
        "SELECT count(*) FILTER (WHERE prev_end IS DISTINCT FROM start AND prev_end IS NOT NULL OR prev_state = state)
              + count(*) FILTER (WHERE prev_end IS NULL AND start <> '2026-01-02')
         FROM (SELECT start, state, lag(\"end\") OVER w AS prev_end, lag(state) OVER w AS prev_state
               FROM sensor.state_timeline('tl', 'time', 'status', 'equipment', '2026-01-02', '2026-01-03')
               WINDOW w AS (PARTITION BY equipment ORDER BY start)) s",
    )
    .unwrap();
    assert_eq!(seams, Some(0));
    // Per equipment and state, the intervals add up to the aggregate's time in that state
    // (the aggregate sees the earlier events too, as the carry-in).
    let mismatches = Spi::get_one::<i64>(&format!(
        "WITH t AS (SELECT equipment, state, sum(duration) AS d FROM ({timeline}) x GROUP BY 1, 2),
              a AS (SELECT equipment::text AS equipment, sensor.availability_agg(time, status, '2026-01-02', '2026-01-03') AS s
                    FROM tl GROUP BY equipment)
         SELECT count(*) FROM t JOIN a USING (equipment) WHERE t.d IS DISTINCT FROM sensor.time_in(a.s, t.state)"
    ))
    .unwrap();
    assert_eq!(mismatches, Some(0));
    let whole = |work_mem: &str| {
        Spi::run(&format!("SET LOCAL work_mem = '{work_mem}'")).unwrap();
        Spi::get_two::<i64, String>(&format!(
            "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY ordinality)) FROM ({timeline}) t"
        ))
        .unwrap()
    };
    let in_memory = whole("64MB");
    assert!(in_memory.0.unwrap_or(0) > 5_000, "{in_memory:?}");
    assert_eq!(whole("64kB"), in_memory);
}

#[pg_test]
fn availability_report_in_parallel_equals_the_serial_plan() {
    use std::sync::atomic::Ordering::Relaxed;
    // Filled in time order: every second, each of 40 pieces of equipment reports.
    Spi::run(
        "CREATE TABLE par_events AS SELECT i % 40 AS equipment, timestamptz '2026-01-01' + (i / 40) * interval '1 second' AS time,
                CASE WHEN ((i / 40) / 97 + i % 40) % 7 = 0 THEN 'offline' WHEN ((i / 40) / 97 + i % 40) % 11 = 0 THEN 'warning' ELSE 'online' END AS status
         FROM generate_series(0, 399999) i;
         ANALYZE par_events;",
    )
    .unwrap();
    let report = "SELECT md5(string_agg(r::text, ',' ORDER BY equipment, time)) FROM sensor.availability_report('par_events', 'time', 'status', 'equipment',
                  '2026-01-01', '2026-01-01 03:00', bucket => '10 minutes') r";
    let digest = |parallel: bool| {
        let workers = if parallel { 2 } else { 0 };
        Spi::run(&format!(
            "SET LOCAL sensor_analytics.parallel_report = on; SET LOCAL max_parallel_workers_per_gather = {workers}; SET LOCAL parallel_setup_cost = 0;
             SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0"
        ))
        .unwrap();
        let before = super::report_share::PARALLEL_REPORTS.load(Relaxed);
        let d = Spi::get_one::<String>(report).unwrap();
        (d, super::report_share::PARALLEL_REPORTS.load(Relaxed) - before)
    };
    let (serial, serial_parallel_runs) = digest(false);
    let (parallel, parallel_runs) = digest(true);
    assert_eq!(serial_parallel_runs, 0);
    assert_eq!(parallel_runs, 1, "the planner chose no parallel plan");
    assert_eq!(parallel, serial);
    // Late rows, stored far from their time: the shares notice, the report stays exact.
    Spi::run(
        "INSERT INTO par_events SELECT equipment, time + interval '1 millisecond', 'maintenance'
         FROM par_events WHERE time IN ('2026-01-01 00:20', '2026-01-01 01:40') AND equipment < 5",
    )
    .unwrap();
    let (serial, _) = digest(false);
    let (parallel, _) = digest(true);
    assert_eq!(parallel, serial);
    // A text equipment column, and none: the same aggregate, the same figures.
    Spi::run(
        "CREATE TABLE par_events_text AS SELECT 'press-' || equipment AS equipment, time, status FROM par_events ORDER BY time;
         ANALYZE par_events_text;",
    )
    .unwrap();
    for (table, equipment) in [("par_events_text", "'equipment'"), ("par_events_text", "NULL")] {
        let report = format!(
            "SELECT md5(string_agg(r::text, ',' ORDER BY equipment, time)) FROM sensor.availability_report('{table}', 'time', 'status', {equipment},
             '2026-01-01', '2026-01-01 03:00', bucket => '10 minutes') r"
        );
        let digest = |workers: u32| {
            Spi::run(&format!("SET LOCAL max_parallel_workers_per_gather = {workers}")).unwrap();
            let before = super::report_share::PARALLEL_REPORTS.load(Relaxed);
            let d = Spi::get_one::<String>(&report).unwrap();
            (d, super::report_share::PARALLEL_REPORTS.load(Relaxed) - before)
        };
        let (serial, serial_runs) = digest(0);
        let (parallel, parallel_runs) = digest(2);
        assert_eq!((serial_runs, parallel_runs), (0, 1), "{table}");
        assert!(serial.is_some(), "{table}");
        assert_eq!(parallel, serial, "{table}");
    }
}

#[pg_test]
fn a_report_partition_checks_its_arguments() {
    setup();
    let call = |spec: &str, state: &str| {
        format!(
            "SELECT sensor.availability_report_partition('ev', 'time', '{state}', 'equipment', {spec}, '2026-01-01', '2026-01-02')"
        )
    };
    // Bytes that are no report spec.
    assert_eq!(
        crate::tests::sqlstate_of(&call("'\\x0102'::bytea", "status")).as_deref(),
        Some("22P02")
    );
    // NULL for a required argument: NULL, as a STRICT function would give.
    assert_eq!(
        Spi::get_one::<Vec<u8>>(&call("NULL", "status")).unwrap(),
        None
    );
}
