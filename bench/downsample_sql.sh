#!/usr/bin/env bash
# SQL downsampling benchmark, ratios in one run (see bench/downsample_sql.py):
#   sensor.downsample(... 'minmax_lttb', 1000) / SELECT count(value)   (target <= 1.25)
#   sensor.downsample(... 'lttb', 1000)        / SELECT count(value)   (target <= 1.5)
#   naive array_agg(... ORDER BY time) + kernel / SELECT count(value)  (for comparison)
#   30 days from 1-minute m4_summary rows vs from 10M raw rows         (target >= 20x)
#   backend memory for N = 1M and N = 10M                              (within 10%)
# over a 10,000,000-row window of one series in an indexed table (~500 MB, within the
# cluster's 2 GB of shared buffers, so neither side waits on the OS cache).
#   Usage: bench/downsample_sql.sh [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/bench_cluster.sh"
"$py" "$here/bench/downsample_sql.py" "${1:-5}"
