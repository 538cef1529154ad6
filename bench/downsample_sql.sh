#!/usr/bin/env bash
# SQL downsampling benchmark, ratios in one run (see bench/downsample_sql.py):
#   sensor.downsample(... 'minmax_lttb', 1000) / SELECT count(value)   (target <= 1.25)
#   sensor.downsample(... 'lttb', 1000)        / SELECT count(value)   (target <= 1.5)
#   naive array_agg(... ORDER BY time) + kernel / SELECT count(value)  (for comparison)
#   30 days from 1-minute m4_summary rows vs from 10M raw rows         (target >= 20x)
#   backend memory for N = 1M and N = 10M                              (within 10%)
# over a 10,000,000-row window of one series in an indexed table. Installs the release
# build into $PG_CONFIG's PostgreSQL, runs a cluster under target/bench-cluster (the data
# is kept there between runs).   Usage: bench/downsample_sql.sh [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
py=${SENSOR_PYTHON:-$("$here/scripts/python-env")}
cluster="$here/target/bench-cluster"

(cd "$here" && cargo pgrx install --release --pg-config "$PG_CONFIG" >&2)
port=$("$here/scripts/pg-cluster" start "$cluster")
export PATH="$("$PG_CONFIG" --bindir):$PATH"
# The 10M-row table (~500 MB) fits in shared buffers, so neither side waits on the OS cache.
if [ "$(psql -X -At -h localhost -p "$port" -U postgres -d postgres -c 'SHOW shared_buffers')" != "2GB" ]; then
  psql -X -q -h localhost -p "$port" -U postgres -d postgres -c "ALTER SYSTEM SET shared_buffers = '2GB'"
  "$here/scripts/pg-cluster" stop "$cluster"
  port=$("$here/scripts/pg-cluster" start "$cluster")
fi
psql -X -q -h localhost -p "$port" -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 \
  || psql -X -q -h localhost -p "$port" -U postgres -d postgres -c "CREATE DATABASE bench"
# A fresh extension each run (the data tables are ours, not the extension's).
psql -X -q -h localhost -p "$port" -U postgres -d bench -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS sensor_analytics CASCADE;
CREATE EXTENSION sensor_analytics;
SQL
PGHOST=localhost PGPORT="$port" PGUSER=postgres PGDATABASE=bench \
  "$py" "$here/bench/downsample_sql.py" "${1:-5}"
