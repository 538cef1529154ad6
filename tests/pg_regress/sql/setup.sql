-- Creates the extension (and TimescaleDB when the server has it) in the test database.
SET client_min_messages = warning;
SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS have_timescaledb \gset
\if :have_timescaledb
CREATE EXTENSION IF NOT EXISTS timescaledb;
\endif
CREATE EXTENSION sensor_analytics;
SELECT extname, extnamespace::regnamespace AS schema, extrelocatable
FROM pg_extension WHERE extname = 'sensor_analytics';
