#!/usr/bin/env python3
"""Write a many-segment interleaved TDMS file (LabVIEW streaming layout).

Usage: tdms_make_interleaved.py OUT_PATH [SEGMENTS] [ROWS_PER_SEGMENT]   (default 10,000 x 100)

The first segment carries the metadata (4 channels: f64, f32, i32, i16, with
waveform properties); every later segment is a bare lead-in with
kTocRawData | kTocInterleavedData followed by its rows.
"""
import struct
import sys

import numpy as np

TOC_META, TOC_NEW_OBJ_LIST, TOC_RAW, TOC_INTERLEAVED = 1 << 1, 1 << 2, 1 << 3, 1 << 5
CHANNELS = [("f64", 10, "<f8"), ("f32", 9, "<f4"), ("i32", 3, "<i4"), ("i16", 2, "<i2")]


def _string(s):
    b = s.encode()
    return struct.pack("<I", len(b)) + b


def _metadata(rows):
    out = struct.pack("<I", 2 + len(CHANNELS))
    out += _string("/") + struct.pack("<II", 0xFFFFFFFF, 0)
    out += _string("/'g'") + struct.pack("<II", 0xFFFFFFFF, 0)
    for name, code, _ in CHANNELS:
        out += _string("/'g'/'%s'" % name) + struct.pack("<IIIQ", 20, code, 1, rows)
        out += struct.pack("<I", 2)
        out += _string("wf_increment") + struct.pack("<Id", 10, 1e-3)
        # 2024-01-01T00:00:00Z as a TDMS timestamp (fractions, seconds since 1904).
        out += _string("wf_start_time") + struct.pack("<IQq", 0x44, 0, 3_786_825_600)
    return out


def _segment(toc, meta, data):
    return b"TDSm" + struct.pack("<iiQQ", toc, 4713, len(meta) + len(data), len(meta)) + meta + data


def write_interleaved(path, segments=10_000, rows=100):
    dtype = np.dtype([(n, t) for n, _, t in CHANNELS])
    with open(path, "wb") as f:
        for s in range(segments):
            block = np.zeros(rows, dtype=dtype)
            base = s * rows + np.arange(rows)
            block["f64"] = base * 0.5
            block["f32"] = base * 0.25
            block["i32"] = base
            block["i16"] = (base % 30000) - 15000
            if s == 0:
                toc = TOC_META | TOC_NEW_OBJ_LIST | TOC_RAW | TOC_INTERLEAVED
                f.write(_segment(toc, _metadata(rows), block.tobytes()))
            else:
                f.write(_segment(TOC_RAW | TOC_INTERLEAVED, b"", block.tobytes()))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    segs = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    write_interleaved(sys.argv[1], segs, rows)
