-- Documentation for the foundation objects. Every object in schema sensor gets a comment.
COMMENT ON SCHEMA sensor IS
    'sensor_analytics: TDMS and T302 ingestion, downsampling for Grafana, availability, quality scoring and ClickHouse Arrow export';

COMMENT ON FUNCTION sensor.version() IS
    'The sensor_analytics version and the git commit it was built from, e.g. "sensor_analytics 0.1.0 (commit 1a2b3c4d5e6f)".';

COMMENT ON FUNCTION sensor.build_info() IS
    'Build and run-time facts as jsonb: PostgreSQL major version built for and running, build profile, and whether TimescaleDB is installed in this database (with its version).';
