"""Rollup tiers end to end, on plain PostgreSQL (tables) and TimescaleDB (hierarchical
continuous aggregates): backfill with progress, every downsampling method from the tiers
against raw rows over the same widened window (exact where promised, bounded where not),
the real-time tail, late rows, compressed chunks, channel windows of loaded TDMS and T302
data, energy from the tiers, what sensor.rollups shows, and errors."""
import datetime

import psycopg
import pytest

from test_tsv import copy_tree

EXACT = ["m4", "minmax", "minmax_lttb", "uniform"]
START = "2026-01-01 00:00+00"


@pytest.fixture
def rdb(flavour, make_database):
    """A database with table pw: 2 channels, a row every 10 s for 3 days (noisy sine)."""
    tsdb = flavour == "timescaledb"
    database = make_database("rollups", timescaledb=tsdb)
    with database.connect() as conn:
        conn.execute("CREATE TABLE pw (channel int NOT NULL, ts timestamptz NOT NULL, value float8)")
        if tsdb:
            conn.execute("SELECT create_hypertable('pw', 'ts', chunk_time_interval => interval '1 day')")
        conn.execute(f"""INSERT INTO pw SELECT c, timestamptz '{START}' + i * interval '10 seconds',
                                100 * c + sin(i / 100.0) * 10 + ((i * 7919 + c) % 101) / 50.0
                         FROM generate_series(0, 3 * 8640 - 1) i, generate_series(1, 2) c""")
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute("CALL sensor.enable_rollups('pw')")
        pause_policies(conn)
        conn.tsdb = tsdb
        conn.notices = notices
        yield conn


def pause_policies(conn):
    """Tests refresh by hand: the policies' background runs would race them."""
    jobs = [j for (j,) in conn.execute("SELECT refresh_job FROM sensor.rollups WHERE refresh_job IS NOT NULL").fetchall()]
    for job in jobs:
        conn.execute("SELECT alter_job(%s, scheduled => false)", (job,))


def digest(conn, args, source):
    return conn.execute(f"""SELECT count(*), md5(string_agg(d::text, ',' ORDER BY d.series, d.time))
                            FROM sensor.downsample({args}, source => '{source}') d""").fetchone()


def window(conn, frm, to, points, method, extra="series_column => 'channel'"):
    return conn.execute(f"SELECT source, tier, \"from\", \"to\", points, raw_from FROM sensor.window_source("
                        f"'pw', 'ts', 'value', '{frm}', '{to}', {points}, '{method}', {extra})").fetchone()


def test_backfill_shows_progress_and_fills_every_tier(rdb):
    assert len(rdb.notices) == 3 and all("refreshed (step" in n for n in rdb.notices), rdb.notices
    rows = rdb.execute("SELECT level, tier::text, rollup::text, kind, materialized_to FROM sensor.rollups ORDER BY level").fetchall()
    kind = "continuous aggregate" if rdb.tsdb else "table"
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (1, "00:01:00", "pw_rollup_1m", kind), (2, "00:15:00", "pw_rollup_15m", kind),
        (3, "01:00:00", "pw_rollup_1h", kind), (4, "1 day", "pw_rollup_1d", kind)]
    assert all(r[4] is not None for r in rows)
    # Whole buckets only: the bucket holding the last row may still fill up.
    counts = [rdb.execute(f"SELECT count(*) FROM pw_rollup_{t}").fetchone()[0] for t in ("1m", "15m", "1h", "1d")]
    assert counts == [2 * (3 * 1440 - 1), 2 * (3 * 96 - 1), 2 * (3 * 24 - 1), 2 * 2]


@pytest.mark.parametrize("method", EXACT + ["avg", "lttb"])
def test_every_method_from_the_tiers_against_raw_rows(rdb, method):
    source, tier, frm, to, points, raw_from = window(rdb, "2026-01-01 00:07+00", "2026-01-03 13:00+00", 100, method)
    assert source == "rollup"
    args = f"'pw', 'ts', 'value', '{frm}', '{to}', {points}, '{method}', series_column => 'channel'"
    tiers = rdb.execute(f"SELECT series, time, value FROM sensor.downsample({args}, source => 'rollups') ORDER BY 1, 2").fetchall()
    raw = rdb.execute(f"SELECT series, time, value FROM sensor.downsample({args}, source => 'raw') ORDER BY 1, 2").fetchall()
    assert len(tiers) == len(raw) > 100
    if method in EXACT:
        assert tiers == raw
    elif method == "avg":
        # The same bins; means summed in another order.
        assert [r[:2] for r in tiers] == [r[:2] for r in raw]
        assert all(abs(a[2] - b[2]) <= 1e-9 * abs(b[2]) for a, b in zip(tiers, raw))
    else:
        # LTTB over the bins' M4 candidates: every point is a real row, and the first and
        # last point of each series are the raw ones.
        for series, t, v in tiers:
            assert rdb.execute("SELECT count(*) FROM pw WHERE channel = %s AND ts = %s AND value = %s",
                               (int(series), t, v)).fetchone()[0] == 1
        for s in ("1", "2"):
            a = [r for r in tiers if r[0] == s]
            b = [r for r in raw if r[0] == s]
            assert (a[0], a[-1]) == (b[0], b[-1])


def test_short_windows_stay_on_raw_rows_and_sources_can_be_forced(rdb):
    assert window(rdb, "2026-01-01 00:00+00", "2026-01-01 01:00+00", 100, "minmax_lttb")[0] == "raw"
    # A filter on the series column only is answered by the tiers; one on another column is not.
    assert window(rdb, START, "2026-01-03 00:00+00", 100, "m4", "filter => 'channel IN (1, 2)'")[0] == "rollup"
    assert window(rdb, START, "2026-01-03 00:00+00", 100, "m4", "filter => 'value > 0'")[0] == "raw"
    assert window(rdb, START, "2026-01-03 00:00+00", 100, "m4", "filter => 'channel = (SELECT 1)'")[0] == "raw"
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        rdb.execute("SELECT * FROM sensor.downsample('pw', 'ts', 'value', '2026-01-01', '2026-01-01 01:00', 100, "
                    "series_column => 'channel', source => 'rollups')")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        rdb.execute("SELECT * FROM sensor.downsample('pw', 'ts', 'value', '2026-01-01', '2026-01-02', 100, source => 'bogus')")


def test_no_series_column_with_a_series_filter_merges_the_tier_rows(rdb):
    _, _, frm, to, points, _ = window(rdb, START, "2026-01-03 00:00+00", 200, "m4", "filter => 'channel = 2'")
    args = f"'pw', 'ts', 'value', '{frm}', '{to}', {points}, 'm4', filter => 'channel = 2'"
    assert digest(rdb, args, "rollups") == digest(rdb, args, "raw")


def test_the_tail_after_the_watermark_and_late_rows(rdb):
    # New rows after the materialized buckets come from the raw rows.
    rdb.execute("""INSERT INTO pw SELECT c, timestamptz '2026-01-04' + i * interval '10 seconds', 500 + i % 7
                   FROM generate_series(0, 8639) i, generate_series(1, 2) c""")
    source, _, frm, to, points, raw_from = window(rdb, START, "2026-01-05 00:00+00", 200, "m4")
    # (TimescaleDB's policies may have materialized the new rows already.)
    assert source == "rollup" and (rdb.tsdb or raw_from is not None)
    args = f"'pw', 'ts', 'value', '{frm}', '{to}', {points}, 'm4', series_column => 'channel'"
    assert digest(rdb, args, "rollups") == digest(rdb, args, "raw")
    # A late row inside materialized buckets: stale until refreshed, then exact again.
    rdb.execute("INSERT INTO pw VALUES (1, '2026-01-02 12:00:05+00', 9999)")
    if not rdb.tsdb:  # a policy may refresh it meanwhile
        assert digest(rdb, args, "rollups") != digest(rdb, args, "raw")
    rdb.execute("CALL sensor.refresh_rollups('pw', '2026-01-02', '2026-01-03')")
    assert digest(rdb, args, "rollups") == digest(rdb, args, "raw")


@pytest.mark.parametrize("flavour", ["timescaledb"], indirect=True)
def test_compressed_chunks_and_late_rows_into_them(rdb):
    rdb.execute("ALTER TABLE pw SET (timescaledb.compress, timescaledb.compress_segmentby = 'channel', "
                "timescaledb.compress_orderby = 'ts')")
    assert len(rdb.execute("SELECT compress_chunk(c) FROM show_chunks('pw') c").fetchall()) == 3
    _, _, frm, to, points, _ = window(rdb, START, "2026-01-03 12:00+00", 100, "minmax_lttb")
    args = f"'pw', 'ts', 'value', '{frm}', '{to}', {points}, 'minmax_lttb', series_column => 'channel'"
    assert digest(rdb, args, "rollups") == digest(rdb, args, "raw")
    rdb.execute("INSERT INTO pw VALUES (2, '2026-01-01 06:00:05+00', -9999)")
    rdb.execute("CALL sensor.refresh_rollups('pw', '2026-01-01', '2026-01-02')")
    assert digest(rdb, args, "rollups") == digest(rdb, args, "raw")


def test_energy_from_the_tiers_equals_energy_from_the_rows(rdb):
    tier, direct = rdb.execute("""
        SELECT (SELECT sensor.energy_wh(sensor.rollup(energy)) FROM pw_rollup_1d WHERE channel = 1),
               (SELECT sensor.energy_wh(sensor.energy_agg(ts, value)) FROM pw WHERE channel = 1 AND ts < '2026-01-03')""").fetchone()
    assert tier == pytest.approx(direct, rel=1e-12)
    per_hour = rdb.execute("""SELECT sensor.energy_wh(sensor.rollup(energy)) FROM pw_rollup_1h
                              WHERE channel = 2 AND bucket < '2026-01-02'""").fetchone()[0]
    assert per_hour == pytest.approx(rdb.execute(
        "SELECT sensor.energy_wh(sensor.energy_agg(ts, value)) FROM pw WHERE channel = 2 AND ts < '2026-01-02'").fetchone()[0], rel=1e-12)


def test_disable_and_errors(rdb):
    def state(sql):
        try:
            rdb.execute(sql)
        except psycopg.Error as e:
            return e.sqlstate
        return None
    assert state("CALL sensor.enable_rollups('pw')") == "42710"
    rdb.execute("CREATE TABLE other (id int, t timestamptz, v float8, w float8)")
    assert state("CALL sensor.enable_rollups('other')") == "22023"  # two value columns
    assert state("CALL sensor.enable_rollups('other', value_column => 'nope')") == "42703"
    assert state("CALL sensor.enable_rollups('other', ARRAY['1 hour', '90 minutes']::interval[], value_column => 'v')") == "22023"
    assert state("CALL sensor.enable_rollups('other', ARRAY['1 month']::interval[], value_column => 'v')") == "22023"
    assert state("CALL sensor.refresh_rollups('other')") == "42704"
    assert rdb.execute("SELECT sensor.disable_rollups('pw')").fetchone()[0] == 4
    assert rdb.execute("SELECT count(*) FROM sensor.rollups").fetchone()[0] == 0
    assert rdb.execute("SELECT to_regclass('pw_rollup_1m')").fetchone()[0] is None
    assert window(rdb, START, "2026-01-03 00:00+00", 100, "m4")[0] == "raw"


def test_drop_extension_cascade_then_again(rdb):
    """The tiers call the extension's aggregates: DROP EXTENSION ... CASCADE drops them and
    leaves their registry rows behind, which a new extension ignores and clears."""
    rdb.execute("SET client_min_messages = warning")
    rdb.execute("DROP EXTENSION sensor_analytics CASCADE")
    assert rdb.execute("SELECT count(*) FROM sensor_data.rollup_tiers").fetchone()[0] == 4
    rdb.execute("CREATE EXTENSION sensor_analytics")
    assert rdb.execute("SELECT count(*) FROM sensor.rollups").fetchone()[0] == 0
    assert window(rdb, START, "2026-01-03 00:00+00", 100, "m4")[0] == "raw"
    # The next use of the registry clears it (and drops the tables that lost their columns).
    assert rdb.execute("SELECT sensor.rollup_registry()::text").fetchone()[0] == "sensor_data.rollup_tiers"
    assert rdb.execute("SELECT count(*) FROM sensor_data.rollup_tiers").fetchone()[0] == 0
    assert rdb.execute("SELECT to_regclass('pw_rollup_1m')").fetchone()[0] is None
    assert window(rdb, START, "2026-01-03 00:00+00", 100, "m4")[0] == "raw"
    rdb.execute("CALL sensor.enable_rollups('pw', ARRAY['1 hour']::interval[])")
    assert rdb.execute("SELECT count(*) FROM sensor_data.rollup_tiers").fetchone()[0] == 1
    assert window(rdb, START, "2026-01-03 00:00+00", 20, "m4")[0] == "rollup"


def test_hostile_search_path(rdb):
    """The procedures qualify what they run: a caller's search_path with look-alike objects
    first changes nothing."""
    rdb.execute("SELECT sensor.disable_rollups('pw')")
    rdb.execute("CREATE SCHEMA evil")
    rdb.execute("CREATE FUNCTION evil.date_bin(interval, timestamptz, timestamptz) RETURNS timestamptz "
                "LANGUAGE sql AS 'SELECT NULL::timestamptz'")
    rdb.execute("CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE sql AS 'SELECT NULL::regclass'")
    rdb.execute("SET search_path = evil, public")
    rdb.execute("CALL sensor.enable_rollups('public.pw')")
    rdb.execute("RESET search_path")
    assert rdb.execute("SELECT count(*) FROM pw_rollup_1h").fetchone()[0] == 2 * (3 * 24 - 1)
    assert rdb.execute("SELECT count(*) FROM sensor.rollups").fetchone()[0] == 4


def test_channel_windows_of_loaded_data_zoom_through_the_tiers(flavour, make_database, shared_fixtures, server_dir):
    tsdb = flavour == "timescaledb"
    database = make_database("chan", timescaledb=tsdb)
    with database.connect() as conn:
        # A TDMS-like channel: 2 days at 1 Hz, written as load_tdms writes rows.
        conn.execute("""INSERT INTO sensor_data.datasets (name, source_file, sha256, bytes) VALUES ('d', '/x', repeat('a', 64), 1);
                        INSERT INTO sensor_data.channels (dataset_id, group_name, name, data_type, has_time, start_time, increment_s, n_samples)
                        VALUES (1, 'g', 'c', 'tdsTypeDoubleFloat', true, '2026-01-01', 1, 172800);
                        INSERT INTO sensor_data.samples SELECT 1, timestamptz '2026-01-01' + i * interval '1 second', sin(i / 3000.0) + (i % 13) / 100.0
                        FROM generate_series(0, 172799) i""")
        conn.execute("CALL sensor.enable_rollups('sensor_data.samples', ARRAY['1 minute', '1 hour']::interval[])")
        pause_policies(conn)
        auto = conn.execute("SELECT time, value FROM sensor.channel_window(1, '2026-01-01', '2026-01-02 12:00', points => 200, method => 'm4') ORDER BY 1").fetchall()
        frm, to, points = conn.execute(
            "SELECT \"from\", \"to\", points FROM sensor.window_source('sensor_data.samples', 'time', 'value', '2026-01-01', '2026-01-02 12:00', 200, 'm4', filter => 'channel_id = 1')").fetchone()
        raw = conn.execute("SELECT time, value FROM sensor.channel_window(1, %s, %s, points => %s, method => 'm4', source => 'raw') ORDER BY 1",
                           (frm, to, points)).fetchall()
        assert len(auto) > 100 and auto == raw
        # T302: the fixtures loaded, tiers on the electrical samples, a channel's window.
        base = copy_tree(shared_fixtures / "powerview", server_dir / "powerview")
        conn.execute("SELECT * FROM sensor.load_tsv_dir(%s)", [str(base)])
        conn.execute("CALL sensor.enable_rollups('sensor_data.electrical_samples', ARRAY['1 minute']::interval[])")
        pause_policies(conn)
        channel, company, first, last = conn.execute(
            """SELECT c.channel_id, c.company, min(s.time), max(s.time) FROM sensor_data.electrical_samples s
               JOIN sensor_data.tsv_channels c ON c.id = s.channel WHERE c.company = 'company3'
               GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1""").fetchone()
        served = conn.execute("SELECT time, value FROM sensor.channel_window(%s, %s, points => 20, method => 'minmax', source => 'rollups') ORDER BY 1",
                              (channel, company)).fetchall()
        frm, to, points = conn.execute(
            """SELECT "from", "to", points FROM sensor.window_source('sensor_data.electrical_samples', 'time', 'value', %s, %s, 20, 'minmax',
                                                  filter => format('channel = %%s', (SELECT id FROM sensor_data.tsv_channels
                                                                                     WHERE channel_id = %s AND company = %s)))""",
            (first, last + datetime.timedelta(microseconds=1), channel, company)).fetchone()
        raw = conn.execute("SELECT time, value FROM sensor.channel_window(%s, %s, \"from\" => %s, \"to\" => %s, points => %s, "
                           "method => 'minmax', source => 'raw') ORDER BY 1", (channel, company, frm, to, points)).fetchall()
        assert len(served) >= 2 and served == raw
