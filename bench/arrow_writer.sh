#!/usr/bin/env bash
# Benchmark of clickhouse_arrow's builders + IPC writer against PostgreSQL's
# `COPY (SELECT ...) TO file (FORMAT binary)` on the same 10M telemetry rows
# (id int8, user_id int4, two text, two int4, float8, two timestamptz).
#
# Peer: a throw-away PostgreSQL cluster (initdb/pg_ctl on PATH, run as user
# `postgres`, Unix socket only) holding the rows in a table made by
# generate_series; COPY of that table to a server-side binary file is timed.
# Ours: examples/telemetry_export pushes the same values (same formulas) through
# the column builders and writes an Arrow IPC file (none/lz4/zstd).
# Ours covers only the pure crate: the SQL glue's cursor and datum conversion
# come on top, so the ratio says how much of COPY's time the crate itself uses.
#
# Usage: bench/arrow_writer.sh [ROWS]   (default 10000000)
set -euo pipefail
rows=${1:-10000000}
here=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$here/target/h-arrow}
work=$(mktemp -d /tmp/arrow_writer_bench.XXXXXX)
port=${BENCH_PG_PORT:-54391}
pg_started=0
cleanup() {
  if [ "$pg_started" = 1 ]; then
    runuser -u postgres -- pg_ctl -D "$work/pgdata" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building examples/telemetry_export (release)..." >&2
(cd "$here/crates/clickhouse_arrow" &&
  CARGO_TARGET_DIR="$target" cargo build --quiet --release --example telemetry_export)
ours_bin="$target/release/examples/telemetry_export"

now() { date +%s.%N; }

peer_seconds=""
if command -v initdb >/dev/null && command -v pg_ctl >/dev/null && id postgres >/dev/null 2>&1; then
  chown postgres "$work"
  runuser -u postgres -- initdb -D "$work/pgdata" -A trust -U postgres >/dev/null
  runuser -u postgres -- pg_ctl -D "$work/pgdata" -l "$work/pg.log" -w \
    -o "-k $work -p $port -c listen_addresses='' -c shared_buffers=512MB -c fsync=off" start >/dev/null
  pg_started=1
  psql_run() { runuser -u postgres -- psql -X -q -h "$work" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
  echo "generating $rows rows in PostgreSQL..." >&2
  psql_run -c "CREATE TABLE telemetry AS
    SELECT id::int8 AS id,
           (id % 1000)::int4 AS user_id,
           (ARRAY['hand','arm','leg','foot'])[id % 4 + 1] AS prosthesis_type,
           (ARRAY['biceps','triceps','deltoid','quadriceps','hamstring','calf'])[id % 6 + 1] AS muscle_group,
           (id % 500)::int4 AS signal_frequency,
           (id % 1000)::int4 AS signal_duration,
           id::float8 / 1000.0 AS signal_amplitude,
           timestamptz '2024-01-01 00:00:00+00' + id * interval '1 second' AS event_timestamp,
           timestamptz '2024-01-01 00:00:00+00' + id * interval '1 second' + interval '0.5 second' AS saved_ts
    FROM generate_series(1, $rows) AS id" >/dev/null
  psql_run -c "VACUUM ANALYZE telemetry" >/dev/null
  # Warm-up run, then the best of two.
  for run in 0 1 2; do
    start=$(now)
    psql_run -c "COPY (SELECT * FROM telemetry) TO '$work/copy.bin' (FORMAT binary)" >/dev/null
    t=$(echo "$(now) - $start" | bc -l)
    if [ "$run" -gt 0 ] && { [ -z "$peer_seconds" ] || [ "$(echo "$t < $peer_seconds" | bc -l)" = 1 ]; }; then
      peer_seconds=$t
    fi
  done
  printf 'peer  COPY binary          %8.3f s  %12d bytes\n' "$peer_seconds" "$(stat -c %s "$work/copy.bin")"
  rm -f "$work/copy.bin"
else
  echo "SKIP peer: no initdb/pg_ctl or no postgres user; printing our times only" >&2
fi

for compression in none lz4 zstd; do
  best=""
  size=0
  for run in 1 2; do
    out=$("$ours_bin" "$rows" "$work/telemetry.arrow" file "$compression")
    t=${out#seconds=}; t=${t%% *}
    size=${out##*bytes=}
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  if [ -n "$peer_seconds" ]; then
    ratio=$(echo "$best / $peer_seconds" | bc -l)
    printf 'ours  arrow file %-5s     %8.3f s  %12d bytes  ratio ours/peer %.3f\n' "$compression" "$best" "$size" "$ratio"
  else
    printf 'ours  arrow file %-5s     %8.3f s  %12d bytes\n' "$compression" "$best" "$size"
  fi
done
rm -f "$work/telemetry.arrow"
