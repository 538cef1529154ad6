#!/usr/bin/env bash
# sensor.arrow_export (file, no compression) against COPY (query) TO 'file' (FORMAT binary)
# on the same telemetry rows, in one run: prints the ratio ours/COPY (goal <= 1). Then
# chdb (ClickHouse in process) imports our Arrow file and the CSV that COPY ... (FORMAT
# csv) writes into the table our clickhouse_ddl creates: prints both times.
#
# Installs the extension (release build) into $PG_CONFIG's PostgreSQL, starts the cluster
# target/bench-cluster (the generated table is kept there for later runs) and writes the
# files under /tmp/sensor_arrow_export_bench.
#   bench/arrow_export.sh [ROWS]     default 10000000
# Env: ARROW_BENCH_REPEATS (default 3), BENCH_SKIP_INSTALL=1, SENSOR_PYTHON, PG_CONFIG.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-10000000}
python=${SENSOR_PYTHON:-$("$root/scripts/python-env")}
pg_config=${PG_CONFIG:-/usr/bin/pg_config}
export PATH="$("$pg_config" --bindir):$PATH"

if [ -z "${BENCH_SKIP_INSTALL:-}" ]; then
  echo "installing the extension (release build)..." >&2
  (cd "$root" && cargo pgrx install --release --pg-config "$pg_config" >/dev/null)
fi
cluster="$root/target/bench-cluster"
port=$("$root/scripts/pg-cluster" start "$cluster")
trap '"$root/scripts/pg-cluster" stop "$cluster" >/dev/null' EXIT

out=/tmp/sensor_arrow_export_bench
rm -rf "$out"
mkdir -p "$out"
chown postgres: "$out"
chmod 777 "$out"

PGHOST=localhost PGPORT="$port" PGUSER=postgres PGDATABASE=postgres \
  "$python" "$root/bench/arrow_export_bench.py" --rows "$rows" --dir "$out" \
  --repeats "${ARROW_BENCH_REPEATS:-3}"
rm -rf "$out"
