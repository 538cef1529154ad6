"""Multi-series downsampling (what every multi-series Grafana panel runs) against a plain
scan of the same rows, in one run.

Usage: downsample_series.py [ROUNDS]   (connection from the PG* environment)

Data (made once, kept in the cluster): 3 series x 2,000,000 rows at 1 Hz (23 days each),
series column `channel_id int`, indexed on (channel_id, ts) and on ts, in
- bench_series_plain: a plain table (and bench_series_text, its rows with a text series
  column `channel`, for the text-series row);
- with TimescaleDB: bench_series_hyper, a hypertable (1-day chunks), and
  bench_series_compressed, the same compressed (segmented by channel_id).

For each table: count(value) over the window, and
sensor.downsample(table, 'ts', 'value', from, to, 1000, series_column => 'channel_id'), and the
aggregate form, sensor.downsample_agg(ts, value, from, to, 1000) ... GROUP BY channel_id (no
target: it is what a continuous aggregate or a hand-written panel query runs),
each round the second right after the first; a ratio is the median over ROUNDS of those
pairs (the machine is shared: pairs cancel its drift). JIT off, serial plans and parallel
plans allowed (2 workers), the same settings on both sides of a ratio; on compressed
chunks also with vectorized aggregation off (paired_timing.ROW_AT_A_TIME). Also the backend's
peak private memory (RssAnon) for 1,000,000 distinct series of 1 row each.
"""
import os
import sys

import psycopg

from backend_memory import peak_memory
from bench_tables import compress, new_table, table_kinds
from paired_timing import ROW_AT_A_TIME, paired

SERIES = 3
ROWS_PER_SERIES = 2_000_000
FROM, TO = "2024-01-01 00:00+00", "2024-02-01 00:00+00"
POINTS = 1000


def make_table(conn, name, kind):
    if not new_table(conn, name, SERIES * ROWS_PER_SERIES, "channel_id int NOT NULL, ts timestamptz NOT NULL, value float8",
                     kind, "ts", "1 day"):
        return
    # Rows arrive as a logger writes them: every series at each second.
    conn.execute(
        f"""INSERT INTO {name}
            SELECT c, timestamptz '{FROM}' + i * interval '1 second',
                   sin(i / 5000.0 + c) + ((i::int8 * 7919 + c) % 1009) / 5000.0
            FROM generate_series(0, {ROWS_PER_SERIES - 1}) i, generate_series(1, {SERIES}) c"""
    )
    conn.execute(f"CREATE INDEX ON {name} (channel_id, ts)")
    if kind == "plain":
        conn.execute(f"CREATE INDEX ON {name} (ts)")
    if kind == "compressed":
        compress(conn, name, "ts", "channel_id")
    conn.execute(f"VACUUM ANALYZE {name}")


def make_text_series_table(conn):
    """The plain table's rows with a text series column (`channel`), made once."""
    if conn.execute("SELECT to_regclass('bench_series_text') IS NOT NULL").fetchone()[0]:
        return
    conn.execute("CREATE TABLE bench_series_text AS "
                 "SELECT 'channel ' || channel_id AS channel, ts, value FROM bench_series_plain")
    conn.execute("VACUUM ANALYZE bench_series_text")


def pairs(conn, table, rounds, parallel, settings=(), aggregate=False, series="channel_id"):
    base = f"SELECT count(value) FROM {table} WHERE ts >= %(f)s AND ts < %(t)s"
    if aggregate:
        ours = (f"SELECT channel_id, cardinality((sensor.downsample_agg(ts, value, %(f)s, %(t)s, %(n)s)).time) "
                f"FROM {table} WHERE ts >= %(f)s AND ts < %(t)s GROUP BY channel_id ORDER BY channel_id")
    else:
        ours = (f"SELECT series, count(*) FROM sensor.downsample('{table}', 'ts', 'value', %(f)s, %(t)s, %(n)s, "
                f"series_column => '{series}') GROUP BY series ORDER BY series")
    return paired(conn, base, ours, rounds, parallel, {"f": FROM, "t": TO, "n": POINTS}, settings)


def many_series_memory(conn):
    """Peak RssAnon growth of a fresh backend downsampling 1,000,000 series of one row."""
    have = conn.execute("SELECT to_regclass('bench_many_series') IS NOT NULL").fetchone()[0]
    if not have:
        conn.execute("CREATE TABLE bench_many_series AS SELECT i AS channel_id, timestamptz '2024-01-01' + i * interval '1 ms' AS ts, "
                     "i::float8 AS value FROM generate_series(1, 1000000) i")
        conn.execute("VACUUM ANALYZE bench_many_series")
    return peak_memory(
        "SELECT count(*) FROM sensor.downsample('bench_many_series', 'ts', 'value', '2024-01-01', '2024-01-02', 10, "
        "series_column => 'channel_id')",
        warmup="SELECT count(*) FROM sensor.downsample('bench_many_series', 'ts', 'value', '2024-01-01', "
               "'2024-01-01 00:00:01', 10, series_column => 'channel_id')")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with psycopg.connect(autocommit=True) as conn:
        tables = table_kinds(conn, "bench_series")
        for name, kind in tables:
            make_table(conn, name, kind)
        print(f"{SERIES} series x {ROWS_PER_SERIES:,} rows -> {POINTS} points per series; {rounds} rounds; "
              f"cores={os.cpu_count()}; jit off")
        make_text_series_table(conn)
        variants = [(name, kind, ()) for name, kind in tables]
        variants += [(name, "compressed, row at a time", ROW_AT_A_TIME) for name, kind in tables if kind == "compressed"]
        series_variants = [(name, kind, settings, "channel_id") for name, kind, settings in variants]
        series_variants.insert(1, ("bench_series_text", "plain, text series", (), "channel"))
        for name, kind, settings, series in series_variants:
            for parallel in (False, True):
                (base, ours), wall, cpu, rows = pairs(conn, name, rounds, parallel, settings, series=series)
                plans = "parallel (2 workers)" if parallel else "serial"
                cpu_text = f"  backend CPU {cpu:.3f}" if not parallel else ""
                print(f"  {kind:<18} {plans:<21} count(value) {base * 1e3:8.1f} ms   downsample {ours * 1e3:8.1f} ms   "
                      f"ratio {wall:.3f}{cpu_text}   (target <= 1.25)")
            assert rows and len(rows) == SERIES, rows
        for name, kind, settings in variants:
            for parallel in (False, True):
                (base, ours), wall, _, rows = pairs(conn, name, rounds, parallel, settings, aggregate=True)
                plans = "parallel (2 workers)" if parallel else "serial"
                print(f"  {kind:<11} {plans:<21} count(value) {base * 1e3:8.1f} ms   downsample_agg GROUP BY {ours * 1e3:8.1f} ms   "
                      f"ratio {wall:.3f}")
            assert rows and len(rows) == SERIES and all(r[1] > 0 for r in rows), rows
        n, kb, work_mem = many_series_memory(conn)
        print(f"  1,000,000 series of one row: {n:,} rows out, peak backend memory +{kb:,} kB (work_mem {work_mem})")


if __name__ == "__main__":
    main()
