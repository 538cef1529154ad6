#!/usr/bin/env bash
# T302 load benchmark: sensor.load_tsv of a generated V002 file (TSV_BENCH_ROWS rows x 30
# channels, default 1,000,000 = 30 million points) into an empty sensor_data.electrical_samples,
# against COPY ... FROM of the same points as long-format CSV (time,channel,value) into an
# identical empty table (same columns, same primary key), in one run on one cluster.
# Prints both times and the ratio load_tsv / COPY (target: <= 1).
#   bench/tsv_load.sh            (the extension must be installed: cargo pgrx install --release)
# Env: TSV_BENCH_ROWS, TSV_BENCH_DIR (default /tmp/sensor_tsv_bench), TSV_BENCH_ROUNDS (default 1;
#      each round times COPY then load_tsv, and the best of each is compared),
#      TSV_BENCH_NOT_EMPTY=1 (both tables hold one unrelated row first: load_tsv then inserts
#      index entries row by row, as COPY does, instead of building the indexes at the end).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${TSV_BENCH_ROWS:-1000000}
ROUNDS=${TSV_BENCH_ROUNDS:-1}
WORK=${TSV_BENCH_DIR:-/tmp/sensor_tsv_bench}
CLUSTER="$ROOT/target/bench-cluster"
if [ "${TSV_BENCH_NOT_EMPTY:-0}" = 1 ]; then NOT_EMPTY=true; MODE="tables not empty"; else NOT_EMPTY=false; MODE="empty tables"; fi
mkdir -p "$WORK"
chmod a+rx "$WORK"

TSV="$WORK/bench_${ROWS}.tsv"
CSV="$WORK/bench_${ROWS}.csv"
if [ ! -s "$TSV" ] || [ ! -s "$CSV" ]; then
  (cd "$ROOT" && cargo run --release -q -p powerview --example tsv_make_file -- "$TSV" --rows "$ROWS" --csv "$CSV")
fi
chmod a+r "$TSV" "$CSV"

port=$("$ROOT/scripts/pg-cluster" start "$CLUSTER")
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h localhost -p "$port" -U postgres)
# Both loads write a few GB of WAL: keep checkpoints out of the timed part.
"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET max_wal_size = '40GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" -c "SELECT pg_reload_conf()" >/dev/null
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS sensor_tsv_bench" -c "CREATE DATABASE sensor_tsv_bench"
DB=("${PSQL[@]}" -d sensor_tsv_bench)
"${DB[@]}" -c "SET client_min_messages = warning" -c "CREATE EXTENSION sensor_analytics"

# The channels must exist before COPY can use their ids: a first load creates them.
"${DB[@]}" -c "SELECT status FROM sensor.load_tsv('$TSV', company => 'bench', campaign => 'bench')" >/dev/null
INT_CSV="$WORK/bench_${ROWS}_channel_ids.csv"
if [ ! -s "$INT_CSV" ] || [ "$INT_CSV" -ot "$CSV" ]; then
  "${DB[@]}" -At -F, -c "SELECT channel_id, id FROM sensor_data.tsv_channels WHERE company = 'bench'" > "$WORK/channel_ids.csv"
  awk -F, 'NR == FNR { id[$1] = $2; next } { print $1 "," id[$2] "," $3 }' "$WORK/channel_ids.csv" "$CSV" > "$INT_CSV"
  chmod a+r "$INT_CSV"
fi
"${DB[@]}" -c "CREATE TABLE public.copy_target (LIKE sensor_data.electrical_samples INCLUDING ALL)"

now() { date +%s.%N; }
best_copy="" best_load=""
for round in $(seq "$ROUNDS"); do
  "${DB[@]}" -c "TRUNCATE public.copy_target" -c "INSERT INTO public.copy_target SELECT '1999-01-01', -1, 0 WHERE $NOT_EMPTY" -c "CHECKPOINT"
  t0=$(now)
  "${DB[@]}" -c "COPY public.copy_target (time, channel, value) FROM '$INT_CSV' (FORMAT csv)"
  t1=$(now)
  copy_s=$(echo "$t1 - $t0" | bc -l)

  "${DB[@]}" -c "TRUNCATE sensor_data.electrical_samples" -c "DELETE FROM sensor_data.tsv_files" \
    -c "INSERT INTO sensor_data.electrical_samples SELECT '1999-01-01', -1, 0 WHERE $NOT_EMPTY" -c "CHECKPOINT"
  t0=$(now)
  status=$("${DB[@]}" -At -c "SELECT status || ' ' || points FROM sensor.load_tsv('$TSV', company => 'bench', campaign => 'bench')")
  t1=$(now)
  load_s=$(echo "$t1 - $t0" | bc -l)

  copied=$("${DB[@]}" -At -c "SELECT count(*) FROM public.copy_target WHERE channel <> -1")
  loaded=$("${DB[@]}" -At -c "SELECT count(*) FROM sensor_data.electrical_samples WHERE channel <> -1")
  if [ "$copied" != "$loaded" ] || [ "$status" != "loaded $loaded" ]; then
    echo "MISMATCH: COPY wrote $copied rows, load_tsv wrote $loaded ($status)" >&2
    exit 1
  fi
  printf 'round %d: COPY %.2f s, load_tsv %.2f s (%s points each)\n' "$round" "$copy_s" "$load_s" "$loaded"
  if [ -z "$best_copy" ] || [ "$(echo "$copy_s < $best_copy" | bc -l)" = 1 ]; then best_copy=$copy_s; fi
  if [ -z "$best_load" ] || [ "$(echo "$load_s < $best_load" | bc -l)" = 1 ]; then best_load=$load_s; fi
done
# Same rows in both tables, value for value.
diff=$("${DB[@]}" -At -c "SELECT count(*) FROM (SELECT * FROM public.copy_target EXCEPT SELECT * FROM sensor_data.electrical_samples) d")
[ "$diff" = 0 ] || { echo "MISMATCH: $diff rows differ between COPY and load_tsv" >&2; exit 1; }
printf 'tsv_load: %d rows x 30 channels, %s; COPY FROM csv %.2f s, load_tsv %.2f s, ratio load_tsv/COPY = %.2f (target <= 1)\n' \
  "$ROWS" "$MODE" "$best_copy" "$best_load" "$(echo "$best_load / $best_copy" | bc -l)"
