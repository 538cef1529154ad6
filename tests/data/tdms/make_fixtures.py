#!/usr/bin/env python3
"""Writes the tiny hand-made TDMS files of the golden tests (tests/pg_regress/sql/tdms.sql).

Usage: python3 make_fixtures.py [OUT_DIR]   (default: this directory)

Plain struct packing after NI's "TDMS File Format Internal Structure"; no npTDMS,
so the files are ours and reproducible. Re-run after changing a layout and commit
the outputs.
"""
import os
import random
import struct
import sys

TOC_META, TOC_RAW, TOC_NEW_OBJ_LIST, TOC_INTERLEAVED, TOC_DAQMX = 1 << 1, 1 << 3, 1 << 2, 1 << 5, 1 << 7
NO_INDEX = 0xFFFFFFFF
T_I16, T_I32, T_U8, T_F64, T_STR, T_BOOL, T_TS, T_F32 = 2, 3, 5, 10, 0x20, 0x21, 0x44, 9
UNIX_TO_TDMS = 2_082_844_800


def s(text):
    b = text.encode()
    return struct.pack("<I", len(b)) + b


def prop(name, code, value):
    if code == T_STR:
        body = s(value)
    elif code == T_TS:
        seconds, fractions = value
        body = struct.pack("<Qq", fractions, seconds)
    elif code == T_BOOL:
        body = struct.pack("<B", 1 if value else 0)
    else:
        body = struct.pack("<" + {T_I16: "h", T_I32: "i", T_U8: "B", T_F64: "d", T_F32: "f"}[code], value)
    return s(name) + struct.pack("<I", code) + body


def props(*items):
    return struct.pack("<I", len(items)) + b"".join(items)


def index(code, n, string_bytes=None):
    if code == T_STR:
        return struct.pack("<IIIQQ", 28, code, 1, n, string_bytes)
    return struct.pack("<IIIQ", 20, code, 1, n)


def obj(path, raw_index, properties=props()):
    idx = struct.pack("<I", raw_index) if isinstance(raw_index, int) else raw_index
    return s(path) + idx + properties


def meta(*objects):
    return struct.pack("<I", len(objects)) + b"".join(objects)


def segment(toc, metadata, data, next_offset=None, raw_offset=None, tag=b"TDSm"):
    nxt = len(metadata) + len(data) if next_offset is None else next_offset
    raw = len(metadata) if raw_offset is None else raw_offset
    return tag + struct.pack("<iiQQ", toc, 4713, nxt, raw) + metadata + data


def ts(iso_unix_seconds, fraction=0.0):
    return (iso_unix_seconds + UNIX_TO_TDMS, int(fraction * 2 ** 64))


def strings(values):
    offsets, acc = [], 0
    for v in values:
        acc += len(v.encode())
        offsets.append(acc)
    return struct.pack("<%dI" % len(values), *offsets) + "".join(values).encode()


START = 1_704_067_200  # 2024-01-01T00:00:00Z


def small():
    """Two groups: waveform and untimed numeric channels, a string channel, properties; two segments."""
    labels1, labels2 = ["start", "héllo"], ["it's"]
    m1 = meta(
        obj("/", NO_INDEX, props(prop("title", T_STR, "rig test"), prop("created", T_TS, ts(START, 0.25)),
                                 prop("operator", T_STR, "A. N. Other"))),
        obj("/'rig'", NO_INDEX, props(prop("location", T_STR, "bench 3"), prop("gain", T_F64, 2.5))),
        obj("/'rig'/'temp'", index(T_F64, 3), props(
            prop("wf_start_time", T_TS, ts(START)), prop("wf_increment", T_F64, 0.5),
            prop("wf_samples", T_I32, 3), prop("NI_UnitDescription", T_STR, "degC"))),
        obj("/'rig'/'count'", index(T_I32, 2), props(prop("unit_string", T_STR, "1"))),
        obj("/'rig'/'label'", index(T_STR, 2, len(strings(labels1))), props()),
        obj("/'rig'/'ok'", index(T_BOOL, 2), props()),
        obj("/'aux'/'it''s'", index(T_I16, 2), props(
            prop("wf_start_time", T_TS, ts(START + 3600)), prop("wf_increment", T_F64, 0.001),
            prop("wf_start_offset", T_F64, 10.0))),
    )
    d1 = struct.pack("<3d", 20.5, 21.0, 21.5) + struct.pack("<2i", 7, -7) + strings(labels1) + bytes([1, 0]) + \
        struct.pack("<2h", -1, 1)
    # Second segment: same objects, "reuse previous index" except for the string channel.
    m2 = meta(
        obj("/'rig'/'temp'", 0, props(prop("NI_UnitDescription", T_STR, "°C"))),
        obj("/'rig'/'count'", 0),
        obj("/'rig'/'label'", index(T_STR, 1, len(strings(labels2)))),
        obj("/'rig'/'ok'", 0),
        obj("/'aux'/'it''s'", 0),
    )
    d2 = struct.pack("<3d", 22.0, 22.5, float("nan")) + struct.pack("<2i", 8, 2147483647) + strings(labels2) + \
        bytes([0, 2]) + struct.pack("<2h", 32767, -32768)
    return (segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST, m1, d1) +
            segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST, m2, d2))


def interleaved():
    """LabVIEW streaming: metadata once, then segments of interleaved rows without metadata."""
    m = meta(obj("/'g'/'a'", index(T_I32, 2), props(prop("wf_start_time", T_TS, ts(START)),
                                                    prop("wf_increment", T_F64, 1.0))),
             obj("/'g'/'b'", index(T_F32, 2)))
    rows = lambda k: b"".join(struct.pack("<if", 10 * k + r, k + r / 4) for r in range(2))
    out = segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST | TOC_INTERLEAVED, m, rows(0))
    for k in range(1, 3):
        out += segment(TOC_RAW | TOC_INTERLEAVED, b"", rows(k))
    return out


def truncated():
    """A complete segment, then one that was never closed (LabVIEW crashed while writing)."""
    m = meta(obj("/'g'/'x'", index(T_I32, 2)))
    return (segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST, m, struct.pack("<2i", 1, 2)) +
            segment(TOC_RAW, b"", struct.pack("<3i", 3, 4, 5), next_offset=0xFFFFFFFFFFFFFFFF))


def rtd_scale():
    """DAQmx raw data whose scaling is an RTD scale (not supported)."""
    scaler = struct.pack("<IIIII", T_I16, 0, 0, 0, 0)
    daqmx_index = (struct.pack("<II", 0x1269, NO_INDEX) + struct.pack("<IQ", 1, 2) + struct.pack("<I", 1) + scaler +
                   struct.pack("<I", 1) + struct.pack("<I", 2))
    m = meta(obj("/'g'/'rtd'", daqmx_index, props(prop("NI_Number_Of_Scales", T_I32, 2),
                                                 prop("NI_Scale[1]_Scale_Type", T_STR, "RTD"))))
    return segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST | TOC_DAQMX, m, struct.pack("<2h", 5, 6))


def absurd_count():
    """Metadata claiming 4 billion objects in a 40-byte file."""
    return segment(TOC_META | TOC_NEW_OBJ_LIST, struct.pack("<I", 0xFFFFFFFF), b"")


def raw_offset_past_end():
    """A closed segment whose raw data offset points past its end."""
    m = meta(obj("/'g'/'x'", index(T_I32, 1)))
    return segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST, m, struct.pack("<i", 1), raw_offset=1 << 40)


def data_past_end():
    """Metadata announcing 1000 values; the file holds one."""
    m = meta(obj("/'g'/'x'", index(T_I32, 1000)))
    return segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST, m, struct.pack("<i", 1))


def time_overflow():
    """Sample 1 of a waveform channel lies past the year 294276 (timestamptz's end); sample 0 does not."""
    m = meta(obj("/'g'/'first'", index(T_I32, 3)),
             obj("/'g'/'far'", index(T_F64, 3), props(prop("wf_start_time", T_TS, ts(START)),
                                                      prop("wf_increment", T_F64, 1e13))))
    return segment(TOC_META | TOC_RAW | TOC_NEW_OBJ_LIST, m, struct.pack("<3i", 1, 2, 3) + struct.pack("<3d", 1, 2, 3))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = random.Random(3)
    files = {
        "small.tdms": small(),
        "interleaved.tdms": interleaved(),
        "truncated.tdms": truncated(),
        "rtd_scale.tdms": rtd_scale(),
        "empty.tdms": b"",
        "random.tdms": bytes(rng.randrange(256) for _ in range(64)),
        "wrong_tag.tdms": b"TDSh" + small()[4:],
        "absurd_count.tdms": absurd_count(),
        "raw_offset_past_end.tdms": raw_offset_past_end(),
        "data_past_end.tdms": data_past_end(),
        "time_overflow.tdms": time_overflow(),
    }
    for name, content in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(content)


if __name__ == "__main__":
    main()
