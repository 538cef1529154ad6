// Glue tests for the T302 loader: every shared fixture exactly, generated edge cases, the
// three write paths (bulk with deferred indexes, bulk, SQL), load_tsv_dir, row-level security
// and SQLSTATEs. Each test runs in a transaction that is rolled back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::tests::{assert_sqlstate, error_fields_of, sqlstate_of};
use pgrx::prelude::*;
use powerview::synthetic::{write_synthetic_tsv, SyntheticSpec, SyntheticV003};

fn one<T: FromDatum + IntoDatum>(sql: &str) -> T {
    Spi::get_one::<T>(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: NULL"))
}

fn text(sql: &str) -> String {
    Spi::get_one::<String>(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

fn run(sql: &str) {
    Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn quoted(path: &Path) -> String {
    crate::pg::quoting::quote_literal(&path.display().to_string())
}

/// A fresh directory the backend owns, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    /// Every test writes files here first: it is where the tests of this module, which
    /// truncate and alter the shared T302 tables, take turns (the lock lasts until the
    /// test's transaction ends).
    fn new() -> Self {
        Spi::run("SELECT pg_advisory_xact_lock(hashtext('sensor_analytics tsv tests'))").unwrap();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sensor_tsv_pgtest_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `bytes` at `relative` (creating folders) and returns the full path.
    fn file(&self, relative: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn synthetic(&self, relative: &str, spec: &SyntheticSpec) -> PathBuf {
        let mut bytes = Vec::new();
        write_synthetic_tsv(&mut bytes, spec).unwrap();
        self.file(relative, &bytes)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A copy of the PowerView fixtures (`fixtures/powerview` in the repository).
fn fixtures() -> TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/powerview");
    assert!(source.is_dir(), "missing fixtures at {}", source.display());
    let dir = TempDir::new();
    let mut pending = vec![source.clone()];
    while let Some(from) = pending.pop() {
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let to = dir.0.join(path.strip_prefix(&source).unwrap());
            if path.is_dir() {
                std::fs::create_dir_all(&to).unwrap();
                pending.push(path);
            } else {
                std::fs::copy(&path, &to).unwrap();
            }
        }
    }
    dir
}

const COMPANY1: &str = "company1/campaign1/02001084/T302_251012_031720.tsv";
const COMPANY2: &str = "company2/format_v003/02001311/T302_260122_162658_UTC.tsv";
const COMPANY3_RESET: &str = "company3/base/02001283/T302_251024_204336.tsv";
const COMPANY3_LARGE: &str = "company3/base/02001283/T302_260109_102002.tsv";
const COMPANY3_T202: &str = "company3/base/02001283/T202_251022_121951.tsv";
const COMPANY3_EMPTY: &str = "company3/base/02001283/T302_260109_120045.tsv";
const COMPANY3_HEADER_ONLY: &str = "company3/base/02001283/T302_260109_133915.tsv";

/// `load_tsv(path, base_dir => base)` and the report columns that do not vary between runs.
fn load(base: &TempDir, relative: &str) -> String {
    load_with(&base.0.join(relative), &format!("base_dir => {}", quoted(&base.0)))
}

fn load_with(path: &Path, arguments: &str) -> String {
    text(&format!(
        "SELECT concat_ws('|', status, company, campaign, device_master_sn, master_sn, format, structure, rows, channels, points, \
                invalid_timestamps, invalid_values, empty_values, missing_values, extra_values, truncated_rows, zero_rows, \
                first_time AT TIME ZONE 'UTC', last_time AT TIME ZONE 'UTC') \
         FROM sensor.load_tsv({}, {arguments})",
        quoted(path)
    ))
}

/// The stored value of a channel at a UTC time.
fn value_at(channel_id: &str, utc: &str) -> Option<f64> {
    Spi::get_one::<f64>(&format!(
        "SELECT (SELECT s.value FROM sensor_data.electrical_samples s JOIN sensor_data.tsv_channels c ON c.id = s.channel \
         WHERE c.channel_id = '{channel_id}' AND s.time = '{utc}+00')"
    ))
    .unwrap()
}

fn samples() -> i64 {
    one("SELECT count(*) FROM sensor_data.electrical_samples")
}

#[pg_test]
fn company1_v002_three_phase_master_and_slaves() {
    let base = fixtures();
    assert_eq!(
        load(&base, COMPANY1),
        "loaded|company1|campaign1|02001084|02001171|MV_T302_V002|V002|143|30|4290|0|0|0|0|0|0|0|2025-08-03 03:20:00|2025-08-04 03:00:00"
    );
    let mut expected = Vec::new();
    for k in 1..=3 {
        expected.push(format!("M02001171_U{k},02001171,master,U{k},Ph {k},V"));
    }
    for k in 1..=3 {
        expected.push(format!("M02001171_Ch{k},02001171,master,Ch{k},Voie{k},W"));
    }
    for slave in ["04000466", "04000477", "04001293", "04001344"] {
        for k in 1..=6 {
            expected.push(format!("M02001171_S{slave}_Ch{k},{slave},slave,Ch{k},Voie{k},W"));
        }
    }
    let channels = text(
        "SELECT string_agg(concat_ws(',', channel_id, device_sn, device_type, label, name, unit), ';' ORDER BY id) \
         FROM sensor_data.tsv_channels WHERE company = 'company1' AND campaign = 'campaign1' \
           AND device_master_sn = '02001084' AND source_format = 'MV_T302_V002'",
    );
    assert_eq!(channels, expected.join(";"));
    assert_eq!(samples(), 4290);
    assert_eq!(value_at("M02001171_U1", "2025-08-03 03:20:00"), Some(242.25));
    assert_eq!(value_at("M02001171_S04000477_Ch5", "2025-08-03 03:20:00"), Some(-2.3));
    // -0.0 stays a negative zero.
    let negative_zero = text(
        "SELECT s.value::text FROM sensor_data.electrical_samples s JOIN sensor_data.tsv_channels c ON c.id = s.channel \
         WHERE c.channel_id = 'M02001171_S04001344_Ch5' AND s.time = '2025-08-03 03:20:00+00'",
    );
    assert_eq!(negative_zero, "-0");
    assert_eq!(value_at("M02001171_S04001344_Ch6", "2025-08-04 03:00:00"), Some(0.2));
    assert_eq!(value_at("M02001171_Ch2", "2025-08-04 03:00:00"), Some(34.8));
    assert_eq!(value_at("M02001171_S04000466_Ch2", "2025-08-04 03:00:00"), Some(1754.2));
    // Rows are 10 minutes apart: 143 distinct times per channel.
    assert_eq!(
        one::<i64>("SELECT count(DISTINCT time) FROM sensor_data.electrical_samples"),
        143
    );
}

#[pg_test]
fn company2_v003_single_phase_utc_skips_zero_rows() {
    let base = fixtures();
    assert_eq!(
        load(&base, COMPANY2),
        "loaded|company2|format_v003|02001311|02001311|MV_T302_V003|V003|117|6|702|0|0|0|0|0|0|17|2026-01-21 08:15:24|2026-01-22 15:10:00"
    );
    assert_eq!(
        text("SELECT string_agg(concat_ws(',', channel_id, label, name, unit), ';' ORDER BY id) FROM sensor_data.tsv_channels"),
        "M02001311_U1,U1,Ph 1,V;M02001311_Ch1,Ch1,Voie1,W;M02001311_Ch2,Ch2,Voie2,W;M02001311_Ch3,Ch3,Voie3,W;M02001311_Ch4,Ch4,Voie4,W;M02001311_Ch5,Ch5,Voie5,W"
    );
    // 702 values, of which two rows repeat an earlier time: 690 distinct points.
    assert_eq!(samples(), 690);
    assert_eq!(value_at("M02001311_U1", "2026-01-21 08:15:24"), Some(236.14));
    assert_eq!(value_at("M02001311_U1", "2026-01-22 15:10:00"), Some(242.14));
    // The all-zero row "21/01/26 12:01:15" is a power-cut marker: not loaded.
    assert_eq!(value_at("M02001311_U1", "2026-01-21 12:01:15"), None);

    // skip_zero_rows => false loads it (into another campaign: the sha256 is per campaign).
    let report = load_with(
        &base.0.join(COMPANY2),
        "company => 'company2', campaign => 'with_zeros'",
    );
    assert!(report.starts_with("loaded|company2|with_zeros|02001311|02001311|MV_T302_V003|V003|117|"), "{report}");
    let report = text(&format!(
        "SELECT concat_ws('|', status, rows, points, zero_rows) FROM sensor.load_tsv({}, company => 'company2', campaign => 'zeros', skip_zero_rows => false)",
        quoted(&base.0.join(COMPANY2))
    ));
    assert_eq!(report, "loaded|134|804|17");
    assert_eq!(
        one::<f64>(
            "SELECT s.value FROM sensor_data.electrical_samples s JOIN sensor_data.tsv_channels c ON c.id = s.channel \
             WHERE c.campaign = 'zeros' AND c.channel_id = 'M02001311_U1' AND s.time = '2026-01-21 12:01:15+00'"
        ),
        0.0
    );
}

#[pg_test]
fn company3_clock_reset_repeated_times_and_truncated_file() {
    let base = fixtures();
    assert_eq!(
        load(&base, COMPANY3_RESET),
        "loaded|company3|base|02001283|02001283|MV_T302_V002|V002|342|6|2052|0|0|0|0|0|0|7|2020-01-01 01:00:02|2025-10-24 20:37:39"
    );
    // 2052 values; two rows repeat a time: the later row wins.
    assert_eq!(samples(), 2040);
    assert_eq!(value_at("M02001283_U1", "2020-01-01 01:00:02"), Some(232.09));
    assert_eq!(value_at("M02001283_U1", "2025-10-24 20:37:39"), Some(240.78));
    assert_eq!(value_at("M02001283_U2", "2025-10-24 20:37:39"), Some(238.62));
    // "29/07/25 11:13:46 0 0 0 0 0 0" then a real row at the same second: the real one stays.
    assert_eq!(value_at("M02001283_U1", "2025-07-29 11:13:46"), Some(231.88));

    assert_eq!(
        load(&base, COMPANY3_LARGE),
        "loaded|company3|base|02001283|02001283|MV_T302_V002|V002|2463|6|14778|0|0|0|0|0|1|1|2025-12-05 03:20:00|2025-12-22 05:40:00"
    );
    assert_eq!(samples(), 2040 + 14778);
    assert_eq!(value_at("M02001283_U1", "2025-12-05 03:20:00"), Some(253.81));
    assert_eq!(value_at("M02001283_Ch1", "2025-12-22 05:40:00"), Some(4.5));
    assert_eq!(value_at("M02001283_U3", "2025-12-22 05:40:00"), Some(247.24));
    // Both files share the company's six channels.
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_channels"), 6);
}

#[pg_test]
fn company3_unsupported_and_empty_files_load_nothing() {
    let base = fixtures();
    assert_eq!(
        load(&base, COMPANY3_T202),
        "unsupported|company3|base|02001283|02001283|MV_T202_V002|V002|0|0|0|0|0|0|0|0|0|0"
    );
    assert_eq!(
        load(&base, COMPANY3_EMPTY),
        "no_data|company3|base|02001283|0|0|0|0|0|0|0|0|0|0"
    );
    assert_eq!(
        load(&base, COMPANY3_HEADER_ONLY),
        "no_data|company3|base|02001283|02001283|MV_T302_V002|V002|0|6|0|0|0|0|0|0|0|0"
    );
    assert_eq!(samples(), 0);
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_channels"), 0);
    assert_eq!(
        text("SELECT string_agg(status, ',' ORDER BY id) FROM sensor_data.tsv_files"),
        "unsupported,no_data,no_data"
    );
    // The empty file's sha256 is that of zero bytes.
    assert_eq!(
        text("SELECT sha256 FROM sensor_data.tsv_files WHERE bytes = 0"),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[pg_test]
fn identical_file_is_a_duplicate_and_reloading_never_duplicates() {
    let base = fixtures();
    load(&base, COMPANY1);
    let report = load(&base, COMPANY1);
    assert!(report.starts_with("duplicate|company1|campaign1|02001084|"), "{report}");
    assert_eq!(samples(), 4290);
    // The same content under another name is a duplicate too.
    let copy = base.file(
        "company1/campaign1/02001084/copy.tsv",
        &std::fs::read(base.0.join(COMPANY1)).unwrap(),
    );
    let report = load_with(&copy, &format!("base_dir => {}", quoted(&base.0)));
    assert!(report.starts_with("duplicate|"), "{report}");
    // A changed file with the same rows overwrites them: still no duplicate points.
    let mut changed = std::fs::read(base.0.join(COMPANY1)).unwrap();
    changed.extend_from_slice(b"\n");
    let path = base.file("company1/campaign1/02001084/changed.tsv", &changed);
    let report = load_with(&path, &format!("base_dir => {}", quoted(&base.0)));
    assert!(report.starts_with("loaded|"), "{report}");
    assert_eq!(samples(), 4290);
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_channels"), 30);
}

const HEADER: &str = "02001999\t02001999\t02001999\nMV_T302_V002\tPh 1 V\tVoie1 W\n";

fn small_file(rows: &[&str]) -> Vec<u8> {
    let mut text = HEADER.to_string();
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

#[pg_test]
fn later_rows_and_later_files_overwrite() {
    let dir = TempDir::new();
    let a = dir.file(
        "a.tsv",
        &small_file(&[
            "01/02/25 00:00:00\t230.0\t1.0",
            "01/02/25 00:10:00\t231.0\t2.0",
            "01/02/25 00:00:00\t232.0\t3.0",
        ]),
    );
    let b = dir.file(
        "b.tsv",
        &small_file(&["01/02/25 00:10:00\t240.0\t5.0", "01/02/25 00:20:00\t241.0\t6.0"]),
    );
    let args = "company => 'c', campaign => 'k'";
    assert!(load_with(&a, args).starts_with("loaded|c|k|02001999|02001999|MV_T302_V002|V002|3|2|6|"));
    assert_eq!(samples(), 4);
    assert_eq!(value_at("M02001999_U1", "2025-02-01 00:00:00"), Some(232.0));
    assert_eq!(value_at("M02001999_Ch1", "2025-02-01 00:00:00"), Some(3.0));
    assert!(load_with(&b, args).starts_with("loaded|"));
    assert_eq!(samples(), 6);
    assert_eq!(value_at("M02001999_U1", "2025-02-01 00:10:00"), Some(240.0));
    assert_eq!(value_at("M02001999_Ch1", "2025-02-01 00:20:00"), Some(6.0));
    // Loading a again puts its values back (a is not a duplicate of a changed load).
    run("DELETE FROM sensor_data.tsv_files");
    load_with(&a, args);
    assert_eq!(samples(), 6);
    assert_eq!(value_at("M02001999_U1", "2025-02-01 00:10:00"), Some(231.0));
}

#[pg_test]
fn bad_timestamps_bad_cells_and_ragged_rows_are_counted() {
    let dir = TempDir::new();
    let path = dir.file(
        "bad.tsv",
        &small_file(&[
            "01/02/25 00:00:00\t230.0\t1.0",
            "32/13/25 00:10:00\t231.0\t2.0",
            "not a time\t231.0\t2.0",
            "01/02/25 00:20:00\tabc\t3.0",
            "01/02/25 00:30:00\t\t4.0",
            "01/02/25 00:40:00\t233.0",
            "01/02/25 00:50:00\t234.0\t5.0\t99\t",
            "01/02/25 01:00:00\tnan\t1,5",
        ]),
    );
    assert_eq!(
        load_with(&path, "company => 'c', campaign => 'k'"),
        "loaded|c|k|02001999|02001999|MV_T302_V002|V002|6|2|7|2|3|1|1|1|0|0|2025-02-01 00:00:00|2025-02-01 01:00:00"
    );
    assert_eq!(samples(), 7);
    assert_eq!(value_at("M02001999_Ch1", "2025-02-01 00:20:00"), Some(3.0));
    assert_eq!(value_at("M02001999_U1", "2025-02-01 00:20:00"), None);
    assert_eq!(value_at("M02001999_U1", "2025-02-01 00:40:00"), Some(233.0));
    assert_eq!(value_at("M02001999_Ch1", "2025-02-01 00:50:00"), Some(5.0));
}

#[pg_test]
fn crlf_and_bom_load_like_plain_files() {
    let dir = TempDir::new();
    let rows = ["01/02/25 00:00:00\t230.5\t1.5", "01/02/25 00:10:00\t231.5\t2.5"];
    let plain = small_file(&rows);
    let crlf: Vec<u8> = String::from_utf8(plain.clone())
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&crlf);
    for (name, bytes) in [("crlf.tsv", &crlf), ("bom.tsv", &bom)] {
        let path = dir.file(name, bytes);
        let report = load_with(&path, &format!("company => 'c', campaign => '{name}'"));
        assert!(
            report.starts_with(&format!("loaded|c|{name}|02001999|02001999|MV_T302_V002|V002|2|2|4|0|0|0|0|0|0|0|")),
            "{name}: {report}"
        );
    }
    assert_eq!(
        text("SELECT string_agg(DISTINCT name || '/' || unit, ',') FROM sensor_data.tsv_channels"),
        "Ph 1/V,Voie1/W"
    );
    assert_eq!(
        one::<f64>("SELECT sum(value) FROM sensor_data.electrical_samples"),
        2.0 * (230.5 + 1.5 + 231.5 + 2.5)
    );
}

fn v003_spec(rows: u64, start_utc: i64, zone: &str, end_data: bool) -> SyntheticSpec {
    let tz: powerview::Tz = zone.parse().unwrap();
    SyntheticSpec {
        rows,
        master_sn: "02007777".into(),
        three_phase: false,
        master_power_channels: 2,
        slaves: vec![("04005555".into(), 1)],
        start_utc,
        step_seconds: 600,
        wall_clock: Some(tz),
        v003: Some(SyntheticV003 {
            data_time_settings: "Local".into(),
            time_zone_name: zone.into(),
            master_type: "Mono".into(),
            end_data,
        }),
        marker: "MV_T302_V003".into(),
        crlf: false,
    }
}

#[pg_test]
fn local_time_v003_across_both_dst_changes() {
    let dir = TempDir::new();
    // 2025-10-26 00:00 UTC, every 10 min for 4 h: Paris repeats 02:00-03:00 local.
    let autumn = v003_spec(24, 1_761_436_800, "Europe/Paris", true);
    // 2025-03-30 00:00 UTC: Paris skips 02:00-03:00 local.
    let spring = v003_spec(24, 1_743_292_800, "Europe/Paris", true);
    for (name, spec) in [("autumn", &autumn), ("spring", &spring)] {
        let path = dir.synthetic(&format!("{name}.tsv"), spec);
        let report = load_with(&path, &format!("company => 'c', campaign => '{name}'"));
        assert!(
            report.starts_with(&format!("loaded|c|{name}|02007777|02007777|MV_T302_V003|V003|24|4|96|")),
            "{name}: {report}"
        );
        // Every row lands on its true UTC instant, none collides.
        let times: Vec<i64> = Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT extract(epoch FROM s.time)::int8 FROM sensor_data.electrical_samples s JOIN sensor_data.tsv_channels c ON c.id = s.channel \
                         WHERE c.campaign = '{name}' AND c.channel_id = 'M02007777_U1' ORDER BY 1"
                    ),
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| row.get::<i64>(1).unwrap().unwrap())
                .collect()
        });
        let expected: Vec<i64> = (0..24).map(|r| spec.row_time_utc(r)).collect();
        assert_eq!(times.len(), expected.len(), "{name}");
        assert_eq!(times, expected, "{name}");
        for (row, column, channel) in [(0, 0, "M02007777_U1"), (13, 2, "M02007777_Ch2"), (23, 3, "M02007777_S04005555_Ch1")] {
            let got = one::<f64>(&format!(
                "SELECT s.value FROM sensor_data.electrical_samples s JOIN sensor_data.tsv_channels c ON c.id = s.channel \
                 WHERE c.campaign = '{name}' AND c.channel_id = '{channel}' AND s.time = to_timestamp({})",
                spec.row_time_utc(row)
            ));
            assert_eq!(got, spec.value(row, column), "{name} row {row} {channel}");
        }
    }
    assert_eq!(samples(), 2 * 96);
}

#[pg_test]
fn v002_timezone_argument_shifts_times() {
    let dir = TempDir::new();
    let path = dir.file("paris.tsv", &small_file(&["03/08/25 03:20:00\t230.0\t1.0"]));
    let report = load_with(&path, "company => 'c', campaign => 'k', timezone => 'Europe/Paris'");
    assert!(report.ends_with("|2025-08-03 01:20:00|2025-08-03 01:20:00"), "{report}");
    assert_sqlstate(&format!(
            "SELECT * FROM sensor.load_tsv({}, company => 'c', campaign => 'k', timezone => 'Mars/Olympus')",
            quoted(&path)
        ), "22023");
}

#[pg_test]
fn missing_end_data_is_deferred_then_loads_once_complete() {
    let dir = TempDir::new();
    let spec = v003_spec(6, 1_761_436_800, "UTC", false);
    let path = dir.synthetic("c/k/02007777/upload.tsv", &spec);
    let args = format!("base_dir => {}", quoted(&dir.0));
    // Deferred as soon as the missing END_DATA is seen: header lines not read (no marker).
    assert_eq!(load_with(&path, &args), "deferred|c|k|02007777|V003|0|0|0|0|0|0|0|0|0|0");
    assert_eq!(samples(), 0);
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_channels"), 0);
    let complete = v003_spec(6, 1_761_436_800, "UTC", true);
    dir.synthetic("c/k/02007777/upload.tsv", &complete);
    let report = load_with(&path, &args);
    assert!(report.starts_with("loaded|c|k|02007777|02007777|MV_T302_V003|V003|6|4|24|"), "{report}");
    assert_eq!(samples(), 24);
    assert_eq!(
        text("SELECT string_agg(status, ',' ORDER BY id) FROM sensor_data.tsv_files"),
        "deferred,loaded"
    );
}

#[pg_test]
fn malformed_file_raises_22p02_and_leaves_nothing() {
    let dir = TempDir::new();
    let path = dir.file(
        "bad_header.tsv",
        b"02001999\t02001999\t02001999\nMV_T302_V002\tPh 1 V\n01/02/25 00:00:00\t1\t2\n",
    );
    let fields = error_fields_of(&format!(
        "SELECT * FROM sensor.load_tsv({}, company => 'c', campaign => 'k')",
        quoted(&path)
    ));
    assert_eq!(
        fields,
        format!(
            "22P02|invalid T302 file \"{}\": invalid header at line 2: 2 device serial numbers but 1 column labels||",
            path.display()
        )
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_files"), 0);
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_channels"), 0);
}

#[pg_test]
fn argument_and_file_errors_have_their_sqlstates() {
    let base = fixtures();
    let file = quoted(&base.0.join(COMPANY1));
    let cases = [
        ("SELECT * FROM sensor.load_tsv(NULL)".to_string(), "22023"),
        (format!("SELECT * FROM sensor.load_tsv({file})"), "22023"),
        (format!("SELECT * FROM sensor.load_tsv({file}, base_dir => '/elsewhere')"), "22023"),
        (format!("SELECT * FROM sensor.load_tsv({file}, base_dir => {})", quoted(&base.0.join("company1"))), "22023"),
        ("SELECT * FROM sensor.load_tsv('/nonexistent/x.tsv', company => 'c', campaign => 'k')".to_string(), "58P01"),
        (format!("SELECT * FROM sensor.load_tsv({}, company => 'c', campaign => 'k')", quoted(&base.0)), "42809"),
        ("SELECT * FROM sensor.tsv_read('/nonexistent/x.tsv')".to_string(), "58P01"),
        (format!("SELECT * FROM sensor.tsv_read({})", quoted(&base.0.join(COMPANY3_T202))), "0A000"),
        ("SELECT * FROM sensor.load_tsv_dir('/nonexistent')".to_string(), "58P01"),
        (format!("SELECT * FROM sensor.load_tsv_dir({file})"), "42809"),
        ("SELECT * FROM sensor.load_tsv_dir(NULL)".to_string(), "22023"),
    ];
    for (sql, want) in cases {
        assert_eq!(sqlstate_of(&sql).as_deref(), Some(want), "{sql}");
    }
}

#[pg_test]
fn tsv_read_streams_points_without_loading() {
    let base = fixtures();
    let path = quoted(&base.0.join(COMPANY1));
    assert_eq!(one::<i64>(&format!("SELECT count(*) FROM sensor.tsv_read({path})")), 4290);
    assert_eq!(
        text(&format!(
            "SELECT concat_ws('|', time AT TIME ZONE 'UTC', channel_id, device_sn, label, name, unit, value) FROM sensor.tsv_read({path}) LIMIT 1"
        )),
        "2025-08-03 03:20:00|M02001171_U1|02001171|U1|Ph 1|V|242.25"
    );
    assert_eq!(
        one::<i64>(&format!(
            "SELECT count(*) FROM sensor.tsv_read({}, skip_zero_rows => false)",
            quoted(&base.0.join(COMPANY2))
        )),
        804
    );
    assert_eq!(samples(), 0);
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_files"), 0);
    assert_eq!(
        one::<i64>(&format!("SELECT count(*) FROM sensor.tsv_read({})", quoted(&base.0.join(COMPANY3_EMPTY)))),
        0
    );
}

#[pg_test]
fn load_tsv_dir_goes_on_after_a_bad_file_and_skips_what_is_recorded() {
    let base = fixtures();
    // A malformed file between the company1 and company2 files (sorted order).
    base.file(
        "company1/campaign1/02001084/T302_zz_bad.tsv",
        b"02001084\t02001084\nMV_T302_V002\tPh 1 V\tVoie1 W\n",
    );
    // Files in parsed/ and error/ are not looked at.
    base.file("company1/campaign1/02001084/parsed/old.tsv", b"garbage");
    base.file("company1/campaign1/02001084/error/old.tsv", b"garbage");
    let run_row = |sql: &str| {
        text(&format!(
            "SELECT concat_ws('|', files_total, succeeded, loaded, no_data, unsupported, duplicate, deferred, failed, skipped, points) FROM ({sql}) r"
        ))
    };
    let sql = format!("SELECT * FROM sensor.load_tsv_dir({})", quoted(&base.0));
    assert_eq!(run_row(&sql), "8|7|4|2|1|0|0|1|0|21822");
    assert_eq!(samples(), 4290 + 690 + 2040 + 14778);
    let failed = text(
        "SELECT concat_ws('|', company, campaign, device_master_sn, error_sqlstate, error_message) FROM sensor_data.tsv_files WHERE status = 'failed'",
    );
    assert_eq!(
        failed,
        format!(
            "company1|campaign1|02001084|22P02|invalid T302 file \"{}\": invalid header at line 2: 1 device serial numbers but 2 column labels",
            base.0.join("company1/campaign1/02001084/T302_zz_bad.tsv").display()
        )
    );
    assert_eq!(
        one::<i64>("SELECT count(*) FROM sensor_data.tsv_files f JOIN sensor_data.tsv_runs r ON r.id = f.run_id"),
        8
    );
    // A second run skips the files recorded with a final status and retries the failed one.
    assert_eq!(run_row(&sql), "1|0|0|0|0|0|0|1|7|0");
    assert_eq!(one::<i64>("SELECT count(*) FROM sensor_data.tsv_runs"), 2);
}

#[pg_test]
fn load_tsv_dir_with_move_files_queues_moves_until_commit() {
    let base = fixtures();
    base.file(
        "company1/campaign1/02001084/T302_zz_bad.tsv",
        b"02001084\t02001084\nMV_T302_V002\tPh 1 V\tVoie1 W\n",
    );
    run(&format!("SELECT * FROM sensor.load_tsv_dir({}, move_files => true)", quoted(&base.0)));
    let moved = text(
        "SELECT string_agg(status || '>' || coalesce(moved_to, '-'), ',' ORDER BY path) FROM sensor_data.tsv_files",
    );
    let d = base.0.display();
    assert_eq!(
        moved,
        format!(
            "loaded>{d}/company1/campaign1/02001084/parsed/T302_251012_031720.tsv,\
             failed>{d}/company1/campaign1/02001084/error/T302_zz_bad.tsv,\
             loaded>{d}/company2/format_v003/02001311/parsed/T302_260122_162658_UTC.tsv,\
             unsupported>{d}/company3/base/02001283/error/T202_251022_121951.tsv,\
             loaded>{d}/company3/base/02001283/parsed/T302_251024_204336.tsv,\
             loaded>{d}/company3/base/02001283/parsed/T302_260109_102002.tsv,\
             no_data>{d}/company3/base/02001283/parsed/T302_260109_120045.tsv,\
             no_data>{d}/company3/base/02001283/parsed/T302_260109_133915.tsv"
        )
    );
    // Nothing moves before the transaction commits (this one is rolled back); the folder
    // is made when the move is queued, so that a move that cannot happen is not recorded.
    assert!(base.0.join(COMPANY1).exists());
    let parsed = base.0.join("company1/campaign1/02001084/parsed");
    assert!(parsed.is_dir());
    assert_eq!(std::fs::read_dir(&parsed).unwrap().count(), 0);
}

#[pg_test]
fn moving_needs_the_write_privilege() {
    let base = fixtures();
    run("CREATE ROLE sensor_tsv_reader NOLOGIN IN ROLE pg_read_server_files");
    run("GRANT USAGE ON SCHEMA sensor, sensor_data, tests TO sensor_tsv_reader");
    run("SET ROLE sensor_tsv_reader");
    let read_only = sqlstate_of(&format!(
        "SELECT * FROM sensor.load_tsv_dir({}, move_files => true)",
        quoted(&base.0)
    ));
    run("RESET ROLE");
    assert_eq!(read_only.as_deref(), Some("42501"));
    run("CREATE ROLE sensor_tsv_nobody NOLOGIN");
    run("GRANT USAGE ON SCHEMA sensor, tests TO sensor_tsv_nobody");
    run("SET ROLE sensor_tsv_nobody");
    let fields = error_fields_of(&format!(
        "SELECT * FROM sensor.load_tsv({}, base_dir => {})",
        quoted(&base.0.join(COMPANY1)),
        quoted(&base.0)
    ));
    let read = sqlstate_of(&format!("SELECT * FROM sensor.tsv_read({})", quoted(&base.0.join(COMPANY1))));
    run("RESET ROLE");
    assert!(fields.starts_with("42501|permission denied to read server file"), "{fields}");
    assert!(fields.ends_with("|GRANT pg_read_server_files TO sensor_tsv_nobody;"), "{fields}");
    assert_eq!(read.as_deref(), Some("42501"));
}

/// Loads every fixture as the superuser, then checks what each role sees: tenants read the
/// security-barrier views, and no table.
#[pg_test]
fn tenants_see_only_their_companies_through_the_views() {
    let base = fixtures();
    run(&format!("SELECT * FROM sensor.load_tsv_dir({})", quoted(&base.0)));
    run("CREATE ROLE grafana_c1 NOLOGIN");
    run("CREATE ROLE grafana_c3 NOLOGIN");
    run("CREATE ROLE grafana_c13 NOLOGIN");
    run("CREATE ROLE grafana_none NOLOGIN");
    run("GRANT USAGE ON SCHEMA tests TO grafana_c1, grafana_c3, grafana_c13, grafana_none");
    run("SELECT sensor.grant_company_access('grafana_c1', 'company1')");
    run("SELECT sensor.grant_company_access('grafana_c3', 'company3')");
    run("SELECT sensor.grant_company_access('grafana_c13', 'company1')");
    run("SELECT sensor.grant_company_access('grafana_c13', 'company3')");
    // Granting twice is harmless.
    run("SELECT sensor.grant_company_access('grafana_c1', 'company1')");
    let counts = "SELECT concat_ws('|', (SELECT count(*) FROM sensor_data.electrical_channels), \
                  (SELECT count(*) FROM sensor_data.electrical), (SELECT count(*) FROM sensor_data.electrical_files), \
                  (SELECT string_agg(DISTINCT company, ',') FROM sensor_data.electrical))";
    let as_role = |role: &str, sql: &str| {
        run(&format!("SET ROLE {role}"));
        let seen = if sql.starts_with("SELECT concat_ws") {
            Some(text(sql))
        } else {
            sqlstate_of(sql)
        };
        run("RESET ROLE");
        seen.unwrap_or_default()
    };
    // Superuser: everything.
    assert_eq!(text(counts), "42|21798|7|company1,company2,company3");
    assert_eq!(as_role("grafana_c1", counts), "30|4290|1|company1");
    assert_eq!(as_role("grafana_c3", counts), "6|16818|5|company3");
    assert_eq!(as_role("grafana_c13", counts), "36|21108|6|company1,company3");
    // No table, whatever the grants.
    for table in ["tsv_channels", "electrical_samples", "tsv_files", "company_access", "tsv_runs"] {
        let denied = as_role("grafana_c13", &format!("SELECT count(*) FROM sensor_data.{table}"));
        assert_eq!(denied, "42501", "{table}");
    }
    // Without a grant: no privilege at all.
    assert_eq!(as_role("grafana_none", "SELECT count(*) FROM sensor_data.electrical"), "42501");
    // A member of a granted role sees what it sees.
    run("CREATE ROLE grafana_member NOLOGIN IN ROLE grafana_c1");
    run("GRANT USAGE ON SCHEMA tests TO grafana_member");
    assert_eq!(as_role("grafana_member", counts), "30|4290|1|company1");
    // Revoking one company leaves the other; revoking the last removes the privileges.
    assert_eq!(one::<i32>("SELECT sensor.revoke_company_access('grafana_c13', 'company1')"), 1);
    assert_eq!(as_role("grafana_c13", counts), "6|16818|5|company3");
    assert_eq!(one::<i32>("SELECT sensor.revoke_company_access('grafana_c13')"), 1);
    assert_eq!(as_role("grafana_c13", "SELECT count(*) FROM sensor_data.electrical"), "42501");
    // Only administrators hand out companies.
    assert_eq!(
        as_role("grafana_c1", "SELECT sensor.grant_company_access('grafana_c1', 'company2')"),
        "42501"
    );
    assert_sqlstate("SELECT sensor.grant_company_access('no_such_role', 'company1')", "42704");
    assert_sqlstate("SELECT sensor.grant_company_access('grafana_c1', '')", "22023");
}

/// The tenant view's filter and the loaders' row policy are evaluated once per query (an
/// InitPlan, a hashed subplan), not once per sample.
#[pg_test]
fn company_filters_are_hashed_subplans() {
    run("CREATE ROLE grafana_plan NOLOGIN");
    run("SELECT sensor.grant_company_access('grafana_plan', 'company1')");
    run("CREATE ROLE loader_plan NOLOGIN");
    run("GRANT USAGE ON SCHEMA sensor_data TO loader_plan");
    run("GRANT SELECT ON sensor_data.tsv_channels, sensor_data.company_access TO loader_plan");
    for (role, sql) in [
        ("grafana_plan", "SELECT sum(value) FROM sensor_data.electrical"),
        ("loader_plan", "SELECT count(*) FROM sensor_data.tsv_channels"),
    ] {
        run(&format!("SET ROLE {role}"));
        let plan = Spi::explain(sql).unwrap();
        run("RESET ROLE");
        let plan = format!("{:?}", plan.0);
        assert!(plan.contains("hashed SubPlan"), "{role}: {plan}");
    }
}

/// The three write paths give the same table: deferred indexes (empty table), bulk with
/// index entries (non-empty table), and SQL (a table the bulk path does not handle).
#[pg_test]
fn write_paths_agree() {
    let base = fixtures();
    // numeric sums: exact whatever the physical order of the rows.
    let digest = "SELECT concat_ws('|', count(*), sum(value::numeric), sum(extract(epoch FROM time)), count(DISTINCT channel)) FROM sensor_data.electrical_samples";
    let mut results = Vec::new();
    for setup in [
        "TRUNCATE sensor_data.electrical_samples",
        "TRUNCATE sensor_data.electrical_samples; INSERT INTO sensor_data.electrical_samples VALUES ('1999-01-01', -1, 0)",
        "TRUNCATE sensor_data.electrical_samples; ALTER TABLE sensor_data.electrical_samples ADD CONSTRAINT sensor_test_check CHECK (value > -1e9)",
    ] {
        run(setup);
        run("DELETE FROM sensor_data.tsv_files");
        for file in [COMPANY1, COMPANY2, COMPANY3_RESET, COMPANY3_LARGE] {
            load(&base, file);
        }
        run("DELETE FROM sensor_data.electrical_samples WHERE channel = -1");
        results.push(text(digest));
        // Index and heap agree.
        run("SET LOCAL enable_seqscan = off");
        let by_index: i64 = one("SELECT count(*) FROM sensor_data.electrical_samples WHERE channel > 0");
        run("RESET enable_seqscan");
        assert_eq!(by_index, 21798, "{setup}");
        // The primary key still rejects a duplicate, whichever path built the entries.
        assert_eq!(
            sqlstate_of("INSERT INTO sensor_data.electrical_samples SELECT time, channel, 1 FROM sensor_data.electrical_samples LIMIT 1").as_deref(),
            Some("23505"),
            "{setup}"
        );
        run("ALTER TABLE sensor_data.electrical_samples DROP CONSTRAINT IF EXISTS sensor_test_check");
    }
    assert_eq!(results.len(), 3);
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    assert!(results[0].starts_with("21798|"), "{}", results[0]);
}

/// A file larger than one chunk whose second half repeats the first half's times: the deferred
/// mode ends at the overlap and the later values win.
#[pg_test]
fn repeated_times_across_chunks_overwrite() {
    let dir = TempDir::new();
    let mut spec = SyntheticSpec::thirty_channels(3000);
    spec.master_sn = "02008888".into();
    let mut bytes = Vec::new();
    write_synthetic_tsv(&mut bytes, &spec).unwrap();
    // Rows 0..3000 again, each value + 1000.
    let text_bytes = String::from_utf8(bytes).unwrap();
    let mut out = text_bytes.clone();
    for line in text_bytes.lines().skip(2) {
        let mut cells = line.split('\t');
        out.push_str(cells.next().unwrap());
        for cell in cells {
            out.push('\t');
            out.push_str(&format!("{:.2}", cell.parse::<f64>().unwrap() + 1000.0));
        }
        out.push('\n');
    }
    let path = dir.file("twice.tsv", out.as_bytes());
    run("TRUNCATE sensor_data.electrical_samples");
    let report = load_with(&path, "company => 'c', campaign => 'k'");
    assert!(report.starts_with("loaded|c|k|02008888|02008888|MV_T302_V002|V002|6000|30|180000|"), "{report}");
    assert_eq!(samples(), 90_000);
    for (row, column, channel) in [(0, 0, "M02008888_U1"), (1500, 7, "M02008888_S04000466_Ch2"), (2999, 29, "M02008888_S04001344_Ch6")] {
        let time = spec.row_time_utc(row);
        let got = one::<f64>(&format!(
            "SELECT s.value FROM sensor_data.electrical_samples s JOIN sensor_data.tsv_channels c ON c.id = s.channel \
             WHERE c.channel_id = '{channel}' AND s.time = to_timestamp({time})"
        ));
        let want: f64 = format!("{:.2}", spec.value(row, column) + 1000.0).parse().unwrap();
        assert_eq!(got, want, "row {row} {channel}");
    }
}

/// An error PostgreSQL raises inside a file's load (here a CHECK constraint the SQL path hits)
/// is caught, the file recorded as failed with that SQLSTATE, and the run goes on.
#[pg_test]
fn postgres_errors_inside_a_file_are_recorded_and_the_run_goes_on() {
    let base = fixtures();
    run("ALTER TABLE sensor_data.electrical_samples ADD CONSTRAINT sensor_test_before_september CHECK (time < '2025-09-01')");
    let row = text(&format!(
        "SELECT concat_ws('|', files_total, loaded, failed, points) FROM sensor.load_tsv_dir({})",
        quoted(&base.0)
    ));
    assert_eq!(row, "7|1|3|4290");
    assert_eq!(
        text("SELECT string_agg(DISTINCT error_sqlstate, ',') FROM sensor_data.tsv_files WHERE status = 'failed'"),
        "23514"
    );
    assert_eq!(samples(), 4290);
    // The failed files left no channels either.
    assert_eq!(
        text("SELECT string_agg(DISTINCT company, ',') FROM sensor_data.tsv_channels"),
        "company1"
    );
}
