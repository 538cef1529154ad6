"""TDMS through SQL, checked against npTDMS.

The fixtures are generated at test time by the reader's oracle script
(crates/tdms/tests/nptdms_oracle.py): every scenario of the installed wheel's
nptdms/test/scenarios.py, the real files the wheel ships, files written by TdmsWriter,
and hand-built layouts its writer cannot make (metadata-less segments, interleaved,
big-endian, truncated, DAQmx, ...). For each, sensor.tdms_channels, sensor.tdms_properties,
sensor.tdms_read and sensor.load_tdms must give what npTDMS decodes: counts, values,
properties and times. Times may differ by rounding only (npTDMS truncates to the
microsecond, we round): at most 2 us.
"""
import datetime
import math
import os
import pathlib
import shutil
import sys
import threading
import time

import psycopg
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "crates" / "tdms" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
import nptdms_oracle as oracle  # noqa: E402  (generators and npTDMS's decoding)
import tdms_make_seed  # noqa: E402

# npTDMS class names -> LabVIEW names (what sensor.tdms_channels reports).
LABVIEW_TYPE = {
    "Int8": "tdsTypeI8", "Int16": "tdsTypeI16", "Int32": "tdsTypeI32", "Int64": "tdsTypeI64",
    "Uint8": "tdsTypeU8", "Uint16": "tdsTypeU16", "Uint32": "tdsTypeU32", "Uint64": "tdsTypeU64",
    "SingleFloat": "tdsTypeSingleFloat", "DoubleFloat": "tdsTypeDoubleFloat",
    "ExtendedFloat": "tdsTypeExtendedFloat", "SingleFloatWithUnit": "tdsTypeSingleFloatWithUnit",
    "DoubleFloatWithUnit": "tdsTypeDoubleFloatWithUnit", "ExtendedFloatWithUnit": "tdsTypeExtendedFloatWithUnit",
    "String": "tdsTypeString", "Boolean": "tdsTypeBoolean", "TimeStamp": "tdsTypeTimeStamp",
    "ComplexSingleFloat": "tdsTypeComplexSingleFloat", "ComplexDoubleFloat": "tdsTypeComplexDoubleFloat",
    "DaqMxRawData": "tdsTypeDAQmxRawData", "Void": "tdsTypeVoid",
}
NOT_LOADED = {"String", "ComplexSingleFloat", "ComplexDoubleFloat", "ExtendedFloat", "ExtendedFloatWithUnit", "Void", None}
TDMS_TO_UNIX = 2_082_844_800
UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def unix_us(seconds, fractions):
    """A TDMS timestamp in microseconds since the Unix epoch, rounded to nearest (ties up)."""
    return (seconds - TDMS_TO_UNIX) * 1_000_000 + ((fractions * 1_000_000 + (1 << 63)) >> 64)


def iso(us):
    t = UNIX_EPOCH + datetime.timedelta(microseconds=us)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def us_of(ts):
    return (ts - UNIX_EPOCH) // datetime.timedelta(microseconds=1)


def same_float(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def prop_expected(enc):
    """npTDMS's property (oracle encoding) as our jsonb value."""
    if "i" in enc:
        return enc["i"]
    if "f" in enc:
        f = float.fromhex(enc["f"])
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if "s" in enc:
        return enc["s"]
    if "b" in enc:
        return enc["b"]
    if "t" in enc:
        return iso(unix_us(*enc["t"]))
    raise AssertionError("unexpected property encoding %r" % enc)


def same_prop(ours, enc):
    want = prop_expected(enc)
    if isinstance(want, bool) or isinstance(want, str):
        return ours == want
    return isinstance(ours, (int, float)) and not isinstance(ours, bool) and float(ours) == float(want)


def expected_values(kind, values):
    """npTDMS's values as (float8 value, value_text) pairs, as sensor.tdms_read gives them."""
    out = []
    for v in values:
        if kind == "bool":
            out.append((float(v), None))
        elif kind == "timestamp":
            us = unix_us(*v)
            out.append((None, iso(us)))  # value (Unix seconds) is checked loosely
        elif kind == "object":
            out.append((None, v))
        elif kind.startswith("complex"):
            out.append((None, (float.fromhex(v[0]), float.fromhex(v[1]))))
        elif kind.startswith("float"):
            out.append((float.fromhex(v), None))
        elif kind.startswith("int") or kind.startswith("uint"):
            out.append((float(v), None))
        else:
            raise AssertionError("unexpected value kind " + kind)
    return out


def parse_complex(text):
    re_, im = text.strip("()").split(",")
    return float(re_), float(im)


@pytest.fixture(scope="module")
def cases():
    """Every oracle case, written where the server can read it, with npTDMS's decoding."""
    out = pathlib.Path(os.environ["SENSOR_E2E_DIR"]) / "server" / "tdms_cases"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(mode=0o777, parents=True)
    os.chmod(out, 0o777)
    found = []
    for param in oracle.scenarios.get_scenarios():
        oracle.write(str(out), "scenario_" + param.id, param.values[0]._get_contents(), found)
    data_dir = pathlib.Path(oracle.nptdms.__file__).parent / "test" / "data"
    real = sorted(data_dir.glob("*.tdms"))
    assert real, "the npTDMS wheel ships test files"
    for src in real:
        dst = out / ("data_" + src.stem + ".tdms")
        shutil.copyfile(src, dst)
        found.append(("data_" + src.stem, str(dst), "same"))
    oracle.handbuilt(str(out), found)
    oracle.writer_files(str(out), found)
    manifest = []
    for name, path, expect in found:
        os.chmod(path, 0o644)
        entry = oracle.dump(path)
        entry.update({"name": name, "file": path, "expect": expect})
        manifest.append(entry)
    assert len(manifest) >= 45, "expected every scenario, got %d" % len(manifest)
    return manifest


def test_every_case_decodes_like_nptdms(db, cases):
    compared = 0
    for case in cases:
        name, path = case["name"], case["file"]
        assert case["ok"], "%s: npTDMS could not read it: %s" % (name, case.get("error"))
        channels = db.execute(
            "SELECT group_name, channel_name, path, data_type, n_values, unit, has_time, start_time, increment_s, properties "
            "FROM sensor.tdms_channels(%s)", (path,)).fetchall()
        assert len(channels) == len(case["channels"]), "%s: channel count" % name
        props = db.execute("SELECT level, group_name, channel_name, name, value FROM sensor.tdms_properties(%s)", (path,)).fetchall()
        check_properties(name, case, props)
        for ours, theirs in zip(channels, case["channels"]):
            group, chan, opath, dtype, n, unit, has_time, start, increment, _ = ours
            what = "%s: %s/%s" % (name, group, chan)
            assert (group, chan, opath) == (theirs["group"], theirs["name"], theirs["path"]), "%s: channel order" % what
            assert dtype == LABVIEW_TYPE.get(theirs["data_type"]), "%s: data type %s vs %s" % (what, dtype, theirs["data_type"])
            assert n == theirs["n_values"], "%s: n_values" % what
            p = dict(theirs["properties"])
            want_unit = next((prop_expected(p[k]) for k in ("NI_UnitDescription", "unit_string")
                              if k in p and "s" in p[k]), None)
            assert unit == want_unit, "%s: unit" % what
            timed = "t" in p.get("wf_start_time", {}) and any(k in p.get("wf_increment", {}) for k in "ifb")
            assert has_time == timed, "%s: has_time" % what
            if timed:
                offset = float.fromhex(p["wf_start_offset"]["f"]) if "f" in p.get("wf_start_offset", {}) else 0.0
                want_start = unix_us(*p["wf_start_time"]["t"]) + offset * 1e6
                assert abs(us_of(start) - want_start) <= 2, "%s: start_time" % what
                assert increment == float(prop_expected(p["wf_increment"])), "%s: increment" % what
            compared += check_values(db, what, path, theirs, case["expect"])
    print("compared %d values of %d cases" % (compared, len(cases)))
    assert compared > 50_000, compared


def check_properties(name, case, rows):
    want = [("file", None, None, k, v) for k, v in case["properties"]]
    for g in case["groups"]:
        want += [("group", g["name"], None, k, v) for k, v in g["properties"]]
        want += [("channel", c["group"], c["name"], k, v)
                 for c in case["channels"] if c["group"] == g["name"] for k, v in c["properties"]]
    assert len(rows) == len(want), "%s: property count %d vs %d" % (name, len(rows), len(want))
    for ours, theirs in zip(rows, want):
        assert ours[:4] == theirs[:4], "%s: property order: %r vs %r" % (name, ours[:4], theirs[:4])
        assert same_prop(ours[4], theirs[4]), "%s: property %r: %r vs %r" % (name, ours[:4], ours[4], theirs[4])


def check_values(db, what, path, theirs, expect):
    """tdms_read of one channel against npTDMS's scaled values; returns how many were compared."""
    args = (path, theirs["group"], theirs["name"])
    query = "SELECT sample_index, time, value, value_text FROM sensor.tdms_read(%s, %s, %s)"
    if expect == "unsupported_scale":
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="RTD"):
            db.execute(query, args).fetchall()
        return 0
    if "scaled_kind" not in theirs:
        # npTDMS refuses these values (e.g. DAQmx data without scaling information): we
        # may read them (see crates/tdms docs), but never with an internal error.
        try:
            db.execute(query, args).fetchall()
        except psycopg.Error as e:
            assert not e.sqlstate.startswith("XX"), "%s: %s" % (what, e)
        return 0
    rows = db.execute(query, args).fetchall()
    kind = theirs["scaled_kind"]
    want = expected_values(kind, theirs["scaled"])
    assert len(rows) == len(want) == theirs["n_values"], "%s: value count %d vs %d" % (what, len(rows), len(want))
    f32_scaled = expect == "f32_scaling" and kind == "float32"
    for i, ((index, t, value, text), (wv, wt)) in enumerate(zip(rows, want)):
        assert index == i, what
        if kind == "timestamp":
            assert text == wt, "%s[%d]: %s vs %s" % (what, i, text, wt)
        elif kind.startswith("complex"):
            assert value is None and parse_complex(text) == wt, "%s[%d]: %s vs %s" % (what, i, text, wt)
        elif kind == "object":
            assert value is None and text == wt, "%s[%d]: %r vs %r" % (what, i, text, wt)
        elif f32_scaled:
            # npTDMS scales float32 in float32; we scale in float64.
            assert abs(value - wv) <= 1e-6 * max(1.0, abs(wv)), "%s[%d]: %r vs %r" % (what, i, value, wv)
        else:
            assert text is None and same_float(value, wv), "%s[%d]: %r vs %r" % (what, i, value, wv)
    times = theirs.get("time_us")
    if times:
        assert len(times) == min(1000, len(rows)), what
        for i, (row, want_us) in enumerate(zip(rows, times)):
            assert row[1] is not None and abs(us_of(row[1]) - want_us) <= 2, "%s: time %d" % (what, i)
    elif theirs["n_values"]:
        assert all(r[1] is None for r in rows) or "wf_start_time" in dict(theirs["properties"]), what
    return len(rows)


def test_every_case_loads_like_it_reads(cases):
    """load_tdms stores exactly tdms_read's float8 values: in sensor_data.samples (with time)
    or sensor_data.indexed_samples, one channel row each; strings and complex are skipped."""
    loaded_cases = 0
    for case in cases:
        name, path = case["name"], case["file"]
        with psycopg.connect() as conn:  # one transaction, rolled back
            try:
                report = conn.execute(
                    "SELECT dataset_id, channels_loaded, channels_skipped, samples, already_loaded FROM sensor.load_tdms(%s)",
                    (path,)).fetchone()
            except psycopg.Error as e:
                refused = case["expect"] == "unsupported_scale" or any("scaled_kind" not in c for c in case["channels"])
                assert refused and e.sqlstate in ("0A000", "22P02", "22023"), "%s: load failed: %s %s" % (name, e.sqlstate, e)
                conn.rollback()
                continue
            dataset, n_loaded, skipped, samples, already = report
            assert not already, name
            want_loaded = [c for c in case["channels"] if c["data_type"] not in NOT_LOADED]
            assert n_loaded == len(want_loaded), "%s: channels loaded" % name
            assert sorted((s["group"], s["channel"]) for s in skipped) == sorted(
                (c["group"], c["name"]) for c in case["channels"] if c["data_type"] in NOT_LOADED), name
            assert samples == sum(c["n_values"] for c in want_loaded), "%s: samples" % name
            stored = conn.execute(
                """SELECT c.group_name, c.name, c.n_samples,
                          (SELECT count(*) FROM sensor_data.samples s WHERE s.channel_id = c.id)
                        + (SELECT count(*) FROM sensor_data.indexed_samples s WHERE s.channel_id = c.id)
                   FROM sensor_data.channels c WHERE c.dataset_id = %s ORDER BY c.id""", (dataset,)).fetchall()
            assert [(g, n) for g, n, _, _ in stored] == [(c["group"], c["name"]) for c in want_loaded], name
            for (g, n, n_samples, rows), c in zip(stored, want_loaded):
                assert n_samples == rows == c["n_values"], "%s: %s/%s stored %d of %d" % (name, g, n, rows, c["n_values"])
            # Row for row, what tdms_read gives (multiset equality in both directions).
            diff = conn.execute(
                """WITH stored AS (
                       SELECT c.group_name AS g, c.name AS n, s.time AS t, NULL::bigint AS i, s.value AS v
                       FROM sensor_data.samples s JOIN sensor_data.channels c ON c.id = s.channel_id WHERE c.dataset_id = %(d)s
                       UNION ALL
                       SELECT c.group_name, c.name, NULL, s.sample_index, s.value
                       FROM sensor_data.indexed_samples s JOIN sensor_data.channels c ON c.id = s.channel_id WHERE c.dataset_id = %(d)s),
                   read AS (
                       SELECT r.group_name AS g, r.channel_name AS n, r.time AS t,
                              CASE WHEN r.time IS NULL THEN r.sample_index END AS i, r.value AS v
                       FROM sensor_data.channels c, LATERAL sensor.tdms_read(%(p)s, c.group_name, c.name) r
                       WHERE c.dataset_id = %(d)s)
                   SELECT (SELECT count(*) FROM (SELECT * FROM stored EXCEPT ALL SELECT * FROM read) a),
                          (SELECT count(*) FROM (SELECT * FROM read EXCEPT ALL SELECT * FROM stored) b)""",
                {"d": dataset, "p": path}).fetchone()
            assert diff == (0, 0), "%s: stored rows differ from tdms_read: %r" % (name, diff)
            loaded_cases += 1
            conn.rollback()
    print("loaded %d of %d cases" % (loaded_cases, len(cases)))
    assert loaded_cases >= 40, loaded_cases


def test_load_shows_progress_in_pg_stat_progress_copy(db, server_dir):
    """A second session sees the load in pg_stat_progress_copy: command, type, bytes, tuples."""
    path = server_dir / "progress.tdms"
    tdms_make_seed.write_seed(str(path), 2_000_000)
    os.chmod(path, 0o644)
    size = path.stat().st_size
    done = threading.Event()
    result = {}

    def load():
        try:
            with psycopg.connect() as conn:
                result["pid"] = conn.info.backend_pid
                result["samples"] = conn.execute("SELECT samples FROM sensor.load_tdms(%s)", (str(path),)).fetchone()[0]
                conn.rollback()
        except Exception as e:  # reported below
            result["error"] = e
        finally:
            done.set()

    loader = threading.Thread(target=load)
    loader.start()
    seen = []
    while not done.is_set():
        seen += db.execute(
            "SELECT pid, relid::regclass::text, command, type, bytes_processed, bytes_total, tuples_processed "
            "FROM pg_stat_progress_copy WHERE relid = 'sensor_data.samples'::regclass").fetchall()
        time.sleep(0.01)
    loader.join()
    assert "error" not in result, result.get("error")
    assert result["samples"] == 6_000_000
    ours = [r for r in seen if r[0] == result["pid"]]
    assert ours, "the load never showed in pg_stat_progress_copy"
    assert {r[1:4] for r in ours} == {("sensor_data.samples", "COPY FROM", "FILE")}
    assert {r[5] for r in ours} == {size}
    assert all(0 <= r[4] <= size for r in ours)
    tuples = [r[6] for r in ours]
    assert tuples == sorted(tuples) and tuples[-1] > 0, tuples[:5]
    assert db.execute("SELECT count(*) FROM pg_stat_progress_copy").fetchone()[0] == 0


def test_load_into_hypertable_when_timescaledb_is_present(db, server_dir):
    if not db.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0]:
        pytest.skip("SKIP: TimescaleDB not installed: load_tdms into a hypertable not tested")
    assert db.execute(
        "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_schema = 'sensor_data' AND hypertable_name = 'samples'"
    ).fetchone()[0] == 1
    path = server_dir / "hyper.tdms"
    tdms_make_seed.write_seed(str(path), 50_000)
    os.chmod(path, 0o644)
    with psycopg.connect() as conn:
        samples = conn.execute("SELECT samples FROM sensor.load_tdms(%s)", (str(path),)).fetchone()[0]
        assert samples == 150_000
        diff = conn.execute(
            """SELECT count(*) FROM (
                   SELECT c.name, s.time, s.value FROM sensor_data.samples s JOIN sensor_data.channels c ON c.id = s.channel_id
                   EXCEPT ALL SELECT channel_name, time, value FROM sensor.tdms_read(%s)) d""", (str(path),)).fetchone()[0]
        assert diff == 0
        conn.rollback()
