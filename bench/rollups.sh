#!/usr/bin/env bash
# Rollup tiers, ratios in one run (see bench/rollups.py), 4 channels x 30 days at 1 Hz
# (10.4M rows) in sensor_data.samples, default tiers (1 minute, 15 minutes, 1 hour, 1 day):
#   channel_window, 30 days, 1,000 points: from raw rows / with rollups   (target >= 20)
#   channel_window, 1 hour: with rollups / today (raw rows)              (target <= 1, noise aside)
#   refresh of the 1-minute tier / a continuous aggregate of avg(value)  (target <= 1.5)
#   Usage: bench/rollups.sh [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/bench_cluster.sh"
"$py" "$here/bench/rollups.py" "${1:-5}"
