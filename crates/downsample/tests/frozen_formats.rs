//! The partial states the parallel support functions send between processes, pinned:
//! `tests/frozen/v1/*.hex` were written by format version 1 of each state, with the points
//! they finish to in `*.txt`. While version 1 is current, today's encoder must write
//! exactly these bytes. `FROZEN_BLESS=1` writes missing files (never overwrites: a changed
//! encoder is a new version).

use std::fmt::Write as _;
use std::path::PathBuf;

use downsample::{
    M4Summary, Method, MethodBuckets, Point, SeriesBuckets, SummaryBins, M4_SUMMARY_FORMAT_VERSION,
    METHOD_BUCKETS_FORMAT_VERSION, SERIES_BUCKETS_FORMAT_VERSION, SUMMARY_BINS_FORMAT_VERSION,
};

const S: i64 = 1_000_000;
const DAY: i64 = 1_700_000_000 * S;

/// A wave with a spike, one row a minute for a day.
fn rows() -> Vec<(i64, f64)> {
    (0..1440)
        .map(|i| {
            let spike = if i == 700 { 50.0 } else { 0.0 };
            (DAY + i * 60 * S, (i as f64 / 90.0).sin() * 10.0 + spike)
        })
        .collect()
}

fn render(points: &[Point]) -> String {
    let mut out = String::new();
    for p in points {
        let _ = writeln!(out, "{} {:?}", p.t, p.v);
    }
    out
}

/// Checks one case (see `frozen_bytes::check_case`): frozen in `tests/frozen/v1`, the
/// encoder's bytes pinned while the version is 1.
fn check(name: &str, bytes: Vec<u8>, version: u8, decode: impl Fn(&[u8]) -> Vec<Point>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/frozen/v1");
    frozen_bytes::check_case(&dir, name, "txt", &bytes, version == 1, |b| {
        render(&decode(b))
    });
}

#[test]
fn version_1_partial_states_decode_to_their_points_and_today_writes_them_byte_for_byte() {
    let (from, to) = (DAY, DAY + 86_400 * S);
    for method in [Method::MinMaxLttb, Method::M4, Method::Avg] {
        let mut state = MethodBuckets::new(from, to, 24, method).unwrap();
        for (t, v) in rows() {
            state.buckets.push(t, v);
        }
        check(
            &format!("method_buckets_{}", method.name()),
            state.to_bytes(),
            METHOD_BUCKETS_FORMAT_VERSION,
            |b| {
                let s = MethodBuckets::from_bytes(b).unwrap();
                s.buckets.finish(s.method).unwrap()
            },
        );
    }
    // Hourly summaries merged into 6 points.
    let mut bins = SummaryBins::new(from, to, 6, Method::MinMaxLttb).unwrap();
    for hour in rows().chunks(60) {
        let mut summary = M4Summary::new(hour[0].0, hour[0].1).unwrap();
        for &(t, v) in &hour[1..] {
            summary.push(t, v);
        }
        bins.push(hour[0].0, &summary);
    }
    check(
        "summary_bins",
        bins.to_bytes(),
        SUMMARY_BINS_FORMAT_VERSION,
        |b| SummaryBins::from_bytes(b).unwrap().finish().unwrap(),
    );
    // Two series and a NULL one.
    let mut series = SeriesBuckets::new(from, to, 12, Method::MinMaxLttb).unwrap();
    for (i, (t, v)) in rows().into_iter().enumerate() {
        let key = [Some(7), Some(-3), None][i % 3];
        series.push(key, t, v).unwrap();
    }
    let flatten = |b: &[u8]| -> Vec<Point> {
        let s = SeriesBuckets::from_bytes(b).unwrap();
        s.finish()
            .unwrap()
            .into_iter()
            .flat_map(|(_, points)| points)
            .collect()
    };
    check(
        "series_buckets",
        series.to_bytes(),
        SERIES_BUCKETS_FORMAT_VERSION,
        flatten,
    );
    let mut summary = M4Summary::new(DAY, 1.5).unwrap();
    for (t, v) in rows() {
        summary.push(t, v);
    }
    check(
        "m4_summary",
        summary.to_bytes(),
        M4_SUMMARY_FORMAT_VERSION,
        |b| {
            let s = M4Summary::from_bytes(b).unwrap();
            vec![
                s.first,
                s.min,
                s.max,
                s.last,
                Point::new(s.count as i64, s.sum),
            ]
        },
    );
}
