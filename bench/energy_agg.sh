#!/usr/bin/env bash
# Energy over a period, ratios in one run (see bench/energy_agg.py):
#   sensor.energy_agg(ts, value) / sum(value), per channel over 10.4M rows  (target <= 1.3)
# on a plain table and, when TimescaleDB is installed, a hypertable, uncompressed and
# compressed; serial and parallel plans.
#   Usage: bench/energy_agg.sh [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/bench_cluster.sh"
"$py" "$here/bench/energy_agg.py" "${1:-5}"
