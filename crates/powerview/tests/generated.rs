//! Generated files: time zones across DST changes, incomplete uploads, bad rows and cells, line
//! endings, column counts, formats and header errors.

mod common;

use std::io::Cursor;

use common::{parse_bytes, parse_str, secs};
use powerview::synthetic::{write_synthetic_tsv, SyntheticSpec, SyntheticV003};
use powerview::{
    AmbiguousTime, ErrorCategory, Outcome, ParseOptions, PhaseType, PowerviewError, TimeBasis,
    TsvFile, TsvFormat, Tz,
};

const HEAD2: &str = "02001283\t02001283\t02001283\n\
                     MV_T302_V002\tPh 1 V\tVoie1 W\n";

fn local_v003(spec_rows: u64, start_utc: i64, step: i64) -> SyntheticSpec {
    SyntheticSpec {
        rows: spec_rows,
        master_sn: "02000800".to_owned(),
        three_phase: false,
        master_power_channels: 2,
        slaves: vec![("04001002".to_owned(), 1)],
        start_utc,
        step_seconds: step,
        wall_clock: Some(Tz::Europe__Paris),
        v003: Some(SyntheticV003 {
            data_time_settings: "Local".to_owned(),
            time_zone_name: "Europe/Paris".to_owned(),
            master_type: "Mono".to_owned(),
            end_data: true,
        }),
        marker: "MV_T302_V003".to_owned(),
        crlf: false,
    }
}

fn render(spec: &SyntheticSpec) -> Vec<u8> {
    let mut out = Vec::new();
    write_synthetic_tsv(&mut out, spec).unwrap();
    out
}

fn check_exact(spec: &SyntheticSpec, options: &ParseOptions) {
    let p = parse_bytes(&render(spec), options);
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.rows.len() as u64, spec.rows);
    for (r, (time_us, values)) in p.rows.iter().enumerate() {
        assert_eq!(secs(*time_us), spec.row_time_utc(r as u64), "row {r}");
        assert_eq!(values.len(), spec.channel_count());
        for (c, v) in values.iter().enumerate() {
            assert_eq!(*v, Some(spec.value(r as u64, c)), "row {r} column {c}");
        }
    }
}

// 2026-03-29 00:00 UTC; Paris goes from +1 to +2 at 01:00 UTC.
const SPRING_2026: i64 = 1_774_742_400;
// 2026-10-24 22:00 UTC; Paris goes from +2 to +1 at 2026-10-25 01:00 UTC.
const AUTUMN_2026: i64 = 1_792_879_200;

#[test]
fn local_time_across_spring_forward() {
    let spec = local_v003(36, SPRING_2026, 600);
    let p = parse_bytes(&render(&spec), &ParseOptions::default());
    assert_eq!(p.header.time_basis, TimeBasis::Local(Tz::Europe__Paris));
    assert_eq!(p.header.format, Some(TsvFormat::V003));
    // Channels: single-phase master U1, Ch1, Ch2 and one slave channel.
    let ids = p.channel_ids();
    assert_eq!(
        ids,
        [
            "M02000800_U1",
            "M02000800_Ch1",
            "M02000800_Ch2",
            "M02000800_S04001002_Ch1"
        ]
    );
    check_exact(&spec, &ParseOptions::default());
    // Consecutive rows are exactly 10 minutes apart in UTC although the wall clock jumps an hour.
    assert!(p.rows.windows(2).all(|w| w[1].0 - w[0].0 == 600_000_000));
}

#[test]
fn local_time_across_fall_back() {
    // Four hours around the change: the wall clock writes 02:00..02:50 twice.
    let spec = local_v003(24, AUTUMN_2026 + 3600, 600);
    let text = String::from_utf8(render(&spec)).unwrap();
    assert_eq!(text.matches("25/10/26 02:00:00").count(), 2);
    // Sequential (the default) recovers every instant.
    check_exact(&spec, &ParseOptions::default());
    // Earliest maps the second pass onto the first: duplicated instants.
    let earliest = ParseOptions {
        ambiguous: AmbiguousTime::Earliest,
        ..ParseOptions::default()
    };
    let p = parse_bytes(text.as_bytes(), &earliest);
    let mut times: Vec<i64> = p.rows.iter().map(|r| r.0).collect();
    let n = times.len();
    times.sort_unstable();
    times.dedup();
    assert_eq!(n - times.len(), 6);
    // Latest maps the first pass onto the second.
    let latest = ParseOptions {
        ambiguous: AmbiguousTime::Latest,
        ..ParseOptions::default()
    };
    let p = parse_bytes(text.as_bytes(), &latest);
    let first_pass_0200 = p
        .rows
        .iter()
        .position(|r| secs(r.0) == AUTUMN_2026 + 3 * 3600);
    assert!(first_pass_0200.is_some());
}

#[test]
fn nonexistent_and_ambiguous_local_times_hand_written() {
    let text = "START_HEADER\n\
        {\"DataTimeSettings\":\"Local\",\"TimeZoneName\":\"Europe/Paris\",\"MasterType\":\"Mono\"}\n\
        END_HEADER\nSTART_DATA\n\
        02001311\t02001311\n\
        MV_T302_V003\tPh 1 V\n\
        29/03/26 01:59:00\t1\n\
        29/03/26 02:30:00\t2\n\
        29/03/26 03:00:00\t3\n\
        25/10/26 02:30:00\t4\n\
        25/10/26 02:10:00\t5\n\
        END_DATA\n";
    let p = parse_str(text);
    let times: Vec<i64> = p.rows.iter().map(|r| secs(r.0)).collect();
    assert_eq!(
        times,
        [
            SPRING_2026 + 59 * 60,  // 01:59 CET = 00:59 UTC
            SPRING_2026 + 90 * 60,  // 02:30 does not exist: read as 03:30 CEST = 01:30 UTC
            SPRING_2026 + 3600,     // 03:00 CEST = 01:00 UTC
            AUTUMN_2026 + 150 * 60, // first 02:30 (CEST) = 00:30 UTC
            AUTUMN_2026 + 190 * 60, // 02:10 after 02:30: second pass (CET) = 01:10 UTC
        ]
    );
}

#[test]
fn v002_with_caller_timezone_across_fall_back() {
    let mut spec = local_v003(24, AUTUMN_2026 + 3600, 600);
    spec.v003 = None;
    spec.marker = "MV_T302_V002".to_owned();
    // Without a zone the wall clock is read as UTC.
    let p = parse_bytes(&render(&spec), &ParseOptions::default());
    assert_eq!(p.header.time_basis, TimeBasis::Utc);
    assert_eq!(secs(p.rows[0].0), spec.row_time_utc(0) + 7200);
    // With the zone every instant comes back.
    check_exact(
        &spec,
        &ParseOptions::with_timezone_name(Some("Europe/Paris")).unwrap(),
    );
}

#[test]
fn unknown_caller_timezone_is_invalid_parameter() {
    let err = ParseOptions::with_timezone_name(Some("Europe/Pariss")).unwrap_err();
    assert!(matches!(err, PowerviewError::UnknownTimezone { .. }));
    assert_eq!(err.category(), ErrorCategory::InvalidParameter);
}

#[test]
fn v003_local_zone_fallbacks() {
    let file = |zone: &str| {
        format!(
            "START_HEADER\n{{\"DataTimeSettings\":\"Local\",\"TimeZoneName\":\"{zone}\"}}\nEND_HEADER\n\
             START_DATA\n02001311\t02001311\nMV_T302_V003\tPh 1 V\n01/07/26 12:00:00\t1\nEND_DATA\n"
        )
    };
    // Unknown zone in the file and none from the caller: malformed input.
    let err = TsvFile::open(Cursor::new(file("Nowhere/Land")), &ParseOptions::default())
        .err()
        .expect("error");
    assert!(matches!(err, PowerviewError::FileTimezone { .. }));
    assert_eq!(err.category(), ErrorCategory::InvalidInput);
    // The caller's zone fills in.
    let options = ParseOptions::with_timezone_name(Some("America/New_York")).unwrap();
    let p = common::collect(TsvFile::open(Cursor::new(file("Nowhere/Land")), &options).unwrap());
    assert_eq!(p.header.time_basis, TimeBasis::Local(Tz::America__New_York));
    // A known zone in the file wins over the caller's.
    let p = common::collect(TsvFile::open(Cursor::new(file("Asia/Tokyo")), &options).unwrap());
    assert_eq!(p.header.time_basis, TimeBasis::Local(Tz::Asia__Tokyo));
    assert_eq!(secs(p.rows[0].0), 1_782_907_200 - 9 * 3600);
}

#[test]
fn v003_without_data_time_settings_uses_caller_zone() {
    let text = "START_HEADER\n{\"MasterType\":\"Mono\"}\nEND_HEADER\nSTART_DATA\n\
                02001311\t02001311\nMV_T302_V003\tPh 1 V\n01/07/26 12:00:00\t1\nEND_DATA\n";
    let options = ParseOptions::with_timezone_name(Some("Asia/Tokyo")).unwrap();
    let p = parse_bytes(text.as_bytes(), &options);
    assert_eq!(p.header.time_basis, TimeBasis::Local(Tz::Asia__Tokyo));
    assert_eq!(p.stats.rows, 1);
}

#[test]
fn missing_end_data_is_deferred() {
    let mut spec = local_v003(50, SPRING_2026, 600);
    if let Some(v3) = spec.v003.as_mut() {
        v3.end_data = false;
    }
    let bytes = render(&spec);
    // With the tail check nothing is read.
    let p = parse_bytes(&bytes, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::Deferred);
    assert_eq!(p.outcome.as_str(), "deferred");
    assert_eq!(p.header.format, Some(TsvFormat::V003));
    assert!(p.rows.is_empty());
    // Streaming without Seek: rows come, then the outcome turns to Deferred.
    let mut file = TsvFile::open(Cursor::new(bytes.clone()), &ParseOptions::default()).unwrap();
    assert_eq!(file.outcome(), Outcome::Ok);
    let mut rows = 0;
    while file.next_row().unwrap().is_some() {
        rows += 1;
    }
    assert_eq!(rows, 50);
    assert!(file.end_data_missing());
    assert_eq!(file.outcome(), Outcome::Deferred);
    // Through a real file and open_path.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("T302_in_progress.tsv");
    std::fs::write(&path, &bytes).unwrap();
    let file = TsvFile::open_path(&path, &ParseOptions::default()).unwrap();
    assert_eq!(file.outcome(), Outcome::Deferred);
    // Cut inside the JSON header.
    let cut = &bytes[..30];
    assert_eq!(
        parse_bytes(cut, &ParseOptions::default()).outcome,
        Outcome::Deferred
    );
    let streamed = common::collect(
        TsvFile::open(Cursor::new(cut.to_vec()), &ParseOptions::default()).unwrap(),
    );
    assert_eq!(streamed.outcome, Outcome::Deferred);
}

#[test]
fn end_data_found_far_from_the_start_of_a_big_file() {
    let spec = local_v003(5_000, SPRING_2026, 60);
    let bytes = render(&spec);
    assert!(bytes.len() as u64 > powerview::TAIL_WINDOW);
    let p = parse_bytes(&bytes, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.stats.rows, 5_000);
    // Junk after END_DATA is ignored.
    let mut with_junk = bytes.clone();
    with_junk.extend_from_slice(b"garbage after the end\n\n");
    let p = parse_bytes(&with_junk, &ParseOptions::default());
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.stats.rows, 5_000);
    assert_eq!(p.stats.invalid_timestamps, 0);
}

#[test]
fn bad_timestamps_and_bad_cells() {
    let text = format!(
        "{HEAD2}\
         01/08/25 10:00:00\t230.5\t12.5\n\
         32/08/25 10:00:00\t230.5\t12.5\n\
         01/08/25 25:00:00\t1\t2\n\
         garbage\t1\t2\n\
         01/08/25 10:10:00\tabc\t12,5\n\
         01/08/25 10:20:00\tnan\tinf\n\
         01/08/25 10:30:00\t\t  \n\
         01/08/25 10:40:00\t 231.0 \t1e3\n\
         01/08/25 10:50:00\t-0.0\t1e999\n"
    );
    let p = parse_str(&text);
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.stats.invalid_timestamps, 3);
    assert_eq!(p.stats.rows, 6);
    assert_eq!(p.stats.invalid_values, 5);
    assert_eq!(p.stats.empty_values, 2);
    assert_eq!(p.stats.points, 5);
    let values: Vec<Vec<Option<f64>>> = p.rows.iter().map(|r| r.1.clone()).collect();
    assert_eq!(
        values,
        vec![
            vec![Some(230.5), Some(12.5)],
            vec![None, None],
            vec![None, None],
            vec![None, None],
            vec![Some(231.0), Some(1000.0)],
            vec![Some(-0.0), None],
        ]
    );
}

#[test]
fn crlf_bom_and_trailing_tabs_and_blank_lines() {
    let mut spec = SyntheticSpec::thirty_channels(20);
    let lf = render(&spec);
    spec.crlf = true;
    let crlf = render(&spec);
    assert!(crlf.windows(2).any(|w| w == b"\r\n"));
    let a = parse_bytes(&lf, &ParseOptions::default());
    let b = parse_bytes(&crlf, &ParseOptions::default());
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.header.channels, b.header.channels);
    check_exact(&spec, &ParseOptions::default());

    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&crlf);
    let c = parse_bytes(&bom, &ParseOptions::default());
    assert_eq!(c.rows, a.rows);
    assert_eq!(c.header.master_sn.as_deref(), Some("02001171"));

    let text = "\u{feff}02001283\t02001283\t02001283\t\t\r\n\
                MV_T302_V002\tPh 1 V\tVoie1 W\t\r\n\
                \r\n\
                01/08/25 10:00:00\t230.5\t12.5\t\r\n\
                \t\r\n\
                01/08/25 10:10:00\t231.5\t13.5\t\t\r\n\r\n\r\n";
    let p = parse_str(text);
    assert_eq!(p.header.channels.len(), 2);
    assert_eq!(p.stats.rows, 2);
    assert_eq!(p.stats.points, 4);
    assert_eq!(
        p.stats.extra_values + p.stats.missing_values + p.stats.invalid_timestamps,
        0
    );
}

#[test]
fn column_count_differs_from_header() {
    let text = format!(
        "{HEAD2}\
         01/08/25 10:00:00\t230.5\n\
         01/08/25 10:10:00\n\
         01/08/25 10:20:00\t230.5\t12.5\t99\t\t7\n\
         01/08/25 10:30:00\t231\t13\n"
    );
    let p = parse_str(&text);
    assert_eq!(p.stats.rows, 4);
    assert_eq!(p.stats.missing_values, 3);
    assert_eq!(p.stats.extra_values, 2);
    assert_eq!(p.stats.points, 5);
    assert_eq!(p.rows[0].1, vec![Some(230.5), None]);
    assert_eq!(p.rows[1].1, vec![None, None]);
    assert_eq!(p.rows[2].1, vec![Some(230.5), Some(12.5)]);
    assert_eq!(p.rows[3].1, vec![Some(231.0), Some(13.0)]);
}

#[test]
fn unterminated_last_line() {
    // Complete cells but no newline: loaded.
    let p = parse_str(&format!("{HEAD2}01/08/25 10:00:00\t230.5\t12.5"));
    assert_eq!(p.stats.rows, 1);
    assert_eq!(p.stats.truncated_rows, 0);
    // Cut inside the row: dropped and counted.
    for cut in ["01/08/25 10:00:00\t23", "01/08/25 10:0", "0"] {
        let p = parse_str(&format!("{HEAD2}01/08/25 09:50:00\t1\t2\n{cut}"));
        assert_eq!(p.stats.rows, 1, "{cut:?}");
        assert_eq!(p.stats.truncated_rows, 1, "{cut:?}");
        assert_eq!(p.stats.invalid_timestamps, 0, "{cut:?}");
    }
}

#[test]
fn zero_rows_are_flagged() {
    let text = format!("{HEAD2}01/08/25 10:00:00\t0\t0\n01/08/25 10:00:05\t0.0\t0\n");
    let p = parse_str(&text);
    assert_eq!(p.zero_flags, vec![true, false]);
    assert_eq!(p.stats.zero_rows, 1);
    assert_eq!(p.stats.rows, 2);
}

#[test]
fn formats_and_markers() {
    // V003 structure with the V002 marker (as real devices wrote): V003, marker kept.
    let text = "START_HEADER\n{\"DataTimeSettings\":\"UTC\",\"MasterType\":\"Tri\"}\nEND_HEADER\n\
                START_DATA\n02001315\t02001315\t04001486\n\
                MV_T302_V002\tPh 1 V\tD36 W\n01/08/25 10:00:00\t1\t2\nEND_DATA\n";
    let p = parse_str(text);
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.header.format, Some(TsvFormat::V003));
    assert_eq!(p.header.marker.as_deref(), Some("MV_T302_V002"));
    // MasterType Tri overrides the labels (only Ph 1 here).
    assert_eq!(p.header.phase_type, Some(PhaseType::Three));
    let labels: Vec<&str> = p.header.channels.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["U1", "Ch1"]);
    assert_eq!(p.header.channels[1].channel_id, "M02001315_S04001486_Ch1");
    assert_eq!(p.header.channels[0].source_format, "MV_T302_V002");

    // V002 structure with the V003 marker: V002 structure.
    let p = parse_str("02001283\t02001283\nMV_T302_V003\tPh 1 V\n01/08/25 10:00:00\t1\n");
    assert_eq!(p.header.format, Some(TsvFormat::V002));
    assert_eq!(p.header.marker.as_deref(), Some("MV_T302_V003"));
    assert_eq!(p.stats.rows, 1);

    for marker in ["MV_T202_V002", "MV_T302_V004", "mv_t302_v002", ""] {
        let p = parse_str(&format!(
            "02001283\t02001283\n{marker}\tPh 1 V\n01/08/25 10:00:00\t1\n"
        ));
        assert_eq!(
            p.outcome,
            Outcome::Unsupported {
                marker: marker.to_owned()
            }
        );
        assert!(p.rows.is_empty());
    }
    // Unsupported inside a V003 block too.
    let p = parse_str(
        "START_HEADER\n{}\nEND_HEADER\nSTART_DATA\n1\t1\nMV_T202_V002\tx\n01/08/25 10:00:00\t1\nEND_DATA\n",
    );
    assert_eq!(
        p.outcome,
        Outcome::Unsupported {
            marker: "MV_T202_V002".to_owned()
        }
    );
}

#[test]
fn empty_and_header_only_files() {
    for text in ["", "\n\n", "  \r\n\t\r\n", "\u{feff}"] {
        let p = parse_str(text);
        assert_eq!(p.outcome, Outcome::NoData, "{text:?}");
        assert_eq!(p.header.format, None);
    }
    // Serial line only (upload cut after line 1).
    let p = parse_str("02001283\t02001283\n");
    assert_eq!(p.outcome, Outcome::NoData);
    assert_eq!(p.header.format, Some(TsvFormat::V002));
    // Header lines then blank lines only.
    let p = parse_str(&format!("{HEAD2}\n\n"));
    assert_eq!(p.outcome, Outcome::NoData);
    assert_eq!(p.header.channels.len(), 2);
    // V003 with header lines but no rows.
    let p = parse_str(
        "START_HEADER\n{\"DataTimeSettings\":\"UTC\"}\nEND_HEADER\nSTART_DATA\n1\t1\nMV_T302_V003\tPh 1 V\nEND_DATA\n",
    );
    assert_eq!(p.outcome, Outcome::NoData);
    assert_eq!(p.header.channels.len(), 1);
    let p = parse_str("START_HEADER\n{}\nEND_HEADER\nSTART_DATA\nEND_DATA\n");
    assert_eq!(p.outcome, Outcome::NoData);
    // Only invalid rows: Ok with zero rows (the counters tell).
    let p = parse_str(&format!("{HEAD2}not a row\n"));
    assert_eq!(p.outcome, Outcome::Ok);
    assert_eq!(p.stats.rows, 0);
    assert_eq!(p.stats.invalid_timestamps, 1);
}

fn open_error(text: &str, options: &ParseOptions) -> PowerviewError {
    TsvFile::open(Cursor::new(text.as_bytes().to_vec()), options)
        .err()
        .expect("an error")
}

#[test]
fn malformed_headers_are_invalid_input() {
    let d = ParseOptions::default();
    let cases = [
        // Serial and label counts differ.
        "02001283\t02001283\t02001283\nMV_T302_V002\tPh 1 V\n01/08/25 10:00:00\t1\n",
        // Bad master serial.
        "0200-1283\t0200-1283\nMV_T302_V002\tPh 1 V\n",
        // Bad device serial.
        "02001283\t\t02001283\nMV_T302_V002\tPh 1 V\tx\n",
        // No data column.
        "02001283\nMV_T302_V002\n01/08/25 10:00:00\n",
        // JSON not an object / not JSON.
        "START_HEADER\n[1,2]\nEND_HEADER\nSTART_DATA\n1\t1\nMV_T302_V003\tPh 1 V\nEND_DATA\n",
        "START_HEADER\n{\"a\":\nEND_HEADER\nSTART_DATA\n1\t1\nMV_T302_V003\tPh 1 V\nEND_DATA\n",
    ];
    for text in cases {
        let err = open_error(text, &d);
        assert_eq!(
            err.category(),
            ErrorCategory::InvalidInput,
            "{text:?}: {err}"
        );
    }
}

#[test]
fn limits_are_enforced() {
    let options = ParseOptions {
        max_line_len: 100,
        max_columns: 4,
        ..ParseOptions::default()
    };
    let long = format!(
        "{HEAD2}01/08/25 09:50:00\t1\t2\n01/08/25 10:00:00\t{}\n",
        "1".repeat(200)
    );
    let mut file = TsvFile::open(Cursor::new(long.into_bytes()), &options).unwrap();
    assert!(file.next_row().unwrap().is_some());
    let err = file.next_row().expect_err("line too long");
    assert!(matches!(
        err,
        PowerviewError::LineTooLong {
            line: 4,
            limit: 100
        }
    ));
    assert_eq!(err.category(), ErrorCategory::InvalidInput);
    // After an error, no more rows.
    assert!(file.next_row().unwrap().is_none());

    let wide = "1\t1\t1\t1\t1\t1\nMV_T302_V002\ta\tb\tc\td\te\n";
    let err = open_error(wide, &options);
    assert!(matches!(
        err,
        PowerviewError::TooManyColumns { line: 1, .. }
    ));
    assert_eq!(err.category(), ErrorCategory::InvalidInput);

    let big_json = format!(
        "START_HEADER\n{{\"k\":\"{}\"}}\n{{}}\nEND_HEADER\n",
        "x".repeat(90)
    );
    let err = open_error(&big_json, &options);
    assert!(matches!(err, PowerviewError::InvalidHeaderJson { .. }));

    let bad = ParseOptions {
        max_line_len: 10,
        ..ParseOptions::default()
    };
    let err = open_error(HEAD2, &bad);
    assert_eq!(err.category(), ErrorCategory::InvalidParameter);
}

#[test]
fn latin1_labels_are_decoded() {
    let mut bytes =
        b"02001283\t02001283\nMV_T302_V002\tEntr\xe9e W\n01/08/25 10:00:00\t1\n".to_vec();
    let p = parse_bytes(&bytes, &ParseOptions::default());
    assert_eq!(p.header.channels[0].name, "Entrée");
    bytes[33] = 0;
    let p = parse_bytes(&bytes, &ParseOptions::default());
    assert_eq!(p.header.channels[0].name, "En\u{fffd}rée");
}

#[test]
fn streaming_open_matches_seekable_open() {
    let spec = SyntheticSpec::thirty_channels(300);
    let bytes = render(&spec);
    let a = parse_bytes(&bytes, &ParseOptions::default());
    let b = common::collect(TsvFile::open(bytes.as_slice(), &ParseOptions::default()).unwrap());
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.stats.points, 300 * 30);
}
