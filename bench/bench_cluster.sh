# Sourced by the bench/*.sh runners: installs the release build into $PG_CONFIG's
# PostgreSQL, starts the cluster under target/bench-cluster (2 GB of shared buffers; the
# data is kept there between runs) and (re)creates the extension in database `bench`,
# with TimescaleDB when it is installed. Sets $py and the PG* environment.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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
export PGHOST=localhost PGPORT="$port" PGUSER=postgres PGDATABASE=bench
