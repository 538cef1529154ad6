"""Loaded data over time: pg_dump and restore (custom and plain formats, plain PostgreSQL and
TimescaleDB with its documented procedure), DROP EXTENSION, and ALTER EXTENSION UPDATE from
0.1.0, 0.2.0 and 0.3.0 (whose frozen install scripts are in sql/archive/)."""
import gzip
import os
import pathlib
import re
import shutil
import subprocess

import pytest
from nptdms import ChannelObject, GroupObject, RootObject, TdmsWriter

SOURCE = pathlib.Path(__file__).resolve().parents[2]
FINGERPRINT = (SOURCE / "tests" / "e2e" / "sql" / "extension_fingerprint.sql").read_text()
TDMS = SOURCE / "tests" / "data" / "tdms"

DATA_TABLES = ["datasets", "channels", "samples", "indexed_samples", "tsv_channels",
               "electrical_samples", "tsv_runs", "tsv_files", "company_access"]


def current_version(db):
    """The version CREATE EXTENSION installs and ALTER EXTENSION UPDATE goes to."""
    return db.one("SELECT default_version FROM pg_available_extensions WHERE name = 'sensor_analytics'")


def assert_same_as_fresh(updated, fresh, drop=lambda r: False):
    """The updated extension's objects are the ones a fresh install gives."""
    updated_print = [r for (r,) in updated.execute(FINGERPRINT) if not drop(r)]
    fresh_print = [r for (r,) in fresh.execute(FINGERPRINT) if not drop(r)]
    assert len(fresh_print) > 300
    missing = sorted(set(fresh_print) - set(updated_print))
    extra = sorted(set(updated_print) - set(fresh_print))
    assert not missing and not extra, f"missing after update: {missing[:5]}\nextra after update: {extra[:5]}"


def checksums(db, tables):
    """Row count and an md5 over the sorted rows of each table (rows of its chunks included)."""
    return {t: db.execute(f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x")[0]
            for t in tables}


def hypertables(db):
    if not db.one("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')"):
        return []
    return sorted(db.execute("SELECT hypertable_schema, hypertable_name FROM timescaledb_information.hypertables"))


def copy_tdms(server_dir, *names):
    for name in names:
        if name == "fresh.tdms":
            write_fresh_tdms(server_dir / name)
        else:
            shutil.copy(TDMS / name, server_dir / name)
        os.chmod(server_dir / name, 0o644)


def write_fresh_tdms(path):
    """A file no test has loaded yet (its content depends on the path)."""
    with TdmsWriter(str(path)) as writer:
        writer.write_segment([RootObject(properties={"origin": str(path)}), GroupObject("g"),
                              ChannelObject("g", "c", [1.0, 2.0, 3.0])])


def fill(db, server_dir, shared_fixtures, tenant, tsdb):
    """Loads TDMS and T302 files, maps a tenant, stores availability states in a
    materialized view (and a continuous aggregate), and adds a user hypertable."""
    copy_tdms(server_dir, "small.tdms", "interleaved.tdms", "fresh.tdms")
    db.execute(f"SELECT * FROM sensor.load_tdms('{server_dir}/small.tdms')")
    db.execute(f"SELECT * FROM sensor.load_tdms('{server_dir}/interleaved.tdms')")
    shutil.copytree(shared_fixtures / "powerview", server_dir / "powerview")
    assert db.one(f"SELECT loaded FROM sensor.load_tsv_dir('{server_dir}/powerview')") == 4
    db.execute(f"SELECT sensor.grant_company_access('{tenant}', 'company1')")
    db.execute("""CREATE TABLE public.status_events (equipment int NOT NULL, time timestamptz NOT NULL, status text);
                  INSERT INTO public.status_events
                  SELECT e, timestamptz '2026-01-01' + i * interval '7 minutes',
                         (ARRAY['online', 'online', 'warning', 'offline'])[1 + (i * 7 + e) % 4]
                  FROM generate_series(1, 3) e, generate_series(0, 800) i""")
    db.execute("""CREATE MATERIALIZED VIEW public.hourly_states AS
                  SELECT equipment, date_trunc('hour', time) AS bucket,
                         sensor.availability_agg(time, status, date_trunc('hour', time), date_trunc('hour', time) + interval '1 hour') AS state
                  FROM public.status_events GROUP BY 1, 2""")
    if tsdb:
        db.execute("SELECT create_hypertable('public.status_events', 'time', chunk_time_interval => interval '1 day', migrate_data => true)")
        db.execute("""CREATE MATERIALIZED VIEW public.cagg_states WITH (timescaledb.continuous) AS
                      SELECT equipment, time_bucket('1 hour', time) AS bucket,
                             sensor.availability_agg(time, status, time_bucket('1 hour', time), time_bucket('1 hour', time) + interval '1 hour') AS state
                      FROM public.status_events GROUP BY 1, 2 WITH NO DATA""")
        db.execute("CALL refresh_continuous_aggregate('public.cagg_states', NULL, NULL)")


def state_figures(db, tsdb):
    """What the stored states say, read through the accessors."""
    views = ["public.hourly_states"] + (["public.cagg_states"] if tsdb else [])
    return {v: db.execute(f"""SELECT equipment, round(sensor.availability(sensor.rollup(state))::numeric, 12),
                                     sensor.outages(sensor.rollup(state)), count(*)
                              FROM {v} GROUP BY equipment ORDER BY equipment""") for v in views}


def tables_of(db):
    extra = ["public.status_events"]
    return [f"sensor_data.{t}" for t in DATA_TABLES] + extra


def tenant_sees(db, tenant):
    with db.connect() as conn:
        conn.execute(f'SET ROLE "{tenant}"')
        return conn.execute("SELECT coalesce(array_agg(DISTINCT company), '{}') FROM sensor_data.electrical").fetchone()[0]


def next_load_works(db, server_dir):
    before = db.one("SELECT max(id) FROM sensor_data.datasets")
    new_id = db.one(f"SELECT dataset_id FROM sensor.load_tdms('{server_dir}/fresh.tdms')")
    assert new_id > before
    again = db.execute(f"SELECT dataset_id, already_loaded FROM sensor.load_tdms('{server_dir}/small.tdms')")[0]
    assert again[1] is True


def pg_env(db):
    return {**os.environ, "PGDATABASE": db.name}


@pytest.mark.parametrize("dump_format", ["custom", "plain"])
def test_dump_and_restore_keep_every_row(flavour, dump_format, make_database, make_role, server_dir, shared_fixtures, tmp_path):
    tsdb = flavour == "timescaledb"
    tenant = make_role("restore_tenant")
    src = make_database("src", timescaledb=tsdb)
    fill(src, server_dir, shared_fixtures, tenant, tsdb)
    before = checksums(src, tables_of(src))
    figures = state_figures(src, tsdb)
    assert before["sensor_data.samples"][0] > 0 and before["sensor_data.electrical_samples"][0] > 0

    dump = tmp_path / ("dump.custom" if dump_format == "custom" else "dump.sql")
    out = subprocess.run(["pg_dump", "-Fc" if dump_format == "custom" else "-Fp", "-f", str(dump)],
                         env=pg_env(src), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr

    # TimescaleDB's documented procedure: the extension first, then pre_restore/post_restore.
    dst = make_database("dst", timescaledb=tsdb, extension_version=False)
    if tsdb:
        dst.execute("SELECT timescaledb_pre_restore()")
    if dump_format == "custom":
        cmd = ["pg_restore", "--exit-on-error", "-d", dst.name, str(dump)]
    else:
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dst.name, "-f", str(dump)]
    out = subprocess.run(cmd, env=pg_env(dst), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    if tsdb:
        dst.execute("SELECT timescaledb_post_restore()")

    assert checksums(dst, tables_of(dst)) == before
    assert hypertables(dst) == hypertables(src)
    if tsdb:
        assert ("public", "status_events") in hypertables(dst)
        assert ("sensor_data", "samples") in hypertables(dst)
    assert state_figures(dst, tsdb) == figures
    assert tenant_sees(dst, tenant) == ["company1"]
    next_load_works(dst, server_dir)


def test_drop_extension_leaves_the_data_and_create_adopts_it(flavour, make_database, server_dir, shared_fixtures):
    tsdb = flavour == "timescaledb"
    db = make_database("drop", timescaledb=tsdb)
    copy_tdms(server_dir, "small.tdms", "fresh.tdms")
    db.execute(f"SELECT * FROM sensor.load_tdms('{server_dir}/small.tdms')")
    shutil.copytree(shared_fixtures / "powerview", server_dir / "powerview")
    db.execute(f"SELECT * FROM sensor.load_tsv_dir('{server_dir}/powerview')")
    tables = [f"sensor_data.{t}" for t in DATA_TABLES]
    before = checksums(db, tables)
    assert before["sensor_data.samples"][0] > 0

    db.execute("DROP EXTENSION sensor_analytics")
    assert db.one("SELECT count(*) FROM pg_proc WHERE pronamespace = 'sensor'::regnamespace") == 0
    assert checksums(db, tables) == before
    db.execute("CREATE EXTENSION sensor_analytics")
    assert checksums(db, tables) == before
    assert db.one("SELECT sensor.create_storage()") is False
    next_load_works(db, server_dir)
    if tsdb:
        assert ("sensor_data", "samples") in hypertables(db)


# 0.1.0 ---------------------------------------------------------------------------------------
# The 0.1.0 library is not built here: the 0.2.0 library serves the 0.1.0 SQL objects (as it
# does for a user between installing the package and running ALTER EXTENSION UPDATE), so data
# is written the way 0.1.0's loaders wrote it, with plain SQL.
SEED_010 = """
INSERT INTO sensor.datasets (name, source_file, sha256, bytes, properties, warnings)
VALUES ('run7', '/data/run7.tdms', repeat('a', 64), 970, '{"title": "run 7"}', '{}'),
       ('run8', '/data/run8.tdms', repeat('b', 64), 1970, '{}', '{"truncated last segment"}');
INSERT INTO sensor.channels (dataset_id, group_name, name, unit, data_type, has_time, start_time, increment_s, n_samples)
VALUES (1, 'g', 'pressure', 'bar', 'tdsTypeDoubleFloat', true, '2026-01-01', 0.001, 5000),
       (2, 'g', 'index', NULL, 'tdsTypeI32', false, NULL, NULL, 300);
INSERT INTO sensor.samples SELECT 1, timestamptz '2026-01-01' + i * interval '1 ms', sin(i / 100.0) FROM generate_series(0, 4999) i;
INSERT INTO sensor.indexed_samples SELECT 2, i, i * 2 FROM generate_series(0, 299) i;
INSERT INTO sensor.tsv_channels (company, campaign, device_master_sn, channel_id, device_sn, device_type, label, name, unit, source_format)
VALUES ('acme', 'c1', '02001084', 'M02001084_U1', '02001084', 'master', 'U1', 'Ph 1', 'V', 'MV_T302_V002'),
       ('globex', 'c9', '02001311', 'M02001311_U1', '02001311', 'master', 'U1', 'Ph 1', 'V', 'MV_T302_V003');
INSERT INTO sensor.electrical_samples SELECT timestamptz '2026-01-01' + i * interval '10 minutes', c, 230 + c + (i % 7)
FROM generate_series(0, 3000) i, generate_series(1, 2) c;
INSERT INTO sensor.tsv_runs (base_dir, move_files, files_total, loaded, points) VALUES ('/srv/data', true, 2, 2, 6002);
INSERT INTO sensor.tsv_files (run_id, path, company, campaign, status, points, sha256, bytes)
VALUES (1, '/srv/data/acme/c1/02001084/a.tsv', 'acme', 'c1', 'loaded', 3001, repeat('c', 64), 100),
       (1, '/srv/data/globex/c9/02001311/b.tsv', 'globex', 'c9', 'loaded', 3001, repeat('d', 64), 100);
"""


def test_update_from_0_1_0_keeps_data_and_states_and_equals_a_fresh_install(flavour, make_database, make_role, server_dir):
    tsdb = flavour == "timescaledb"
    tenant = make_role("update_tenant")
    old = make_database("old", timescaledb=tsdb, extension_version="0.1.0")
    assert old.one("SELECT extversion FROM pg_extension WHERE extname = 'sensor_analytics'") == "0.1.0"
    paths = old.execute("SELECT source, target, path FROM pg_extension_update_paths('sensor_analytics') "
                        "WHERE source = '0.1.0' AND target = '0.2.0'")
    assert paths == [("0.1.0", "0.2.0", "0.1.0--0.2.0")]
    old.execute(SEED_010)
    old.execute(f"SELECT sensor.grant_company_access('{tenant}', 'acme')")
    # 0.1.0 tenants had SELECT on the tables, with row-level security.
    assert old.one(f"SELECT has_table_privilege('{tenant}', 'sensor.electrical_samples', 'SELECT')")
    old.execute("""CREATE TABLE public.status_events (equipment int NOT NULL, time timestamptz NOT NULL, status text);
                   INSERT INTO public.status_events
                   SELECT e, timestamptz '2026-01-01' + i * interval '7 minutes',
                          (ARRAY['online', 'online', 'warning', 'offline'])[1 + (i * 7 + e) % 4]
                   FROM generate_series(1, 3) e, generate_series(0, 800) i;
                   CREATE MATERIALIZED VIEW public.hourly_states AS
                   SELECT equipment, date_trunc('hour', time) AS bucket,
                          sensor.availability_agg(time, status, date_trunc('hour', time), date_trunc('hour', time) + interval '1 hour') AS state
                   FROM public.status_events GROUP BY 1, 2;
                   CREATE VIEW public.points_per_company AS SELECT company, count(*) AS n FROM sensor.electrical GROUP BY company""")
    if tsdb:
        old.execute("""CREATE MATERIALIZED VIEW public.cagg_states WITH (timescaledb.continuous) AS
                       SELECT channel_id AS channel, time_bucket('1 second', time) AS day, sensor.m4_summary(time, value) AS summary
                       FROM sensor.samples GROUP BY 1, 2 WITH NO DATA""")
        old.execute("CALL refresh_continuous_aggregate('public.cagg_states', NULL, NULL)")
        old.execute("ALTER TABLE sensor.samples SET (timescaledb.compress, timescaledb.compress_segmentby = 'channel_id')")
        assert old.execute("SELECT compress_chunk(c) FROM show_chunks('sensor.samples') c")
    old_tables = [f"sensor.{t}" for t in DATA_TABLES]
    before = list(checksums(old, old_tables).values())
    stored_states = ("SELECT equipment, bucket, sensor.availability(state), sensor.availability_summary(state)::text "
                     "FROM public.hourly_states ORDER BY 1, 2")
    states = old.execute(stored_states)
    per_company = old.execute("SELECT * FROM public.points_per_company ORDER BY 1")
    cagg = old.execute("SELECT channel, day, (summary).min_value, (summary).max_value, (summary).count FROM public.cagg_states ORDER BY 1, 2") if tsdb else None

    old.execute("ALTER EXTENSION sensor_analytics UPDATE")
    assert old.one("SELECT extversion FROM pg_extension WHERE extname = 'sensor_analytics'") == current_version(old)
    assert list(checksums(old, [f"sensor_data.{t}" for t in DATA_TABLES]).values()) == before
    assert old.execute(stored_states) == states
    old.execute("REFRESH MATERIALIZED VIEW public.hourly_states")
    assert old.execute(stored_states) == states
    assert old.execute("SELECT * FROM public.points_per_company ORDER BY 1") == per_company
    if tsdb:
        assert ("sensor_data", "samples") in hypertables(old)
        assert ("sensor_data", "electrical_samples") in hypertables(old)
        old.execute("CALL refresh_continuous_aggregate('public.cagg_states', NULL, NULL)")
        assert old.execute("SELECT channel, day, (summary).min_value, (summary).max_value, (summary).count "
                           "FROM public.cagg_states ORDER BY 1, 2") == cagg
    # Tenants: no table privilege left, only the views, which show their company.
    for table in ["tsv_channels", "electrical_samples", "tsv_files", "company_access"]:
        assert not old.one(f"SELECT has_table_privilege('{tenant}', 'sensor_data.{table}', 'SELECT')"), table
    assert tenant_sees(old, tenant) == ["acme"]
    # The next load continues the identity sequences.
    copy_tdms(server_dir, "fresh.tdms", "small.tdms")
    assert old.one(f"SELECT dataset_id FROM sensor.load_tdms('{server_dir}/fresh.tdms')") == 3

    # The updated extension is the one a fresh install gives.
    fresh = make_database("fresh", timescaledb=tsdb)
    updated_print = [r for (r,) in old.execute(FINGERPRINT)]
    fresh_print = [r for (r,) in fresh.execute(FINGERPRINT)]
    assert len(fresh_print) > 300
    grants = [r for r in updated_print if f"{tenant}=" in r]
    assert grants, (tenant, [r[:160] for r in updated_print if r.startswith("relation sensor_data.electrical")])
    updated_print = [re.sub(f",{tenant}=[a-zA-Z]*/postgres", "", r) for r in updated_print]
    if tsdb:
        # Compression was enabled by hand on the updated database only.
        updated_print = [r for r in updated_print if "compress" not in r]
        fresh_print = [r for r in fresh_print if "compress" not in r]
    missing = sorted(set(fresh_print) - set(updated_print))
    extra = sorted(set(updated_print) - set(fresh_print))
    assert not missing and not extra, f"missing after update: {missing[:5]}\nextra after update: {extra[:5]}"


def test_update_from_0_2_0_adds_energy_and_equals_a_fresh_install(flavour, make_database):
    tsdb = flavour == "timescaledb"
    old = make_database("old", timescaledb=tsdb, extension_version="0.2.0")
    paths = old.execute("SELECT path FROM pg_extension_update_paths('sensor_analytics') "
                        "WHERE source = '0.2.0' AND target = %s", (current_version(old),))
    # Through 0.3.0 (this test's objects came with it) and each later version.
    assert paths and paths[0][0].startswith("0.2.0--0.3.0"), paths
    assert paths[0][0].endswith(f"--{current_version(old)}"), paths
    old.execute("""INSERT INTO sensor_data.electrical_samples
                   SELECT timestamptz '2026-01-01' + i * interval '10 minutes', c, 230 + c + (i % 7)
                   FROM generate_series(0, 3000) i, generate_series(1, 2) c;
                   CREATE MATERIALIZED VIEW public.daily AS
                   SELECT channel, date_trunc('day', time) AS day, sensor.m4_summary(time, value) AS summary
                   FROM sensor_data.electrical_samples GROUP BY 1, 2""")
    stored = "SELECT channel, day, (summary).min_value, (summary).max_value, (summary).count FROM public.daily ORDER BY 1, 2"
    before = old.execute(stored)
    assert not old.one("SELECT EXISTS (SELECT FROM pg_proc WHERE proname = 'energy_agg')")

    old.execute("ALTER EXTENSION sensor_analytics UPDATE")
    assert old.one("SELECT extversion FROM pg_extension WHERE extname = 'sensor_analytics'") == current_version(old)
    old.execute("REFRESH MATERIALIZED VIEW public.daily")
    assert old.execute(stored) == before
    # The new aggregate works on data that was there, and its rollup of days is the whole.
    whole, rolled = old.execute("""
        SELECT (SELECT sensor.energy_wh(sensor.energy_agg(time, value)) FROM sensor_data.electrical_samples WHERE channel = 1),
               (SELECT sensor.energy_wh(sensor.rollup(s)) FROM (
                    SELECT sensor.energy_agg(time, value) s FROM sensor_data.electrical_samples
                    WHERE channel = 1 GROUP BY date_trunc('day', time)) d)""")[0]
    assert whole == pytest.approx(rolled, rel=1e-12) and whole > 0
    fresh = make_database("fresh", timescaledb=tsdb)
    assert_same_as_fresh(old, fresh)


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "0.3.0"])
def test_old_versions_objects_are_served_by_this_library(version):
    """Every C function of an old version's script still has its symbol in this library, so
    a database still at that version keeps working until ALTER EXTENSION UPDATE runs."""
    script = gzip.decompress((SOURCE / "sql" / "archive" / f"sensor_analytics--{version}.sql.gz").read_bytes()).decode()
    symbols = sorted(set(re.findall(r"AS 'MODULE_PATHNAME', '(\w+)'", script)))
    assert len(symbols) > 50
    lib = pathlib.Path(subprocess.run(["pg_config", "--pkglibdir"], capture_output=True, text=True).stdout.strip()) / "sensor_analytics.so"
    exported = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True).stdout
    names = {line.split()[-1] for line in exported.splitlines() if line.strip()}
    assert [s for s in symbols if s not in names] == []


def test_a_0_3_0_catalog_on_this_library_keeps_its_parallel_paths_serial(flavour, make_database):
    """Before ALTER EXTENSION UPDATE a 0.3.0 catalog has neither of the internal aggregates
    0.4.0 runs under parallel plans (downsample_series_agg, availability_report_shares): the
    functions take their serial paths there, with the same rows, and the parallel ones after
    the update."""
    db = make_database("old", timescaledb=flavour == "timescaledb", extension_version="0.3.0")
    db.execute("""CREATE TABLE public.events AS
                  SELECT i % 7 AS equipment, timestamptz '2026-01-01' + (i / 7) * interval '1 second' AS time,
                         CASE WHEN ((i / 7) / 50 + i % 7) % 5 = 0 THEN 'offline' ELSE 'online' END AS status,
                         sin(i / 300.0) AS value
                  FROM generate_series(0, 200000) i;
                  ANALYZE public.events""")
    queries = [
        "SELECT md5(string_agg(r::text, ',' ORDER BY equipment, time)) FROM sensor.availability_report("
        "'public.events', 'time', 'status', 'equipment', '2026-01-01', '2026-01-01 08:00', bucket => '1 hour') r",
        "SELECT md5(string_agg(d::text, ',' ORDER BY series, time)) FROM sensor.downsample("
        "'public.events', 'time', 'value', '2026-01-01', '2026-01-01 08:00', 100, method => 'm4', series_column => 'equipment') d",
    ]

    def results(workers):
        with db.connect() as conn:
            for setting in (f"max_parallel_workers_per_gather = {workers}", "parallel_setup_cost = 0",
                            "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0"):
                conn.execute(f"SET {setting}")
            return [conn.execute(q).fetchone()[0] for q in queries]

    serial = results(0)
    assert all(serial), serial
    assert results(2) == serial
    db.execute("ALTER EXTENSION sensor_analytics UPDATE")
    assert db.one("SELECT to_regprocedure('sensor.availability_report_shares(bigint, oid, tid, timestamptz, text, bytea)') IS NOT NULL")
    assert results(2) == serial
