"""Generate TDMS fixtures and dump what npTDMS decodes from them.

Usage: python nptdms_oracle.py OUT_DIR

Writes OUT_DIR/<case>.tdms and OUT_DIR/manifest.json. The manifest holds, per
case, npTDMS's decoding with exact encodings: floats as float.hex(), integers as
ints, timestamps as [seconds, fractions], bools as 0/1.
"""
import glob
import json
import os
import shutil
import struct
import sys
import types as pytypes

import numpy as np

# nptdms.test.* import pytest for decorators only; a stub is enough when pytest is absent.
try:
    import pytest  # noqa: F401
except ImportError:
    stub = pytypes.ModuleType("pytest")

    class _Param:
        def __init__(self, *values, id=None):
            self.values = values
            self.id = id

    class _Mark:
        def __getattr__(self, name):
            def deco(*a, **k):
                if len(a) == 1 and callable(a[0]) and not k:
                    return a[0]
                return lambda f: f
            return deco

    stub.param = lambda *values, id=None: _Param(*values, id=id)
    stub.mark = _Mark()
    stub.fixture = lambda *a, **k: (a[0] if a and callable(a[0]) else (lambda f: f))
    stub.raises = None
    sys.modules["pytest"] = stub

import nptdms
from nptdms import TdmsFile, TdmsWriter, RootObject, GroupObject, ChannelObject
from nptdms.timestamp import TdmsTimestamp
from nptdms.test import scenarios
from nptdms.test.util import (
    GeneratedFile, hexlify_value, string_hexlify, segment_objects_metadata,
    channel_metadata, channel_metadata_with_no_data, channel_metadata_with_repeated_structure,
    root_metadata, group_metadata, hex_properties)


def enc_float(x):
    return float(x).hex()


def enc_prop(v):
    if isinstance(v, TdmsTimestamp):
        return {"t": [int(v.seconds), int(v.second_fractions)]}
    if isinstance(v, (bool, np.bool_)):
        return {"b": bool(v)}
    if isinstance(v, (int, np.integer)):
        return {"i": int(v)}
    if isinstance(v, (float, np.floating)):
        return {"f": enc_float(v)}
    if isinstance(v, str):
        return {"s": v}
    return {"other": repr(v)}


def enc_values(arr):
    """Encode an array of channel values exactly; returns (kind, values)."""
    if arr is None:
        return None, None
    if isinstance(arr, dict):
        return "dict", {str(k): enc_values(v) for k, v in arr.items()}
    a = np.asarray(arr) if not hasattr(arr, "seconds") else arr
    if hasattr(arr, "seconds") and hasattr(arr, "second_fractions"):
        return "timestamp", [[int(s), int(f)] for s, f in zip(arr.seconds, arr.second_fractions)]
    dt = a.dtype
    if dt.kind == "b":
        return "bool", [int(bool(x)) for x in a]
    if dt.kind in "iu":
        return str(dt), [int(x) for x in a]
    if dt.kind == "f":
        return str(dt), [enc_float(x) for x in a]
    if dt.kind == "c":
        return str(dt), [[enc_float(x.real), enc_float(x.imag)] for x in a]
    if dt.kind == "M":
        return "datetime64us", [int(x) for x in a.astype("datetime64[us]").astype(np.int64)]
    if dt.kind == "O":
        return "object", [str(x) for x in a]
    if dt.kind == "V":
        return "void", [None for _ in a]
    return "unknown:" + str(dt), [repr(x) for x in a]


def dump(path, max_values=None):
    out = {"ok": True}
    try:
        f = TdmsFile.read(path, raw_timestamps=True)
    except Exception as e:  # npTDMS refuses the file
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    out["properties"] = [[k, enc_prop(v)] for k, v in f.properties.items()]
    out["groups"] = []
    out["channels"] = []
    for g in f.groups():
        out["groups"].append({"name": g.name, "properties": [[k, enc_prop(v)] for k, v in g.properties.items()]})
        for c in g.channels():
            ch = {
                "group": g.name,
                "name": c.name,
                "path": c.path,
                "data_type": None if c.data_type is None else c.data_type.__name__,
                "n_values": len(c),
                "properties": [[k, enc_prop(v)] for k, v in c.properties.items()],
            }
            try:
                data = c[:]
                if max_values is not None:
                    data = data[:max_values]
                ch["scaled_kind"], ch["scaled"] = enc_values(data)
            except Exception as e:
                ch["scaled_error"] = "%s: %s" % (type(e).__name__, e)
            try:
                if c.scaler_data_types:
                    ch["raw_kind"], ch["raw"] = enc_values(dict(c.raw_scaler_data))
                else:
                    ch["raw_kind"], ch["raw"] = enc_values(c.raw_data)
            except Exception as e:
                ch["raw_error"] = "%s: %s" % (type(e).__name__, e)
            try:
                if "wf_start_time" in c.properties and "wf_increment" in c.properties and len(c) > 0:
                    props = dict(c.properties)
                    props.setdefault("wf_start_offset", 0.0)
                    c.properties = props
                    t = c.time_track(absolute_time=True, accuracy="us")
                    t = np.asarray(t)[:1000]
                    ch["time_us"] = [int(x) for x in t.astype("datetime64[us]").astype(np.int64)]
            except Exception as e:
                ch["time_error"] = "%s: %s" % (type(e).__name__, e)
            out["channels"].append(ch)
    return out


def ts_hex(seconds, fractions, big=False):
    if big:
        return hexlify_value(">q", seconds) + hexlify_value(">Q", fractions)
    return hexlify_value("<Q", fractions) + hexlify_value("<q", seconds)


def prop_hex(name, type_code, value_hex):
    return hexlify_value("<I", len(name.encode())) + string_hexlify(name) + hexlify_value("<I", type_code) + value_hex


def str_hex(s):
    return hexlify_value("<I", len(s.encode())) + string_hexlify(s)


def props_hex(*props):
    return hexlify_value("<I", len(props)) + "".join(props)


def obj_hex(path, index_hex, props=None):
    return (hexlify_value("<I", len(path.encode())) + string_hexlify(path) + index_hex +
            (props if props is not None else "00 00 00 00"))


def idx_hex(type_code, n):
    return "14 00 00 00" + hexlify_value("<I", type_code) + "01 00 00 00" + hexlify_value("<Q", n)


def daqmx_scaler(type_id, byte_offset, scale_id=0, buffer=0):
    return (hexlify_value("<I", type_id) + hexlify_value("<I", buffer) + hexlify_value("<I", byte_offset) +
            "00 00 00 00" + hexlify_value("<I", scale_id))


def digital_scaler(type_id, bit_offset, scale_id=0, buffer=0):
    return (hexlify_value("<I", type_id) + hexlify_value("<I", buffer) + hexlify_value("<I", bit_offset) +
            "00" + hexlify_value("<I", scale_id))


def daqmx_obj(path, n, widths, scalers, props=None, digital=False, data_type=0xFFFFFFFF):
    return (hexlify_value("<I", len(path.encode())) + string_hexlify(path) +
            ("6A 12 00 00" if digital else "69 12 00 00") + hexlify_value("<I", data_type) +
            "01 00 00 00" + hexlify_value("<Q", n) + hexlify_value("<I", len(scalers)) + "".join(scalers) +
            hexlify_value("<I", len(widths)) + "".join(hexlify_value("<I", w) for w in widths) +
            (props if props is not None else "00 00 00 00"))


def seg_bytes(toc, metadata_hex, data, big=False, incomplete=False, next_override=None):
    """Build one segment (supports big-endian lead-ins, unlike GeneratedFile)."""
    meta = bytes.fromhex(metadata_hex.replace(" ", "").replace("\n", ""))
    mask = 0
    for t in toc:
        mask |= nptdms.common.toc_properties[t]
    e = ">" if big else "<"
    lead = b"TDSm" + struct.pack("<i", mask) + struct.pack(e + "i", 4713)
    nxt = len(meta) + len(data) if next_override is None else next_override
    lead += (b"\xff" * 8 if incomplete else struct.pack(e + "Q", nxt)) + struct.pack(e + "Q", len(meta))
    return lead + meta + data


def write(out_dir, name, content, cases, expect="same"):
    p = os.path.join(out_dir, name + ".tdms")
    with open(p, "wb") as f:
        f.write(content)
    cases.append((name, p, expect))


def handbuilt(out_dir, cases):
    i32 = lambda *v: struct.pack("<%di" % len(v), *v)
    G = "/'Group'"
    # 1. LabVIEW streaming: metadata once, then segments with kTocRawData only.
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"),
                  segment_objects_metadata(root_metadata(), group_metadata(),
                                           obj_hex(G + "/'a'", idx_hex(3, 2), props_hex(
                                               prop_hex("wf_start_time", 0x44, ts_hex(3_600_000_000, 1 << 63)),
                                               prop_hex("wf_increment", 10, hexlify_value("<d", 0.25)),
                                               prop_hex("NI_UnitDescription", 0x20, str_hex("V")))),
                                           obj_hex(G + "/'b'", idx_hex(10, 2))),
                  i32(1, 2) + struct.pack("<2d", 0.5, -1.5))
    for k in range(5):
        s += seg_bytes(("kTocRawData",), "", i32(10 * k, 10 * k + 1) + struct.pack("<2d", k + 0.125, -k))
    write(out_dir, "hb_metadata_less_streaming", s, cases)

    # 2. Interleaved with mixed widths, chunks repeated, then metadata-less repeats.
    meta = segment_objects_metadata(obj_hex(G + "/'i8'", idx_hex(1, 3)), obj_hex(G + "/'f64'", idx_hex(10, 3)),
                                    obj_hex(G + "/'u16'", idx_hex(6, 3)), obj_hex(G + "/'ts'", idx_hex(0x44, 3)))
    rows = b""
    for r in range(9):  # three chunks of three rows
        rows += struct.pack("<b", r - 4) + struct.pack("<d", r * 1.1) + struct.pack("<H", 65000 + r) + \
            bytes.fromhex(ts_hex(3_000_000_000 + r, r * 12345678901234567))
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList", "kTocInterleavedData"), meta, rows)
    s += seg_bytes(("kTocRawData", "kTocInterleavedData"), "", rows[: 2 * len(rows) // 3])
    write(out_dir, "hb_interleaved_mixed_widths", s, cases)

    # 3. Big-endian, contiguous and interleaved, with timestamp property and data.
    def be_idx(type_code, n):
        return "00 00 00 14" + hexlify_value(">I", type_code) + "00 00 00 01" + hexlify_value(">Q", n)

    def be_obj(path, index_hex, props=None):
        return hexlify_value(">I", len(path)) + string_hexlify(path) + index_hex + (props or "00 00 00 00")

    be_props = (hexlify_value(">I", 2) +
                hexlify_value(">I", 13) + string_hexlify("wf_start_time") + hexlify_value(">I", 0x44) +
                ts_hex(3_500_000_000, 7 << 60, big=True) +
                hexlify_value(">I", 12) + string_hexlify("wf_increment") + hexlify_value(">I", 10) +
                hexlify_value(">d", 0.001))
    meta = hexlify_value(">I", 3) + be_obj(G + "/'x'", be_idx(3, 3), be_props) + be_obj(G + "/'y'", be_idx(9, 3)) + \
        be_obj(G + "/'t'", be_idx(0x44, 1))
    data = struct.pack(">3i", 7, -8, 9) + struct.pack(">3f", 1.5, 2.5, -3.25) + bytes.fromhex(ts_hex(3_400_000_000, 99, big=True))
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList", "kTocBigEndian"), meta, data, big=True)
    meta2 = hexlify_value(">I", 2) + be_obj(G + "/'x'", "00 00 00 00") + be_obj(G + "/'y'", "00 00 00 00")
    inter = b"".join(struct.pack(">i", 100 + r) + struct.pack(">f", r / 4) for r in range(3))
    s += seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList", "kTocBigEndian", "kTocInterleavedData"), meta2, inter, big=True)
    write(out_dir, "hb_big_endian", s, cases)

    # 4. Truncated last segment: declared size past EOF, and an unclosed one (0xFF..).
    meta = segment_objects_metadata(obj_hex(G + "/'a'", idx_hex(3, 4)), obj_hex(G + "/'b'", idx_hex(5, 4)))
    full = i32(1, 2, 3, 4) + bytes([5, 6, 7, 8])
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, full)
    s += seg_bytes(("kTocRawData",), "", full * 3, next_override=len(full) * 3)[: 28 + len(full) + 6]
    write(out_dir, "hb_truncated_past_eof", s, cases)
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, full)
    s += seg_bytes(("kTocRawData",), "", full * 2 + i32(9, 10, 11), incomplete=True)
    write(out_dir, "hb_unclosed_last_segment", s, cases)
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, full)
    s += seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, b"", incomplete=True)[:40]
    write(out_dir, "hb_truncated_metadata", s, cases)

    # 5. Raw data index 0x00000000 reuse, incremental metadata, properties overriding.
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"),
                  segment_objects_metadata(obj_hex(G, "FF FF FF FF", props_hex(prop_hex("gp", 3, hexlify_value("<i", 1)))),
                                           obj_hex(G + "/'a'", idx_hex(3, 2), props_hex(prop_hex("p1", 0x20, str_hex("first")),
                                                                                        prop_hex("p2", 10, hexlify_value("<d", 1.0)))),
                                           obj_hex(G + "/'b'", idx_hex(2, 1))),
                  i32(1, 2) + struct.pack("<h", -3))
    s += seg_bytes(("kTocMetaData", "kTocRawData"),
                   segment_objects_metadata(obj_hex(G + "/'a'", "00 00 00 00", props_hex(prop_hex("p1", 0x20, str_hex("second")))),
                                            obj_hex(G + "/'c'", idx_hex(0x21, 3))),
                   i32(3, 4) + struct.pack("<h", -4) + bytes([0, 2, 1]))
    s += seg_bytes(("kTocMetaData", "kTocRawData"),
                   segment_objects_metadata(obj_hex(G + "/'b'", "FF FF FF FF")),
                   i32(5, 6) + bytes([1, 0, 0]))
    s += seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"),
                   segment_objects_metadata(obj_hex(G + "/'b'", "00 00 00 00"), obj_hex(G + "/'a'", "00 00 00 00")),
                   struct.pack("<h", 77) + i32(7, 8))
    write(out_dir, "hb_index_reuse_incremental", s, cases)

    # 6. Strings, escaped quotes, properties of all readable types, repeated string chunks.
    path = "/'gr''oup'/'chan''nel'"
    strings = ["", "héllo", "a'b", "x" * 40]
    offs, acc = [], 0
    for t in strings:
        acc += len(t.encode())
        offs.append(acc)
    str_data = struct.pack("<4I", *offs) + "".join(strings).encode()
    str_index = "1C 00 00 00" + hexlify_value("<I", 0x20) + "01 00 00 00" + hexlify_value("<Q", 4) + hexlify_value("<Q", len(str_data))
    allprops = props_hex(
        prop_hex("i8", 1, hexlify_value("<b", -5)), prop_hex("i16", 2, hexlify_value("<h", -300)),
        prop_hex("i32", 3, hexlify_value("<i", -70000)), prop_hex("i64", 4, hexlify_value("<q", -(1 << 40))),
        prop_hex("u8", 5, hexlify_value("<B", 250)), prop_hex("u16", 6, hexlify_value("<H", 65000)),
        prop_hex("u32", 7, hexlify_value("<I", 4_000_000_000)), prop_hex("u64", 8, hexlify_value("<Q", (1 << 64) - 1)),
        prop_hex("f32", 9, hexlify_value("<f", 0.1)), prop_hex("f64", 10, hexlify_value("<d", -2.5e-300)),
        prop_hex("f32u", 0x19, hexlify_value("<f", 3.5)), prop_hex("f64u", 0x1A, hexlify_value("<d", 1e300)),
        prop_hex("str", 0x20, str_hex("ünïcode")), prop_hex("bool", 0x21, "01"), prop_hex("boolf", 0x21, "00"),
        prop_hex("ts", 0x44, ts_hex(-1, 1 << 62)), prop_hex("wf_start_time", 0x44, ts_hex(3_600_000_000, 1)),
        prop_hex("wf_increment", 10, hexlify_value("<d", 1e-4)), prop_hex("wf_start_offset", 10, hexlify_value("<d", 2.0)),
        prop_hex("unit_string", 0x20, str_hex("degC")))
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"),
                  segment_objects_metadata(root_metadata(), obj_hex(path, str_index, allprops)), str_data * 3)
    write(out_dir, "hb_strings_and_properties", s, cases)

    # 7. Repeated chunks with a trailing partial chunk (not the last segment => proportional split).
    meta = segment_objects_metadata(obj_hex(G + "/'a'", idx_hex(3, 3)), obj_hex(G + "/'b'", idx_hex(4, 2)))
    chunk = i32(1, 2, 3) + struct.pack("<2q", 4, 5)
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, chunk * 4 + chunk[:14])
    s += seg_bytes(("kTocRawData",), "", chunk * 2)
    write(out_dir, "hb_partial_chunk_middle", s, cases)

    # 8. DAQmx: linear, polynomial, chained, add, digital lines, two buffers, partial last chunk.
    lin = props_hex(
        prop_hex("NI_Scaling_Status", 0x20, str_hex("unscaled")), prop_hex("NI_Number_Of_Scales", 7, hexlify_value("<I", 2)),
        prop_hex("NI_Scale[1]_Scale_Type", 0x20, str_hex("Linear")),
        prop_hex("NI_Scale[1]_Linear_Slope", 10, hexlify_value("<d", 0.0003051850947599719)),
        prop_hex("NI_Scale[1]_Linear_Y_Intercept", 10, hexlify_value("<d", 0.25)),
        prop_hex("NI_Scale[1]_Linear_Input_Source", 7, hexlify_value("<I", 0)))
    poly = props_hex(
        prop_hex("NI_Number_Of_Scales", 7, hexlify_value("<I", 3)),
        prop_hex("NI_Scale[1]_Scale_Type", 0x20, str_hex("Polynomial")),
        prop_hex("NI_Scale[1]_Polynomial_Coefficients_Size", 3, hexlify_value("<i", 3)),
        prop_hex("NI_Scale[1]_Polynomial_Coefficients[0]", 10, hexlify_value("<d", 1.5)),
        prop_hex("NI_Scale[1]_Polynomial_Coefficients[1]", 10, hexlify_value("<d", 0.1)),
        prop_hex("NI_Scale[1]_Polynomial_Coefficients[2]", 10, hexlify_value("<d", -0.001)),
        prop_hex("NI_Scale[1]_Polynomial_Input_Source", 7, hexlify_value("<I", 0)),
        prop_hex("NI_Scale[2]_Scale_Type", 0x20, str_hex("Linear")),
        prop_hex("NI_Scale[2]_Linear_Slope", 10, hexlify_value("<d", 2.0)),
        prop_hex("NI_Scale[2]_Linear_Y_Intercept", 10, hexlify_value("<d", -1.0)),
        prop_hex("NI_Scale[2]_Linear_Input_Source", 7, hexlify_value("<I", 1)))
    add = props_hex(
        prop_hex("NI_Number_Of_Scales", 7, hexlify_value("<I", 3)),
        prop_hex("NI_Scale[2]_Scale_Type", 0x20, str_hex("Subtract")),
        prop_hex("NI_Scale[2]_Subtract_Left_Operand_Input_Source", 7, hexlify_value("<I", 0)),
        prop_hex("NI_Scale[2]_Subtract_Right_Operand_Input_Source", 7, hexlify_value("<I", 1)))
    meta = segment_objects_metadata(
        root_metadata(), group_metadata(),
        daqmx_obj(G + "/'lin'", 4, [8, 4], [daqmx_scaler(3, 0)], lin),
        daqmx_obj(G + "/'poly'", 4, [8, 4], [daqmx_scaler(5, 2)], poly),
        daqmx_obj(G + "/'sub'", 4, [8, 4], [daqmx_scaler(1, 6, 0), daqmx_scaler(0, 7, 1)], add),
        daqmx_obj(G + "/'dig'", 4, [8, 4], [digital_scaler(4, 3, 0, 1)], None, digital=True, data_type=7))
    def chunk(k):
        b0 = b"".join(struct.pack("<h", 100 * k + r - 200) + struct.pack("<i", -1000 * r + k) +
                      struct.pack("<b", r - k) + struct.pack("<B", 200 + r) for r in range(4))
        b1 = b"".join(struct.pack("<I", (k * 4 + r) * 37) for r in range(4))
        return b0 + b1
    toc = ("kTocMetaData", "kTocRawData", "kTocNewObjList", "kTocDAQmxRawData")
    s = seg_bytes(toc, meta, chunk(0) + chunk(1))
    s += seg_bytes(("kTocRawData", "kTocDAQmxRawData"), "", chunk(2) + chunk(3)[:20], incomplete=True)
    write(out_dir, "hb_daqmx_scaling", s, cases)

    # 9. DAQmx with an unsupported scale type (npTDMS warns and falls back; we must name the type).
    rtd = props_hex(prop_hex("NI_Number_Of_Scales", 7, hexlify_value("<I", 2)),
                    prop_hex("NI_Scale[1]_Scale_Type", 0x20, str_hex("RTD")))
    meta = segment_objects_metadata(daqmx_obj(G + "/'rtd'", 2, [2], [daqmx_scaler(3, 0)], rtd))
    s = seg_bytes(toc, meta, struct.pack("<2h", 5, 6))
    write(out_dir, "hb_daqmx_unsupported_scale", s, cases, expect="unsupported_scale")

    # 10. Zero-length segments and empty metadata segments in between.
    meta = segment_objects_metadata(obj_hex(G + "/'a'", idx_hex(3, 1)))
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, i32(1))
    s += seg_bytes((), "", b"")
    s += seg_bytes(("kTocMetaData",), segment_objects_metadata(), b"")
    s += seg_bytes(("kTocRawData",), "", i32(2))
    s += seg_bytes(("kTocMetaData", "kTocRawData"), segment_objects_metadata(obj_hex(G + "/'a'", idx_hex(3, 0))), b"")
    s += seg_bytes(("kTocMetaData", "kTocRawData"), segment_objects_metadata(obj_hex(G + "/'a'", idx_hex(3, 2))), i32(3, 4))
    write(out_dir, "hb_zero_length_segments", s, cases)

    # 11. Complex data and scaled float32 (npTDMS computes in float32 there).
    meta = segment_objects_metadata(
        obj_hex(G + "/'c64'", idx_hex(0x08000C, 2)), obj_hex(G + "/'c128'", idx_hex(0x10000D, 1)),
        obj_hex(G + "/'f32lin'", idx_hex(9, 3), props_hex(
            prop_hex("NI_Scale[0]_Scale_Type", 0x20, str_hex("Linear")),
            prop_hex("NI_Scale[0]_Linear_Slope", 10, hexlify_value("<d", 0.1)),
            prop_hex("NI_Scale[0]_Linear_Y_Intercept", 10, hexlify_value("<d", 3.0)))))
    data = struct.pack("<4f", 1, -2, 3.5, 4) + struct.pack("<2d", 1e10, -1e-10) + struct.pack("<3f", 1.1, 2.2, -3.3)
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, data)
    write(out_dir, "hb_complex_and_f32_scaling", s, cases, expect="f32_scaling")

    # 12. Channel order across groups; a group object appearing after its channels.
    meta = segment_objects_metadata(
        obj_hex("/'a'/'x'", idx_hex(3, 1)), obj_hex("/'b'/'y'", idx_hex(3, 1)), obj_hex("/'a'/'z'", idx_hex(3, 1)),
        obj_hex("/'b'", "FF FF FF FF", props_hex(prop_hex("late", 3, hexlify_value("<i", 5)))),
        obj_hex("/'c'/'w'", "FF FF FF FF"))
    s = seg_bytes(("kTocMetaData", "kTocRawData", "kTocNewObjList"), meta, i32(1, 2, 3))
    write(out_dir, "hb_group_order", s, cases)


def writer_files(out_dir, cases):
    p = os.path.join(out_dir, "writer_multi.tdms")
    start = np.datetime64("2024-03-01T12:34:56.789012", "us")
    with TdmsWriter(p) as w:
        for k in range(4):
            w.write_segment([
                RootObject({"title": "writer test", "created": start, "k": k}),
                GroupObject("g", {"gprop": 1.25 * k}),
                ChannelObject("g", "f64", np.linspace(k, k + 1, 50), {
                    "wf_start_time": start, "wf_increment": 0.001, "wf_samples": 50,
                    "NI_UnitDescription": "m/s", "wf_start_offset": 0.5}),
                ChannelObject("g", "i16", np.arange(-10, 10, dtype=np.int16) * (k + 1)),
                ChannelObject("g", "u64", np.array([2 ** 64 - 1 - k, k], dtype=np.uint64)),
                ChannelObject("g", "bool", np.array([True, False, k % 2 == 0])),
                ChannelObject("g", "str", ["a%d" % k, "", "ünï"]),
                ChannelObject("g2", "ts", np.array([start + np.timedelta64(k * 1000 + j, "us") for j in range(3)])),
                ChannelObject("g2", "f32", np.array([1.5, -2.25, np.nan, np.inf], dtype=np.float32)),
            ])
    cases.append(("writer_multi", p, "same"))
    p = os.path.join(out_dir, "writer_seed_small.tdms")
    make_seed(p, 20_000)
    cases.append(("writer_seed_small", p, "same"))


def make_seed(path, n):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))
    try:
        import tdms_make_seed
        tdms_make_seed.write_seed(path, n)
    except ImportError:
        t = np.arange(n, dtype=np.float32)
        with TdmsWriter(path) as w:
            w.write_segment([ChannelObject("seed", "c%d" % i, np.sin(t * (i + 1) / 100).astype(np.float32), {
                "wf_start_time": np.datetime64("2024-01-01T00:00:00", "us"), "wf_increment": 1e-4,
                "wf_samples": n, "NI_UnitDescription": "V"}) for i in range(3)])


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    cases = []
    for param in scenarios.get_scenarios():
        test_file = param.values[0]
        name = "scenario_" + param.id
        write(out_dir, name, test_file._get_contents(), cases)
    data_dir = os.path.join(os.path.dirname(nptdms.__file__), "test", "data")
    for src in sorted(glob.glob(os.path.join(data_dir, "*.tdms"))):
        name = "data_" + os.path.splitext(os.path.basename(src))[0]
        dst = os.path.join(out_dir, name + ".tdms")
        shutil.copyfile(src, dst)
        cases.append((name, dst, "same"))
    handbuilt(out_dir, cases)
    writer_files(out_dir, cases)
    manifest = []
    for name, path, expect in cases:
        entry = dump(path)
        entry.update({"name": name, "file": path, "expect": expect})
        manifest.append(entry)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    print("wrote %d cases" % len(manifest))


if __name__ == "__main__":
    main()
