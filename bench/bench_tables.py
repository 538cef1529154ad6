"""The benchmarks' tables: made once, kept in the bench cluster between runs, on a plain
table and, with TimescaleDB, a hypertable, uncompressed and compressed."""
import sys


def timescaledb(conn):
    """Whether TimescaleDB is installed in the benchmark database."""
    return conn.execute("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')").fetchone()[0]


def table_kinds(conn, prefix):
    """[(name, kind)] of the tables a benchmark runs on here: `{prefix}_plain`, and with
    TimescaleDB `{prefix}_hyper` and `{prefix}_compressed` (else it says they are skipped)."""
    tables = [(f"{prefix}_plain", "plain")]
    if timescaledb(conn):
        tables += [(f"{prefix}_hyper", "hypertable"), (f"{prefix}_compressed", "compressed")]
    else:
        print("SKIP: TimescaleDB is not installed: hypertable and compressed variants skipped")
    return tables


def new_table(conn, name, rows, columns, kind="plain", time_column=None, chunk=None, what=None):
    """Creates table `name` (`columns`: its column list) as `kind` ("plain", or a hypertable
    on `time_column` with `chunk` chunks) and returns True; returns False, keeping it, when a
    table of that name already holds `rows` rows (an earlier run made it)."""
    have = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]
    if have and conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == rows:
        print(f"reusing {name}", file=sys.stderr)
        return False
    print(f"generating {name} ({what or kind})...", file=sys.stderr)
    conn.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
    conn.execute(f"CREATE TABLE {name} ({columns})")
    if kind != "plain":
        conn.execute(f"SELECT create_hypertable('{name}', '{time_column}', chunk_time_interval => interval '{chunk}')")
    return True


def compress(conn, name, orderby, segmentby=None):
    """Compresses every chunk of hypertable `name`."""
    segments = f", timescaledb.compress_segmentby = '{segmentby}'" if segmentby else ""
    conn.execute(f"ALTER TABLE {name} SET (timescaledb.compress{segments}, timescaledb.compress_orderby = '{orderby}')")
    conn.execute(f"SELECT compress_chunk(c) FROM show_chunks('{name}') c")
