// `#[pg_test]`s of energy_agg, its rollup and accessors.

use pgrx::prelude::*;

use crate::tests::assert_sqlstate;

/// Two power channels, one sample a minute for two days; channel 2 is off 03:00-05:00.
fn setup() {
    Spi::run(
        "CREATE TEMP TABLE power (channel int, time timestamptz, watts float8);
         INSERT INTO power
         SELECT c, timestamptz '2026-03-01 00:00+00' + i * interval '1 minute', 1000 * c + (i % 60)
         FROM generate_series(1, 2) c, generate_series(0, 2 * 1440 - 1) i
         WHERE NOT (c = 2 AND i % 1440 BETWEEN 181 AND 299);",
    )
    .unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[pg_test]
fn constant_power_for_an_hour_is_its_watt_hours() {
    let (wh, mean, covered) = Spi::get_three::<f64, f64, String>(
        "SELECT sensor.energy_wh(s), sensor.time_weighted_mean(s), sensor.covered(s)::text
         FROM (SELECT sensor.energy_agg(t, 250.0) AS s
               FROM generate_series(timestamptz '2026-01-01', '2026-01-01 01:00', interval '10 seconds') t) x",
    )
    .unwrap();
    assert_eq!((wh, mean, covered.as_deref()), (Some(250.0), Some(250.0), Some("01:00:00")));
}

#[pg_test]
fn hourly_states_roll_up_to_the_direct_figure_with_the_segments_between_hours() {
    setup();
    let (direct, rolled, per_hour_sum) = Spi::get_three::<f64, f64, f64>(
        "WITH hourly AS (
            SELECT channel, date_trunc('hour', time) AS h, sensor.energy_agg(time, watts) AS st
            FROM power GROUP BY 1, 2)
         SELECT (SELECT sensor.energy_wh(sensor.energy_agg(time, watts)) FROM power WHERE channel = 1),
                (SELECT sensor.energy_wh(sensor.rollup(st)) FROM hourly WHERE channel = 1),
                (SELECT sum(sensor.energy_wh(st)) FROM hourly WHERE channel = 1)",
    )
    .unwrap();
    let (direct, rolled, per_hour_sum) = (direct.unwrap(), rolled.unwrap(), per_hour_sum.unwrap());
    assert!(close(direct, rolled), "{direct} vs {rolled}");
    // Each hour alone misses the minute from its last sample to the next hour's first.
    assert!(per_hour_sum < direct - 1.0, "{per_hour_sum} vs {direct}");
    // By hand: 47 h 59 min at 1000 W plus the ramp mean: the sawtooth 0..59 W averages 29.5
    // W, except the 47 resets (59 -> 0) average 29.5 W too.
    let expected = (2.0 * 1440.0 - 1.0) / 60.0 * (1000.0 + 29.5);
    assert!(close(direct, expected), "{direct} vs {expected}");
}

#[pg_test]
fn a_power_cut_longer_than_max_gap_is_reported_not_integrated() {
    setup();
    let (gaps, gap_time, covered) = Spi::get_three::<i64, String, String>(
        "SELECT sensor.gaps(s), sensor.gap_time(s)::text, sensor.covered(s)::text
         FROM (SELECT sensor.energy_agg(time, watts, interval '5 minutes') AS s FROM power WHERE channel = 2) x",
    )
    .unwrap();
    let rolled_gaps = Spi::get_one::<i64>(
        "SELECT sensor.gaps(sensor.rollup(st)) FROM (
            SELECT sensor.energy_agg(time, watts, interval '5 minutes') st
            FROM power WHERE channel = 2 GROUP BY date_trunc('hour', time)) h",
    )
    .unwrap();
    assert_eq!(gaps, Some(2));
    assert_eq!(gap_time.as_deref(), Some("04:00:00"));
    assert_eq!(covered.as_deref(), Some("43:59:00"));
    assert_eq!(rolled_gaps, Some(2));
}

#[pg_test]
fn parallel_plans_give_the_serial_figures_exactly() {
    Spi::run(
        "CREATE TABLE par_power AS SELECT i % 4 AS channel, timestamptz '2026-01-01' + (i / 4) * interval '1 second' AS time,
                (i % 4) * 100 + sin(i / 1000.0) * 50 AS watts
         FROM generate_series(0, 799999) i;
         ANALYZE par_power;",
    )
    .unwrap();
    let query = "SELECT string_agg(channel || ':' || sensor.energy_summary(s)::text, ',' ORDER BY channel)
                 FROM (SELECT channel, sensor.energy_agg(time, watts) s FROM par_power GROUP BY channel) x";
    let plan = |workers: i32| -> String {
        Spi::run(&format!(
            "SET LOCAL max_parallel_workers_per_gather = {workers}; SET LOCAL parallel_setup_cost = 0;
             SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL work_mem = '64kB'"
        ))
        .unwrap();
        Spi::connect(|client| {
            client
                .select(&format!("EXPLAIN (COSTS OFF) {query}"), None, &[])
                .unwrap()
                .map(|row| row.get::<String>(1).unwrap().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    assert!(plan(2).contains("Partial"), "{}", plan(2));
    let serial_plan = plan(0);
    assert!(!serial_plan.contains("Partial"), "{serial_plan}");
    let serial = Spi::get_one::<String>(query).unwrap().unwrap();
    plan(2);
    let parallel = Spi::get_one::<String>(query).unwrap().unwrap();
    // Groups larger than work_mem's buffer, in time order per worker block: exact.
    assert!(!serial.contains("\"approximate\": true"), "{serial}");
    assert!(!parallel.contains("\"approximate\": true"), "{parallel}");
    let energy = |s: &str| -> Vec<f64> {
        s.split("\"energy_wh\": ")
            .skip(1)
            .map(|x| x.split([',', '}']).next().unwrap().parse().unwrap())
            .collect()
    };
    let (a, b) = (energy(&serial), energy(&parallel));
    assert_eq!(a.len(), 4);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(close(*x, *y), "{x} vs {y}");
    }
}

#[pg_test]
fn energy_errors_have_their_sqlstates() {
    // max_gap must be positive and not NULL.
    assert_sqlstate("SELECT sensor.energy_agg(now(), 1, interval '0 s')", "22023");
    assert_sqlstate("SELECT sensor.energy_agg(now(), 1, NULL::interval)", "22023");
    // Not an energy state (an availability state's bytes, garbage, a newer version).
    assert_sqlstate("SELECT sensor.energy_wh('\\x0102'::sensor.energy_state)", "22P02");
    assert_sqlstate("SELECT sensor.energy_wh('\\x4502000000000000000000'::sensor.energy_state)", "0A000");
    // States of different max_gap do not roll up.
    assert_sqlstate("SELECT sensor.rollup(st) FROM (SELECT sensor.energy_agg(now(), 1) st
           UNION ALL SELECT sensor.energy_agg(now(), 1, interval '1 minute')) x", "22023");
    // NULLs and non-finite values are skipped; no rows: NULL state, NULL figures.
    let (n, wh) = Spi::get_two::<i64, f64>(
        "SELECT (sensor.energy_summary(s)->>'rows')::bigint, sensor.energy_wh(s)
         FROM (SELECT sensor.energy_agg(t, v) s FROM (VALUES (timestamptz '2026-01-01', 1.0::float8),
               ('2026-01-01 01:00', 'NaN'), (NULL, 5), ('2026-01-01 02:00', NULL), ('2026-01-01 03:00', 1.0)) r(t, v)) x",
    )
    .unwrap();
    assert_eq!((n, wh), (Some(2), Some(3.0)));
    assert_eq!(
        Spi::get_one::<f64>("SELECT sensor.energy_wh(sensor.energy_agg(now(), 1)) WHERE false").unwrap(),
        None
    );
}
