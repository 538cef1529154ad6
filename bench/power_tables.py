"""The power tables the energy and rollup benchmarks share (made once, kept in the bench
cluster): 4 channels at 1 Hz for 30 days (10,368,000 rows), columns (channel int, ts
timestamptz, value float8), indexed on (channel, ts):
- bench_power_plain: a plain table;
- with TimescaleDB: bench_power_hyper, a hypertable (1-day chunks), and
  bench_power_compressed, the same compressed (segmented by channel, ordered by ts).
"""

from bench_tables import compress, new_table, table_kinds

CHANNELS = 4
DAYS = 30
ROWS = CHANNELS * DAYS * 86_400
START = "2024-01-01 00:00+00"


def make_table(conn, name, kind):
    if not new_table(conn, name, ROWS, "channel int NOT NULL, ts timestamptz NOT NULL, value float8", kind, "ts", "1 day"):
        return
    # As a logger writes them: every channel each second; power with a daily cycle and noise.
    conn.execute(
        f"""INSERT INTO {name}
            SELECT c, timestamptz '{START}' + i * interval '1 second',
                   1000 * c + 400 * sin(i / 13751.0) + ((i::int8 * 7919 + c) % 1009) / 10.0
            FROM generate_series(0, {ROWS // CHANNELS - 1}) i, generate_series(1, {CHANNELS}) c"""
    )
    conn.execute(f"CREATE INDEX ON {name} (channel, ts)")
    if kind == "compressed":
        compress(conn, name, "ts", "channel")
    conn.execute(f"VACUUM ANALYZE {name}")


def power_tables(conn):
    """[(name, kind)] of the tables this machine can have, made when missing."""
    tables = table_kinds(conn, "bench_power")
    for name, kind in tables:
        make_table(conn, name, kind)
    return tables
