"""Times the SQL downsampling functions against plain scans of the same rows, in one run.

Usage: downsample_sql.py [ROUNDS]   (connection from the PG* environment)

Data (made once, kept in the cluster): bench_ds (ts timestamptz, v float8), 10,000,000
rows over 30 days (one every 259.2 ms), indexed on ts; bench_minutes, a materialized
view of 1-minute sensor.m4_summary rows of it. Every query returns a handful of rows, so
client transfer is negligible. Each round runs every query right after a count(value) of
the same window; a ratio is the median over ROUNDS of those pairs (the machine is shared,
so pairs cancel its drift). Ratios are printed for serial plans
(max_parallel_workers_per_gather = 0) and with parallel plans allowed (2 workers), with
JIT off: the same settings on both sides of a ratio.

Per kind of table, at the default work_mem (so exact lttb's points beyond it go through a
temporary file): the same rows in bench_ds_hyper (a hypertable, 1-day chunks) and
bench_ds_compressed (the same, compressed) when TimescaleDB is installed; minmax_lttb and
exact lttb against count(value), serial plans (the goal) and parallel plans allowed.

Memory: the peak anonymous memory (RssAnon: private memory, not shared buffers) of the
backend while it runs downsample over a 1M-row and a 10M-row window, above what the same
fresh backend held after a plain scan of that window, median of three backends.
"""
import os
import sys

import psycopg

from backend_memory import peak_memory
from paired_timing import ROW_AT_A_TIME, paired, timed
from bench_tables import compress, new_table, timescaledb

ROWS = 10_000_000
SPACING = "259200 microseconds"  # 10M rows = 30 days
FROM, TO = "2024-01-01 00:00+00", "2024-01-31 00:00+00"
TO_1M = "2024-01-04 00:00+00"  # the first 1,000,000 rows
POINTS = 1000
PARAMS = {"f": FROM, "t": TO, "n": POINTS}


def setup(conn):
    have = conn.execute("SELECT to_regclass('bench_ds') IS NOT NULL").fetchone()[0]
    if have and conn.execute("SELECT count(*) FROM bench_ds").fetchone()[0] == ROWS:
        print("reusing bench_ds", file=sys.stderr)
    else:
        print(f"generating {ROWS:,} rows...", file=sys.stderr)
        conn.execute("DROP TABLE IF EXISTS bench_ds CASCADE")
        conn.execute("CREATE TABLE bench_ds (ts timestamptz NOT NULL, v float8)")
        conn.execute(
            f"""INSERT INTO bench_ds
                SELECT timestamptz '{FROM}' + i * interval '{SPACING}',
                       sin(i / 200000.0) + ((i::int8 * 7919) % 1009) / 5000.0
                FROM generate_series(0, {ROWS - 1}) i"""
        )
        conn.execute("CREATE INDEX bench_ds_ts ON bench_ds (ts)")
    # All-visible pages make the count of exact lttb an index-only scan.
    conn.execute("VACUUM ANALYZE bench_ds")
    print("building 1-minute m4_summary rows...", file=sys.stderr)
    conn.execute("DROP MATERIALIZED VIEW IF EXISTS bench_minutes")
    conn.execute(
        """CREATE MATERIALIZED VIEW bench_minutes AS
           SELECT date_trunc('minute', ts) AS bucket, sensor.m4_summary(ts, v) AS summary
           FROM bench_ds GROUP BY 1"""
    )
    conn.execute("CREATE INDEX ON bench_minutes (bucket)")
    conn.execute("VACUUM ANALYZE bench_minutes")


QUERIES = {
    "count(value)": ("SELECT count(v) FROM bench_ds WHERE ts >= %(f)s AND ts < %(t)s", {}),
    "downsample minmax_lttb": (
        "SELECT count(*) FROM sensor.downsample('bench_ds', 'ts', 'v', %(f)s, %(t)s, %(n)s)", {}),
    "downsample lttb (exact)": (
        "SELECT count(*) FROM sensor.downsample('bench_ds', 'ts', 'v', %(f)s, %(t)s, %(n)s, 'lttb')", {}),
    "naive array_agg + kernel": (
        """SELECT count(*) FROM (SELECT array_agg(ts ORDER BY ts) AS t, array_agg(v ORDER BY ts) AS v
                                 FROM bench_ds WHERE ts >= %(f)s AND ts < %(t)s) a,
                                sensor.downsample_arrays(a.t, a.v, %(n)s, 'minmax_lttb')""", {}),
    "summaries minmax_lttb": (
        """SELECT cardinality((sensor.downsample_summaries(bucket, summary, %(f)s, %(t)s, %(n)s)).time)
           FROM bench_minutes WHERE bucket >= %(f)s AND bucket < %(t)s""", {}),
}


def timings(conn, rounds, parallel):
    """Best wall time of each query, and the median over rounds of each query's time
    divided by that of the count(value) run just before it (pairs cancel the drift of a
    shared machine): wall time, and for serial plans also backend CPU time."""
    conn.execute(f"SET max_parallel_workers_per_gather = {2 if parallel else 0}")
    # JIT compilation time varies with load and favours neither side: off for both.
    conn.execute("SET jit = off")
    conn.execute("SET work_mem = '256MB'")
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    base_sql = QUERIES["count(value)"][0]
    best, wall, cpu = {}, {}, {}
    for _ in range(rounds):
        for name, (sql, _) in QUERIES.items():
            if name == "count(value)":
                continue
            base_wall, base_cpu, _ = timed(conn, base_sql, pid, PARAMS)
            ours_wall, ours_cpu, _ = timed(conn, sql, pid, PARAMS)
            best["count(value)"] = min(best.get("count(value)", float("inf")), base_wall)
            best[name] = min(best.get(name, float("inf")), ours_wall)
            wall.setdefault(name, []).append(ours_wall / base_wall)
            cpu.setdefault(name, []).append(ours_cpu / base_cpu if base_cpu else float("nan"))
    conn.execute("RESET max_parallel_workers_per_gather; RESET jit")

    def median(values):
        return {name: sorted(r)[len(r) // 2] for name, r in values.items()}

    return best, median(wall), median(cpu)


def copy_as_hypertable(conn, name, compressed):
    """`name`: bench_ds's rows in a hypertable of 1-day chunks, compressed or not."""
    kind = "compressed" if compressed else "hypertable"
    if not new_table(conn, name, ROWS, "ts timestamptz NOT NULL, v float8", kind, "ts", "1 day"):
        return
    conn.execute(f"INSERT INTO {name} SELECT * FROM bench_ds ORDER BY ts")
    if compressed:
        compress(conn, name, "ts")
    conn.execute(f"VACUUM ANALYZE {name}")


def per_table_kind(conn, rounds):
    """minmax_lttb and exact lttb / count(value) on each kind of table, default work_mem."""
    conn.execute("RESET work_mem")
    tables = [("bench_ds", "plain", ())]
    if timescaledb(conn):
        copy_as_hypertable(conn, "bench_ds_hyper", False)
        copy_as_hypertable(conn, "bench_ds_compressed", True)
        tables += [("bench_ds_hyper", "hypertable", ()), ("bench_ds_compressed", "compressed", ()),
                   ("bench_ds_compressed", "compressed, row at a time", ROW_AT_A_TIME)]
    else:
        print("SKIP: TimescaleDB is not installed: hypertable and compressed variants skipped")
    print(f"\nper kind of table, default work_mem ({conn.execute('SHOW work_mem').fetchone()[0]}), "
          "ratio to count(value) (median of pairs):")
    for table, kind, settings in tables:
        base = f"SELECT count(v) FROM {table} WHERE ts >= %(f)s AND ts < %(t)s"
        for method, target in (("minmax_lttb", "<= 1.25"), ("lttb", "<= 1.8 serial")):
            ours = f"SELECT count(*) FROM sensor.downsample('{table}', 'ts', 'v', %(f)s, %(t)s, %(n)s, '{method}')"
            for parallel in (False, True):
                (b, o), wall, _, rows = paired(conn, base, ours, rounds, parallel, PARAMS, settings)
                assert rows and rows[0][0] > 0, rows
                plans = "parallel (2 workers)" if parallel else "serial"
                print(f"  {kind:<26} {plans:<21} {method:<12} count(value) {b * 1e3:8.1f} ms   "
                      f"downsample {o * 1e3:8.1f} ms   ratio {wall:.3f}   ({target})")


def peak_memory_kb(method, to, points):
    """Peak RssAnon increase of a fresh backend while it downsamples [FROM, to), above what
    the same backend holds after a plain scan of that window (PostgreSQL's own scan keeps
    some private memory, about 1 kB per 1,000 rows here, with or without our function)."""
    # The same plan for both window sizes (a bitmap's page table grows with the window,
    # an index and a sequential scan keep different executor state): sequential scans
    # for the unordered method, index scans for the ordered one.
    settings = ["SET enable_bitmapscan = off", "SET enable_sort = off"]
    settings += (["SET enable_seqscan = off"] if method == "lttb"
                 else ["SET enable_indexscan = off", "SET enable_indexonlyscan = off"])
    params = {"f": FROM, "t": to, "n": points, "m": method}
    warmup = [
        # The catalog and the extension library, on a tiny window.
        "SELECT count(*) FROM sensor.downsample('bench_ds', 'ts', 'v', %(f)s, %(f)s::timestamptz + interval '1 minute', %(n)s, %(m)s)",
        "SELECT count(v) FROM bench_ds WHERE ts >= %(f)s AND ts < %(t)s",
        "SELECT count(v) FROM (SELECT v FROM bench_ds WHERE ts >= %(f)s AND ts < %(t)s ORDER BY ts) s",
    ]
    _, kb, _ = peak_memory("SELECT count(*) FROM sensor.downsample('bench_ds', 'ts', 'v', %(f)s, %(t)s, %(n)s, %(m)s)",
                           warmup, params, settings)
    return kb


def median_peak_kb(method, to, points, runs=3):
    return sorted(peak_memory_kb(method, to, points) for _ in range(runs))[runs // 2]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with psycopg.connect(autocommit=True) as conn:
        setup(conn)
        n = conn.execute("SELECT count(*) FROM bench_ds WHERE ts >= %s AND ts < %s", (FROM, TO)).fetchone()[0]
        m = conn.execute("SELECT count(*) FROM bench_minutes").fetchone()[0]
        print(f"window: {n:,} rows over 30 days -> {POINTS} points; {m:,} 1-minute summaries; "
              f"{rounds} rounds; cores={os.cpu_count()}")
        for parallel in (False, True):
            best, median, cpu = timings(conn, rounds, parallel)
            label = "parallel plans allowed (2 workers)" if parallel else "serial plans"
            print(f"\n{label}, jit off; best times:")
            for name, seconds in best.items():
                print(f"  {name:<28} {seconds * 1e3:9.1f} ms")
            print("  ratios, median over rounds of (run / the count(value) run just before it):")
            print("                                          wall    " + ("backend CPU" if not parallel else ""))
            for name, target in [("downsample minmax_lttb", "<= 1.25"), ("downsample lttb (exact)", "<= 1.8 serial"),
                                 ("naive array_agg + kernel", "for comparison")]:
                cpu_text = f"{cpu[name]:6.3f}" if not parallel else "      "
                print(f"  {name + ' / count(value)':<38} {median[name]:6.3f}  {cpu_text}   ({target})")
            speedup = best["downsample minmax_lttb"] / best["summaries minmax_lttb"]
            print(f"  30 days from 1-minute summaries: {speedup:.1f}x faster than from raw rows  (target >= 20)")
        per_table_kind(conn, rounds)
    print("\nmemory of the function (peak backend RssAnon above a plain scan of the window; median of 3):")
    for points in (POINTS, 100_000):
        for method in ("minmax_lttb", "lttb"):
            small = median_peak_kb(method, TO_1M, points)
            large = median_peak_kb(method, TO, points)
            ratio = large / small if small else float("inf")
            print(f"  {method:<12} points={points:<7,} N=1M: {small:7,} kB   N=10M: {large:7,} kB   "
                  f"ratio {ratio:.3f}  (target within 10%)")
    print("  (at points=1000 the function holds a few hundred kB, the size of malloc's own noise;"
          " points=100000 makes the bound visible)")


if __name__ == "__main__":
    main()
