// `#[pg_test]`s of the TDMS functions.

use std::path::PathBuf;

use crate::tests::{assert_sqlstate, error_fields_of, sqlstate_of};
use pgrx::prelude::*;

use super::{sample_row, INDEXED_SAMPLES, TIMED_SAMPLES};
use crate::pg::bulk_insert::{BulkInsert, Indexes};

/// Tests that change the shared sample tables (triggers, constraints, columns) take
/// them first, in one order, so concurrent tests wait instead of deadlocking.
fn lock_shared_tables() {
    // The module's own lock first, as fixture() takes it, then the tables.
    Spi::run("SELECT pg_advisory_xact_lock(hashtext('sensor_analytics tdms tests'))").unwrap();
    Spi::run("LOCK TABLE sensor_data.datasets, sensor_data.channels, sensor_data.samples, sensor_data.indexed_samples IN ACCESS EXCLUSIVE MODE").unwrap();
}

/// The golden-test fixtures, written where this backend (the postgres OS user) reads them.
/// Also serializes the tests of this module: they load into and alter the same tables,
/// and tests run concurrently (in separate transactions, rolled back at the end).
fn fixture(name: &str) -> String {
    Spi::run("SELECT pg_advisory_xact_lock(hashtext('sensor_analytics tdms tests'))").unwrap();
    let bytes: &[u8] = match name {
        "small" => include_bytes!("../../../tests/data/tdms/small.tdms"),
        "interleaved" => include_bytes!("../../../tests/data/tdms/interleaved.tdms"),
        "truncated" => include_bytes!("../../../tests/data/tdms/truncated.tdms"),
        "rtd_scale" => include_bytes!("../../../tests/data/tdms/rtd_scale.tdms"),
        "empty" => include_bytes!("../../../tests/data/tdms/empty.tdms"),
        "random" => include_bytes!("../../../tests/data/tdms/random.tdms"),
        "wrong_tag" => include_bytes!("../../../tests/data/tdms/wrong_tag.tdms"),
        "absurd_count" => include_bytes!("../../../tests/data/tdms/absurd_count.tdms"),
        "raw_offset_past_end" => {
            include_bytes!("../../../tests/data/tdms/raw_offset_past_end.tdms")
        }
        "time_overflow" => include_bytes!("../../../tests/data/tdms/time_overflow.tdms"),
        other => panic!("no fixture {other}"),
    };
    let dir = fixture_dir();
    let path = dir.join(format!("{name}.tdms"));
    std::fs::write(&path, bytes).expect("write fixture");
    path.to_string_lossy().into_owned()
}

fn fixture_dir() -> PathBuf {
    let dir = std::env::temp_dir()
        .join("sensor_tdms_pgtest")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).expect("fixture dir");
    dir
}

fn count(sql: &str) -> i64 {
    Spi::get_one::<i64>(sql).unwrap().unwrap()
}

fn text(sql: &str) -> Option<String> {
    Spi::get_one::<String>(sql).unwrap()
}

#[pg_test]
fn channels_list_types_units_time_and_later_properties() {
    let small = fixture("small");
    let got = text(&format!(
        "SELECT string_agg(concat_ws('|', group_name, channel_name, data_type, n_values, unit, has_time, start_time, increment_s, value_type), ';' ORDER BY ord)
         FROM sensor.tdms_channels('{small}') WITH ORDINALITY AS t(group_name, channel_name, path, data_type, n_values, unit, has_time, start_time, increment_s, properties, is_daqmx, scaling, value_type, ord)"
    ));
    assert_eq!(
        got.as_deref(),
        Some(
            "rig|temp|tdsTypeDoubleFloat|6|°C|t|2024-01-01 00:00:00+00|0.5|float8;\
             rig|count|tdsTypeI32|4|1|f|float8;\
             rig|label|tdsTypeString|3|f|text;\
             rig|ok|tdsTypeBoolean|4|f|float8;\
             aux|it's|tdsTypeI16|4|t|2024-01-01 01:00:10+00|0.001|float8"
        )
    );
    // The later segment's NI_UnitDescription wins; properties keep their types.
    assert_eq!(
        text(&format!("SELECT properties::text FROM sensor.tdms_channels('{small}') WHERE channel_name = 'temp'")).as_deref(),
        Some(r#"{"wf_samples": 3, "wf_increment": 0.5, "wf_start_time": "2024-01-01T00:00:00.000000Z", "NI_UnitDescription": "°C"}"#)
    );
    assert_eq!(
        text(&format!("SELECT string_agg(level || ':' || coalesce(group_name, '') || ':' || name || '=' || value::text || ':' || data_type, ' ') FROM sensor.tdms_properties('{small}') WHERE level <> 'channel'")).as_deref(),
        Some(r#"file::title="rig test":tdsTypeString file::created="2024-01-01T00:00:00.250000Z":tdsTypeTimeStamp file::operator="A. N. Other":tdsTypeString group:rig:location="bench 3":tdsTypeString group:rig:gain=2.5:tdsTypeDoubleFloat"#)
    );
}

#[pg_test]
fn read_streams_values_times_and_text() {
    let small = fixture("small");
    assert_eq!(
        count(&format!("SELECT count(*) FROM sensor.tdms_read('{small}')")),
        21
    );
    assert_eq!(
        text(&format!("SELECT string_agg(concat_ws('|', sample_index, time, value), ';' ORDER BY sample_index) FROM sensor.tdms_read('{small}', channel_name => 'temp')")).as_deref(),
        Some("0|2024-01-01 00:00:00+00|20.5;1|2024-01-01 00:00:00.5+00|21;2|2024-01-01 00:00:01+00|21.5;3|2024-01-01 00:00:01.5+00|22;4|2024-01-01 00:00:02+00|22.5;5|2024-01-01 00:00:02.5+00|NaN")
    );
    // wf_start_offset (10 s) is part of the time; offset and limit pick sample indexes.
    assert_eq!(
        text(&format!("SELECT string_agg(concat_ws('|', sample_index, time, value), ';') FROM sensor.tdms_read('{small}', 'aux', \"offset\" => 1, \"limit\" => 2)")).as_deref(),
        Some("1|2024-01-01 01:00:10.001+00|1;2|2024-01-01 01:00:10.002+00|32767")
    );
    assert_eq!(
        text(&format!("SELECT string_agg(coalesce(value::text, 'NULL') || '|' || value_text, ';' ORDER BY sample_index) FROM sensor.tdms_read('{small}', 'rig', 'label')")).as_deref(),
        Some("NULL|start;NULL|héllo;NULL|it's")
    );
    // Booleans are 0/1 (the file stores 2 for the last true), without time.
    assert_eq!(
        text(&format!("SELECT string_agg(value::text || coalesce(time::text, '-'), ',' ORDER BY sample_index) FROM sensor.tdms_read('{small}', channel_name => 'ok')")).as_deref(),
        Some("1-,0-,0-,1-")
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM sensor.tdms_read('{small}', \"offset\" => 1000)"
        )),
        0
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM sensor.tdms_read('{small}', \"limit\" => 0)"
        )),
        0
    );
    // NULLs: no path, no rows; NULL offset and limit are the defaults.
    assert_eq!(count("SELECT count(*) FROM sensor.tdms_read(NULL)"), 0);
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM sensor.tdms_read('{small}', NULL, NULL, NULL, NULL)"
        )),
        21
    );
    let interleaved = fixture("interleaved");
    assert_eq!(
        text(&format!("SELECT string_agg(channel_name || value, ',' ORDER BY channel_name, sample_index) FROM sensor.tdms_read('{interleaved}')")).as_deref(),
        Some("a0,a1,a10,a11,a20,a21,b0,b0.25,b1,b1.25,b2,b2.25")
    );
}

#[pg_test]
fn read_streams_lazily_under_limit() {
    // A LIMIT on the query stops the stream after the rows it needs.
    let small = fixture("small");
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM (SELECT * FROM sensor.tdms_read('{small}') LIMIT 3) s"
        )),
        3
    );
}

#[pg_test]
fn read_rejects_bad_filters_and_arguments() {
    let small = fixture("small");
    assert_eq!(
        error_fields_of(&format!("SELECT * FROM sensor.tdms_read('{small}', 'nope')")),
        format!("42704|group \"nope\" not found in TDMS file \"{small}\"||sensor.tdms_channels(path) lists the groups and channels.")
    );
    assert_sqlstate(&format!(
            "SELECT * FROM sensor.tdms_read('{small}', 'aux', 'temp')"
        ), "42704");
    assert_sqlstate(&format!(
            "SELECT * FROM sensor.tdms_read('{small}', \"offset\" => -1)"
        ), "22023");
    assert_sqlstate(&format!(
            "SELECT * FROM sensor.tdms_read('{small}', \"limit\" => -1)"
        ), "22023");
}

#[pg_test]
fn bad_files_have_deliberate_sqlstates() {
    for (name, state) in [
        ("random", "22P02"),
        ("empty", "22P02"),
        ("wrong_tag", "22P02"),
        ("absurd_count", "22P02"),
        ("raw_offset_past_end", "22P02"),
    ] {
        let path = fixture(name);
        for f in ["tdms_channels", "tdms_properties", "tdms_read", "load_tdms"] {
            assert_eq!(
                sqlstate_of(&format!("SELECT * FROM sensor.{f}('{path}')")).as_deref(),
                Some(state),
                "{f} {name}"
            );
        }
    }
    let rtd = fixture("rtd_scale");
    let err = error_fields_of(&format!("SELECT * FROM sensor.tdms_read('{rtd}')"));
    assert_eq!(err, format!("0A000|TDMS file \"{rtd}\" uses an unsupported feature: scale type 'RTD' (NI_Scale[1]) of channel /'g'/'rtd'||"));
    assert_sqlstate(&format!("SELECT * FROM sensor.load_tdms('{rtd}')"), "0A000");
    // tdms_channels still describes the channel and its scaling.
    assert_eq!(
        text(&format!(
            "SELECT scaling::text FROM sensor.tdms_channels('{rtd}')"
        ))
        .as_deref(),
        Some(r#"{"scale_index": 1, "unsupported": "RTD"}"#)
    );
    let missing = fixture_dir().join("missing.tdms");
    let missing = missing.display();
    assert_eq!(
        error_fields_of(&format!("SELECT * FROM sensor.tdms_channels('{missing}')")),
        format!("58P01|could not open file \"{missing}\": No such file or directory||")
    );
    assert_sqlstate(&format!("SELECT * FROM sensor.load_tdms('{missing}')"), "58P01");
    let dir = fixture_dir();
    assert_sqlstate(&format!(
            "SELECT * FROM sensor.tdms_read('{}')",
            dir.display()
        ), "42809");
}

#[pg_test]
fn load_stores_catalog_and_samples_and_reports() {
    let small = fixture("small");
    let (loaded, skipped, samples) = Spi::get_three::<i32, pgrx::JsonB, i64>(&format!(
        "SELECT channels_loaded, channels_skipped, samples FROM sensor.load_tdms('{small}', name => 'rig run')"
    ))
    .unwrap();
    assert_eq!(loaded, Some(4));
    assert_eq!(samples, Some(18));
    assert_eq!(
        skipped.unwrap().0,
        serde_json::json!([{"group": "rig", "channel": "label", "reason": "string values: read them as text with sensor.tdms_read (value_text)"}])
    );
    assert_eq!(
        text("SELECT concat_ws('|', name, bytes, properties->>'title', group_properties->'rig'->>'location', cardinality(warnings)) FROM sensor_data.datasets").as_deref(),
        Some("rig run|970|rig test|bench 3|0")
    );
    assert_eq!(
        text("SELECT string_agg(concat_ws('|', group_name, name, unit, data_type, has_time, start_time, increment_s, n_samples), ';' ORDER BY id) FROM sensor_data.channels").as_deref(),
        Some("rig|temp|°C|tdsTypeDoubleFloat|t|2024-01-01 00:00:00+00|0.5|6;rig|count|1|tdsTypeI32|f|4;rig|ok|tdsTypeBoolean|f|4;aux|it's|tdsTypeI16|t|2024-01-01 01:00:10+00|0.001|4")
    );
    // The stored samples are exactly what tdms_read gives.
    let diff = count(&format!(
        "SELECT count(*) FROM (
           (SELECT c.group_name, c.name, s.time, NULL::bigint AS i, s.value FROM sensor_data.samples s JOIN sensor_data.channels c ON c.id = s.channel_id
            UNION ALL
            SELECT c.group_name, c.name, NULL, s.sample_index, s.value FROM sensor_data.indexed_samples s JOIN sensor_data.channels c ON c.id = s.channel_id)
           EXCEPT ALL
           SELECT group_name, channel_name, time, CASE WHEN time IS NULL THEN sample_index END, value FROM sensor.tdms_read('{small}') WHERE value IS NOT NULL
         ) d"
    ));
    assert_eq!(diff, 0);
    assert_eq!(count("SELECT count(*) FROM sensor_data.samples"), 10);
    assert_eq!(count("SELECT count(*) FROM sensor_data.indexed_samples"), 8);
}

#[pg_test]
fn identical_file_is_not_loaded_twice_unless_replaced() {
    let small = fixture("small");
    let first = count(&format!(
        "SELECT dataset_id FROM sensor.load_tdms('{small}')"
    ));
    let (id, already, samples) = Spi::get_three::<i64, bool, i64>(&format!(
        "SELECT dataset_id, already_loaded, samples FROM sensor.load_tdms_bytes(pg_read_binary_file('{small}'), 'upload')"
    ))
    .unwrap();
    assert_eq!((id, already, samples), (Some(first), Some(true), Some(0)));
    assert_eq!(count("SELECT count(*) FROM sensor_data.datasets"), 1);
    let (id, already) = Spi::get_two::<i64, bool>(&format!(
        "SELECT dataset_id, already_loaded FROM sensor.load_tdms('{small}', replace => true)"
    ))
    .unwrap();
    assert_ne!(id, Some(first));
    assert_eq!(already, Some(false));
    assert_eq!(count("SELECT count(*) FROM sensor_data.datasets"), 1);
    assert_eq!(
        count("SELECT count(*) FROM sensor_data.samples")
            + count("SELECT count(*) FROM sensor_data.indexed_samples"),
        18
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM sensor_data.channels WHERE dataset_id = {first}"
        )),
        0
    );
}

#[pg_test]
fn delete_dataset_removes_samples_and_knows_unknown_ids() {
    let small = fixture("small");
    let id = count(&format!(
        "SELECT dataset_id FROM sensor.load_tdms('{small}')"
    ));
    assert_eq!(count(&format!("SELECT sensor.delete_dataset({id})")), 18);
    assert_eq!(
        count("SELECT count(*) FROM sensor_data.samples")
            + count("SELECT count(*) FROM sensor_data.indexed_samples")
            + count("SELECT count(*) FROM sensor_data.channels")
            + count("SELECT count(*) FROM sensor_data.datasets"),
        0
    );
    assert_eq!(
        error_fields_of(&format!("SELECT sensor.delete_dataset({id})")),
        format!(
            "42704|dataset {id} does not exist||sensor_data.datasets lists the loaded datasets."
        )
    );
}

#[pg_test]
fn failed_load_leaves_nothing_behind() {
    lock_shared_tables();
    // Fails at sample 1 of the second channel: after the catalog rows and the first
    // channel's samples were written.
    let overflow = fixture("time_overflow");
    assert_eq!(
        error_fields_of(&format!("SELECT * FROM sensor.load_tdms('{overflow}')")),
        "22008|time of sample 1 of channel /'g'/'far' is out of range for timestamptz||"
    );
    // And one that fails on the SPI path (a trigger forces it).
    Spi::run("CREATE FUNCTION pg_temp.keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$").unwrap();
    Spi::run("CREATE TRIGGER keep BEFORE INSERT ON sensor_data.indexed_samples FOR EACH ROW EXECUTE FUNCTION pg_temp.keep()").unwrap();
    assert_sqlstate(&format!("SELECT * FROM sensor.load_tdms('{overflow}')"), "22008");
    for table in ["datasets", "channels", "samples", "indexed_samples"] {
        assert_eq!(
            count(&format!("SELECT count(*) FROM sensor_data.{table}")),
            0,
            "{table}"
        );
    }
}

#[pg_test]
fn warnings_are_recorded_with_the_dataset() {
    let truncated = fixture("truncated");
    assert_eq!(
        count(&format!(
            "SELECT samples FROM sensor.load_tdms('{truncated}')"
        )),
        5
    );
    assert_eq!(
        text("SELECT array_to_string(warnings, ' / ') FROM sensor_data.datasets").as_deref(),
        Some("segment at byte 76: last segment was not closed (next segment offset unknown); reading its data to the end of the file / segment at byte 76: data size 12 is not a multiple of the chunk size 8; reading the last partial chunk")
    );
}

/// Test-only: pushes the same sample twice through the direct path.
#[pg_extern]
fn push_samples_twice() -> bool {
    let mut sink = BulkInsert::open(&TIMED_SAMPLES, Indexes::RowByRow).unwrap();
    let direct = sink.is_direct();
    sink.push(sample_row(1, 0, 1.0)).unwrap();
    sink.push(sample_row(1, 0, 2.0)).unwrap();
    sink.finish().unwrap();
    direct
}

#[pg_test]
fn direct_path_is_taken_for_plain_tables_only() {
    lock_shared_tables();
    assert_eq!(
        BulkInsert::direct_path_blocker(&TIMED_SAMPLES).unwrap(),
        None
    );
    assert_eq!(
        BulkInsert::direct_path_blocker(&INDEXED_SAMPLES).unwrap(),
        None
    );
    let sink = BulkInsert::open(&TIMED_SAMPLES, Indexes::RowByRow).unwrap();
    assert!(sink.is_direct());
    assert_eq!(sink.finish().unwrap(), 0);
    // A deferrable constraint comes with a constraint trigger (its recheck).
    Spi::run(
        "ALTER TABLE sensor_data.samples ADD CONSTRAINT u UNIQUE (channel_id, time) DEFERRABLE",
    )
    .unwrap();
    assert_eq!(
        BulkInsert::direct_path_blocker(&TIMED_SAMPLES)
            .unwrap()
            .as_deref(),
        Some("it has triggers (a TimescaleDB hypertable has one)")
    );
    Spi::run("ALTER TABLE sensor_data.samples DROP CONSTRAINT u").unwrap();
    // An immediate unique index is checked by index insertion itself.
    Spi::run("ALTER TABLE sensor_data.samples ADD CONSTRAINT u UNIQUE (channel_id, time)")
        .unwrap();
    assert_eq!(
        BulkInsert::direct_path_blocker(&TIMED_SAMPLES).unwrap(),
        None
    );
    assert_sqlstate("SELECT tests.push_samples_twice()", "23505");
    Spi::run("ALTER TABLE sensor_data.samples DROP CONSTRAINT u").unwrap();
    Spi::run("ALTER TABLE sensor_data.samples ADD COLUMN note text DEFAULT 'x'").unwrap();
    assert_eq!(
        BulkInsert::direct_path_blocker(&TIMED_SAMPLES)
            .unwrap()
            .as_deref(),
        Some("it has another column (note)")
    );
    Spi::run("ALTER TABLE sensor_data.samples DROP COLUMN note").unwrap();
    // A dropped column is fine (it stays NULL).
    assert_eq!(
        BulkInsert::direct_path_blocker(&TIMED_SAMPLES).unwrap(),
        None
    );
    Spi::run("ALTER TABLE sensor_data.indexed_samples ENABLE ROW LEVEL SECURITY").unwrap();
    assert_eq!(
        BulkInsert::direct_path_blocker(&INDEXED_SAMPLES)
            .unwrap()
            .as_deref(),
        Some("it has row-level security enabled")
    );
}

#[pg_test]
fn direct_and_spi_paths_store_the_same_rows() {
    lock_shared_tables();
    let small = fixture("small");
    let snapshot = "SELECT string_agg(concat_ws('|', c.group_name, c.name, s.k, s.value), ';' ORDER BY c.group_name, c.name, s.k)
         FROM (SELECT channel_id, time::text AS k, value FROM sensor_data.samples
               UNION ALL SELECT channel_id, sample_index::text, value FROM sensor_data.indexed_samples) s
         JOIN sensor_data.channels c ON c.id = s.channel_id";
    Spi::run(&format!("SELECT * FROM sensor.load_tdms('{small}')")).unwrap();
    let direct = text(snapshot);
    Spi::run("CREATE FUNCTION pg_temp.keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$").unwrap();
    for table in ["samples", "indexed_samples"] {
        Spi::run(&format!("CREATE TRIGGER keep BEFORE INSERT ON sensor_data.{table} FOR EACH ROW EXECUTE FUNCTION pg_temp.keep()")).unwrap();
    }
    assert_eq!(
        BulkInsert::direct_path_blocker(&TIMED_SAMPLES)
            .unwrap()
            .as_deref(),
        Some("it has triggers (a TimescaleDB hypertable has one)")
    );
    Spi::run(&format!(
        "SELECT * FROM sensor.load_tdms('{small}', replace => true)"
    ))
    .unwrap();
    let spi = text(snapshot);
    assert!(direct
        .as_deref()
        .is_some_and(|d| d.contains("rig|temp|2024-01-01 00:00:02.5+00|NaN")));
    assert_eq!(direct, spi);
}

#[pg_test]
fn load_shows_in_pg_stat_progress_copy() {
    lock_shared_tables();
    // A trigger (which also forces the SPI path) looks at this backend's progress row
    // while the load runs.
    let small = fixture("small");
    // (pg_stat_clear_snapshot: the view would show a snapshot taken earlier in the transaction.)
    Spi::run("CREATE TEMP TABLE seen AS SELECT * FROM pg_stat_progress_copy WHERE false")
        .unwrap();
    Spi::run("CREATE FUNCTION pg_temp.look() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_stat_clear_snapshot(); INSERT INTO seen SELECT * FROM pg_stat_progress_copy WHERE pid = pg_backend_pid(); RETURN NEW; END$$").unwrap();
    Spi::run("CREATE TRIGGER look BEFORE INSERT ON sensor_data.samples FOR EACH ROW EXECUTE FUNCTION pg_temp.look()").unwrap();
    Spi::run(&format!("SELECT * FROM sensor.load_tdms('{small}')")).unwrap();
    assert!(count("SELECT count(*) FROM seen") > 0);
    assert_eq!(
        text("SELECT DISTINCT concat_ws('|', relid::regclass, command, type, bytes_total) FROM seen").as_deref(),
        Some("sensor_data.samples|COPY FROM|FILE|970")
    );
    // Ended with the load.
    Spi::run("SELECT pg_stat_clear_snapshot()").unwrap();
    assert_eq!(
        count("SELECT count(*) FROM pg_stat_progress_copy WHERE pid = pg_backend_pid()"),
        0
    );
}

#[pg_test]
fn server_files_need_the_read_privilege_but_uploads_do_not() {
    let small = fixture("small");
    Spi::run("CREATE ROLE sensor_tdms_user NOLOGIN").unwrap();
    Spi::run("GRANT USAGE ON SCHEMA tests, sensor, sensor_data TO sensor_tdms_user").unwrap();
    Spi::run("GRANT SELECT, INSERT ON sensor_data.datasets, sensor_data.channels, sensor_data.samples, sensor_data.indexed_samples TO sensor_tdms_user").unwrap();
    let content = std::fs::read(&small).unwrap();
    Spi::run("SET ROLE sensor_tdms_user").unwrap();
    let channels = error_fields_of(&format!("SELECT * FROM sensor.tdms_channels('{small}')"));
    let read = sqlstate_of(&format!("SELECT * FROM sensor.tdms_read('{small}')"));
    let props = sqlstate_of(&format!("SELECT * FROM sensor.tdms_properties('{small}')"));
    let load = sqlstate_of(&format!("SELECT * FROM sensor.load_tdms('{small}')"));
    // What a client does: the file's bytes as a bytea parameter.
    let uploaded = Spi::get_one_with_args::<i64>(
        "SELECT samples FROM sensor.load_tdms_bytes($1, 'upload')",
        &[content.into()],
    );
    Spi::run("RESET ROLE").unwrap();
    assert_eq!(
        channels,
        format!("42501|permission denied to read server file \"{small}\"|Only superusers and roles with privileges of the \"pg_read_server_files\" role may read files on the database server.|GRANT pg_read_server_files TO sensor_tdms_user;")
    );
    assert_eq!(read.as_deref(), Some("42501"));
    assert_eq!(props.as_deref(), Some("42501"));
    assert_eq!(load.as_deref(), Some("42501"));
    assert_eq!(uploaded.unwrap(), Some(18));
    assert_eq!(count("SELECT count(*) FROM sensor_data.datasets WHERE source_file IS NULL AND name = 'upload'"), 1);
}

#[pg_test]
fn upload_arguments_must_not_be_null() {
    fixture("small");
    assert_sqlstate("SELECT * FROM sensor.load_tdms_bytes(NULL, 'x')", "22023");
    assert_sqlstate("SELECT * FROM sensor.load_tdms_bytes('\\x00'::bytea, NULL)", "22023");
    assert_sqlstate("SELECT * FROM sensor.load_tdms(NULL)", "22023");
    assert_sqlstate("SELECT * FROM sensor.load_tdms_bytes(''::bytea, 'empty')", "22P02");
}

#[pg_test]
fn complex_values_read_back_exactly_from_their_text() {
    for x in [
        0.0,
        1.5,
        -2.0,
        1e-300,
        1e300,
        0.1,
        123_456_789.125,
        f64::MIN_POSITIVE,
    ] {
        let t = super::read::float_text(x);
        assert_eq!(t.parse::<f64>().ok(), Some(x), "{t}");
    }
    assert_eq!(super::read::complex_text(1.0, -2.5), "(1,-2.5)");
    assert_eq!(super::read::float_text(f64::NAN), "NaN");
}
