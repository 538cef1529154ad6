#!/usr/bin/env bash
# TDMS load benchmark, in one run (see bench/tdms_load_bench.py for the method):
#   - load_tdms of the seed file (3 x N float32 at 10 kHz, bench/tdms_make_seed.py) into
#     sensor_data.samples vs COPY FROM (FORMAT binary) of the same 3N rows into an identical
#     table (same columns, same index, same WAL settings): prints the ratio (target <= 1);
#   - the backend's private memory (RssAnon) during loads of 1M and N samples per channel.
# Installs the release build into the PostgreSQL of PG_CONFIG and uses a throwaway cluster
# under target/bench-cluster (fsync off, as every test cluster here; max_wal_size raised so
# that neither side hits checkpoints mid-run).
# Env: TDMS_SEED_SAMPLES (default 10000000), TDMS_BENCH_DIR (default /tmp/tdms-load-bench),
#      TDMS_BENCH_REPEATS (default 3), SENSOR_PYTHON (default: the project venv), PG_CONFIG.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${SENSOR_PYTHON:-/root/.cache/sensor_analytics/venv/bin/python}
SAMPLES=${TDMS_SEED_SAMPLES:-10000000}
SMALL=1000000
OUT=${TDMS_BENCH_DIR:-/tmp/tdms-load-bench}
REPEATS=${TDMS_BENCH_REPEATS:-3}
export PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)

mkdir -p "$OUT"
chmod 777 "$OUT"
SEED="$OUT/seed_${SAMPLES}.tdms"
SMALL_SEED="$OUT/seed_${SMALL}.tdms"
[ -s "$SEED" ] || "$PY" "$ROOT/bench/tdms_make_seed.py" "$SEED" "$SAMPLES"
[ -s "$SMALL_SEED" ] || "$PY" "$ROOT/bench/tdms_make_seed.py" "$SMALL_SEED" "$SMALL"
chmod a+r "$SEED" "$SMALL_SEED"

(cd "$ROOT" && cargo pgrx install --release --pg-config "$PG_CONFIG" >"$OUT/install.log" 2>&1) || { cat "$OUT/install.log"; exit 1; }

CLUSTER="$ROOT/target/bench-cluster"
PORT=$("$ROOT/scripts/pg-cluster" start "$CLUSTER")
export PGHOST=localhost PGPORT="$PORT" PGUSER=postgres PGDATABASE=tdms_load_bench
"$BIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 <<'SQL'
ALTER SYSTEM SET max_wal_size = '16GB';
ALTER SYSTEM SET checkpoint_timeout = '1h';
SELECT pg_reload_conf() \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS tdms_load_bench;
CREATE DATABASE tdms_load_bench;
SQL
"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "CREATE EXTENSION sensor_analytics"
echo "PostgreSQL $("$BIN/psql" -X -At -c 'SHOW server_version'), shared_buffers $("$BIN/psql" -X -At -c 'SHOW shared_buffers'), wal_level $("$BIN/psql" -X -At -c 'SHOW wal_level'), fsync $("$BIN/psql" -X -At -c 'SHOW fsync')"
"$PY" "$ROOT/bench/tdms_load_bench.py" "$SEED" "$SMALL_SEED" "$OUT" "$REPEATS"
rm -f "$OUT/samples.copy"
"$BIN/psql" -X -q -d postgres -c "DROP DATABASE tdms_load_bench"
