-- Runs once, when the image's entrypoint initializes an empty data directory (after the
-- image's own TimescaleDB setup): the extensions in the default database.
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS sensor_analytics;
