"""availability_report against `SELECT equipment, count(*) ... GROUP BY equipment` over the
same rows, in one run, and the memory of state_timeline and availability_agg.

Usage: availability_report.py [ROUNDS] [EVENTS]   (connection from the PG* environment)

Data (made once, kept in the cluster): EVENTS status events (10,000,000 by default) of 100
pieces of equipment, one per equipment per second; a state lasts 100 events, so about 1%
of events change it. Indexed on (equipment, time), in
- bench_status_plain: a plain table;
- with TimescaleDB: bench_status_hyper, a hypertable (2-hour chunks), and
  bench_status_compressed, the same compressed (segmented by equipment).

Ratios are medians of pairs (see paired_timing.py), JIT off, serial plans and plans with
up to 2 parallel workers, the same settings on both sides; on compressed chunks also with
vectorized aggregation off (paired_timing.ROW_AT_A_TIME). Then:
- state_timeline without points over 1,000,000 intervals of one equipment: the backend's
  peak private memory (it should stay near work_mem, whatever the result size);
- the serialized size of an availability_agg state over 1,000,000 events with 1,000
  state changes.
"""
import os
import sys

import psycopg

from backend_memory import peak_memory
from bench_tables import compress, new_table, table_kinds
from paired_timing import ROW_AT_A_TIME, paired

FROM = "2026-01-01 00:00+00"
EQUIPMENT = 100


def make_table(conn, name, kind, events):
    if not new_table(conn, name, events, "equipment int NOT NULL, time timestamptz NOT NULL, status text NOT NULL",
                     kind, "time", "2 hours", f"{kind}, {events:,} events"):
        return
    conn.execute(
        f"""INSERT INTO {name}
            SELECT i % {EQUIPMENT}, timestamptz '{FROM}' + (i / {EQUIPMENT}) * interval '1 second',
                   CASE WHEN ((i / {EQUIPMENT}) / 100 + i % {EQUIPMENT}) % 9 = 0 THEN 'offline'
                        WHEN ((i / {EQUIPMENT}) / 100 + i % {EQUIPMENT}) % 13 = 0 THEN 'warning' ELSE 'online' END
            FROM generate_series(0, {events - 1}) i"""
    )
    conn.execute(f"CREATE INDEX ON {name} (equipment, time)")
    if kind == "compressed":
        compress(conn, name, "time", "equipment")
    conn.execute(f"VACUUM ANALYZE {name}")


def timeline_memory(conn):
    """Peak memory of state_timeline without points over 1,000,000 intervals."""
    have = conn.execute("SELECT to_regclass('bench_timeline_events') IS NOT NULL").fetchone()[0]
    if not have:
        conn.execute("CREATE TABLE bench_timeline_events AS SELECT 1 AS equipment, "
                     f"timestamptz '{FROM}' + i * interval '1 second' AS time, "
                     "CASE WHEN i % 2 = 0 THEN 'online' ELSE 'offline' END AS status "
                     "FROM generate_series(0, 999999) i")
        conn.execute("CREATE INDEX ON bench_timeline_events (equipment, time)")
        conn.execute("VACUUM ANALYZE bench_timeline_events")
    query = ("SELECT count(*) FROM sensor.state_timeline('bench_timeline_events', 'time', 'status', 'equipment', "
             f"'{FROM}', timestamptz '{FROM}' + interval '1000000 seconds')")
    warmup = ("SELECT count(*) FROM sensor.state_timeline('bench_timeline_events', 'time', 'status', 'equipment', "
              f"'{FROM}', timestamptz '{FROM}' + interval '10 seconds')")
    return peak_memory(query, warmup)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    with psycopg.connect(autocommit=True) as conn:
        tables = table_kinds(conn, "bench_status")
        for name, kind in tables:
            make_table(conn, name, kind, events)
        to = conn.execute(f"SELECT timestamptz '{FROM}' + %s * interval '1 second'",
                          (events // EQUIPMENT,)).fetchone()[0]
        print(f"{events:,} status events of {EQUIPMENT} pieces of equipment, 1-hour buckets; {rounds} rounds; "
              f"cores={os.cpu_count()}; jit off")
        params = {"f": FROM, "t": to}
        variants = [(name, kind, ()) for name, kind in tables]
        variants += [(name, "compressed, row at a time", ROW_AT_A_TIME) for name, kind in tables if kind == "compressed"]
        # The report kept serial (sensor_analytics.parallel_report off), for comparison.
        variants += [(name, f"{kind}, parallel_report off", (("sensor_analytics.parallel_report", "off"),))
                     for name, kind in tables if kind != "compressed"]
        for name, kind, settings in variants:
            # count(*) of compressed rows comes from batch metadata; count(status) reads them.
            counted = "status" if settings == ROW_AT_A_TIME else "*"
            base = f"SELECT equipment, count({counted}) FROM {name} WHERE time >= %(f)s AND time < %(t)s GROUP BY equipment"
            ours = (f"SELECT count(*) FROM sensor.availability_report('{name}', 'time', 'status', 'equipment', "
                    f"%(f)s, %(t)s, bucket => '1 hour')")
            for parallel in (False, True):
                (b, o), wall, cpu, rows = paired(conn, base, ours, rounds, parallel, params, settings)
                plans = "parallel (2 workers)" if parallel else "serial"
                cpu_text = f"  backend CPU {cpu:.3f}" if not parallel else ""
                print(f"  {kind:<11} {plans:<21} count({counted}) GROUP BY {b * 1e3:8.1f} ms   availability_report "
                      f"{o * 1e3:8.1f} ms   ratio {wall:.3f}{cpu_text}   (target <= 1.3)")
                assert rows and rows[0][0] > 0, rows
        n, kb, work_mem = timeline_memory(conn)
        print(f"  state_timeline of 1,000,000 intervals: {n:,} rows out, peak backend memory +{kb:,} kB "
              f"(work_mem {work_mem})")
        size = conn.execute(
            """SELECT format('%s events with %s state changes: %s bytes', count(*), sum(changed::int),
                             octet_length(sensor.availability_agg(t, s, '2026-01-01', '2026-02-01')))
               FROM (SELECT t, s, s IS DISTINCT FROM lag(s) OVER (ORDER BY t) AND lag(s) OVER (ORDER BY t) IS NOT NULL AS changed
                     FROM (SELECT timestamptz '2026-01-01' + i * interval '1 second' AS t,
                                  CASE WHEN (i / 1000) % 2 = 0 THEN 'online' ELSE 'offline' END AS s
                           FROM generate_series(0, 999999) i) g) x""").fetchone()[0]
        print(f"  availability_agg state over {size}")


if __name__ == "__main__":
    main()
