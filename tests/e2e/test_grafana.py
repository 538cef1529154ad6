"""The provisioned Grafana dashboards (grafana/dashboards/*.json), without Grafana: every
panel's SQL, with its template variables resolved and Grafana's macros expanded as the
PostgreSQL data source expands them, runs against a database loaded with the fixtures (T302
files, a TDMS dataset, status events, quality scans, a measurements table with rollup tiers)
and returns rows of the shape its panel needs (time first for time series)."""
import datetime
import json
import pathlib
import re

import pytest

from test_tsv import copy_tree

SOURCE = pathlib.Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((SOURCE / "grafana" / "dashboards").glob("*.json"))
UTC = datetime.timezone.utc
# The time range each dashboard is looked at with in this test (the fixtures' times).
RANGES = {
    "sensor-t302-company": ("2025-01-01", "2026-03-01"),
    "sensor-tdms-explorer": ("2025-08-03", "2025-08-05"),
    "sensor-availability": ("2026-01-01", "2026-01-08"),
    "sensor-quality": ("2026-01-01", "2026-01-31"),
    # Its T302 panel shows company1's first power channel (2025-08-03).
    "sensor-analytics-downsampling": ("2025-08-03", "2025-08-05"),
}
MAX_DATA_POINTS = 1000


def quote(value):
    return "'" + str(value).replace("'", "''") + "'"


def expand(sql, variables, frm, to):
    """Grafana's PostgreSQL macros, then $var / ${var} (multi-value: quoted, comma-separated)."""
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    span_ms = int((to - frm).total_seconds() * 1000)
    sql = sql.replace("$__timeFrom()", quote(iso(frm))).replace("$__timeTo()", quote(iso(to)))
    sql = re.sub(r"\$__timeFilter\(([^)]*)\)", lambda m: f"{m.group(1)} BETWEEN {quote(iso(frm))} AND {quote(iso(to))}", sql)
    sql = sql.replace("$__interval_ms", str(max(1, span_ms // MAX_DATA_POINTS)))
    sql = sql.replace("$__from", str(int(frm.timestamp() * 1000))).replace("$__to", str(int(to.timestamp() * 1000)))
    assert "$__" not in sql, sql

    def var(m):
        name = m.group(1) or m.group(2)
        value = variables[name]
        return ",".join(quote(v) for v in value) if isinstance(value, list) else str(value)
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", var, sql)


def resolve(conn, dashboard, frm, to):
    """Each variable's value, as Grafana picks it on first load: a textbox's or custom
    variable's current value, a query variable's first value (all of them when multi)."""
    values = {}
    for v in dashboard["templating"]["list"]:
        if v["type"] in ("textbox", "custom"):
            values[v["name"]] = v["current"]["value"]
            continue
        assert v["type"] == "query", v
        rows = conn.execute(expand(v["query"], values, frm, to)).fetchall()
        assert rows, f"variable {v['name']} of {dashboard['uid']} has no value"
        columns = [c.name for c in conn.execute(expand(v["query"], values, frm, to)).description]
        at = columns.index("__value") if "__value" in columns else 0
        picked = [r[at] for r in rows]
        values[v["name"]] = picked if v.get("multi") else picked[0]
    return values


@pytest.fixture(scope="module")
def grafana_db(request, shared_fixtures, tmp_path_factory):
    """A database with what the dashboards show (TimescaleDB when available)."""
    import os
    import psycopg
    from conftest import timescaledb_available
    name = "e2e_grafana"
    with psycopg.connect(dbname="postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    conn = psycopg.connect(dbname=name, autocommit=True)
    conn.execute("SET client_min_messages = warning")
    if timescaledb_available():
        conn.execute("CREATE EXTENSION timescaledb")
    conn.execute("CREATE EXTENSION sensor_analytics")
    server = pathlib.Path(os.environ["SENSOR_E2E_DIR"]) / "server" / "grafana"
    server.mkdir(mode=0o777, exist_ok=True)
    base = copy_tree(shared_fixtures / "powerview", server / "powerview")
    assert conn.execute("SELECT loaded FROM sensor.load_tsv_dir(%s)", [str(base)]).fetchone()[0] == 4
    conn.execute("""
        INSERT INTO sensor_data.datasets (name, source_file, sha256, bytes) VALUES ('bench run 7', '/data/run7.tdms', repeat('f', 64), 1);
        INSERT INTO sensor_data.channels (dataset_id, group_name, name, unit, data_type, has_time, start_time, increment_s, n_samples)
        SELECT d.id, 'g', 'pressure', 'bar', 'tdsTypeDoubleFloat', true, '2025-08-03', 1, 172800 FROM sensor_data.datasets d;
        INSERT INTO sensor_data.samples SELECT c.id, timestamptz '2025-08-03' + i * interval '1 second', sin(i / 3000.0)
        FROM sensor_data.channels c, generate_series(0, 172799) i;
        CREATE TABLE public.measurements (sensor_id int NOT NULL, time timestamptz NOT NULL, value float8);
        INSERT INTO public.measurements SELECT s, timestamptz '2025-08-03' + i * interval '10 seconds', sin(i / 500.0) * s
        FROM generate_series(1, 3) s, generate_series(0, 17279) i;
        CREATE TABLE public.measurements_1m AS
        SELECT sensor_id, date_trunc('minute', time) AS bucket, sensor.m4_summary(time, value) AS summary
        FROM public.measurements GROUP BY 1, 2""")
    # The availability and quality dashboards' tables, as the demo makes them.
    conn.execute((SOURCE / "grafana" / "sample_tables.sql").read_text())
    conn.execute("CALL sensor.enable_rollups('sensor_data.samples')")
    conn.execute("CALL sensor.enable_rollups('sensor_data.electrical_samples')")
    yield conn
    conn.close()
    with psycopg.connect(dbname="postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_there_is_a_dashboard_per_use_case():
    uids = {json.loads(p.read_text())["uid"] for p in DASHBOARDS}
    assert uids == set(RANGES)
    # Template variables instead of hard-coded ids: no panel names a literal channel id.
    for p in DASHBOARDS:
        d = json.loads(p.read_text())
        for panel in d["panels"]:
            sql = panel["targets"][0]["rawSql"]
            assert not re.search(r"channel_window\(\d", sql) and "M0200" not in sql, (d["uid"], panel["title"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_runs_and_has_its_panel_types_shape(grafana_db, path):
    dashboard = json.loads(path.read_text())
    frm, to = (datetime.datetime.fromisoformat(t).replace(tzinfo=UTC) for t in RANGES[dashboard["uid"]])
    variables = resolve(grafana_db, dashboard, frm, to)
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "sensor-analytics"
        for target in panel["targets"]:
            sql = expand(target["rawSql"], variables, frm, to)
            cur = grafana_db.execute(sql)
            rows = cur.fetchall()
            columns = [c.name for c in cur.description]
            assert rows, f"{dashboard['uid']} / {panel['title']}: no rows\n{sql}"
            first = rows[0]
            if target["format"] == "time_series" or panel["type"] == "state-timeline":
                assert isinstance(first[0], datetime.datetime), (panel["title"], columns)
                # A time series has a number to plot (a state timeline, a state).
                if panel["type"] != "state-timeline":
                    assert any(isinstance(v, (int, float)) or v is None for v in first[1:]), (panel["title"], first)
                times = [r[0] for r in rows]
                assert times == sorted(times), f"{panel['title']}: time not ascending"
            else:
                assert len(columns) >= 2, (panel["title"], columns)
