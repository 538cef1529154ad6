"""Downsampling through SQL, against peers on the same data.

- `sensor.downsample(..., 'lttb')` (streamed, exact) selects exactly the points of the
  `lttb` crate's algorithm (ported below, same float operations) and of tsdownsample's
  LTTBDownsampler.
- `downsample_agg` and `m4_summary` give the same result under a forced parallel plan
  (partial aggregation in workers, serialize/combine in the leader) as serially.
- Paging with `channel_page` returns every row exactly once, ties included.
- `downsample_summaries` over a TimescaleDB continuous aggregate (skipped without it).
"""
import datetime as dt

import numpy as np
import pytest
from tsdownsample import LTTBDownsampler

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def lttb_crate(x, y, threshold):
    """Indices chosen by the `lttb` crate 0.2 (a port with the same operations, in order)."""
    n = len(x)
    if threshold >= n or threshold == 0:
        return list(range(n))
    every = (n - 2) / (threshold - 2)
    a = 0
    out = [0]
    for i in range(threshold - 2):
        start = int((i + 1) * every) + 1
        end = min(int((i + 2) * every) + 1, n)
        avg_x = 0.0
        avg_y = 0.0
        for j in range(start, end):
            avg_x += x[j]
            avg_y += y[j]
        length = float(end - start)
        avg_x /= length
        avg_y /= length
        lo = int(i * every) + 1
        hi = int((i + 1) * every) + 1
        ax, ay = x[a], y[a]
        max_area = -1.0
        chosen = lo
        for j in range(lo, hi):
            area = abs((ax - avg_x) * (y[j] - ay) - (ax - x[j]) * (avg_y - ay)) * 0.5
            if area > max_area:
                max_area = area
                chosen = j
        out.append(chosen)
        a = chosen
    out.append(n - 1)
    return out


def micros(ts):
    return int((ts - EPOCH) / dt.timedelta(microseconds=1))


@pytest.fixture
def noisy_sine(db):
    """50,000 points, 1 s apart, noisy sine; in table e2e_ds (dropped afterwards)."""
    n = 50_000
    rng = np.random.default_rng(7)
    t = 1_704_067_200_000_000 + np.arange(n, dtype=np.int64) * 1_000_000  # 2024-01-01
    v = np.sin(np.arange(n) / n * 20 * np.pi) + rng.normal(0.0, 0.1, n)
    db.execute("DROP TABLE IF EXISTS e2e_ds")
    db.execute("CREATE TABLE e2e_ds (ts timestamptz NOT NULL, v float8)")
    with db.cursor().copy("COPY e2e_ds FROM STDIN") as copy:
        for ti, vi in zip(t.tolist(), v.tolist()):
            copy.write_row((EPOCH + dt.timedelta(microseconds=ti), vi))
    db.execute("CREATE INDEX ON e2e_ds (ts)")
    db.execute("ANALYZE e2e_ds")
    yield t, v
    db.execute("DROP TABLE e2e_ds")


@pytest.mark.parametrize("n_out", [3, 500, 2000])
def test_lttb_selects_the_points_of_the_lttb_crate_and_tsdownsample(db, noisy_sine, n_out):
    t, v = noisy_sine
    rows = db.execute(
        "SELECT time, value FROM sensor.downsample('e2e_ds', 'ts', 'v', '2024-01-01', '2024-01-02', %s, 'lttb')",
        (n_out,),
    ).fetchall()
    oracle = lttb_crate(t.astype(np.float64).tolist(), v.tolist(), n_out)
    peer = LTTBDownsampler().downsample(t, v, n_out=n_out).tolist()
    assert len(rows) == len(oracle) == len(peer) == n_out
    assert oracle == peer
    assert [micros(ts) for ts, _ in rows] == t[oracle].tolist()
    assert [value for _, value in rows] == v[oracle].tolist()
    # The batch kernel on arrays agrees as well.
    arrays = db.execute(
        "SELECT time FROM sensor.downsample_arrays((SELECT array_agg(ts ORDER BY ts) FROM e2e_ds),"
        " (SELECT array_agg(v ORDER BY ts) FROM e2e_ds), %s, 'lttb')",
        (n_out,),
    ).fetchall()
    assert [micros(ts) for (ts,) in arrays] == t[oracle].tolist()


def test_minmax_lttb_selects_input_points_and_keeps_the_ends(db, noisy_sine):
    t, v = noisy_sine
    rows = db.execute(
        "SELECT time, value FROM sensor.downsample('e2e_ds', 'ts', 'v', '2024-01-01', '2024-01-02', 1000)"
    ).fetchall()
    assert len(rows) == 1000
    got = [micros(ts) for ts, _ in rows]
    assert got == sorted(set(got))
    assert got[0] == t[0] and got[-1] == t[-1]
    index = {ti: i for i, ti in enumerate(t.tolist())}
    assert all(index.get(ts) is not None and v[index[ts]] == value for ts, value in zip(got, (r[1] for r in rows)))


PARALLEL = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
            "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2")


def test_parallel_plans_equal_the_serial_plan(db):
    db.execute("DROP TABLE IF EXISTS e2e_par")
    db.execute(
        """CREATE TABLE e2e_par AS
           SELECT '2024-01-01'::timestamptz + i * interval '10 ms' AS ts, (i % 5)::text AS sensor,
                  sin(i / 1000.0) + ((i::int8 * 7919) % 101) / 500.0 AS v
           FROM generate_series(0, 1999999) i"""
    )
    db.execute("ANALYZE e2e_par")
    query = """SELECT sensor, d::text, (m).first_time, (m).first_value, (m).min_time, (m).min_value,
                      (m).max_time, (m).max_value, (m).last_time, (m).last_value, (m).count, (m).sum
               FROM (SELECT sensor,
                            sensor.downsample_agg(ts, v, '2024-01-01', '2024-01-01 06:00', %s, %s) AS d,
                            sensor.m4_summary(ts, v) AS m
                     FROM e2e_par GROUP BY sensor) g ORDER BY sensor"""
    try:
        for points, method in [(500, "minmax_lttb"), (400, "m4"), (300, "minmax"), (200, "avg")]:
            db.execute("SET max_parallel_workers_per_gather = 0")
            serial = db.execute(query, (points, method)).fetchall()
            db.execute(PARALLEL)
            plan = "\n".join(r[0] for r in db.execute("EXPLAIN " + query, (points, method)))
            assert "Partial" in plan and "Gather" in plan, plan
            parallel = db.execute(query, (points, method)).fetchall()
            db.execute("RESET ALL")
            assert len(serial) == len(parallel) == 5
            for s, p in zip(serial, parallel):
                if method == "avg":
                    # Bucket means are sums in a different order: equal to rounding.
                    assert s[0] == p[0]
                else:
                    assert s[:11] == p[:11], method
                assert abs(s[11] - p[11]) <= 1e-9 * max(1.0, abs(s[11]))
    finally:
        db.execute("RESET ALL")
        db.execute("DROP TABLE e2e_par")


def test_paging_returns_every_row_exactly_once(db):
    channel = db.execute(
        """WITH d AS (INSERT INTO sensor_data.datasets (name, sha256, bytes) VALUES ('e2e paging', 'x', 0) RETURNING id)
           INSERT INTO sensor_data.channels (dataset_id, group_name, name, data_type, has_time, n_samples)
           SELECT id, 'g', 'c', 'float64', true, 0 FROM d RETURNING id"""
    ).fetchone()[0]
    try:
        # 10,000 times, every 7th repeated 3 times: ties across page boundaries.
        db.execute(
            """INSERT INTO sensor_data.samples
               SELECT %s, '2024-01-01'::timestamptz + i * interval '1 ms', i * 10 + k
               FROM generate_series(0, 9999) i, generate_series(0, 2) k WHERE k = 0 OR i %% 7 = 0""",
            (channel,),
        )
        want = db.execute(
            "SELECT time, value FROM sensor_data.samples WHERE channel_id = %s ORDER BY time, value", (channel,)
        ).fetchall()
        for limit in [1, 2, 999, 1000, 50000]:
            got, after, pages = [], None, 0
            while True:
                page = db.execute(
                    "SELECT time, value, has_more, next_cursor FROM sensor.channel_page(%s, NULL, NULL, after => %s, \"limit\" => %s)",
                    (channel, after, limit),
                ).fetchall()
                pages += 1
                if not page:
                    break
                # A page exceeds the limit only by rows of its last timestamp.
                assert len(page) <= limit or len({r[0] for r in page[limit - 1:]}) == 1
                got.extend((r[0], r[1]) for r in page)
                if not page[-1][2]:
                    break
                assert page[-1][3] == page[-1][0]
                after = page[-1][3]
            assert len(got) == len(want), limit
            assert got == want, limit
            assert pages <= len(want) // limit + 2
    finally:
        db.execute("DELETE FROM sensor_data.samples WHERE channel_id = %s", (channel,))
        db.execute("DELETE FROM sensor_data.datasets WHERE name = 'e2e paging'")


def test_downsample_summaries_from_a_continuous_aggregate(db):
    if db.execute("SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')").fetchone()[0]:
        pytest.skip("SKIP: TimescaleDB is not installed; continuous-aggregate zoom not tested")
    db.execute("DROP TABLE IF EXISTS e2e_ht CASCADE")
    db.execute("CREATE TABLE e2e_ht (ts timestamptz NOT NULL, sensor text, v float8)")
    db.execute("SELECT create_hypertable('e2e_ht', 'ts', chunk_time_interval => interval '6 hours')")
    db.execute(
        """INSERT INTO e2e_ht SELECT '2024-01-01'::timestamptz + i * interval '1 second', 's' || (i % 2),
                  sin(i / 600.0) + ((i::int8 * 7919) % 101) / 500.0 FROM generate_series(0, 172799) i"""
    )
    db.execute(
        """CREATE MATERIALIZED VIEW e2e_ht_minutes WITH (timescaledb.continuous) AS
           SELECT sensor, time_bucket('1 minute', ts) AS bucket, sensor.m4_summary(ts, v) AS summary
           FROM e2e_ht GROUP BY sensor, time_bucket('1 minute', ts) WITH DATA"""
    )
    try:
        from_cagg = db.execute(
            """SELECT s.sensor, p.time, p.value FROM (
                   SELECT sensor, sensor.downsample_summaries(bucket, summary, '2024-01-01', '2024-01-03', 192, 'm4') AS d
                   FROM e2e_ht_minutes GROUP BY sensor) s, sensor.points(s.d) p ORDER BY 1, 2"""
        ).fetchall()
        from_rows = db.execute(
            """SELECT series, time, value FROM sensor.downsample('e2e_ht', 'ts', 'v', '2024-01-01', '2024-01-03', 192, 'm4',
                   series_column => 'sensor') ORDER BY 1, 2"""
        ).fetchall()
        assert len(from_cagg) == len(from_rows) > 0
        assert from_cagg == from_rows
    finally:
        db.execute("DROP TABLE e2e_ht CASCADE")
