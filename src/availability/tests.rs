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
