-- ClickHouse-compatible Arrow export: documentation (src/export.rs).

COMMENT ON FUNCTION sensor.arrow_export(text, text, text, integer, text, boolean, text[], text, timestamptz, timestamptz, text[], text, text, text) IS
    'Writes the result of query to the server file path as Arrow IPC that ClickHouse ingests (format ''file'' = ClickHouse Arrow, ''stream'' = ArrowStream; compression none/lz4/zstd), batch_rows rows per record batch through a cursor. Atomic: a temporary file in the same directory, fsync, rename; a failed export leaves nothing. overwrite => false refuses an existing file (58P02). time_column with "from"/"to" exports only [from, to). Type options as in sensor.clickhouse_ddl. Needs pg_write_server_files. Returns rows, batches, bytes, duration_ms.';

COMMENT ON FUNCTION sensor.arrow_stream(text, integer, text, text[], text, timestamptz, timestamptz, text[], text, text, text) IS
    'The result of query as SETOF bytea whose concatenation is one Arrow IPC stream (ClickHouse ArrowStream): the schema message, one chunk per batch of batch_rows rows, the end-of-stream marker. Produced lazily through a cursor when called in the SELECT list. Same window and type options as sensor.arrow_export.';

COMMENT ON FUNCTION sensor.clickhouse_ddl(text, text, text, text, text, text[], text[], text, text, text) IS
    'The ClickHouse CREATE TABLE whose columns receive exactly what sensor.arrow_export writes for query (described, not run) with the same type options: low_cardinality (text/enum columns as LowCardinality(String)), datetime_columns (timestamps as DateTime instead of DateTime64(6)), numeric_mode for unconstrained numeric (decimal = Decimal(38, 9), float64, text), time_mode (time64 or int64 microseconds), special_values (error, or null for ±infinity/NaN). Nullable(T) unless the column is a NOT NULL table column. engine is verbatim (e.g. Join(ANY, LEFT, user_id)); order_by and partition_by apply to MergeTree engines.';
