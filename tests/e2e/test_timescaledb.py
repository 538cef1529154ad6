"""Continuous aggregates with TimescaleDB: skipped, visibly, when it is not installed.

These run only where the test cluster preloads TimescaleDB (scripts/pg-cluster does when
$(pg_config --pkglibdir)/timescaledb.so exists); the plain-PostgreSQL equivalents run in
the golden tests (materialized views).
"""
import pathlib
import subprocess

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def tsdb(db):
    available = db.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
    ).fetchone()[0]
    if not available:
        pytest.skip("SKIP: TimescaleDB is not installed: continuous-aggregate tests skipped")
    return db


def test_quality_example_schema_with_continuous_aggregates(tsdb):
    db = tsdb
    db.execute("DROP SCHEMA IF EXISTS quality CASCADE")
    sql = (SOURCE / "sql" / "examples" / "quality.sql").read_text()
    # psql meta-commands pick the variant: run the example through psql.
    out = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-v", "use_timescaledb=true",
                          "-f", str(SOURCE / "sql" / "examples" / "quality.sql")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    db.execute("""
        INSERT INTO quality.tof_raw (time, sample_id, eleveur, lot, distance_mm, reflectance, amplitude)
        SELECT '2026-01-01'::timestamptz + i * interval '10 minutes', 'S' || i, 'ferme-' || (i % 3), 'L1',
               array_fill(60::float8, ARRAY[8,8]), array_fill(55::float8, ARRAY[8,8]), array_fill(100::float8, ARRAY[8,8])
        FROM generate_series(1, 30) i""")
    assert db.execute("SELECT quality.score_new_samples()").fetchone()[0] == 30
    db.execute("CALL refresh_continuous_aggregate('quality.stats_hourly', NULL, NULL)")
    db.execute("CALL refresh_continuous_aggregate('quality.stats_by_eleveur', NULL, NULL)")
    assert db.execute("SELECT sum(samples) FROM quality.stats_hourly").fetchone()[0] == 30
    assert db.execute("SELECT count(DISTINCT eleveur) FROM quality.stats_by_eleveur").fetchone()[0] == 3
    # The refresh runs with search_path = pg_catalog, pg_temp; a cagg calling our functions works too.
    db.execute("""
        CREATE MATERIALIZED VIEW quality.grades_by_hour WITH (timescaledb.continuous) AS
        SELECT time_bucket('1 hour', time) AS bucket, sensor.quality_grade(avg(final_score)) AS grade_of_mean
        FROM quality.fusion_results GROUP BY 1 WITH NO DATA""")
    db.execute("CALL refresh_continuous_aggregate('quality.grades_by_hour', NULL, NULL)")
    assert db.execute("SELECT count(*) FROM quality.grades_by_hour WHERE grade_of_mean IS NOT NULL").fetchone()[0] > 0
    db.execute("DROP SCHEMA quality CASCADE")


def test_availability_continuous_aggregate_and_rollup(tsdb):
    db = tsdb
    db.execute("DROP TABLE IF EXISTS status_events CASCADE")
    db.execute("CREATE TABLE status_events (equipment int NOT NULL, time timestamptz NOT NULL, status text)")
    db.execute("SELECT create_hypertable('status_events', 'time', chunk_time_interval => interval '6 hours')")
    db.execute("""
        INSERT INTO status_events VALUES
          (12, '2026-01-01 00:00+00', 'online'), (12, '2026-01-01 06:00+00', 'offline'),
          (12, '2026-01-01 09:00+00', 'online'), (12, '2026-01-01 23:00+00', 'offline'),
          (12, '2026-01-02 01:00+00', 'online')""")
    db.execute("""
        CREATE MATERIALIZED VIEW hourly_availability WITH (timescaledb.continuous) AS
        SELECT equipment, time_bucket('1 hour', time) AS bucket,
               sensor.availability_agg(time, status, time_bucket('1 hour', time), time_bucket('1 hour', time) + interval '1 hour') AS state
        FROM status_events GROUP BY 1, 2 WITH NO DATA""")
    db.execute("CALL refresh_continuous_aggregate('hourly_availability', NULL, NULL)")
    rolled, direct = db.execute("""
        SELECT (SELECT sensor.availability(sensor.rollup(state, '2026-01-01+00', '2026-01-03+00')) FROM hourly_availability),
               (SELECT sensor.availability(sensor.availability_agg(time, status, '2026-01-01+00', '2026-01-03+00')) FROM status_events)
    """).fetchone()
    assert direct == pytest.approx(43 / 48, abs=1e-12)
    assert rolled == direct
    db.execute("DROP TABLE status_events CASCADE")


def plain_and_hypertable(db, name, rows_sql, columns, chunk_interval, compress_with):
    """`{name}_plain` holding `rows_sql`, and `{name}_hyper` with the same rows, chunked by
    ts and set up for compression (`compress_with`); returns the hypertable's chunks."""
    db.execute(f"DROP TABLE IF EXISTS {name}_plain, {name}_hyper CASCADE")
    db.execute(f"CREATE TABLE {name}_plain AS {rows_sql}")
    db.execute(f"CREATE TABLE {name}_hyper ({columns})")
    db.execute(f"SELECT create_hypertable('{name}_hyper', 'ts', chunk_time_interval => interval '{chunk_interval}')")
    db.execute(f"INSERT INTO {name}_hyper SELECT * FROM {name}_plain ORDER BY ts")
    db.execute(f"ALTER TABLE {name}_hyper SET (timescaledb.compress, {compress_with})")
    return [r[0] for r in db.execute(f"SELECT show_chunks('{name}_hyper') ORDER BY 1").fetchall()]


def test_exact_lttb_on_compressed_chunks_equals_the_plain_table(tsdb):
    """Mostly compressed windows count first (from batch metadata) and read once without a
    temporary file; the points are those of the same rows in a plain table."""
    db = tsdb
    chunks = plain_and_hypertable(
        db, "e2e_lttb",
        """SELECT '2024-01-01 00:00+00'::timestamptz + i * interval '2 seconds' AS ts,
                  sin(i / 900.0) + ((i::int8 * 7919) % 101) / 300.0 AS v
           FROM generate_series(0, 199999) i""",
        "ts timestamptz NOT NULL, v float8", "12 hours", "timescaledb.compress_orderby = 'ts'")
    assert len(chunks) >= 4
    # All but the last chunk compressed: most of the window.
    for chunk in chunks[:-1]:
        db.execute("SELECT compress_chunk(%s)", (chunk,))
    query = ("SELECT time, value FROM sensor.downsample(%s, 'ts', 'v', '2024-01-01 03:00+00', '2024-01-04 20:00+00',"
             " %s, 'lttb')")
    for points in (3, 100, 2000):
        want = db.execute(query, ("e2e_lttb_plain", points)).fetchall()
        got = db.execute(query, ("e2e_lttb_hyper", points)).fetchall()
        assert len(want) == points
        assert got == want, points
    # Within a small work_mem (buckets reduced to their hulls): the same points.
    db.execute("SET work_mem = '64kB'")
    try:
        got = db.execute(query, ("e2e_lttb_hyper", 3)).fetchall()
    finally:
        db.execute("RESET work_mem")
    assert got == db.execute(query, ("e2e_lttb_plain", 3)).fetchall()
    db.execute("DROP TABLE e2e_lttb_plain, e2e_lttb_hyper CASCADE")


def test_parallel_partitions_of_a_hypertable_equal_the_serial_plan(tsdb):
    """Under a parallel plan sensor.downsample cuts a hypertable's window at its chunks'
    starts, one sensor.downsample_partition per part in the workers: the rows are those of
    the serial plan and of the same rows in a plain table, compressed chunks included, under
    the search_path of a continuous-aggregate refresh."""
    db = tsdb
    chunks = plain_and_hypertable(
        db, "e2e_part",
        """SELECT '2024-01-01 00:00+00'::timestamptz + (i / 3) * interval '1 second' AS ts, i % 3 AS sensor,
                  sin(i / 900.0) + ((i::int8 * 7919) % 101) / 300.0 AS v
           FROM generate_series(0, 299999) i""",
        "ts timestamptz NOT NULL, sensor int, v float8", "4 hours", "timescaledb.compress_segmentby = 'sensor'")
    assert len(chunks) >= 6
    for chunk in chunks[::2]:
        db.execute("SELECT compress_chunk(%s)", (chunk,))
    db.execute("ANALYZE e2e_part_plain; ANALYZE e2e_part_hyper")
    query = ("SELECT series, time, value FROM sensor.downsample(%s, 'ts', 'v', '2024-01-01 01:00+00', '2024-01-02 02:00+00',"
             " 200, %s, series_column => %s, filter => %s) ORDER BY series, time")
    try:
        for method in ("m4", "minmax_lttb"):
            # One series by a filter: its times are distinct (the three sensors share them).
            for series, only in (("sensor", None), (None, "sensor = 1")):
                db.execute("SET max_parallel_workers_per_gather = 0")
                want = db.execute(query, ("e2e_part_plain", method, series, only)).fetchall()
                serial = db.execute(query, ("e2e_part_hyper", method, series, only)).fetchall()
                db.execute("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                           "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2; "
                           "SET search_path = pg_catalog, pg_temp")
                parallel = db.execute(query, ("public.e2e_part_hyper", method, series, only)).fetchall()
                plain_parallel = db.execute(query, ("public.e2e_part_plain", method, series, only)).fetchall()
                db.execute("RESET search_path")
                assert len(want) >= 150, (method, series)
                assert len(serial) == len(want) and len(parallel) == len(want) and len(plain_parallel) == len(want)
                assert serial == want, (method, series)
                assert parallel == want, (method, series)
                assert plain_parallel == want, (method, series)
    finally:
        db.execute("RESET ALL")
    db.execute("DROP TABLE e2e_part_plain, e2e_part_hyper CASCADE")


def test_parallel_report_on_compressed_chunks_equals_the_serial_plan(tsdb):
    """On a hypertable with compressed chunks availability_report cuts its window at the
    chunks' starts on the bucket grid, one sensor.availability_report_partition per part:
    the rows of the serial plan and of the same events in a plain table."""
    db = tsdb
    chunks = plain_and_hypertable(
        db, "e2e_report",
        """SELECT '2026-01-01 00:00+00'::timestamptz + (i / 7) * interval '2 seconds' AS ts, i % 7 AS equipment,
                  CASE WHEN ((i / 7) / 300 + i % 7) % 5 = 0 THEN 'offline'
                       WHEN ((i / 7) / 300 + i % 7) % 5 = 1 THEN 'maintenance' ELSE 'online' END AS status
           FROM generate_series(0, 349999) i""",
        "ts timestamptz NOT NULL, equipment int, status text", "6 hours",
        "timescaledb.compress_segmentby = 'equipment'")
    assert len(chunks) >= 4
    for chunk in chunks[::2]:
        db.execute("SELECT compress_chunk(%s)", (chunk,))
    db.execute("ANALYZE e2e_report_plain; ANALYZE e2e_report_hyper")
    query = ("SELECT md5(string_agg(r::text, ',' ORDER BY equipment, time)), count(*) FROM sensor.availability_report("
             "%s, 'ts', 'status', 'equipment', '2026-01-01 01:00+00', '2026-01-01 22:00+00', bucket => '30 minutes') r")
    try:
        db.execute("SET max_parallel_workers_per_gather = 0")
        want = db.execute(query, ("e2e_report_plain",)).fetchone()
        serial = db.execute(query, ("e2e_report_hyper",)).fetchone()
        db.execute("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                   "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2; "
                   "SET search_path = pg_catalog, pg_temp")
        parallel = db.execute(query, ("public.e2e_report_hyper",)).fetchone()
    finally:
        db.execute("RESET ALL")
    assert want[1] == 7 * 42
    assert serial == want
    assert parallel == want
    db.execute("DROP TABLE e2e_report_plain, e2e_report_hyper CASCADE")
