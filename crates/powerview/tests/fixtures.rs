//! The real PowerView sample files: exact channels, counts, times and values.

mod common;

use common::{fixtures_dir, parse_path, secs};
use powerview::{DeviceType, Outcome, ParseOptions, PhaseType, TimeBasis, TsvFile, TsvFormat};

fn some(values: &[f64]) -> Vec<Option<f64>> {
    values.iter().copied().map(Some).collect()
}

#[test]
fn v002_three_phase_master_with_slaves() {
    let path = fixtures_dir().join("company1/campaign1/02001084/T302_251012_031720.tsv");
    let p = parse_path(&path, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.header.format, Some(TsvFormat::V002));
    assert_eq!(p.header.marker.as_deref(), Some("MV_T302_V002"));
    // The file's master is 02001171 although it was uploaded under folder 02001084.
    assert_eq!(p.header.master_sn.as_deref(), Some("02001171"));
    assert_eq!(p.header.phase_type, Some(PhaseType::Three));
    assert_eq!(p.header.time_basis, TimeBasis::Utc);
    assert!(p.header.header_json.is_none());

    let channels = &p.header.channels;
    assert_eq!(channels.len(), 30);
    let mut expected = Vec::new();
    for k in 1..=3 {
        expected.push((
            format!("M02001171_U{k}"),
            "02001171".to_owned(),
            DeviceType::Master,
            format!("U{k}"),
            format!("Ph {k}"),
            "V",
        ));
    }
    for k in 1..=3 {
        expected.push((
            format!("M02001171_Ch{k}"),
            "02001171".to_owned(),
            DeviceType::Master,
            format!("Ch{k}"),
            format!("Voie{k}"),
            "W",
        ));
    }
    for slave in ["04000466", "04000477", "04001293", "04001344"] {
        for k in 1..=6 {
            expected.push((
                format!("M02001171_S{slave}_Ch{k}"),
                slave.to_owned(),
                DeviceType::Slave,
                format!("Ch{k}"),
                format!("Voie{k}"),
                "W",
            ));
        }
    }
    assert_eq!(expected.len(), channels.len());
    for (i, (c, e)) in channels.iter().zip(&expected).enumerate() {
        assert_eq!(c.column, i + 1);
        assert_eq!(c.channel_id, e.0);
        assert_eq!(c.device_sn, e.1);
        assert_eq!(c.device_type, e.2);
        assert_eq!(c.label, e.3);
        assert_eq!(c.name, e.4);
        assert_eq!(c.unit, e.5);
        assert_eq!(c.device_master_sn, "02001171");
        assert_eq!(c.source_format, "MV_T302_V002");
    }

    assert_eq!(p.rows.len(), 143);
    assert_eq!(p.stats.rows, 143);
    assert_eq!(p.stats.points, 143 * 30);
    assert_eq!(p.stats.invalid_timestamps, 0);
    assert_eq!(p.stats.invalid_values, 0);
    assert_eq!(p.stats.empty_values, 0);
    assert_eq!(p.stats.missing_values, 0);
    assert_eq!(p.stats.extra_values, 0);
    assert_eq!(p.stats.truncated_rows, 0);
    assert_eq!(p.stats.zero_rows, 0);
    assert_eq!(p.stats.first_time_us.map(secs), Some(1_754_191_200)); // 03/08/25 03:20:00
    assert_eq!(p.stats.last_time_us.map(secs), Some(1_754_276_400)); // 04/08/25 03:00:00
    assert_eq!(p.stats.min_time_us, p.stats.first_time_us);
    assert_eq!(p.stats.max_time_us, p.stats.last_time_us);

    assert_eq!(
        p.rows[0].1,
        some(&[
            242.25, 242.26, 242.01, 31.5, 35.4, 3.5, 163.8, 607.6, 148.4, 1372.3, 1351.1, 2331.6,
            4504.6, 2343.8, 4143.6, -5.3, -2.3, 2.0, 0.0, 0.0, 26.3, 0.0, 0.0, 0.0, 2.4, -0.4, 0.3,
            68.9, -0.0, 0.0
        ])
    );
    let last = &p.rows[142].1;
    assert_eq!(
        last,
        &some(&[
            242.21, 241.82, 242.32, 30.6, 34.8, 6.0, 45.2, 1754.2, 136.9, 778.2, 717.0, 1723.8,
            2541.1, 2822.1, 2233.4, -7.1, -1.9, 2.2, 0.0, 0.0, 26.0, 0.0, 0.0, 0.0, 1.7, -0.4, 0.2,
            69.1, -0.1, 0.2
        ])
    );
    // -0.0 is kept as negative zero.
    assert!(p.rows[0].1[28].is_some_and(|v| v == 0.0 && v.is_sign_negative()));
    // Rows are 10 minutes apart.
    assert_eq!(p.rows[1].0 - p.rows[0].0, 600_000_000);
}

#[test]
fn v003_single_phase_utc() {
    let path = fixtures_dir().join("company2/format_v003/02001311/T302_260122_162658_UTC.tsv");
    // The caller's zone must not override the file's "UTC".
    let options = ParseOptions::with_timezone_name(Some("America/New_York")).unwrap();
    let p = parse_path(&path, &options);
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.header.format, Some(TsvFormat::V003));
    assert_eq!(p.header.marker.as_deref(), Some("MV_T302_V003"));
    assert_eq!(p.header.master_sn.as_deref(), Some("02001311"));
    assert_eq!(p.header.phase_type, Some(PhaseType::Single));
    assert_eq!(p.header.time_basis, TimeBasis::Utc);
    let json = p.header.header_json.as_ref().expect("json header");
    assert_eq!(json["TimeZoneName"], "Europe/Paris");
    assert_eq!(json["MasterType"], "Mono");
    assert_eq!(json["FileVersion"], 3);

    let ids = p.channel_ids();
    assert_eq!(
        ids,
        [
            "M02001311_U1",
            "M02001311_Ch1",
            "M02001311_Ch2",
            "M02001311_Ch3",
            "M02001311_Ch4",
            "M02001311_Ch5"
        ]
    );
    let names: Vec<(&str, &str)> = p
        .header
        .channels
        .iter()
        .map(|c| (c.name.as_str(), c.unit.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Ph 1", "V"),
            ("Voie1", "W"),
            ("Voie2", "W"),
            ("Voie3", "W"),
            ("Voie4", "W"),
            ("Voie5", "W")
        ]
    );
    assert!(p
        .header
        .channels
        .iter()
        .all(|c| c.device_type == DeviceType::Master && c.source_format == "MV_T302_V003"));

    assert_eq!(p.stats.rows, 134);
    assert_eq!(p.stats.points, 134 * 6);
    assert_eq!(p.stats.zero_rows, 17);
    assert_eq!(p.zero_flags.iter().filter(|z| **z).count(), 17);
    assert_eq!(p.stats.invalid_timestamps + p.stats.invalid_values, 0);
    assert_eq!(p.stats.first_time_us.map(secs), Some(1_768_983_324)); // 21/01/26 08:15:24
    assert_eq!(p.stats.last_time_us.map(secs), Some(1_769_094_600)); // 22/01/26 15:10:00
    assert_eq!(p.stats.max_time_us.map(secs), Some(1_769_094_600));
    assert_eq!(p.rows[0].1, some(&[236.14, 0.0, 0.0, 0.0, 0.0, 0.0]));
    // Line 25 "21/01/26 12:01:15 0 0 0 0 0 0" is the 19th data row, a zero row.
    assert_eq!(p.rows[18].0 / 1_000_000, 1_768_996_875);
    assert!(p.zero_flags[18]);
    assert_eq!(p.rows[18].1, some(&[0.0; 6]));
}

#[test]
fn v003_skipping_zero_rows() {
    let path = fixtures_dir().join("company2/format_v003/02001311/T302_260122_162658_UTC.tsv");
    let options = ParseOptions {
        skip_zero_rows: true,
        ..ParseOptions::default()
    };
    let p = parse_path(&path, &options);
    assert_eq!(p.stats.rows, 134 - 17);
    assert_eq!(p.stats.points, (134 - 17) * 6);
    assert_eq!(p.stats.zero_rows, 17);
    assert!(p.zero_flags.iter().all(|z| !z));
    // Without the zero rows the file is in time order.
    assert!(p.rows.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn v002_clock_reset_and_zero_rows() {
    let path = fixtures_dir().join("company3/base/02001283/T302_251024_204336.tsv");
    let p = parse_path(&path, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.header.master_sn.as_deref(), Some("02001283"));
    assert_eq!(p.header.phase_type, Some(PhaseType::Three));
    let ids = p.channel_ids();
    assert_eq!(
        ids,
        [
            "M02001283_U1",
            "M02001283_U2",
            "M02001283_U3",
            "M02001283_Ch1",
            "M02001283_Ch2",
            "M02001283_Ch3"
        ]
    );
    assert_eq!(p.stats.rows, 349);
    assert_eq!(p.stats.points, 349 * 6);
    assert_eq!(p.stats.zero_rows, 7);
    assert_eq!(p.stats.first_time_us.map(secs), Some(1_577_840_402)); // 01/01/20 01:00:02
    assert_eq!(p.stats.min_time_us, p.stats.first_time_us);
    assert_eq!(p.stats.last_time_us.map(secs), Some(1_761_338_435)); // 24/10/25 20:40:35
    assert_eq!(p.stats.max_time_us, p.stats.last_time_us);
    assert_eq!(
        p.rows[0].1,
        some(&[232.09, 179.31, 163.64, 4395.2, 3543.6, 3204.9])
    );
    assert!(p.zero_flags[1]);
    // The file repeats timestamps (e.g. 24/10/25 20:37:39 twice with different values).
    let dup = p
        .rows
        .iter()
        .filter(|(t, _)| secs(*t) == 1_761_338_259)
        .count();
    assert_eq!(dup, 2);
}

#[test]
fn v002_large_file_cut_mid_line() {
    let path = fixtures_dir().join("company3/base/02001283/T302_260109_102002.tsv");
    let p = parse_path(&path, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::Ok);
    // 2,464 complete rows; the last line "22/12/25 05:50:00\t24" has no newline and is dropped.
    assert_eq!(p.stats.rows, 2464);
    assert_eq!(p.stats.points, 2464 * 6);
    assert_eq!(p.stats.truncated_rows, 1);
    assert_eq!(p.stats.missing_values, 0);
    assert_eq!(p.stats.first_time_us.map(secs), Some(1_764_904_800)); // 05/12/25 03:20:00
    assert_eq!(p.stats.last_time_us.map(secs), Some(1_766_382_000)); // 22/12/25 05:40:00
    assert_eq!(p.rows[0].1, some(&[253.81, 250.64, 252.53, 20.5, 0.0, 0.0]));
    assert_eq!(
        p.rows[2463].1,
        some(&[249.21, 246.77, 247.24, 4.5, 0.0, 0.0])
    );
}

#[test]
fn t202_is_unsupported() {
    let path = fixtures_dir().join("company3/base/02001283/T202_251022_121951.tsv");
    let p = parse_path(&path, &ParseOptions::default());
    assert_eq!(
        p.outcome,
        Outcome::Unsupported {
            marker: "MV_T202_V002".to_owned()
        }
    );
    assert_eq!(p.outcome.as_str(), "unsupported");
    assert_eq!(p.header.marker.as_deref(), Some("MV_T202_V002"));
    assert_eq!(p.header.master_sn.as_deref(), Some("02001283"));
    assert!(p.header.channels.is_empty());
    assert!(p.rows.is_empty());
    assert_eq!(p.stats.rows, 0);
}

#[test]
fn empty_file_is_no_data() {
    let path = fixtures_dir().join("company3/base/02001283/T302_260109_120045.tsv");
    let p = parse_path(&path, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::NoData);
    assert_eq!(p.header.format, None);
    assert!(p.header.channels.is_empty());
    assert!(p.rows.is_empty());
}

#[test]
fn header_only_file_is_no_data_with_channels() {
    let path = fixtures_dir().join("company3/base/02001283/T302_260109_133915.tsv");
    let p = parse_path(&path, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::NoData);
    assert_eq!(p.outcome.as_str(), "no_data");
    assert_eq!(p.header.format, Some(TsvFormat::V002));
    assert_eq!(p.header.marker.as_deref(), Some("MV_T302_V002"));
    assert_eq!(p.header.channels.len(), 6);
    assert!(p.rows.is_empty());
}

#[test]
fn v002_with_caller_timezone_shifts_by_offset() {
    let path = fixtures_dir().join("company1/campaign1/02001084/T302_251012_031720.tsv");
    let options = ParseOptions::with_timezone_name(Some("Europe/Paris")).unwrap();
    let mut file = TsvFile::open_path(&path, &options).unwrap();
    assert!(matches!(file.header().time_basis, TimeBasis::Local(_)));
    let row = file.next_row().unwrap().unwrap();
    // 03/08/25 03:20:00 CEST = 01:20:00 UTC.
    assert_eq!(secs(row.time_us), 1_754_191_200 - 7200);
}

#[test]
fn missing_fixture_file_is_io_not_found() {
    let err = TsvFile::open_path(
        fixtures_dir().join("no/such/file.tsv"),
        &ParseOptions::default(),
    )
    .err()
    .expect("error");
    match err {
        powerview::PowerviewError::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn path_tags_of_fixtures() {
    let base = fixtures_dir();
    let tags = powerview::parse_path_tags(
        base.join("company1/campaign1/02001084/T302_251012_031720.tsv"),
        &base,
    )
    .unwrap();
    assert_eq!(tags.company, "company1");
    assert_eq!(tags.campaign, "campaign1");
    assert_eq!(tags.device_master_sn, "02001084");
    assert_eq!(tags.file_name, "T302_251012_031720.tsv");
}
