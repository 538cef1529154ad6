"""Hardening: every function with NULL in every argument (no XX000, no crash), a hostile
search_path (none of the attacker's operators or functions runs), clean error fields
(no Rust backtrace in DETAIL), exactly-once loads under every isolation level, concurrent
directory runs that move files, symbolic links out of base_dir, and NUL bytes in TDMS text."""
import os
import pathlib
import shutil
import threading
import time

import psycopg
import pytest
from nptdms import ChannelObject, GroupObject, RootObject, TdmsWriter

SOURCE = pathlib.Path(__file__).resolve().parents[2]
TDMS = SOURCE / "tests" / "data" / "tdms"

# A value of each argument type, to fill the positions that are not NULL.
SAMPLE = {
    "text": "'x'", "name": "'x'", "integer": "1", "bigint": "1", "smallint": "1",
    "double precision": "1.5", "real": "1.5", "boolean": "false", "bytea": "'\\x00'::bytea",
    "jsonb": "'{}'::jsonb", "interval": "'1 hour'::interval", "regclass": "'pg_class'::regclass",
    "regrole": "'postgres'::regrole", "oid": "'pg_class'::regclass::oid", "tid": "'(0,1)'::tid",
    "timestamp with time zone": "'2026-01-01 00:00+00'::timestamptz",
    "double precision[]": "'{1,2}'::float8[]", "timestamp with time zone[]": "'{2026-01-01}'::timestamptz[]",
    "text[]": "'{x}'::text[]", "sensor.availability_state": "NULL::sensor.availability_state",
    "sensor.tof_report": "NULL::sensor.tof_report", "sensor.spectral_report": "NULL::sensor.spectral_report",
    "sensor.m4": "NULL::sensor.m4", "sensor.timevector": "NULL::sensor.timevector",
    "sensor.energy_state": "(SELECT sensor.energy_agg(timestamptz '2026-01-01', 1))",
    "interval[]": "'{1 minute}'::interval[]",
}
# Functions that change shared state: called with NULLs only where that cannot do harm.
SKIP = {"create_storage", "enable_hypertables"}


def sqlstate_of(conn, sql):
    try:
        with conn.transaction():
            conn.execute(sql).fetchall()
    except psycopg.Error as e:
        return e.sqlstate or "?"
    return None


def test_null_in_every_argument_position_is_never_an_internal_error(db):
    functions = db.execute(
        """SELECT p.proname, p.prokind, array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t)
           FROM pg_proc p WHERE p.pronamespace = 'sensor'::regnamespace AND p.pronargs > 0
             AND NOT EXISTS (SELECT FROM unnest(p.proargtypes) t WHERE t = 'internal'::regtype)
           ORDER BY 1""").fetchall()
    assert len(functions) > 40
    calls = 0
    found = []
    for name, kind, types in functions:
        if name in SKIP:
            continue
        missing = [t for t in types if t not in SAMPLE]
        assert not missing, f"{name}: no sample value for {missing}"
        for null_at in list(range(len(types))) + ["all"]:
            args = [f"NULL::{t}" if null_at in (i, "all") else SAMPLE[t] for i, t in enumerate(types)]
            call = f"sensor.{name}({', '.join(args)})"
            sql = {"a": f"SELECT {call}", "p": f"CALL {call}"}.get(kind, f"SELECT * FROM {call}")
            state = sqlstate_of(db, sql)
            calls += 1
            if state is not None and state.startswith("XX"):
                found.append((sql, state))
    assert calls > 200
    assert found == []
    assert db.execute("SELECT 1").fetchone()[0] == 1


def test_relation_arguments_that_name_nothing_are_not_internal_errors(db):
    db.execute("CREATE TABLE IF NOT EXISTS hard_events (equipment int, time timestamptz, status text)")
    for call in ["sensor.availability_report(0::oid::regclass, 'time', 'status', 'equipment', '2026-01-01', '2026-01-02')",
                 "sensor.state_timeline(0::oid::regclass, 'time', 'status', 'equipment', '2026-01-01', '2026-01-02')",
                 "sensor.downsample(0::oid::regclass, 'time', 'value', '2026-01-01', '2026-01-02', 10)"]:
        assert sqlstate_of(db, f"SELECT * FROM {call}") == "42704", call
    assert sqlstate_of(db, "SELECT * FROM sensor.availability_report('hard_events', 'nope', 'status', 'equipment', "
                           "'2026-01-01', '2026-01-02')") == "42703"


EVIL = """
DROP SCHEMA IF EXISTS evil CASCADE;
CREATE SCHEMA evil;
CREATE SEQUENCE evil.calls;
"""
# Operators and aggregates that shadow pg_catalog's when evil comes first in search_path.
EVIL_TYPES = ["bigint", "integer", "text", "name", "oid", "timestamp with time zone", "double precision", "boolean"]


def install_evil(db):
    db.execute(EVIL)
    for i, t in enumerate(EVIL_TYPES):
        for j, op in enumerate(["=", "<>", "<", "<=", ">", ">="]):
            fn = f"evil.op_{i}_{j}"
            db.execute(f"""CREATE FUNCTION {fn}({t}, {t}) RETURNS boolean LANGUAGE plpgsql AS $$
                           BEGIN PERFORM pg_catalog.nextval('evil.calls'); RETURN $1 OPERATOR(pg_catalog.{op}) $2; END $$""")
            db.execute(f"CREATE OPERATOR evil.{op} (LEFTARG = {t}, RIGHTARG = {t}, FUNCTION = {fn})")
        db.execute(f"""CREATE FUNCTION evil.pick_{i}({t}, {t}) RETURNS {t} LANGUAGE plpgsql AS $$
                       BEGIN PERFORM pg_catalog.nextval('evil.calls'); RETURN $2; END $$""")
        for agg in ["min", "max"]:
            db.execute(f"CREATE AGGREGATE evil.{agg}({t}) (SFUNC = evil.pick_{i}, STYPE = {t})")
    db.execute("""CREATE FUNCTION evil.count_step(bigint) RETURNS bigint LANGUAGE plpgsql AS $$
                  BEGIN PERFORM pg_catalog.nextval('evil.calls'); RETURN $1 OPERATOR(pg_catalog.+) 1; END $$""")
    db.execute("CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_step, STYPE = bigint, INITCOND = '0')")
    db.execute("CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ "
               "BEGIN PERFORM pg_catalog.nextval('evil.calls'); RETURN pg_catalog.now(); END $$")
    db.execute("GRANT USAGE ON SCHEMA evil TO PUBLIC")


def test_a_hostile_search_path_runs_none_of_its_code(make_database, server_dir, shared_fixtures):
    db = make_database("evil", timescaledb=False)
    install_evil(db)
    for name in ["small.tdms", "interleaved.tdms"]:
        shutil.copy(TDMS / name, server_dir / name)
        os.chmod(server_dir / name, 0o644)
    shutil.copytree(shared_fixtures / "powerview", server_dir / "powerview")
    tsv = server_dir / "powerview/company1/campaign1/02001084/T302_251012_031720.tsv"
    db.execute("""CREATE TABLE public.events (equipment int, time timestamptz, status text);
                  INSERT INTO public.events SELECT e, timestamptz '2026-01-01' + i * interval '5 minutes',
                         (ARRAY['online', 'offline', 'warning'])[1 + (i + e) % 3]
                  FROM generate_series(1, 3) e, generate_series(0, 500) i;
                  CREATE TABLE public.measurements (sensor int, time timestamptz, value float8);
                  INSERT INTO public.measurements SELECT s, timestamptz '2026-01-01' + i * interval '1 second', sin(i / 50.0) + s
                  FROM generate_series(1, 2) s, generate_series(0, 20000) i""")
    calls = [
        f"SELECT dataset_id, samples FROM sensor.load_tdms('{server_dir}/small.tdms')",
        f"SELECT dataset_id, samples FROM sensor.load_tdms('{server_dir}/small.tdms', replace => true)",
        f"SELECT dataset_id FROM sensor.load_tdms_bytes(pg_read_binary_file('{server_dir}/interleaved.tdms'), 'upload')",
        f"SELECT pg_catalog.count(*) FROM sensor.tdms_read('{server_dir}/interleaved.tdms')",
        f"SELECT pg_catalog.count(*) FROM sensor.tdms_channels('{server_dir}/interleaved.tdms')",
        f"SELECT status, points FROM sensor.load_tsv('{tsv}', base_dir => '{server_dir}/powerview')",
        f"SELECT files_total, loaded, duplicate, failed FROM sensor.load_tsv_dir('{server_dir}/powerview')",
        f"SELECT pg_catalog.count(*) FROM sensor.tsv_read('{tsv}')",
        "SELECT pg_catalog.count(*), sum(value) FROM sensor.channel_window((SELECT pg_catalog.min(id) FROM sensor_data.channels), points => 5)",
        "SELECT pg_catalog.count(*) FROM sensor.channel_page((SELECT pg_catalog.min(id) FROM sensor_data.channels), NULL, NULL)",
        "SELECT pg_catalog.count(*), sum(value) FROM sensor.channel_window((SELECT pg_catalog.min(channel_id) FROM sensor_data.tsv_channels), points => 20)",
        "SELECT * FROM sensor.availability_report('public.events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02', bucket => '6 hours')",
        "SELECT * FROM sensor.state_timeline('public.events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-02', points => 10)",
        "SELECT * FROM sensor.downsample('public.measurements', 'time', 'value', '2026-01-01', '2026-01-02', 20, series_column => 'sensor')",
        "SELECT * FROM sensor.downsample('public.measurements', 'time', 'value', '2026-01-01', '2026-01-02', 20, method => 'lttb')",
        "SELECT sensor.clickhouse_ddl('SELECT * FROM public.measurements', 'm', order_by => '(sensor, time)')",
        "SELECT encode(sha256(string_agg(c, ''::bytea)), 'hex') FROM sensor.arrow_stream('SELECT * FROM public.measurements', "
        "time_column => 'time', \"from\" => '2026-01-01', \"to\" => '2026-01-01 01:00') AS s(c)",
        "SELECT sensor.build_info() - 'postgres'",
        "SELECT sensor.delete_dataset((SELECT pg_catalog.max(id) FROM sensor_data.datasets))",
        "SELECT sensor.grant_company_access('pg_monitor', 'company1')",
        "SELECT sensor.revoke_company_access('pg_monitor')",
    ]
    # The test's own SQL qualifies what evil shadows; the functions must do the same inside.
    # Reads whose results must not depend on the search_path either.
    reads = [c for c in calls if "load_" not in c and "delete_" not in c and "_access" not in c]
    hostile = "evil, pg_catalog, public"
    with db.connect() as conn:
        conn.execute(f"SET search_path = {hostile}")
        results = {}
        for sql in calls:
            results[sql] = conn.execute(sql).fetchall()
            assert conn.execute("SELECT last_value, is_called FROM evil.calls").fetchone() == (1, False), sql
        assert len(calls) - len(reads) == 8
        assert [r for r in results.values() if not r] == []
    with db.connect() as conn:
        for sql in reads:
            if "delete_dataset" in sql or "build_info" in sql:
                continue
            assert conn.execute(sql).fetchall() == results[sql], sql


def test_errors_from_postgresql_inside_a_call_carry_no_rust_backtrace(make_database, server_dir):
    db = make_database("backtrace", timescaledb=False)
    shutil.copy(TDMS / "small.tdms", server_dir / "small.tdms")
    os.chmod(server_dir / "small.tdms", 0o644)
    db.execute("""CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN RAISE EXCEPTION 'refused by a trigger' USING ERRCODE = '23505', DETAIL = 'the trigger''s detail'; END $$;
                  CREATE TRIGGER refuse BEFORE INSERT ON sensor_data.channels FOR EACH ROW EXECUTE FUNCTION public.refuse()""")
    with db.connect() as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(f"SELECT * FROM sensor.load_tdms('{server_dir}/small.tdms')")
        diag = caught.value.diag
        assert diag.sqlstate == "23505"
        assert diag.message_primary == "refused by a trigger"
        assert diag.message_detail == "the trigger's detail"
        assert diag.message_hint is None
        assert conn.execute("SELECT count(*) FROM sensor_data.datasets").fetchone()[0] == 0


def small_tdms(server_dir):
    path = server_dir / "small.tdms"
    shutil.copy(TDMS / "small.tdms", path)
    os.chmod(path, 0o644)
    return path


def race(db, isolation, call):
    """Two sessions whose snapshots both predate either load run `call`: the first commits
    while the second waits for it. Returns the first's row and the second's row or SQLSTATE."""
    with db.connect() as a, db.connect() as b:
        for conn in (a, b):
            conn.execute(f"BEGIN ISOLATION LEVEL {isolation}")
            conn.execute("SELECT 1 FROM pg_class LIMIT 1").fetchone()
        first = a.execute(call).fetchone()
        result = {}

        def second():
            try:
                result["row"] = b.execute(call).fetchone()
                b.execute("COMMIT")
            except psycopg.Error as e:
                result["sqlstate"] = e.sqlstate
                b.execute("ROLLBACK")

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)  # b waits for a's lock
        a.execute("COMMIT")
        t.join(30)
    return first, result


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_two_loads_of_one_file_load_it_once_at_every_isolation_level(isolation, make_database, server_dir):
    db = make_database("once", timescaledb=False)
    path = small_tdms(server_dir)
    first, result = race(db, isolation, f"SELECT dataset_id, already_loaded FROM sensor.load_tdms('{path}')")
    assert first[1] is False
    if isolation == "READ COMMITTED":
        assert result.get("row") == (first[0], True)
    else:
        assert result.get("sqlstate") == "40001", result
    assert db.one("SELECT count(*) FROM sensor_data.datasets") == 1
    assert db.one("SELECT count(*) FROM sensor_data.channels") == db.one(
        f"SELECT count(*) FROM sensor.tdms_channels('{path}') WHERE data_type <> 'tdsTypeString'")


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ"])
def test_two_loads_of_one_t302_file_record_it_once(isolation, make_database, server_dir, shared_fixtures):
    db = make_database("tsv_once", timescaledb=False)
    base = server_dir / "pv"
    shutil.copytree(shared_fixtures / "powerview", base)
    path = base / "company1/campaign1/02001084/T302_251012_031720.tsv"
    first, result = race(db, isolation, f"SELECT status FROM sensor.load_tsv('{path}', base_dir => '{base}')")
    assert first == ("loaded",)
    if isolation == "READ COMMITTED":
        assert result.get("row") == ("duplicate",)
    else:
        assert result.get("sqlstate") == "40001", result
    assert db.one("SELECT count(*) FROM sensor_data.tsv_files WHERE status = 'loaded'") == 1


def upload_tree(server_dir, shared_fixtures):
    base = server_dir / "uploads"
    shutil.copytree(shared_fixtures / "powerview", base)
    for root, dirs, files in os.walk(base):
        os.chmod(root, 0o777)
        for f in files:
            os.chmod(os.path.join(root, f), 0o666)
    return base


def test_concurrent_directory_runs_that_move_files_load_each_file_once(make_database, server_dir, shared_fixtures):
    db = make_database("moves", timescaledb=False)
    base = upload_tree(server_dir, shared_fixtures)
    runs = {}

    def run(key, hold):
        with db.connect() as conn:
            conn.execute("BEGIN")
            runs[key] = conn.execute(f"SELECT files_total, loaded, duplicate, failed, skipped "
                                     f"FROM sensor.load_tsv_dir('{base}', move_files => true)").fetchone()
            time.sleep(hold)
            conn.execute("COMMIT")

    first = threading.Thread(target=run, args=("first", 1.5))
    first.start()
    time.sleep(0.5)
    second = threading.Thread(target=run, args=("second", 0))
    second.start()
    first.join(60)
    second.join(60)
    assert runs["first"][1] == 4 and runs["first"][3] == 0
    # The second run waited for each file, then found it moved away.
    assert runs["second"][0] == 0 and runs["second"][3] == 0, runs
    failed = db.execute("SELECT path, error_sqlstate FROM sensor_data.tsv_files WHERE status = 'failed'")
    assert failed == []
    moved = db.execute("SELECT moved_to FROM sensor_data.tsv_files WHERE moved_to IS NOT NULL")
    assert len(moved) == 7
    for (to,) in moved:
        assert pathlib.Path(to).is_file(), to


def test_a_move_that_cannot_happen_is_not_recorded(make_database, server_dir, shared_fixtures):
    db = make_database("nomove", timescaledb=False)
    base = upload_tree(server_dir, shared_fixtures)
    device = base / "company1/campaign1/02001084"
    (device / "parsed").write_text("a file where the folder would go")
    rows = db.execute(f"SELECT loaded FROM sensor.load_tsv_dir('{base}', move_files => true)")
    assert rows == [(4,)]
    stuck = db.execute("SELECT path, moved_to FROM sensor_data.tsv_files WHERE path LIKE %s", (f"{device}/%",))
    assert stuck and all(moved_to is None for _, moved_to in stuck)
    assert all(pathlib.Path(p).is_file() for p, _ in stuck)
    others = db.execute("SELECT moved_to FROM sensor_data.tsv_files WHERE path NOT LIKE %s", (f"{device}/%",))
    assert others and all(m is not None and pathlib.Path(m).is_file() for (m,) in others)


def test_symbolic_links_cannot_reach_outside_base_dir_or_lend_a_file_to_another_company(make_database, server_dir, shared_fixtures):
    db = make_database("links", timescaledb=False)
    base = upload_tree(server_dir, shared_fixtures)
    device = base / "company1/campaign1/02001084"
    (device / "passwd.tsv").symlink_to("/etc/passwd")
    other = base / "company3/base/02001283/T302_251024_204336.tsv"
    (device / "borrowed.tsv").symlink_to(other)
    run = db.execute(f"SELECT files_total, loaded, failed FROM sensor.load_tsv_dir('{base}')")[0]
    # The 7 files (one of them reached through the link, once) and the refused link.
    assert run == (8, 4, 1)
    refused = db.execute("SELECT path, error_sqlstate, error_message, format FROM sensor_data.tsv_files WHERE status = 'failed'")
    assert len(refused) == 1
    path, state, message, fmt = refused[0]
    assert path.endswith("passwd.tsv") and state == "42501" and "outside base_dir" in message and fmt is None
    assert db.one("SELECT count(*) FROM sensor_data.tsv_files WHERE format LIKE '%root%' OR error_message LIKE '%root:%'") == 0
    # The borrowed file is company3's, loaded once, under its real path.
    rows = db.execute("SELECT company, path FROM sensor_data.tsv_files WHERE sha256 = "
                      "(SELECT sha256 FROM sensor_data.tsv_files WHERE path = %s)", (str(other.resolve()),))
    assert rows == [("company3", str(other.resolve()))]
    assert db.one("SELECT count(*) FROM sensor_data.tsv_channels WHERE company = 'company1' AND device_master_sn = '02001084' "
                  "AND channel_id LIKE 'M02001283%'") == 0
    # load_tsv refuses the same links with 42501.
    with db.connect() as conn:
        for link in ["passwd.tsv"]:
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(f"SELECT * FROM sensor.load_tsv('{device / link}', base_dir => '{base}')")
            assert caught.value.sqlstate == "42501"
        row = conn.execute(f"SELECT company, status FROM sensor.load_tsv('{device / 'borrowed.tsv'}', base_dir => '{base}')").fetchone()
        assert row == ("company3", "duplicate")


def test_nul_bytes_in_tdms_text_stay_visible(make_database, server_dir):
    db = make_database("nul", timescaledb=False)
    path = server_dir / "nul.tdms"
    with TdmsWriter(str(path)) as writer:
        writer.write_segment([
            RootObject(properties={"title": "a\x00b"}),
            GroupObject("g\x00h", properties={"note": "x\x00y"}),
            ChannelObject("g\x00h", "x\x00a", [1.0, 2.0], properties={"unit_string": "k\x00V"}),
            ChannelObject("g\x00h", "x\x00b", [3.0, 4.0]),
            ChannelObject("g\x00h", "s", ["a\x00b", "c"]),
        ])
    os.chmod(path, 0o644)
    nul = "\u2400"
    names = db.execute(f"SELECT group_name, channel_name, unit FROM sensor.tdms_channels('{path}') ORDER BY channel_name")
    assert names == [(f"g{nul}h", "s", None), (f"g{nul}h", f"x{nul}a", f"k{nul}V"), (f"g{nul}h", f"x{nul}b", None)]
    props = db.execute(f"SELECT name, value #>> '{{}}' FROM sensor.tdms_properties('{path}') ORDER BY 1")
    assert ("title", f"a{nul}b") in props and ("note", f"x{nul}y") in props
    texts = db.execute(f"SELECT value_text FROM sensor.tdms_read('{path}', channel_name => 's') ORDER BY sample_index")
    assert texts == [(f"a{nul}b",), ("c",)]
    loaded = db.execute(f"SELECT channels_loaded FROM sensor.load_tdms('{path}')")
    assert loaded == [(2,)]
    stored = db.execute("SELECT group_name, name FROM sensor_data.channels ORDER BY name")
    assert stored == [(f"g{nul}h", f"x{nul}a"), (f"g{nul}h", f"x{nul}b")]
    assert db.one("SELECT properties->>'title' FROM sensor_data.datasets") == f"a{nul}b"
