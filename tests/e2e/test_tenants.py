"""Tenant isolation of T302 data: a role granted one company reads that company's rows and
nothing else, by any path it has: every relation it may SELECT (tables, views, TimescaleDB
chunks created before and after the grant, compressed chunks, continuous aggregates and
materialized views built on our tables, TimescaleDB's own catalogs) and our functions.
Run on plain PostgreSQL and on TimescaleDB."""
import shutil

import psycopg
import pytest

OWN = "company1"
OTHERS = ["company2", "company3"]


def load_three_companies(db, server_dir, shared_fixtures):
    base = server_dir / "powerview"
    shutil.copytree(shared_fixtures / "powerview", base)
    loaded = db.one(f"SELECT loaded FROM sensor.load_tsv_dir('{base}')")
    assert loaded == 4
    companies = {c for (c,) in db.execute("SELECT DISTINCT company FROM sensor_data.tsv_channels")}
    assert companies == {OWN, *OTHERS}
    return base


def others_markers(db):
    """Text that only another company's rows contain: company names and channel ids."""
    ids = [c for (c,) in db.execute(
        "SELECT channel_id FROM sensor_data.tsv_channels WHERE company <> %s "
        "EXCEPT SELECT channel_id FROM sensor_data.tsv_channels WHERE company = %s", (OWN, OWN))]
    assert ids
    return OTHERS + ids


def selectable_relations(conn):
    return [r for (r,) in conn.execute(
        """SELECT c.oid::regclass::text FROM pg_class c
           WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
             AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
             AND has_table_privilege(c.oid, 'SELECT')
             AND has_schema_privilege(c.relnamespace, 'USAGE')
           ORDER BY 1""")]


def sqlstate(conn, sql):
    try:
        with conn.transaction():
            conn.execute(sql).fetchall()
    except psycopg.Error as e:
        return e.sqlstate
    return None


def test_a_tenant_reads_only_its_company_by_every_path(flavour, make_database, make_role, server_dir, shared_fixtures):
    tsdb = flavour == "timescaledb"
    db = make_database("tenants", timescaledb=tsdb)
    load_three_companies(db, server_dir, shared_fixtures)
    markers = others_markers(db)
    own_points = db.one(
        "SELECT count(*) FROM sensor_data.electrical_samples s JOIN sensor_data.tsv_channels c ON c.id = s.channel "
        "WHERE c.company = %s", (OWN,))
    assert own_points > 0

    # Objects an administrator builds on our tables: a materialized view, and with
    # TimescaleDB a continuous aggregate and compressed chunks.
    db.execute("""CREATE MATERIALIZED VIEW public.daily AS
                  SELECT channel, date_trunc('day', time) AS day, avg(value) AS mean
                  FROM sensor_data.electrical_samples GROUP BY 1, 2""")
    if tsdb:
        db.execute("""CREATE MATERIALIZED VIEW public.hourly WITH (timescaledb.continuous) AS
                      SELECT channel, time_bucket('1 hour', time) AS hour, avg(value) AS mean
                      FROM sensor_data.electrical_samples GROUP BY 1, 2 WITH NO DATA""")
        db.execute("CALL refresh_continuous_aggregate('public.hourly', NULL, NULL)")
        db.execute("ALTER TABLE sensor_data.electrical_samples SET (timescaledb.compress, "
                   "timescaledb.compress_segmentby = 'channel')")
        compressed = db.execute("SELECT compress_chunk(c) FROM show_chunks('sensor_data.electrical_samples') c")
        assert compressed

    tenant = make_role("tenant")
    db.execute(f"SELECT sensor.grant_company_access('{tenant}', %s)", (OWN,))

    # A chunk created after the grant, holding another company's points.
    other_channel = db.one("SELECT id FROM sensor_data.tsv_channels WHERE company = %s ORDER BY id LIMIT 1", (OTHERS[0],))
    db.execute("INSERT INTO sensor_data.electrical_samples (time, channel, value) "
               "SELECT timestamptz '2031-01-01' + i * interval '1 minute', %s, 424242 FROM generate_series(1, 100) i",
               (other_channel,))
    markers.append("424242")

    with db.connect() as conn:
        conn.execute(f'SET ROLE "{tenant}"')
        relations = selectable_relations(conn)
        # Of our data, only the views.
        ours = [r for r in relations if r.startswith("sensor_data.")]
        assert ours == ["sensor_data.electrical", "sensor_data.electrical_channels", "sensor_data.electrical_files"]
        assert not [r for r in relations if r.startswith("_timescaledb_internal._") and "chunk" in r]
        assert "daily" not in relations and "hourly" not in relations
        # No relation it can read shows another company's rows.
        scanned = 0
        for rel in relations:
            rows = conn.execute(f"SELECT t::text FROM {rel} t").fetchall()
            scanned += 1
            for (row,) in rows:
                leaked = [m for m in markers if m in row]
                assert not leaked, f"{rel} shows {leaked}: {row[:200]}"
        assert scanned == len(relations) >= 3
        # Its own company, completely.
        assert conn.execute("SELECT count(*) FROM sensor_data.electrical").fetchone()[0] == own_points
        assert conn.execute("SELECT array_agg(DISTINCT company) FROM sensor_data.electrical_channels").fetchone()[0] == [OWN]
        # Tables, chunks, compressed chunks, aggregates: refused.
        refused = ["sensor_data.electrical_samples", "sensor_data.tsv_channels", "sensor_data.tsv_files",
                   "sensor_data.company_access", "sensor_data.samples", "public.daily"]
        if tsdb:
            refused += [r for (r,) in db.execute(
                """SELECT format('%I.%I', schema_name, table_name) FROM _timescaledb_catalog.chunk""")]
            refused.append("public.hourly")
            refused += [r for (r,) in db.execute(
                "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) "
                "FROM timescaledb_information.continuous_aggregates")]
            assert len(refused) > 8
        for rel in refused:
            assert sqlstate(conn, f"SELECT * FROM {rel} LIMIT 1") == "42501", rel
        # Our functions: another company's channel does not exist for it; downsample reads
        # with its privileges.
        own_id = conn.execute("SELECT channel_id FROM sensor_data.electrical_channels ORDER BY id LIMIT 1").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM sensor.channel_window(%s, points => 10)", (own_id,)).fetchone()[0] > 0
        for other_id in markers[2:5]:
            assert sqlstate(conn, f"SELECT * FROM sensor.channel_window('{other_id}', points => 10)") == "42704"
        assert sqlstate(conn, "SELECT * FROM sensor.downsample('sensor_data.electrical_samples', 'time', 'value', "
                              "'2020-01-01', '2040-01-01', 10)") == "42501"
        series = conn.execute("SELECT DISTINCT series FROM sensor.downsample('sensor_data.electrical', 'time', 'value', "
                              "'2020-01-01', '2040-01-01', 10, series_column => 'company')").fetchall()
        assert series == [(OWN,)]

    # Revoking the last company takes the views away again.
    assert db.one(f"SELECT sensor.revoke_company_access('{tenant}')") == 1
    with db.connect() as conn:
        conn.execute(f'SET ROLE "{tenant}"')
        assert not [r for r in selectable_relations(conn) if r.startswith("sensor_data.")]


def test_the_views_follow_row_level_security_for_roles_with_table_privileges(make_database, make_role, server_dir, shared_fixtures):
    """A loading role with SELECT on the tables is still bound by row-level security: the
    views show it its mapped companies only, never more than the table would. A role that
    bypasses row-level security sees every company."""
    db = make_database("rls_view", timescaledb=False)
    load_three_companies(db, server_dir, shared_fixtures)
    loader, auditor = make_role("loader"), make_role("auditor")
    db.execute(f'ALTER ROLE "{auditor}" BYPASSRLS')
    for role in (loader, auditor):
        db.execute(f'GRANT USAGE ON SCHEMA sensor_data TO "{role}"')
        db.execute(f'GRANT SELECT ON sensor_data.electrical_samples, sensor_data.tsv_channels, '
                   f'sensor_data.company_access, sensor_data.electrical TO "{role}"')
    db.execute(f"INSERT INTO sensor_data.company_access VALUES ('{loader}', %s)", (OTHERS[1],))
    seen = "SELECT coalesce(array_agg(DISTINCT company ORDER BY company), '{}') FROM sensor_data.electrical"
    with db.connect() as conn:
        conn.execute(f'SET ROLE "{loader}"')
        assert conn.execute("SELECT array_agg(DISTINCT company) FROM sensor_data.tsv_channels").fetchone()[0] == [OTHERS[1]]
        assert conn.execute(seen).fetchone()[0] == [OTHERS[1]]
        conn.execute(f'SET ROLE "{auditor}"')
        assert conn.execute(seen).fetchone()[0] == [OWN, *OTHERS]
