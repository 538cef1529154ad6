"""Rollup tiers against raw rows and against TimescaleDB's own continuous aggregates.

Usage: rollups.py [ROUNDS]   (connection from the PG* environment)

Data (made once, kept in the cluster): 4 TDMS channels (dataset 'bench_rollups') at 1 Hz for
30 days, 10,368,000 rows of sensor_data.samples (a hypertable with TimescaleDB). Each run
drops and re-creates the default tiers (1 minute, 15 minutes, 1 hour, 1 day):

1. Refresh: per round a different day, `refresh_continuous_aggregate` of a continuous
   aggregate of `avg(value)` per channel per minute, then of the 1-minute tier (m4 summary
   and energy state per channel per minute) over the same day; ratio tier / avg, median
   over the rounds. Without TimescaleDB the same with tables: INSERT ... SELECT avg()
   against sensor.refresh_rollups.
2. Windows: `sensor.channel_window(channel, 30 days, 1,000 points)` with source => 'raw'
   then 'auto' (the tiers), each round; ratio raw / tiers; the same for `sensor.downsample`
   of all 4 channels (series_column, a multi-series panel). The same for a 1-hour window,
   which stays on raw rows: ratio auto / raw (the cost of looking for a tier). Results of
   'auto' on the 30-day window are checked against raw rows over the widened window it
   serves (m4: exact).
"""
import os
import statistics
import sys
import time

import psycopg

from bench_tables import timescaledb

CHANNELS = 4
DAYS = 30
ROWS = CHANNELS * DAYS * 86_400
START = "2024-03-01 00:00+00"


def make_data(conn):
    """The dataset's channel ids, made when missing."""
    ids = [i for (i,) in conn.execute(
        "SELECT c.id FROM sensor_data.channels c JOIN sensor_data.datasets d ON d.id = c.dataset_id "
        "WHERE d.name = 'bench_rollups' ORDER BY c.id").fetchall()]
    if len(ids) == CHANNELS and conn.execute(
            "SELECT count(*) FROM sensor_data.samples WHERE channel_id = ANY(%s)", (ids,)).fetchone()[0] == ROWS:
        print("reusing bench_rollups", file=sys.stderr)
        return ids
    print("generating bench_rollups (10.4M rows)...", file=sys.stderr)
    conn.execute("DELETE FROM sensor_data.datasets WHERE name = 'bench_rollups'")
    dataset = conn.execute("INSERT INTO sensor_data.datasets (name, source_file, sha256, bytes) "
                           "VALUES ('bench_rollups', '/bench', repeat('e', 64), 0) RETURNING id").fetchone()[0]
    ids = [conn.execute("INSERT INTO sensor_data.channels (dataset_id, group_name, name, data_type, has_time, start_time, "
                        "increment_s, n_samples) VALUES (%s, 'g', %s, 'tdsTypeDoubleFloat', true, %s, 1, %s) RETURNING id",
                        (dataset, f"c{k}", START, ROWS // CHANNELS)).fetchone()[0] for k in range(CHANNELS)]
    for day in range(DAYS):
        conn.execute(f"""INSERT INTO sensor_data.samples
                         SELECT c, timestamptz '{START}' + (%s * 86400 + i) * interval '1 second',
                                1000 + 400 * sin((%s * 86400 + i) / 13751.0) + ((i * 7919 + c) %% 1009) / 10.0
                         FROM generate_series(0, 86399) i, unnest(%s::int8[]) c""", (day, day, ids))
    conn.execute("VACUUM ANALYZE sensor_data.samples")
    return ids


def timed(conn, sql, params=None):
    t = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    return time.perf_counter() - t, rows


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("SET jit = off")
        tsdb = timescaledb(conn)
        ids = make_data(conn)
        others = conn.execute("SELECT count(*) FROM sensor_data.samples WHERE NOT (channel_id = ANY(%s))", (ids,)).fetchone()[0]
        print(f"{CHANNELS} channels x {DAYS} days at 1 Hz ({ROWS:,} rows; {others:,} other rows in sensor_data.samples); "
              f"{rounds} rounds; cores={os.cpu_count()}; jit off; {'TimescaleDB' if tsdb else 'no TimescaleDB: tables'}")
        conn.execute("SET client_min_messages = warning")
        conn.execute("SELECT sensor.disable_rollups('sensor_data.samples')")
        conn.execute("DROP MATERIALIZED VIEW IF EXISTS bench_avg_1m")
        conn.execute("DROP TABLE IF EXISTS bench_avg_1m")
        conn.execute("CALL sensor.enable_rollups('sensor_data.samples', backfill => false)")
        if tsdb:
            for (job,) in conn.execute("SELECT refresh_job FROM sensor.rollups").fetchall():
                conn.execute("SELECT alter_job(%s, scheduled => false)", (job,))
            conn.execute("CREATE MATERIALIZED VIEW bench_avg_1m WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS "
                         "SELECT channel_id, time_bucket('1 minute', time) AS bucket, avg(value) AS value "
                         "FROM sensor_data.samples GROUP BY 1, 2 WITH NO DATA")
        else:
            conn.execute("CREATE TABLE bench_avg_1m (channel_id int8, bucket timestamptz, value float8, PRIMARY KEY (channel_id, bucket))")

        # 1. Refresh of one day, a different day each round.
        ratios = []
        for r in range(rounds):
            day = f"timestamptz '{START}' + interval '{r} days'"
            lo, hi = conn.execute(f"SELECT {day}, {day} + interval '1 day'").fetchone()
            if tsdb:
                t0 = time.perf_counter()
                conn.execute("CALL refresh_continuous_aggregate('bench_avg_1m', %s, %s)", (lo, hi))
                base = time.perf_counter() - t0
                t0 = time.perf_counter()
                conn.execute("CALL refresh_continuous_aggregate('sensor_data.samples_rollup_1m', %s, %s)", (lo, hi))
                ours = time.perf_counter() - t0
            else:
                t0 = time.perf_counter()
                conn.execute("INSERT INTO bench_avg_1m SELECT channel_id, date_bin('1 minute', time, '2000-01-03'), avg(value) "
                             "FROM sensor_data.samples WHERE time >= %s AND time < %s GROUP BY 1, 2", (lo, hi))
                base = time.perf_counter() - t0
                t0 = time.perf_counter()
                conn.execute("CALL sensor.refresh_rollups('sensor_data.samples', %s, %s)", (lo, hi))
                ours = time.perf_counter() - t0
            ratios.append(ours / base)
            print(f"  refresh of day {r + 1}: avg(value) {base * 1e3:8.1f} ms   tiers {ours * 1e3:8.1f} ms", file=sys.stderr)
        print(f"  refresh of one day, 1-minute tier / avg(value) continuous aggregate: ratio {statistics.median(ratios):.3f}"
              f"   (target <= 1.5{'' if tsdb else '; tables: all three tiers'})")
        t0 = time.perf_counter()
        conn.execute("CALL sensor.refresh_rollups('sensor_data.samples')")
        print(f"  backfill of the remaining days, all tiers: {time.perf_counter() - t0:.1f} s")

        # 2. Windows.
        channel = ids[0]
        long_window = (START, f"{START[:10]} 00:00+00", DAYS)
        frm = START
        to = conn.execute(f"SELECT timestamptz '{START}' + interval '{DAYS} days'").fetchone()[0]
        hour_from = conn.execute(f"SELECT timestamptz '{START}' + interval '15 days 6 hours'").fetchone()[0]
        hour_to = conn.execute("SELECT %s::timestamptz + interval '1 hour'", (hour_from,)).fetchone()[0]
        q = "SELECT count(*) FROM sensor.channel_window(%s, %s, %s, points => 1000, source => %s)"
        for name, a, b, target in (("30 days", frm, to, ">= 20"), ("1 hour", hour_from, hour_to, "about 1")):
            raw_t, auto_t = [], []
            for _ in range(rounds):
                raw_t.append(timed(conn, q, (channel, a, b, "raw"))[0])
                auto_t.append(timed(conn, q, (channel, a, b, "auto"))[0])
            source = conn.execute("SELECT source, tier FROM sensor.window_source('sensor_data.samples', 'time', 'value', %s, %s, 1000, "
                                  "filter => format('channel_id = %%s', %s::int8))", (a, b, channel)).fetchone()
            ratio = statistics.median(r / t for r, t in zip(raw_t, auto_t))
            label = "raw / tiers" if name == "30 days" else "raw / auto (no tier fits)"
            print(f"  channel_window {name:>7}, 1,000 points: raw {min(raw_t) * 1e3:8.1f} ms   auto {min(auto_t) * 1e3:8.1f} ms "
                  f"({source[0]}{' ' + str(source[1]) if source[1] else ''})   {label} {ratio:.2f}   (target {target})")
        # What a multi-series Grafana panel runs: every channel of the dataset, 30 days.
        qd = ("SELECT count(*) FROM sensor.downsample('sensor_data.samples', 'time', 'value', %s, %s, 1000, "
              "filter => format('channel_id = ANY(%%L::int8[])', %s::int8[]), series_column => 'channel_id', source => %s)")
        raw_t, auto_t = [], []
        for _ in range(rounds):
            raw_t.append(timed(conn, qd, (frm, to, ids, "raw"))[0])
            auto_t.append(timed(conn, qd, (frm, to, ids, "auto"))[0])
        ratio = statistics.median(r / t for r, t in zip(raw_t, auto_t))
        print(f"  downsample 30 days x {CHANNELS} channels (series_column), 1,000 points: raw {min(raw_t) * 1e3:8.1f} ms   "
              f"auto {min(auto_t) * 1e3:8.1f} ms   raw / tiers {ratio:.2f}   (target >= 20)")
        # The 30-day window from the tiers equals raw rows over the window it serves.
        w = conn.execute("SELECT \"from\", \"to\", points FROM sensor.window_source('sensor_data.samples', 'time', 'value', %s, %s, "
                         "1000, 'm4', filter => format('channel_id = %%s', %s::int8))", (frm, to, channel)).fetchone()
        qa = "SELECT time, value FROM sensor.channel_window(%s, %s, %s, points => %s, method => 'm4', source => %s) ORDER BY 1"
        auto_rows = conn.execute(qa, (channel, w[0], w[1], w[2], "rollups")).fetchall()
        raw_rows = conn.execute(qa, (channel, w[0], w[1], w[2], "raw")).fetchall()
        assert len(auto_rows) == len(raw_rows) > 100 and auto_rows == raw_rows
        print(f"  30-day m4 window from the tiers equals raw rows over [{w[0]:%Y-%m-%d %H:%M}, {w[1]:%Y-%m-%d %H:%M}), {len(raw_rows)} points")


if __name__ == "__main__":
    main()
