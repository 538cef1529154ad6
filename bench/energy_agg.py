"""energy_agg against sum(value) over the same rows, in one run.

Usage: energy_agg.py [ROUNDS]   (connection from the PG* environment)

Data (made once, kept in the cluster; bench/power_tables.py): 4 power channels at 1 Hz for
30 days (10,368,000 rows), in a plain table and, with TimescaleDB, a hypertable (1-day
chunks) and the same compressed (segmented by channel).

For each table, per channel: `sum(value)` and `sensor.energy_wh(sensor.energy_agg(ts,
value))`, each round the second right after the first; a ratio is the median over ROUNDS
of those pairs. JIT off, serial plans and parallel plans (2 workers), the same settings on
both sides; on compressed chunks also with vectorized aggregation off. Every state must be
exact (sensor.is_approximate false) and the energy must match the trapezoid computed in SQL
with lag().
"""
import os
import sys

import psycopg

from paired_timing import ROW_AT_A_TIME, paired
from power_tables import CHANNELS, ROWS, power_tables


def check(conn, table):
    """energy_agg against a window-function trapezoid, per channel."""
    rows = conn.execute(f"""
        WITH ours AS (SELECT channel, sensor.energy_wh(e) wh, sensor.is_approximate(e) approx
                      FROM (SELECT channel, sensor.energy_agg(ts, value) e FROM {table} GROUP BY channel) s),
             direct AS (SELECT channel, sum((value + prev) / 2 * extract(epoch FROM ts - prev_ts)) / 3600 wh
                        FROM (SELECT channel, ts, value, lag(value) OVER w prev, lag(ts) OVER w prev_ts
                              FROM {table} WINDOW w AS (PARTITION BY channel ORDER BY ts)) l GROUP BY channel)
        SELECT o.channel, o.wh, d.wh, o.approx FROM ours o JOIN direct d USING (channel) ORDER BY 1""").fetchall()
    assert len(rows) == CHANNELS, rows
    for channel, ours, direct, approx in rows:
        assert not approx, (table, channel)
        assert abs(ours - float(direct)) <= 1e-9 * abs(float(direct)), (table, channel, ours, direct)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with psycopg.connect(autocommit=True) as conn:
        tables = power_tables(conn)
        print(f"{CHANNELS} channels x {ROWS // CHANNELS:,} rows (1 Hz, 30 days); {rounds} rounds; "
              f"cores={os.cpu_count()}; jit off")
        base = "SELECT channel, sum(value) FROM {t} GROUP BY channel ORDER BY channel"
        ours = "SELECT channel, sensor.energy_wh(sensor.energy_agg(ts, value)) FROM {t} GROUP BY channel ORDER BY channel"
        variants = [(name, kind, ()) for name, kind in tables]
        variants += [(name, "compressed, row at a time", ROW_AT_A_TIME) for name, kind in tables if kind == "compressed"]
        for name, kind, settings in variants:
            for parallel in (False, True):
                (b, o), wall, cpu, rows = paired(conn, base.format(t=name), ours.format(t=name), rounds, parallel,
                                                 settings=settings)
                assert rows and len(rows) == CHANNELS, rows
                plans = "parallel (2 workers)" if parallel else "serial"
                cpu_text = f"  backend CPU {cpu:.3f}" if not parallel else ""
                print(f"  {kind:<25} {plans:<21} sum(value) {b * 1e3:8.1f} ms   energy_agg {o * 1e3:8.1f} ms   "
                      f"ratio {wall:.3f}{cpu_text}   (target <= 1.3)")
        for name, _ in tables:
            check(conn, name)
        print("  every state exact; energy equal to the lag() trapezoid (relative 1e-9)")


if __name__ == "__main__":
    main()
