#!/usr/bin/env bash
# Scoring cost of the quality line: 1,000,000 raw rows (8×8 ToF matrices without
# histograms, plus spectra) scored by INSERT … SELECT into quality.fusion_results,
# against a plain INSERT … SELECT of the same rows into an identical table without
# scoring. Prints rows per second and the ratio (goal: at most 1.5×).
#   bench/quality_score.sh [ROWS]
# Needs the extension installed (cargo pgrx install --release).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-1000000}
cluster="$here/target/bench-cluster"
port=$("$here/scripts/pg-cluster" start "$cluster")
q() { psql -X -q -v ON_ERROR_STOP=1 -h localhost -p "$port" -U postgres -d sensor_bench "$@"; }
psql -X -q -h localhost -p "$port" -U postgres -d postgres -c "DROP DATABASE IF EXISTS sensor_bench" -c "CREATE DATABASE sensor_bench"
q -v use_timescaledb=false -f "$here/sql/examples/quality.sql" >/dev/null

echo "generating $rows raw samples ..."
q <<SQL
-- 1,000 distinct frames and spectra, reused round-robin: the scored rows are realistic
-- (clean, dented, foreign bodies) and generation stays fast.
CREATE TEMP TABLE frames AS
SELECT f AS id,
       array(SELECT (60 + 4 * sin(k + f) + CASE WHEN f % 17 = 0 AND k = 27 THEN -35 ELSE 0 END)::float8 FROM generate_series(0, 63) k) AS d,
       array(SELECT (50 + 20 * random())::float8 FROM generate_series(0, 63)) AS r,
       array(SELECT (90 + 20 * random())::float8 FROM generate_series(0, 63)) AS a
FROM generate_series(0, 999) f;
INSERT INTO quality.tof_raw (time, sample_id, eleveur, lot, distance_mm, reflectance, amplitude)
SELECT timestamptz '2026-01-01' + i * interval '1 second', 'S' || i, 'ferme-' || (i % 20), 'L' || (i / 10000),
       f.d, f.r, f.a
FROM generate_series(1, $rows) i JOIN frames f ON f.id = i % 1000;
INSERT INTO quality.spectral_raw
SELECT time, sample_id, 2000 + (random() * 500)::int, 1800, 2500, 2600, 2400, 2300, 6000 + (random() * 900)::int, 5200, 3000, 30000, 10
FROM quality.tof_raw;
CREATE TABLE quality.fusion_results_plain (LIKE quality.fusion_results INCLUDING ALL);
VACUUM ANALYZE quality.tof_raw;
VACUUM ANALYZE quality.spectral_raw;
CHECKPOINT;
SQL

# The same join and the same row shape, without the three scoring calls.
plain_sql="INSERT INTO quality.fusion_results_plain
SELECT t.time, t.sample_id, t.eleveur, t.lot,
       t.distance_mm[1] / 100, 'A', s.f1 / 1e4, 'B', 0.5, 'B', 50, true, true, false,
       cardinality(t.reflectance) + cardinality(t.amplitude), '[]'::jsonb, '[]'::jsonb
FROM quality.tof_raw t LEFT JOIN quality.spectral_raw s ON s.sample_id = t.sample_id"

ms() { q -At -c "\\timing on" -c "$1" | awk '/^Time:/ {print $2}'; }
plain=$(ms "$plain_sql")
scored=$(ms "SELECT quality.score_new_samples()")
count=$(q -At -c "SELECT count(*) FROM quality.fusion_results")
[ "$count" = "$rows" ] || { echo "scored $count rows, expected $rows" >&2; exit 1; }
awk -v p="$plain" -v s="$scored" -v n="$rows" 'BEGIN {
  printf "plain INSERT … SELECT:   %8.0f ms  (%.0f rows/s)\n", p, n / (p / 1000)
  printf "scored INSERT … SELECT:  %8.0f ms  (%.0f rows/s)\n", s, n / (s / 1000)
  printf "ratio scored/plain: %.2f (goal <= 1.5)\n", s / p
}'
