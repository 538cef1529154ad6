"""ClickHouse is the judge of sensor.arrow_export, arrow_stream and clickhouse_ddl.

chdb (ClickHouse's own engine, in process) creates every table from our DDL and ingests
our files the way clickhouse-client does (INSERT ... FROM INFILE ... FORMAT Arrow);
pyarrow reads the same files back.

1. Round trip: every type of the mapping table, NULLs included, in the file and stream
   formats and with compression: pyarrow's values and ClickHouse's values equal
   PostgreSQL's, one by one.
2. The OLAP path: users (1,000, ENGINE = Join) and telemetry_events (1,000,000 over three
   months, MergeTree partitioned by month) exported, imported, and the report computed in
   both engines: the numbers match exactly.
3. A window: February is changed in PostgreSQL, exported alone and replaces exactly
   ClickHouse's February partition; January and March stay as they were.
"""
import datetime as dt
import decimal
import math
import os
import pathlib
import uuid

# ClickHouse DateTime columns carry no time zone: months (partitions) are UTC months.
os.environ["TZ"] = "UTC"

import chdb.session  # noqa: E402
import psycopg  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.ipc as ipc  # noqa: E402
import pytest  # noqa: E402

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ch(tmp_path_factory):
    session = chdb.session.Session(str(tmp_path_factory.mktemp("chdb")))
    yield session
    session.close()


@pytest.fixture(scope="module")
def pg():
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("SET timezone = 'UTC'")
        yield conn


def module_dir(name) -> pathlib.Path:
    """A directory both this client and the server (user postgres) can write."""
    path = pathlib.Path(os.environ["SENSOR_E2E_DIR"]) / "server" / name
    path.mkdir(mode=0o777, exist_ok=True)
    os.chmod(path, 0o777)
    return path


def ch_rows(ch, sql):
    """Rows of a chdb query as Python lists (String values decoded)."""
    table = ch.query(sql, "ArrowTable")
    columns = [[decoded(v) for v in table.column(i).to_pylist()] for i in range(table.num_columns)]
    return [list(row) for row in zip(*columns)]


def decoded(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def assert_column(name, actual, expected):
    assert len(actual) == len(expected), f"{name}: {len(actual)} values, expected {len(expected)}"
    for row, (a, e) in enumerate(zip(actual, expected)):
        assert same(a, e), f"{name}[{row}]: {a!r} != {e!r}"


# --------------------------------------------------------------------------- round trip

TYPES_DDL = """
DROP SCHEMA IF EXISTS export_e2e CASCADE;
CREATE SCHEMA export_e2e;
CREATE TYPE export_e2e.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE export_e2e.every_type (
    id int4 NOT NULL, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, b bool, t text,
    vc varchar(10), nm name, lc text, by bytea, tstz timestamptz, ts timestamp, d date,
    tm time, dec numeric(10, 3), num numeric, wide numeric(50, 5), u uuid, js json,
    jsb jsonb, ints int4[], texts text[], stamps timestamptz[], m export_e2e.mood, ip inet,
    nn text NOT NULL, secs timestamptz);
"""

# Edge values of every type; the last row is all NULL (but the NOT NULL columns).
TYPES_ROWS = """
INSERT INTO export_e2e.every_type VALUES
 (1, -32768, -2147483648, -9223372036854775808, 1.5, 0.1, true, '', 'abc', 'a_name', 'red',
  '\\x00ff10', '2024-01-02 03:04:05.678901+00', '2024-06-30 12:00:00.5', '2024-02-29',
  '00:00:00', 1234567.891, 12345678901234567890.123456789,
  123456789012345678901234567890123456789012345.12345, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"a": [1, 2]}', '{"b": null, "a": 1}', '{1,NULL,3}', '{x,"y z",NULL}',
  '{"2024-01-01 00:00:00.000001+00",NULL}', 'sad', '192.168.0.1/24', 'first',
  '2024-01-02 03:04:05.678901+00'),
 (2, 32767, 2147483647, 9223372036854775807, 'NaN', 'NaN', false, 'héllo ✓ ünïcödé', 'vwxyz12345',
  'ñame', 'green', '\\x', '1969-12-31 23:59:59.999999+00', '1900-01-01 00:00:00', '1970-01-01',
  '23:59:59.999999', -0.001, -1.5, -0.00001, '00000000-0000-0000-0000-000000000000', '[]',
  '[]', '{}', '{}', '{}', 'happy', '::1', 'second', '2100-12-31 23:59:59+00'),
 (3, 0, 0, 0, 'Infinity', '-Infinity', true, E'multi\\nline\\ttab', NULL, NULL, 'red',
  '\\xdeadbeef', '2299-12-31 23:59:59.999999+00', '2299-12-31 23:59:59.999999', '2299-12-31',
  '12:34:56.789', 0, 0.000000001, 0, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', '"s"',
  '{NULL}', '{NULL}', '{NULL}', 'ok', '10.0.0.0/8', 'third', '1970-01-01 00:00:00+00'),
 (4, -1, 1, -1, '-0', 5e-324, false, NULL, '', '', NULL, NULL, '1900-01-01 00:00:00+00',
  NULL, '1900-01-01', NULL, 9999999.999, 99999999999999999999999999999.999999999, NULL, NULL,
  NULL, NULL, '{-2147483648,2147483647}', '{""}', NULL, NULL, NULL, 'fourth', NULL),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'fifth', NULL);
-- Values stored out of line (TOAST): incompressible text and bytes, and compressed text.
INSERT INTO export_e2e.every_type (id, t, by, lc, nn)
SELECT 6, string_agg(md5(i::text), ''), decode(string_agg(md5(i::text), ''), 'hex'), 'blue', repeat('z', 100000)
FROM generate_series(1, 2000) i;
"""

TYPES_QUERY = "SELECT * FROM export_e2e.every_type ORDER BY id"
TYPE_OPTIONS = {"low_cardinality": ["lc"], "datetime_columns": ["secs"]}

# PostgreSQL's values in comparable forms, in the column order of the table.
PG_VALUES = """
SELECT id, i2, i4, i8, f4::float8, f8, b, t, vc, nm::text, lc, by, tstz, ts, d, tm, dec, num,
       wide::text, u, js::text, jsb::text, ints, texts, stamps, m::text, nullif(format('%s', ip), '') AS ip, nn, secs
FROM export_e2e.every_type ORDER BY id
"""


def micros(value):
    """Microseconds since 1970 of a datetime (naive = wall clock read as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def time_micros(value):
    if value is None:
        return None
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


# Per column: how pyarrow's value compares, the ClickHouse expression giving a comparable
# value, and how PostgreSQL's value becomes ClickHouse's.
def arrow_canon(name, value):
    if name == "u":
        return None if value is None else uuid.UUID(bytes=value)
    return value


def ch_column(name):
    exprs = {
        "by": "lower(hex(by))",
        "tstz": "toUnixTimestamp64Micro(tstz)",
        "ts": "toUnixTimestamp64Micro(ts)",
        "d": "toInt32(d)",
        "tm": "toInt64(toDecimal64(tm, 6) * 1000000)",
        "dec": "toString(dec)",
        "num": "toString(num)",
        "u": "toString(u)",
        "stamps": "arrayMap(x -> toUnixTimestamp64Micro(x), stamps)",
        "secs": "toInt64(toUnixTimestamp(secs))",
    }
    return f"{exprs.get(name, '`' + name + '`')} AS `{name}`"


def ch_expected(name, value):
    if name in ("ints", "texts"):
        return [] if value is None else value  # no Nullable(Array): NULL arrives as []
    if name == "stamps":
        return [] if value is None else [micros(v) for v in value]
    if value is None:
        return None
    if name == "by":
        return value.hex()
    if name in ("tstz", "ts"):
        return micros(value)
    if name == "secs":
        return micros(value) // 1_000_000  # DateTime keeps whole seconds
    if name == "d":
        return (value - dt.date(1970, 1, 1)).days
    if name == "tm":
        return time_micros(value)
    if name in ("dec", "num"):
        return decimal.Decimal(value)
    if name == "u":
        return str(value)
    return value


def ch_canon(name, value):
    if name in ("dec", "num") and value is not None:
        return decimal.Decimal(value)
    return value


@pytest.fixture(scope="module")
def every_type(pg):
    pg.execute(TYPES_DDL)
    pg.execute(TYPES_ROWS)
    cur = pg.execute(PG_VALUES)
    names = [c.name for c in cur.description]
    rows = cur.fetchall()
    return names, rows


def export_call(query, path, **args):
    params = [query, str(path)]
    sql = "SELECT rows, batches, bytes FROM sensor.arrow_export(%s, %s"
    for key, value in args.items():
        key = f'"{key}"' if key in ("from", "to") else key
        sql += f", {key} => %s"
        params.append(value)
    return sql + ")", params


def ddl_of(pg, query, table, **args):
    sql = "SELECT sensor.clickhouse_ddl(%s, %s"
    params = [query, table]
    for key, value in args.items():
        sql += f", {key} => %s"
        params.append(value)
    return pg.execute(sql + ")", params).fetchone()[0]


@pytest.mark.parametrize("fmt,compression", [("file", "none"), ("file", "zstd"), ("stream", "lz4")])
def test_every_type_round_trips_through_pyarrow_and_clickhouse(pg, ch, every_type, fmt, compression):
    names, rows = every_type
    out = module_dir("export_types") / f"every_type_{fmt}_{compression}.arrow"
    if out.exists():
        out.unlink()
    sql, params = export_call(TYPES_QUERY, out, format=fmt, compression=compression, batch_rows=2,
                              overwrite=True, **TYPE_OPTIONS)
    exported, batches, size = pg.execute(sql, params).fetchone()
    assert (exported, batches) == (len(rows), 3)
    assert size == out.stat().st_size

    # pyarrow reads it back: types, nullability and every value.
    if fmt == "file":
        table = ipc.open_file(out).read_all()
    else:
        table = ipc.open_stream(out.read_bytes()).read_all()
    schema = table.schema
    assert schema.field("tstz").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ts").type == pa.timestamp("us")
    assert schema.field("d").type == pa.date32()
    assert schema.field("tm").type == pa.time64("us")
    assert schema.field("dec").type == pa.decimal128(10, 3)
    assert schema.field("num").type == pa.decimal128(38, 9)
    assert schema.field("wide").type == pa.string()
    assert schema.field("u").type == pa.binary(16)
    assert schema.field("lc").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("m").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("ints").type == pa.list_(pa.int32())
    assert [f.name for f in schema if not f.nullable] == ["id", "nn"]
    assert table.column_names == names
    assert_arrow_columns("pyarrow", table, names, rows)

    # ClickHouse ingests it into the table our DDL creates.
    table_name = f"every_type_{fmt}_{compression}"
    ch_format = "Arrow" if fmt == "file" else "ArrowStream"
    assert_clickhouse_ingests(pg, ch, table_name, f"FROM INFILE '{out}' FORMAT {ch_format}", "ClickHouse", names, rows)


def assert_arrow_columns(label, table, names, rows):
    for i, name in enumerate(names):
        actual = [arrow_canon(name, v) for v in table.column(name).to_pylist()]
        assert_column(f"{label} {name}", actual, [row[i] for row in rows])


def assert_clickhouse_ingests(pg, ch, table_name, source, label, names, rows):
    """Creates table_name from our DDL for TYPES_QUERY, inserts `source` into it, and
    compares every column with the PostgreSQL rows."""
    ch.query(f"DROP TABLE IF EXISTS {table_name}")
    ch.query(ddl_of(pg, TYPES_QUERY, table_name, order_by="id", **TYPE_OPTIONS))
    ch.query(f"INSERT INTO {table_name} {source}")
    got = ch_rows(ch, f"SELECT {', '.join(ch_column(n) for n in names)} FROM {table_name} ORDER BY id")
    assert len(got) == len(rows)
    for i, name in enumerate(names):
        actual = [ch_canon(name, row[i]) for row in got]
        assert_column(f"{label} {name}", actual, [ch_expected(name, row[i]) for row in rows])


def test_stream_chunks_are_one_arrow_stream(pg, ch, every_type):
    names, rows = every_type
    # In the SELECT list the chunks are produced one call at a time.
    chunks = [r[0] for r in pg.execute(
        "SELECT sensor.arrow_stream(%s, batch_rows => 4, low_cardinality => %s, datetime_columns => %s)",
        [TYPES_QUERY, TYPE_OPTIONS["low_cardinality"], TYPE_OPTIONS["datetime_columns"]],
    ).fetchall()]
    assert len(chunks) == 1 + 2 + 1  # schema, two batches, end of stream
    assert chunks[-1] == b"\xff\xff\xff\xff\x00\x00\x00\x00"
    schema = ipc.read_schema(pa.py_buffer(chunks[0]))
    assert schema.names == names
    data = b"".join(chunks)
    table = ipc.open_stream(data).read_all()
    assert table.num_rows == len(rows)
    assert_arrow_columns("stream", table, names, rows)

    path = module_dir("export_types") / "every_type_chunks.arrows"
    path.write_bytes(data)
    assert_clickhouse_ingests(pg, ch, "every_type_chunks", f"SELECT * FROM file('{path}', ArrowStream)",
                              "ClickHouse stream", names, rows)


# --------------------------------------------------------------------------- OLAP path

OLAP_SETUP = """
DROP SCHEMA IF EXISTS export_olap CASCADE;
CREATE SCHEMA export_olap;
CREATE TABLE export_olap.users (
    user_id int4 NOT NULL PRIMARY KEY, name text NOT NULL, country text, signup date NOT NULL);
INSERT INTO export_olap.users
SELECT i, 'user ' || i, (ARRAY['FR', 'DE', 'IT', 'ES', NULL])[i % 5 + 1], date '2020-01-01' + i
FROM generate_series(1, 1000) i;
CREATE TABLE export_olap.telemetry_events (
    id int8 NOT NULL, user_id int4 NOT NULL, prosthesis_type text NOT NULL,
    muscle_group text NOT NULL, signal_frequency int4 NOT NULL, signal_duration int4 NOT NULL,
    signal_amplitude float8 NOT NULL, event_timestamp timestamptz NOT NULL,
    saved_ts timestamptz NOT NULL);
-- 1,000,000 events spread over January-March 2024 (7,862,400 s). Amplitudes are
-- multiples of 1/1024, so that sums are exact in float8 in any order and averages can
-- be compared exactly.
INSERT INTO export_olap.telemetry_events
SELECT i, (i * 7919) % 1000 + 1,
       (ARRAY['myoelectric hand', 'bionic arm', 'knee', 'ankle foot'])[(i * 31) % 4 + 1],
       (ARRAY['biceps', 'triceps', 'deltoid', 'quadriceps', 'hamstring', 'calf'])[(i * 17) % 6 + 1],
       20 + (i * 13) % 480, 10 + (i * 7) % 5000, ((i * 37) % 4096) / 1024.0,
       timestamptz '2024-01-01 00:00:00+00' + (i * 7862399 / 1000000) * interval '1 second',
       timestamptz '2024-01-01 00:00:00+00' + (i * 7862399 / 1000000 + i % 5) * interval '1 second'
FROM generate_series(1::int8, 1000000) AS i;
ANALYZE export_olap.users, export_olap.telemetry_events;
"""

USERS_QUERY = "SELECT * FROM export_olap.users"
EVENTS_QUERY = "SELECT * FROM export_olap.telemetry_events"
EVENTS_DDL_ARGS = {
    "order_by": "(user_id, event_timestamp)",
    "partition_by": "toYYYYMM(event_timestamp)",
    "datetime_columns": ["event_timestamp", "saved_ts"],
}

PG_TOTALS = "SELECT count(*), sum(signal_duration) FROM export_olap.telemetry_events"
CH_TOTALS = "SELECT count(), sum(signal_duration) FROM telemetry_events"
PG_BY_TYPE = """
SELECT prosthesis_type, count(*), sum(signal_duration), avg(signal_amplitude),
       avg(signal_frequency::float8)
FROM export_olap.telemetry_events GROUP BY 1 ORDER BY 1
"""
CH_BY_TYPE = """
SELECT prosthesis_type, count(), sum(signal_duration), avg(signal_amplitude), avg(signal_frequency)
FROM telemetry_events GROUP BY prosthesis_type ORDER BY prosthesis_type
"""
# The Join table at work: events per country of the user.
PG_BY_COUNTRY = """
SELECT u.country, count(*), sum(e.signal_duration)
FROM export_olap.telemetry_events e LEFT JOIN export_olap.users u USING (user_id) GROUP BY 1
"""
CH_BY_COUNTRY = """
SELECT joinGet('users', 'country', user_id) AS country, count(), sum(signal_duration)
FROM telemetry_events GROUP BY country
"""
PG_BY_MONTH = """
SELECT to_char(event_timestamp AT TIME ZONE 'UTC', 'YYYYMM')::int4, count(*), sum(signal_duration),
       sum(signal_amplitude), sum(signal_frequency), max(id)
FROM export_olap.telemetry_events GROUP BY 1 ORDER BY 1
"""
CH_BY_MONTH = """
SELECT toYYYYMM(event_timestamp), count(), sum(signal_duration), sum(signal_amplitude),
       sum(signal_frequency), max(id)
FROM telemetry_events GROUP BY 1 ORDER BY 1
"""


def report(run_pg, run_ch):
    """The report in both engines, as plain comparable lists."""
    def normal(rows):
        return [[int(v) if isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool) else v
                 for v in row] for row in rows]

    def by_key(rows):
        return sorted(normal(rows), key=lambda r: (r[0] is None, r[0] or ""))

    return (
        (normal(run_pg(PG_TOTALS)), normal(run_ch(CH_TOTALS))),
        (normal(run_pg(PG_BY_TYPE)), normal(run_ch(CH_BY_TYPE))),
        (by_key(run_pg(PG_BY_COUNTRY)), by_key(run_ch(CH_BY_COUNTRY))),
        (normal(run_pg(PG_BY_MONTH)), normal(run_ch(CH_BY_MONTH))),
    )


@pytest.fixture(scope="module")
def olap(pg, ch):
    pg.execute(OLAP_SETUP)
    out = module_dir("export_olap")
    exports = {}
    for name, query, options in (
        ("users", USERS_QUERY, {"low_cardinality": ["country"]}),
        ("telemetry_events", EVENTS_QUERY, {"datetime_columns": EVENTS_DDL_ARGS["datetime_columns"]}),
    ):
        path = out / f"{name}.arrow"
        sql, params = export_call(query, path, overwrite=True, **options)
        exports[name] = pg.execute(sql, params).fetchone()
    users_ddl = ddl_of(pg, USERS_QUERY, "users", engine="Join(ANY, LEFT, user_id)", low_cardinality=["country"])
    events_ddl = ddl_of(pg, EVENTS_QUERY, "telemetry_events", **EVENTS_DDL_ARGS)
    for table, ddl in (("users", users_ddl), ("telemetry_events", events_ddl)):
        ch.query(f"DROP TABLE IF EXISTS {table}")
        ch.query(ddl)
        ch.query(f"INSERT INTO {table} FROM INFILE '{out / (table + '.arrow')}' FORMAT Arrow")
    return {"dir": out, "exports": exports, "users_ddl": users_ddl, "events_ddl": events_ddl}


def test_olap_report_matches_exactly(pg, ch, olap):
    assert olap["users_ddl"] == (
        "CREATE TABLE users (user_id Int32, name String, country LowCardinality(Nullable(String)), "
        "signup Date32) ENGINE = Join(ANY, LEFT, user_id)"
    )
    assert olap["events_ddl"] == (
        "CREATE TABLE telemetry_events (id Int64, user_id Int32, prosthesis_type String, "
        "muscle_group String, signal_frequency Int32, signal_duration Int32, signal_amplitude Float64, "
        "event_timestamp DateTime, saved_ts DateTime) ENGINE = MergeTree "
        "PARTITION BY toYYYYMM(event_timestamp) ORDER BY (user_id, event_timestamp)"
    )
    rows, batches, _ = olap["exports"]["telemetry_events"]
    assert (rows, batches) == (1_000_000, 16)  # 65,536 rows per batch
    assert olap["exports"]["users"][0] == 1000
    partitions = ch_rows(ch, "SELECT DISTINCT partition FROM system.parts WHERE table = 'telemetry_events' AND active ORDER BY 1")
    assert partitions == [["202401"], ["202402"], ["202403"]]

    run_pg = lambda sql: [list(r) for r in pg.execute(sql).fetchall()]  # noqa: E731
    run_ch = lambda sql: ch_rows(ch, sql)  # noqa: E731
    for ours, theirs in report(run_pg, run_ch):
        assert len(ours) == len(theirs)
        assert ours == theirs
    # And row by row for a sample: every column, timestamps to the second.
    sample_pg = pg.execute(
        "SELECT id, user_id, prosthesis_type, muscle_group, signal_frequency, signal_duration, signal_amplitude,"
        " extract(epoch FROM event_timestamp)::int8, extract(epoch FROM saved_ts)::int8"
        " FROM export_olap.telemetry_events WHERE id % 99991 = 0 ORDER BY id").fetchall()
    sample_ch = ch_rows(ch, "SELECT id, user_id, prosthesis_type, muscle_group, signal_frequency, signal_duration,"
                            " signal_amplitude, toInt64(toUnixTimestamp(event_timestamp)), toInt64(toUnixTimestamp(saved_ts))"
                            " FROM telemetry_events WHERE id % 99991 = 0 ORDER BY id")
    assert [list(r) for r in sample_pg] == sample_ch


def test_monthly_window_replaces_exactly_that_month(pg, ch, olap):
    run_pg = lambda sql: [list(r) for r in pg.execute(sql).fetchall()]  # noqa: E731
    run_ch = lambda sql: ch_rows(ch, sql)  # noqa: E731
    before = run_ch(CH_BY_MONTH)
    assert [r[0] for r in before] == [202401, 202402, 202403]

    # February changes in PostgreSQL: rows deleted, updated and added.
    pg.execute("""
        DELETE FROM export_olap.telemetry_events
        WHERE event_timestamp >= '2024-02-01' AND event_timestamp < '2024-03-01' AND id % 10 = 0;
        UPDATE export_olap.telemetry_events SET signal_amplitude = signal_amplitude + 1, signal_duration = 1
        WHERE event_timestamp >= '2024-02-01' AND event_timestamp < '2024-03-01' AND id % 10 = 1;
        INSERT INTO export_olap.telemetry_events
        SELECT 2000000 + i, i % 1000 + 1, 'knee', 'calf', 42, 7, 0.5,
               timestamptz '2024-02-10 00:00:00+00' + i * interval '1 second',
               timestamptz '2024-02-10 00:00:00+00' + i * interval '1 second'
        FROM generate_series(1, 5000) i;
    """)
    path = olap["dir"] / "telemetry_events_202402.arrow"
    sql, params = export_call(EVENTS_QUERY, path, overwrite=True, time_column="event_timestamp",
                              **{"from": "2024-02-01 00:00:00+00", "to": "2024-03-01 00:00:00+00"},
                              datetime_columns=EVENTS_DDL_ARGS["datetime_columns"])
    rows, _, _ = pg.execute(sql, params).fetchone()
    february_rows = pg.execute(
        "SELECT count(*) FROM export_olap.telemetry_events"
        " WHERE event_timestamp >= '2024-02-01' AND event_timestamp < '2024-03-01'").fetchone()[0]
    assert rows == february_rows

    # The ClickHouse side, as the README documents it: load the window into a staging
    # table of the same structure, then swap the partition atomically.
    ch.query("DROP TABLE IF EXISTS telemetry_events_staging")
    ch.query("CREATE TABLE telemetry_events_staging AS telemetry_events")
    ch.query(f"INSERT INTO telemetry_events_staging FROM INFILE '{path}' FORMAT Arrow")
    ch.query("ALTER TABLE telemetry_events REPLACE PARTITION 202402 FROM telemetry_events_staging")
    ch.query("DROP TABLE telemetry_events_staging")

    after = run_ch(CH_BY_MONTH)
    assert [r[0] for r in after] == [202401, 202402, 202403]
    assert after[0] == before[0] and after[2] == before[2], "January and March must not change"
    assert after[1] != before[1]
    for ours, theirs in report(run_pg, run_ch):
        assert len(ours) == len(theirs)
        assert ours == theirs

    # The simpler replacement (drop the month, insert the file) gives the same table.
    ch.query("ALTER TABLE telemetry_events DROP PARTITION 202402")
    ch.query(f"INSERT INTO telemetry_events FROM INFILE '{path}' FORMAT Arrow")
    assert run_ch(CH_BY_MONTH) == after


@pytest.mark.parametrize("order_by,partition_by", [
    ("user_id, event_timestamp", "toYYYYMM(event_timestamp)"),      # the natural spelling
    ("(user_id, event_timestamp)", "toYYYYMM(event_timestamp)"),    # the README's
    ("a", "a % 4, b"),                                                # a nullable key, two partition terms
])
def test_ddl_keys_in_either_spelling_and_over_nullable_columns_are_accepted(pg, ch, order_by, partition_by):
    """Every column of this query is Nullable (the plan cannot prove otherwise): ClickHouse
    must still accept the DDL as generated, and the exported rows must go in."""
    query = ("SELECT i AS a, i * 2::int8 AS b, i % 3 AS user_id, timestamptz '2026-01-01' + i * interval '1 hour' AS event_timestamp "
             "FROM generate_series(1, 10) i")
    table = "keys_" + "".join(c for c in order_by + partition_by if c.isalnum())[:40]
    ddl = ddl_of(pg, query, table, order_by=order_by, partition_by=partition_by)
    assert "Nullable(Int32)" in ddl
    ch.query(f"DROP TABLE IF EXISTS {table}")
    ch.query(ddl)
    out = module_dir("export_keys") / f"{table}.arrow"
    sql, params = export_call(query, out, overwrite=True)
    assert pg.execute(sql, params).fetchone()[0] == 10
    ch.query(f"INSERT INTO {table} FROM INFILE '{out}' FORMAT Arrow")
    assert [list(r) for r in ch_rows(ch, f"SELECT count(), sum(b) FROM {table}")] == [[10, 110]]
