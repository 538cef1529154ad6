// `#[pg_test]`s of the bulk insert paths.

use pgrx::prelude::*;

use super::*;

/// `tests.bulk_scratch`, which each test creates (in its own order of columns).
const SCRATCH: TargetTable<3> = TargetTable {
    table: "tests.bulk_scratch",
    columns: [
        Column::new("key", pg_sys::INT8OID),
        Column::new("time", pg_sys::TIMESTAMPTZOID),
        Column::new("value", pg_sys::FLOAT8OID),
    ],
};

/// Row `key`: time `key` seconds after 2000-01-01, value `key / 2`.
fn scratch_row(key: i64, value: f64) -> [pg_sys::Datum; 3] {
    [key.into(), (key * 1_000_000).into(), value.to_bits().into()]
}

/// Creates the scratch table; the tests of this module take turns on it.
fn create_scratch(columns: &str) {
    Spi::run("SELECT pg_advisory_xact_lock(hashtext('sensor_analytics bulk_insert tests'))")
        .unwrap();
    Spi::run(&format!("CREATE TABLE tests.bulk_scratch ({columns})")).unwrap();
}

fn blocker() -> Option<String> {
    BulkInsert::direct_path_blocker(&SCRATCH).unwrap()
}

fn one<T: IntoDatum + FromDatum>(sql: &str) -> T {
    Spi::get_one::<T>(sql).unwrap().unwrap()
}

/// Test-only: pushes rows `keys` (value = key / 2) into `tests.bulk_scratch`; returns
/// whether the indexes were deferred, and whether the direct path was taken.
#[pg_extern]
fn bulk_scratch_push(keys: Vec<i64>, rebuild_if_empty: bool) -> Vec<bool> {
    let indexes = if rebuild_if_empty {
        Indexes::RebuildIfEmpty
    } else {
        Indexes::RowByRow
    };
    let mut sink = BulkInsert::open(&SCRATCH, indexes).unwrap();
    let modes = vec![sink.indexes_deferred(), sink.is_direct()];
    for &key in &keys {
        sink.push(scratch_row(key, key as f64 / 2.0)).unwrap();
    }
    assert_eq!(sink.finish().unwrap(), keys.len() as u64);
    modes
}

/// Test-only: pushes rows `keys` as `bulk_scratch_push` does; returns the rows that took a
/// direct path.
#[pg_extern]
fn bulk_scratch_push_direct_rows(keys: Vec<i64>) -> i64 {
    let mut sink = BulkInsert::open(&SCRATCH, Indexes::RowByRow).unwrap();
    for &key in &keys {
        sink.push(scratch_row(key, key as f64 / 2.0)).unwrap();
    }
    let direct = sink.direct_rows();
    sink.finish().unwrap();
    direct as i64
}

/// Test-only: upserts rows `keys` with `value` into `tests.bulk_scratch`, key column `key`.
#[pg_extern]
fn bulk_scratch_upsert(keys: Vec<i64>, value: f64) {
    let mut batch = SqlBatch::upsert(&SCRATCH, &["key"]).unwrap();
    for key in keys {
        batch.push(scratch_row(key, value)).unwrap();
    }
    batch.flush().unwrap();
}

fn push(keys: &str, rebuild_if_empty: bool) -> String {
    one::<Vec<bool>>(&format!(
        "SELECT tests.bulk_scratch_push(ARRAY(SELECT generate_series({keys}))::int8[], {rebuild_if_empty})"
    ))
    .iter()
    .map(|b| if *b { "t" } else { "f" })
    .collect()
}

/// Rows as the primary key index finds them, and their digest.
fn by_index() -> String {
    Spi::run("SET LOCAL enable_seqscan = off").unwrap();
    Spi::run("SET LOCAL enable_bitmapscan = off").unwrap();
    let digest = one::<String>(
        "SELECT concat_ws('|', count(*), sum(value), min(time) - '2000-01-01+00', max(time) - '2000-01-01+00') FROM tests.bulk_scratch WHERE key > 0",
    );
    Spi::run("RESET enable_seqscan").unwrap();
    Spi::run("RESET enable_bitmapscan").unwrap();
    digest
}

#[pg_test]
fn columns_are_placed_by_name_and_dropped_ones_stay_null() {
    create_scratch("value float8, gone int, time timestamptz, key int8 PRIMARY KEY");
    Spi::run("ALTER TABLE tests.bulk_scratch DROP COLUMN gone").unwrap();
    assert_eq!(blocker(), None);
    assert_eq!(push("1, 2500", false), "ft");
    assert_eq!(by_index(), "2500|1563125|00:00:01|00:41:40");
    // The SQL path (a trigger forces it) writes the same rows.
    Spi::run("TRUNCATE tests.bulk_scratch").unwrap();
    Spi::run("CREATE FUNCTION pg_temp.keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$").unwrap();
    Spi::run("CREATE TRIGGER keep BEFORE INSERT ON tests.bulk_scratch FOR EACH ROW EXECUTE FUNCTION pg_temp.keep()").unwrap();
    assert_eq!(push("1, 2500", false), "ff");
    assert_eq!(by_index(), "2500|1563125|00:00:01|00:41:40");
}

#[pg_test]
fn indexes_are_rebuilt_once_into_an_empty_table_only() {
    create_scratch("key int8 PRIMARY KEY, time timestamptz, value float8");
    Spi::run("CREATE INDEX bulk_scratch_time ON tests.bulk_scratch (time)").unwrap();
    assert_eq!(push("1, 2500", true), "tt");
    assert_eq!(by_index(), "2500|1563125|00:00:01|00:41:40");
    assert_eq!(
        one::<i64>("SELECT count(*) FROM pg_index WHERE indrelid = 'tests.bulk_scratch'::regclass AND indisvalid AND indisready"),
        2
    );
    // Not empty any more: entries go in batch by batch, and the key is still unique.
    assert_eq!(push("2501, 3000", true), "ft");
    assert_eq!(by_index(), "3000|2250750|00:00:01|00:50:00");
    crate::tests::assert_sqlstate("SELECT tests.bulk_scratch_push(ARRAY[7]::int8[], true)", "23505");
    // A duplicate within a deferred load fails at the rebuild.
    Spi::run("TRUNCATE tests.bulk_scratch").unwrap();
    crate::tests::assert_sqlstate("SELECT tests.bulk_scratch_push(ARRAY[5, 6, 5]::int8[], true)", "23505");
    // The failed load left pages (of dead rows) behind: not empty.
    assert_eq!(push("1, 3", true), "ft");
    // The option is only an option.
    Spi::run("TRUNCATE tests.bulk_scratch").unwrap();
    assert_eq!(push("1, 3", false), "ft");
}

#[pg_test]
fn upsert_replaces_the_other_columns() {
    create_scratch("key int8 PRIMARY KEY, time timestamptz, value float8");
    assert_eq!(push("1, 10", false), "ft");
    Spi::run(
        "SELECT tests.bulk_scratch_upsert(ARRAY(SELECT generate_series(8, 12000))::int8[], -1)",
    )
    .unwrap();
    assert_eq!(
        one::<String>("SELECT concat_ws('|', count(*), sum(value), count(*) FILTER (WHERE value = -1)) FROM tests.bulk_scratch"),
        "12000|-11979|11993"
    );
}

#[pg_test]
fn every_check_of_either_loader_blocks_the_direct_path() {
    create_scratch("key int8, time timestamptz, value float8");
    assert_eq!(blocker(), None);
    let blocked_by = |change: &str, undo: &str| {
        Spi::run(change).unwrap();
        let reason = blocker();
        Spi::run(undo).unwrap();
        assert_eq!(blocker(), None, "{undo}");
        reason.unwrap_or_default()
    };
    let table = "tests.bulk_scratch";
    for (change, undo, reason) in [
        (
            format!("CREATE RULE bulk_rule AS ON INSERT TO {table} DO ALSO NOTIFY bulk_scratch"),
            format!("DROP RULE bulk_rule ON {table}"),
            "it has rules",
        ),
        (
            format!("ALTER TABLE {table} ALTER COLUMN time TYPE timestamptz(0)"),
            format!("ALTER TABLE {table} ALTER COLUMN time TYPE timestamptz"),
            "its column time has a type modifier",
        ),
        (
            format!("ALTER TABLE {table} ALTER COLUMN value TYPE float4"),
            format!("ALTER TABLE {table} ALTER COLUMN value TYPE float8"),
            "its column value has another type",
        ),
        (
            format!("ALTER TABLE {table} ADD CONSTRAINT bulk_check CHECK (value > 0)"),
            format!("ALTER TABLE {table} DROP CONSTRAINT bulk_check"),
            "it has CHECK constraints or generated columns",
        ),
        (
            format!("ALTER TABLE {table} ADD COLUMN twice int8 GENERATED ALWAYS AS (key * 2) STORED"),
            format!("ALTER TABLE {table} DROP COLUMN twice"),
            "it has CHECK constraints or generated columns",
        ),
        (
            format!("ALTER TABLE {table} RENAME COLUMN value TO v"),
            format!("ALTER TABLE {table} RENAME COLUMN v TO value"),
            "it has another column (v)",
        ),
        (
            format!("ALTER TABLE {table} ADD CONSTRAINT bulk_unique UNIQUE (key) DEFERRABLE"),
            format!("ALTER TABLE {table} DROP CONSTRAINT bulk_unique"),
            "it has triggers (a TimescaleDB hypertable has one)",
        ),
        (
            format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
            format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"),
            "it has row-level security enabled",
        ),
    ] {
        assert_eq!(blocked_by(&change, &undo), reason, "{change}");
    }
    // Without a column: after the other checks.
    Spi::run(&format!("ALTER TABLE {table} DROP COLUMN value")).unwrap();
    assert_eq!(blocker().as_deref(), Some("a column is missing"));
}

#[pg_test]
fn hypertables_take_the_sql_path() {
    create_scratch("key int8, time timestamptz, value float8");
    if crate::pg::timescaledb::installed_version()
        .unwrap()
        .is_some()
    {
        println!("SKIP: hypertables_take_the_sql_path simulates TimescaleDB's catalog, which is installed here");
        return;
    }
    // TimescaleDB's catalog as it records a hypertable (no trigger since 2.23), here
    // without a dimension: rows cannot be routed to chunks.
    Spi::run("CREATE SCHEMA _timescaledb_catalog").unwrap();
    Spi::run(
        "CREATE TABLE _timescaledb_catalog.hypertable (id int, schema_name name, table_name name);
         CREATE TABLE _timescaledb_catalog.dimension (hypertable_id int, column_name name, column_type regtype,
             interval_length bigint, partitioning_func name);
         CREATE TABLE _timescaledb_catalog.continuous_agg (raw_hypertable_id int)",
    )
    .unwrap();
    assert_eq!(blocker(), None);
    Spi::run("INSERT INTO _timescaledb_catalog.hypertable VALUES (1, 'tests', 'bulk_scratch')")
        .unwrap();
    assert_eq!(
        blocker().as_deref(),
        Some("it is a TimescaleDB hypertable and it has not exactly one dimension")
    );
    assert_eq!(push("1, 10", false), "ff");
    assert_eq!(one::<i64>("SELECT count(*) FROM tests.bulk_scratch"), 10);
}

/// Whether this cluster can create TimescaleDB (installed and preloaded).
fn timescaledb_loadable() -> bool {
    one::<bool>(
        "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') \
         AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'",
    )
}

/// Rows of `tests.bulk_scratch` outside the time range of the chunk that holds them.
const MISPLACED: &str = "SELECT count(*) FROM tests.bulk_scratch s JOIN timescaledb_information.chunks c \
     ON pg_catalog.format('%I.%I', c.chunk_schema, c.chunk_name)::regclass = s.tableoid \
     WHERE NOT (s.time >= c.range_start AND s.time < c.range_end)";

#[pg_test]
fn hypertable_rows_go_to_their_chunks_on_the_direct_path() {
    create_scratch("key int8 NOT NULL, time timestamptz NOT NULL, value float8");
    if !timescaledb_loadable() {
        println!("SKIP: hypertable_rows_go_to_their_chunks_on_the_direct_path needs TimescaleDB");
        return;
    }
    Spi::run("CREATE EXTENSION IF NOT EXISTS timescaledb").unwrap();
    Spi::run(
        "SELECT create_hypertable('tests.bulk_scratch', 'time', chunk_time_interval => interval '1 hour');
         CREATE UNIQUE INDEX ON tests.bulk_scratch (key, time);
         ALTER TABLE tests.bulk_scratch SET (timescaledb.compress, timescaledb.compress_orderby = 'time');
         -- Hours 0 and 1 exist; hour 1 is compressed.
         INSERT INTO tests.bulk_scratch SELECT k, timestamptz '2000-01-01 00:00+00' + k * interval '1 second', k / 2.0
         FROM generate_series(1, 100) k;
         INSERT INTO tests.bulk_scratch SELECT k, timestamptz '2000-01-01 00:00+00' + k * interval '1 second', k / 2.0
         FROM generate_series(3600, 3700) k;
",
    )
    .unwrap();
    // In a statement of its own: compressing reindexes the chunk, which no query may be using.
    let hour_1 = one::<String>("SELECT tableoid::regclass::text FROM tests.bulk_scratch WHERE key = 3600");
    Spi::run(&format!("SELECT compress_chunk('{hour_1}')")).unwrap();
    assert_eq!(blocker(), None);
    // Out of time order, into an open chunk (hour 0), a compressed one (1) and new ones (2, 3, 5).
    // Only the compressed chunk's rows and each new chunk's first row go through INSERT.
    assert_eq!(
        one::<i64>(
            "SELECT tests.bulk_scratch_push_direct_rows(ARRAY(SELECT generate_series(7200, 9999) UNION ALL SELECT generate_series(101, 3599)
                 UNION ALL SELECT generate_series(3701, 4000) UNION ALL SELECT generate_series(18000, 18500)
                 UNION ALL SELECT generate_series(10000, 10800))::int8[])"
        ),
        7_901 - 300 - 3
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM tests.bulk_scratch"), 8_102);
    assert_eq!(one::<i64>("SELECT count(DISTINCT key) FROM tests.bulk_scratch"), 8_102);
    assert_eq!(
        one::<f64>("SELECT sum(value - key / 2.0)::float8 FROM tests.bulk_scratch"),
        0.0
    );
    assert_eq!(one::<i64>(MISPLACED), 0);
    assert_eq!(
        one::<i64>("SELECT count(*) FROM show_chunks('tests.bulk_scratch')"),
        5
    );
    // The compressed chunk took its rows through TimescaleDB (it is now partial).
    assert_eq!(
        one::<i64>("SELECT count(*) FROM tests.bulk_scratch WHERE time >= '2000-01-01 01:00+00' AND time < '2000-01-01 02:00+00'"),
        401
    );
    // Each chunk's unique index checks the rows it gets.
    crate::tests::assert_sqlstate("SELECT tests.bulk_scratch_push(ARRAY[8000, 8000]::int8[], false)", "23505");
    // A continuous aggregate learns of new rows in TimescaleDB's insert path.
    Spi::run(
        "CREATE MATERIALIZED VIEW tests.bulk_scratch_hourly WITH (timescaledb.continuous) AS
         SELECT time_bucket('1 hour', time) AS bucket, count(*) AS n FROM tests.bulk_scratch GROUP BY 1 WITH NO DATA",
    )
    .unwrap();
    assert_eq!(
        blocker().as_deref(),
        Some("it is a TimescaleDB hypertable and it has continuous aggregates")
    );
    Spi::run("DROP MATERIALIZED VIEW tests.bulk_scratch_hourly").unwrap();
    assert_eq!(blocker(), None);
    // A trigger on the hypertable would not fire on its chunks' direct path.
    Spi::run(
        "CREATE FUNCTION tests.bulk_scratch_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
         CREATE TRIGGER noop BEFORE INSERT ON tests.bulk_scratch FOR EACH ROW EXECUTE FUNCTION tests.bulk_scratch_noop()",
    )
    .unwrap();
    assert_eq!(
        blocker().as_deref(),
        Some("it is a TimescaleDB hypertable and the hypertable has triggers")
    );
    assert_eq!(push("20000, 20010", false), "ff");
    assert_eq!(one::<i64>(MISPLACED), 0);
}
