#!/usr/bin/env python3
"""Write the TDMS seed file used by the reader and SQL-load benchmarks.

Usage: tdms_make_seed.py OUT_PATH [SAMPLES_PER_CHANNEL]   (default 10,000,000)

Three float32 channels ("seed"/"ch0".."ch2") sampled at 10 kHz, written with
npTDMS TdmsWriter in one segment, with wf_start_time, wf_increment, wf_samples
and NI_UnitDescription. Import write_seed(path, n) to reuse it from Python.
"""
import sys

import numpy as np
from nptdms import ChannelObject, GroupObject, RootObject, TdmsWriter

START = np.datetime64("2024-01-01T00:00:00", "us")
RATE_HZ = 10_000
UNITS = ["V", "A", "degC"]


def write_seed(path, samples_per_channel=10_000_000, seed=42):
    rng = np.random.default_rng(seed)
    t = np.arange(samples_per_channel, dtype=np.float64) / RATE_HZ
    channels = []
    for i in range(3):
        signal = np.sin(2 * np.pi * (i + 1) * t) * (10 ** i) + rng.normal(0, 0.01, samples_per_channel)
        channels.append(ChannelObject("seed", "ch%d" % i, signal.astype(np.float32), {
            "wf_start_time": START,
            "wf_increment": 1.0 / RATE_HZ,
            "wf_samples": samples_per_channel,
            "NI_UnitDescription": UNITS[i],
        }))
    with TdmsWriter(path) as writer:
        writer.write_segment([RootObject({"name": "seed"}), GroupObject("seed", {"source": "tdms_make_seed.py"})] + channels)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    write_seed(sys.argv[1], n)
