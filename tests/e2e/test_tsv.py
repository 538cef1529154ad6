"""T302 (PowerView) TSV loading end to end: every shared fixture against an independent
Python reading of the format, file moves at commit, the upload-hook one-liner, a Grafana
role logging in, and two sessions loading the same file at once."""
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import threading

import psycopg
import pytest

FIXTURES = [
    "company1/campaign1/02001084/T302_251012_031720.tsv",
    "company2/format_v003/02001311/T302_260122_162658_UTC.tsv",
    "company3/base/02001283/T202_251022_121951.tsv",
    "company3/base/02001283/T302_251024_204336.tsv",
    "company3/base/02001283/T302_260109_102002.tsv",
    "company3/base/02001283/T302_260109_120045.tsv",
    "company3/base/02001283/T302_260109_133915.tsv",
]


def expected_points(path: pathlib.Path):
    """The points a T302 file holds, read independently of the Rust parser: {(channel_id,
    utc time): value}, the later row winning; all-zero rows skipped. None when the file is not
    a loadable T302 file."""
    lines = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    utc_offset = datetime.timezone.utc
    if i < len(lines) and lines[i].strip() == "START_HEADER":
        header = json.loads(lines[i + 1])
        assert header.get("DataTimeSettings") == "UTC"  # the only V003 fixture is UTC
        while lines[i].strip() != "START_DATA":
            i += 1
        i += 1
    if i + 1 >= len(lines):
        return None
    serials = lines[i].rstrip("\t").split("\t")
    labels = lines[i + 1].rstrip("\t").split("\t")
    if labels[0] not in ("MV_T302_V002", "MV_T302_V003"):
        return None
    master = serials[0]
    names = [label.rsplit(" ", 1)[0] for label in labels[1:]]
    three_phase = all(f"Ph {k}" in names for k in (1, 2, 3))
    counters, ids = {}, []
    for serial in serials[1:]:
        counters[serial] = counters.get(serial, 0) + 1
        n = counters[serial]
        if serial == master:
            volts = 3 if three_phase else 1
            label = f"U{n}" if n <= volts else f"Ch{n - volts}"
            ids.append(f"M{master}_{label}")
        else:
            ids.append(f"M{master}_S{serial}_Ch{n}")
    points = {}
    data = lines[i + 2:]
    for k, line in enumerate(data):
        if line.strip() == "END_DATA":
            break
        if not line.strip():
            continue
        cells = line.split("\t")
        # A last line without newline and with missing cells is a cut-off write.
        if k == len(data) - 1 and len(cells) < len(ids) + 1:
            continue
        try:
            t = datetime.datetime.strptime(cells[0], "%d/%m/%y %H:%M:%S").replace(tzinfo=utc_offset)
        except ValueError:
            continue
        values = cells[1:len(ids) + 1]
        if len(values) == len(ids) and all(v == "0" for v in values):
            continue
        for channel, v in zip(ids, values):
            points[(channel, t)] = float(v)
    return points


def copy_tree(source: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    """A copy the server (running as postgres) can read, write and move files in."""
    shutil.copytree(source, target)
    for root, dirs, files in os.walk(target):
        os.chmod(root, 0o777)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666)
    return target


@pytest.fixture
def clean(db):
    db.execute("TRUNCATE sensor_data.electrical_samples, sensor_data.tsv_channels, sensor_data.tsv_files, sensor_data.tsv_runs, sensor_data.company_access")
    yield db


def test_every_fixture_matches_an_independent_reading(clean, shared_fixtures, server_dir):
    base = copy_tree(shared_fixtures / "powerview", server_dir / "powerview")
    run = clean.execute("SELECT loaded, no_data, unsupported, failed FROM sensor.load_tsv_dir(%s)", [str(base)]).fetchone()
    assert run == (4, 2, 1, 0)
    for name in FIXTURES:
        company, campaign = name.split("/")[:2]
        status = clean.execute("SELECT status FROM sensor_data.tsv_files WHERE path = %s", [str(base / name)]).fetchone()[0]
        expected = expected_points(base / name)
        if expected is None or not expected:
            assert status in ("unsupported", "no_data"), name
            continue
        assert status == "loaded", name
        rows = clean.execute(
            "SELECT channel_id, time, value FROM sensor_data.electrical WHERE company = %s AND campaign = %s",
            [company, campaign],
        ).fetchall()
        got = {(c, t): v for c, t, v in rows}
        # The company3 files share their channels: compare this file's times only.
        times = {t for (_, t) in expected}
        got = {k: v for k, v in got.items() if k[1] in times}
        assert len(got) == len(expected), name
        assert got == expected, name


def test_move_files_happens_at_commit_only(db, shared_fixtures, server_dir):
    base = copy_tree(shared_fixtures / "powerview", server_dir / "powerview")
    device = base / "company1/campaign1/02001084"
    (device / "T302_zz_bad.tsv").write_text("02001084\t02001084\nMV_T302_V002\tPh 1 V\tVoie1 W\n")
    (device / "T302_zz_uploading.tsv").write_text(
        'START_HEADER\n{"DataTimeSettings":"UTC"}\nEND_HEADER\nSTART_DATA\n'
        "02001084\t02001084\nMV_T302_V003\tPh 1 V\n01/02/26 00:00:00\t230.0\n"
    )
    db.execute("TRUNCATE sensor_data.electrical_samples, sensor_data.tsv_channels, sensor_data.tsv_files, sensor_data.tsv_runs")

    # Rolled back: nothing moves.
    with db.transaction(force_rollback=True):
        db.execute("SELECT * FROM sensor.load_tsv_dir(%s, move_files => true)", [str(base)])
    assert (base / FIXTURES[0]).exists()
    # (The folder is made when a move is queued, so that one that cannot happen is known.)
    assert not (device / "parsed").exists() or not any((device / "parsed").iterdir())

    run = db.execute(
        "SELECT loaded, no_data, unsupported, deferred, failed FROM sensor.load_tsv_dir(%s, move_files => true)", [str(base)]
    ).fetchone()
    assert run == (4, 2, 1, 1, 1)
    for name in FIXTURES:
        source = base / name
        folder = "error" if "T202" in name else "parsed"
        assert not source.exists(), name
        assert (source.parent / folder / source.name).exists(), name
    assert (device / "error" / "T302_zz_bad.tsv").exists()
    assert (device / "T302_zz_uploading.tsv").exists()
    moved = db.execute("SELECT count(*) FROM sensor_data.tsv_files WHERE moved_to IS NOT NULL").fetchone()[0]
    assert moved == 8

    # Once complete, the deferred upload loads and moves on the next run.
    with open(device / "T302_zz_uploading.tsv", "a") as f:
        f.write("END_DATA\n")
    run = db.execute("SELECT files_total, loaded, points FROM sensor.load_tsv_dir(%s, move_files => true)", [str(base)]).fetchone()
    assert run == (1, 1, 1)
    assert (device / "parsed" / "T302_zz_uploading.tsv").exists()


def test_upload_hook_one_liner(db, shared_fixtures, server_dir):
    base = copy_tree(shared_fixtures / "powerview", server_dir / "powerview")
    path = base / FIXTURES[0]
    db.execute("TRUNCATE sensor_data.electrical_samples, sensor_data.tsv_channels, sensor_data.tsv_files, sensor_data.tsv_runs")
    out = subprocess.run(
        ["psql", "-X", "-At", "-c",
         f"SELECT status, points FROM sensor.load_tsv('{path}', base_dir => '{base}')"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    assert out == "loaded|4290"
    count = db.execute("SELECT count(*) FROM sensor_data.electrical WHERE device_master_sn = '02001084'").fetchone()[0]
    assert count == 4290


def test_grafana_role_sees_only_its_company(clean, shared_fixtures, server_dir):
    base = copy_tree(shared_fixtures / "powerview", server_dir / "powerview")
    clean.execute("SELECT * FROM sensor.load_tsv_dir(%s)", [str(base)])
    clean.execute("DROP ROLE IF EXISTS e2e_grafana_c3")
    clean.execute("CREATE ROLE e2e_grafana_c3 LOGIN")
    try:
        clean.execute("SELECT sensor.grant_company_access('e2e_grafana_c3', 'company3')")
        total = clean.execute("SELECT count(*) FROM sensor_data.electrical WHERE company = 'company3'").fetchone()[0]
        with psycopg.connect(user="e2e_grafana_c3", autocommit=True) as grafana:
            seen = grafana.execute(
                "SELECT company, count(*) FROM sensor_data.electrical GROUP BY company"
            ).fetchall()
            assert seen == [("company3", total)]
            # A Grafana time-series query: one channel, one time window.
            rows = grafana.execute(
                "SELECT time, value FROM sensor_data.electrical WHERE channel_id = 'M02001283_U1' "
                "AND time BETWEEN '2025-12-05 03:20:00+00' AND '2025-12-05 04:00:00+00' ORDER BY time"
            ).fetchall()
            assert [v for _, v in rows] == [253.81, 253.88, 254.06, 253.82, 253.63]
            assert grafana.execute("SELECT count(*) FROM sensor_data.electrical_channels WHERE company <> 'company3'").fetchone()[0] == 0
            for table in ["tsv_runs", "tsv_channels", "electrical_samples"]:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    grafana.execute(f"SELECT count(*) FROM sensor_data.{table}")
    finally:
        clean.execute("DROP OWNED BY e2e_grafana_c3")
        clean.execute("DROP ROLE e2e_grafana_c3")


def test_two_sessions_loading_the_same_file(clean, shared_fixtures, server_dir):
    base = copy_tree(shared_fixtures / "powerview", server_dir / "powerview")
    path = str(base / FIXTURES[4])
    results = []

    def load():
        with psycopg.connect(autocommit=True) as conn:
            results.append(conn.execute(
                "SELECT status FROM sensor.load_tsv(%s, base_dir => %s)", [path, str(base)]
            ).fetchone()[0])

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate", "loaded"]
    assert clean.execute("SELECT count(*) FROM sensor_data.electrical_samples").fetchone()[0] == 14778
