#!/usr/bin/env python3
"""Time our TDMS decoder against npTDMS on the same files; print ours/npTDMS ratios.

Usage: tdms_reader_bench.py DECODER_BINARY NAME=FILE:LIMIT [...]
Each file is decoded fully (all channels, values summed) by both; best of REPEATS
(env TDMS_BENCH_REPEATS, default 5) after one warm-up run each.
"""
import os
import subprocess
import sys
import time

import numpy as np
from nptdms import TdmsFile


def time_ours(binary, path):
    t0 = time.perf_counter()
    subprocess.run([binary, path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def time_nptdms(path):
    t0 = time.perf_counter()
    f = TdmsFile.read(path)
    total = 0.0
    for g in f.groups():
        for c in g.channels():
            total += float(np.sum(c[:], dtype=np.float64))
    return time.perf_counter() - t0


def best(fn, repeats):
    fn()
    return min(fn() for _ in range(repeats))


def main():
    binary = sys.argv[1]
    repeats = int(os.environ.get("TDMS_BENCH_REPEATS", "5"))
    failed = False
    for spec in sys.argv[2:]:
        name, rest = spec.split("=", 1)
        path, limit = rest.rsplit(":", 1)
        ours = best(lambda: time_ours(binary, path), repeats)
        theirs = best(lambda: time_nptdms(path), repeats)
        ratio = ours / theirs
        ok = ratio <= float(limit)
        failed |= not ok
        print("%-22s ours %.4fs  npTDMS %.4fs  ratio %.3f  (target <= %s) %s"
              % (name, ours, theirs, ratio, limit, "OK" if ok else "OVER"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
