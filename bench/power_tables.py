"""The power tables the energy and rollup benchmarks share (made once, kept in the bench
cluster): 4 channels at 1 Hz for 30 days (10,368,000 rows), columns (channel int, ts
timestamptz, value float8), indexed on (channel, ts):
- bench_power_plain: a plain table;
- with TimescaleDB: bench_power_hyper, a hypertable (1-day chunks), and
  bench_power_compressed, the same compressed (segmented by channel, ordered by ts).
"""
import sys

CHANNELS = 4
DAYS = 30
ROWS = CHANNELS * DAYS * 86_400
START = "2024-01-01 00:00+00"


def timescaledb(conn):
    return conn.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')").fetchone()[0]


def make_table(conn, name, kind):
    have = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]
    if have and conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == ROWS:
        print(f"reusing {name}", file=sys.stderr)
        return
    print(f"generating {name} ({kind})...", file=sys.stderr)
    conn.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
    conn.execute(f"CREATE TABLE {name} (channel int NOT NULL, ts timestamptz NOT NULL, value float8)")
    if kind != "plain":
        conn.execute(f"SELECT create_hypertable('{name}', 'ts', chunk_time_interval => interval '1 day')")
    # As a logger writes them: every channel each second; power with a daily cycle and noise.
    conn.execute(
        f"""INSERT INTO {name}
            SELECT c, timestamptz '{START}' + i * interval '1 second',
                   1000 * c + 400 * sin(i / 13751.0) + ((i::int8 * 7919 + c) % 1009) / 10.0
            FROM generate_series(0, {ROWS // CHANNELS - 1}) i, generate_series(1, {CHANNELS}) c"""
    )
    conn.execute(f"CREATE INDEX ON {name} (channel, ts)")
    if kind == "compressed":
        conn.execute(f"ALTER TABLE {name} SET (timescaledb.compress, timescaledb.compress_segmentby = 'channel', "
                     f"timescaledb.compress_orderby = 'ts')")
        conn.execute(f"SELECT compress_chunk(c) FROM show_chunks('{name}') c")
    conn.execute(f"VACUUM ANALYZE {name}")


def power_tables(conn):
    """[(name, kind)] of the tables this machine can have, made when missing."""
    tables = [("bench_power_plain", "plain")]
    if timescaledb(conn):
        tables += [("bench_power_hyper", "hypertable"), ("bench_power_compressed", "compressed")]
    else:
        print("SKIP: TimescaleDB is not installed: hypertable and compressed variants skipped")
    for name, kind in tables:
        make_table(conn, name, kind)
    return tables
