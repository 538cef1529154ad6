#!/usr/bin/env bash
# Multi-series downsampling benchmark, ratios in one run (see bench/downsample_series.py):
#   sensor.downsample(..., series_column => 'channel_id') / SELECT count(value)  (target <= 1.25)
# on 3 series x 2M rows: a plain table and, when TimescaleDB is installed, a hypertable,
# uncompressed and compressed; serial and parallel plans; and the memory for 1M series.
#   Usage: bench/downsample_series.sh [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/bench_cluster.sh"
"$py" "$here/bench/downsample_series.py" "${1:-5}"
