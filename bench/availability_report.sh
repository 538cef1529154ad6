#!/usr/bin/env bash
# availability_report over 10,000,000 status events of 100 pieces of equipment (about 1%
# of events change state) against SELECT equipment, count(*) … GROUP BY equipment over the
# same rows, in one run; prints the ratio (goal: at most 1.3). Also prints the serialized
# size of an availability_agg state over 1,000,000 events with 1,000 state changes.
#   bench/availability_report.sh [EVENTS]
# Needs the extension installed (cargo pgrx install --release).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
events=${1:-10000000}
port=$("$here/scripts/pg-cluster" start "$here/target/bench-cluster")
q() { psql -X -q -v ON_ERROR_STOP=1 -h localhost -p "$port" -U postgres -d sensor_bench "$@"; }
psql -X -q -h localhost -p "$port" -U postgres -d postgres -c "DROP DATABASE IF EXISTS sensor_bench" -c "CREATE DATABASE sensor_bench"
q -c "CREATE EXTENSION sensor_analytics"

echo "generating $events events ..."
q <<SQL
-- One event per equipment per second; a state lasts 100 events, so ~1% of events change it.
CREATE TABLE status_events (equipment int NOT NULL, time timestamptz NOT NULL, status text NOT NULL);
INSERT INTO status_events
SELECT i % 100, timestamptz '2026-01-01' + (i / 100) * interval '1 second',
       CASE WHEN ((i / 100) / 100 + i % 100) % 9 = 0 THEN 'offline'
            WHEN ((i / 100) / 100 + i % 100) % 13 = 0 THEN 'warning' ELSE 'online' END
FROM generate_series(0, $events - 1) i;
CREATE INDEX ON status_events (equipment, time);
VACUUM ANALYZE status_events;
SQL
to=$(q -At -c "SELECT max(time) + interval '1 second' FROM status_events")
window="'2026-01-01', '$to'"

ms() { q -At -c "\\timing on" -c "$1" | awk '/^Time:/ {print $2}'; }
best() { local b=""; for _ in 1 2 3; do t=$(ms "$1"); b=$(awk -v a="$b" -v t="$t" 'BEGIN {print (a == "" || t < a) ? t : a}'); done; echo "$b"; }
count=$(best "SELECT equipment, count(*) FROM status_events WHERE time >= '2026-01-01' AND time < '$to' GROUP BY equipment")
# The same baseline without parallel workers: availability_report scans serially (see
# src/availability.rs), so this ratio shows what its own per-row work costs.
serial=$(best "SET max_parallel_workers_per_gather = 0; SELECT equipment, count(*) FROM status_events WHERE time >= '2026-01-01' AND time < '$to' GROUP BY equipment")
report=$(best "SELECT count(*) FROM sensor.availability_report('status_events', 'time', 'status', 'equipment', $window, bucket => '1 hour')")
awk -v c="$count" -v s="$serial" -v r="$report" 'BEGIN {
  printf "count(*) GROUP BY equipment:  %8.0f ms\n", c
  printf "  the same, serial:           %8.0f ms\n", s
  printf "availability_report (1 h):    %8.0f ms\n", r
  printf "ratio report/count: %.2f (goal <= 1.3); report/serial count: %.2f\n", r / c, r / s
}'

q -At <<'SQL'
SELECT format('availability_agg state over %s events with %s state changes: %s bytes',
              count(*), sum(changed::int), octet_length(sensor.availability_agg(t, s, '2026-01-01', '2026-02-01')))
FROM (SELECT t, s, s IS DISTINCT FROM lag(s) OVER (ORDER BY t) AND lag(s) OVER (ORDER BY t) IS NOT NULL AS changed
      FROM (SELECT timestamptz '2026-01-01' + i * interval '1 second' AS t,
                   CASE WHEN (i / 1000) % 2 = 0 THEN 'online' ELSE 'offline' END AS s
            FROM generate_series(0, 999999) i) g) x;
SQL
