#!/usr/bin/env bash
# Multi-series downsampling benchmark, ratios in one run (see bench/downsample_series.py):
#   sensor.downsample(..., series_column => 'channel_id') / SELECT count(value)  (target <= 1.25)
# on 3 series x 2M rows: a plain table and, when TimescaleDB is installed, a hypertable,
# uncompressed and compressed; serial and parallel plans; and the memory for 1M series.
# Installs the release build into $PG_CONFIG's PostgreSQL and runs a cluster under
# target/bench-cluster (the data is kept there between runs).
#   Usage: bench/downsample_series.sh [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
py=${SENSOR_PYTHON:-$("$here/scripts/python-env")}
cluster="$here/target/bench-cluster"

(cd "$here" && cargo pgrx install --release --pg-config "$PG_CONFIG" >&2)
port=$("$here/scripts/pg-cluster" start "$cluster")
export PATH="$("$PG_CONFIG" --bindir):$PATH"
if [ "$(psql -X -At -h localhost -p "$port" -U postgres -d postgres -c 'SHOW shared_buffers')" != "2GB" ]; then
  psql -X -q -h localhost -p "$port" -U postgres -d postgres -c "ALTER SYSTEM SET shared_buffers = '2GB'"
  "$here/scripts/pg-cluster" stop "$cluster"
  port=$("$here/scripts/pg-cluster" start "$cluster")
fi
psql -X -q -h localhost -p "$port" -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'bench'" | grep -q 1 \
  || psql -X -q -h localhost -p "$port" -U postgres -d postgres -c "CREATE DATABASE bench"
psql -X -q -h localhost -p "$port" -U postgres -d bench -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS tsdb \gset
\if :tsdb
CREATE EXTENSION IF NOT EXISTS timescaledb;
\endif
DROP EXTENSION IF EXISTS sensor_analytics CASCADE;
CREATE EXTENSION sensor_analytics;
SQL
PGHOST=localhost PGPORT="$port" PGUSER=postgres PGDATABASE=bench \
  "$py" "$here/bench/downsample_series.py" "${1:-5}"
