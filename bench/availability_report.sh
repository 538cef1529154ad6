#!/usr/bin/env bash
# availability_report benchmark, ratios in one run (see bench/availability_report.py):
#   availability_report / SELECT equipment, count(*) ... GROUP BY equipment  (target <= 1.3)
# over 10M status events of 100 pieces of equipment: a plain table and, when TimescaleDB is
# installed, a hypertable, uncompressed and compressed; serial and parallel plans. Also
# state_timeline's memory for 1M intervals and the size of an availability_agg state.
#   Usage: bench/availability_report.sh [ROUNDS] [EVENTS]
set -euo pipefail
. "$(dirname "$0")/bench_cluster.sh"
"$py" "$here/bench/availability_report.py" "${1:-3}" "${2:-10000000}"
