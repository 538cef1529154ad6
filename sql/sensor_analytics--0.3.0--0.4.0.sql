-- sensor_analytics 0.3.0 -> 0.4.0.
-- New: sensor.downsample_series_agg and its support functions (src/downsample/aggregates.rs),
-- which sensor.downsample runs for an integer series column when the planner gives the
-- query parallel workers; sensor.availability_report_shares and its support functions
-- (src/availability/report_share.rs), which availability_report runs in parallel plans for
-- every equipment at once, in place of sensor.availability_report_share (dropped below);
-- sensor.downsample_partition (src/downsample/parallel_partitions.rs), which sensor.downsample
-- runs in parallel workers, a partition of the window each; sensor.availability_report_partition
-- (src/availability/report_partitions.rs), the same for availability_report on compressed chunks.
-- downsample_agg's transition functions became plain version-1 functions under the same
-- names, arguments and symbols: nothing to change for them. The
-- statements are the ones `cargo pgrx schema` writes for these objects in the 0.4.0 install
-- script, with the comments its finishing blocks (sql/foundation.sql) give them.
\echo Use "ALTER EXTENSION sensor_analytics UPDATE TO '0.4.0'" to load this file. \quit

CREATE FUNCTION sensor.downsample_series_trans(state internal, series bigint, "time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer, method text) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'downsample_series_trans';

CREATE  FUNCTION "downsample_series_final"(
	"state" internal /* Internal */
) RETURNS bytea /* SqlResult < Option < Vec < u8 > > > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'downsample_series_final_wrapper';

CREATE  FUNCTION "downsample_series_combine"(
	"a" internal, /* Internal */
	"b" internal /* Internal */
) RETURNS internal /* $crate :: error :: SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'downsample_series_combine_wrapper';

CREATE  FUNCTION "downsample_series_serialize"(
	"state" internal /* Internal */
) RETURNS bytea /* $crate :: error :: SqlResult < Vec < u8 > > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'downsample_series_serialize_wrapper';

CREATE  FUNCTION "downsample_series_deserialize"(
	"bytes" bytea, /* & [u8] */
	"_state" internal /* Internal */
) RETURNS internal /* $crate :: error :: SqlResult < Internal > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'downsample_series_deserialize_wrapper';

CREATE AGGREGATE sensor.downsample_series_agg(series bigint, "time" timestamptz, value float8, "from" timestamptz, "to" timestamptz, points integer, method text) (
    SFUNC = sensor.downsample_series_trans, STYPE = internal,
    FINALFUNC = sensor.downsample_series_final, COMBINEFUNC = sensor.downsample_series_combine,
    SERIALFUNC = sensor.downsample_series_serialize,
    DESERIALFUNC = sensor.downsample_series_deserialize, PARALLEL = SAFE);

COMMENT ON AGGREGATE sensor.downsample_series_agg(bigint, timestamptz, float8, timestamptz, timestamptz, integer, text) IS
    'Internal to sensor.downsample with an integer series column under a parallel plan: every series of the rows downsampled by one aggregate (no GROUP BY), its partial states merged exactly; returns them as bytes that sensor.downsample reads. See docs/downsampling.md.';
COMMENT ON FUNCTION sensor.downsample_series_trans(internal, bigint, timestamptz, float8, timestamptz, timestamptz, integer, text) IS 'Support function of the aggregate sensor.downsample_series_agg.';
COMMENT ON FUNCTION sensor.downsample_series_final(internal) IS 'Support function of the aggregate sensor.downsample_series_agg.';
COMMENT ON FUNCTION sensor.downsample_series_combine(internal, internal) IS 'Support function of the aggregate sensor.downsample_series_agg.';
COMMENT ON FUNCTION sensor.downsample_series_serialize(internal) IS 'Support function of the aggregate sensor.downsample_series_agg.';
COMMENT ON FUNCTION sensor.downsample_series_deserialize(bytea, internal) IS 'Support function of the aggregate sensor.downsample_series_agg.';

-- sensor.availability_report_share (one equipment's share, grouped by equipment) is replaced
-- by sensor.availability_report_shares (every equipment's, no GROUP BY). The library keeps
-- the old symbols (the 0.2.0 and 0.3.0 scripts name them), raising an error if called.
DROP AGGREGATE sensor.availability_report_share(oid, tid, timestamptz, text, bytea);
DROP FUNCTION sensor.availability_report_share_trans(internal, oid, tid, timestamptz, text, bytea);
DROP FUNCTION sensor.availability_report_share_final(internal);
DROP FUNCTION sensor.availability_report_share_combine(internal, internal);
DROP FUNCTION sensor.availability_report_share_serialize(internal);
DROP FUNCTION sensor.availability_report_share_deserialize(bytea, internal);

CREATE FUNCTION sensor.availability_report_shares_trans(internal internal, equipment bigint, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'availability_report_shares_trans';
CREATE FUNCTION sensor.availability_report_shares_trans(internal internal, equipment text, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'availability_report_shares_text_trans';

CREATE  FUNCTION "availability_report_shares_final"(
	"internal" internal /* Internal */
) RETURNS bytea /* SqlResult < Option < Vec < u8 > > > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_shares_final_wrapper';

CREATE  FUNCTION "availability_report_shares_combine"(
	"a" internal, /* Internal */
	"b" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_shares_combine_wrapper';

CREATE  FUNCTION "availability_report_shares_serialize"(
	"internal" internal /* Internal */
) RETURNS bytea /* SqlResult < Vec < u8 > > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_shares_serialize_wrapper';

CREATE  FUNCTION "availability_report_shares_deserialize"(
	"bytes" bytea, /* & [u8] */
	"_unused" internal /* Internal */
) RETURNS internal /* SqlResult < Internal > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'availability_report_shares_deserialize_wrapper';

CREATE AGGREGATE sensor.availability_report_shares(equipment bigint, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) (
    SFUNC = sensor.availability_report_shares_trans, STYPE = internal,
    FINALFUNC = sensor.availability_report_shares_final,
    COMBINEFUNC = sensor.availability_report_shares_combine,
    SERIALFUNC = sensor.availability_report_shares_serialize,
    DESERIALFUNC = sensor.availability_report_shares_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.availability_report_shares(equipment text, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) (
    SFUNC = sensor.availability_report_shares_trans, STYPE = internal,
    FINALFUNC = sensor.availability_report_shares_final,
    COMBINEFUNC = sensor.availability_report_shares_combine,
    SERIALFUNC = sensor.availability_report_shares_serialize,
    DESERIALFUNC = sensor.availability_report_shares_deserialize, PARALLEL = SAFE);

COMMENT ON AGGREGATE sensor.availability_report_shares(bigint, oid, tid, timestamptz, text, bytea) IS
    'Used by availability_report in parallel plans: every equipment''s events in one aggregate (no GROUP BY), each parallel worker''s share compressed to run boundaries, merged by the leader. Its arguments and bytes are internal (they may change in any version); call availability_report instead. See docs/availability.md.';
COMMENT ON AGGREGATE sensor.availability_report_shares(text, oid, tid, timestamptz, text, bytea) IS
    'sensor.availability_report_shares by a text equipment. See docs/availability.md.';
COMMENT ON FUNCTION sensor.availability_report_shares_trans(internal, bigint, oid, tid, timestamptz, text, bytea) IS 'Support function of the aggregate sensor.availability_report_shares.';
COMMENT ON FUNCTION sensor.availability_report_shares_trans(internal, text, oid, tid, timestamptz, text, bytea) IS 'Support function of the aggregate sensor.availability_report_shares.';
COMMENT ON FUNCTION sensor.availability_report_shares_final(internal) IS 'Support function of the aggregate sensor.availability_report_shares.';
COMMENT ON FUNCTION sensor.availability_report_shares_combine(internal, internal) IS 'Support function of the aggregate sensor.availability_report_shares.';
COMMENT ON FUNCTION sensor.availability_report_shares_serialize(internal) IS 'Support function of the aggregate sensor.availability_report_shares.';
COMMENT ON FUNCTION sensor.availability_report_shares_deserialize(bytea, internal) IS 'Support function of the aggregate sensor.availability_report_shares.';

-- sensor.downsample under a parallel plan: partitions of the window read by the workers
-- (src/downsample/parallel_partitions.rs).
CREATE FUNCTION sensor.downsample_partition(relation regclass, time_column name, value_column name, series_column name, filter text, "from" timestamptz, "to" timestamptz, points integer, method text, part_from timestamptz, part_to timestamptz, first_block bigint, end_block bigint) RETURNS bytea
LANGUAGE c STABLE PARALLEL SAFE COST 1000000 AS 'MODULE_PATHNAME', 'downsample_partition_wrapper';
COMMENT ON FUNCTION sensor.downsample_partition(regclass, name, name, name, text, timestamptz, timestamptz, integer, text, timestamptz, timestamptz, bigint, bigint) IS
    'Internal to sensor.downsample under a parallel plan: one partition of the window (a time range, and heap blocks [first_block, end_block) when given) read in the process that calls it, returned as per-series buckets over the whole window that sensor.downsample merges. Its bytes are internal (they may change in any version); call sensor.downsample instead. See docs/downsampling.md.';

-- sensor.availability_report under a parallel plan on compressed chunks: parts of the
-- window read by the workers (src/availability/report_partitions.rs).
CREATE FUNCTION sensor.availability_report_partition(relation regclass, time_column text, state_column text, equipment_column text, spec bytea, part_from timestamptz, part_to timestamptz) RETURNS bytea
LANGUAGE c STABLE PARALLEL SAFE COST 1000000 AS 'MODULE_PATHNAME', 'availability_report_partition_wrapper';
COMMENT ON FUNCTION sensor.availability_report_partition(regclass, text, text, text, bytea, timestamptz, timestamptz) IS
    'Internal to sensor.availability_report under a parallel plan on a hypertable with compressed chunks: each equipment''s bucket states for the events of one part of the window, read in the process that calls it. Its arguments and bytes are internal (they may change in any version); call sensor.availability_report instead. See docs/availability.md.';
