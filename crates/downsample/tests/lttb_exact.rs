//! Batch `lttb` == the `lttb` crate (oracle) == exact streaming `LttbStream`.

mod common;

use common::{cases, noisy_sine, oracle_lttb, same_points, size, split};
use downsample::{downsample, DownsampleOptions, LttbStream, Method, Point};
use proptest::prelude::*;

fn batch_lttb(points: &[Point], n: usize) -> Vec<Point> {
    let (ts, vs) = split(points);
    downsample(&ts, &vs, n, Method::Lttb, &DownsampleOptions::default()).unwrap()
}

fn stream_lttb(points: &[Point], n: usize) -> (Vec<Point>, bool, usize) {
    let mut s = LttbStream::new(points.len() as u64, n).unwrap();
    for p in points {
        s.push(p.t, p.v).unwrap();
    }
    let out = s.finish().unwrap();
    (out, s.exactness_guaranteed(), s.peak_candidates())
}

/// [`stream_lttb`] with room for two whole buckets: every point kept, no hull.
fn bucket_stream_lttb(points: &[Point], n: usize) -> (Vec<Point>, bool, usize) {
    let mut s = LttbStream::with_memory(points.len() as u64, n, 64 << 20).unwrap();
    for p in points {
        s.push(p.t, p.v).unwrap();
    }
    let out = s.finish().unwrap();
    (out, s.exactness_guaranteed(), s.peak_candidates())
}

/// Asserts batch == oracle == stream and returns the stream's peak memory.
fn check_all(points: &[Point], n: usize) -> usize {
    let oracle = oracle_lttb(points, n);
    let batch = batch_lttb(points, n);
    assert!(same_points(&batch, &oracle), "batch != oracle for n={n}");
    let (stream, exact, peak) = stream_lttb(points, n);
    assert!(exact, "exactness not guaranteed");
    assert!(same_points(&stream, &oracle), "stream != oracle for n={n}");
    let (buckets, exact, _) = bucket_stream_lttb(points, n);
    assert!(exact);
    assert!(
        same_points(&buckets, &oracle),
        "bucket stream != oracle for n={n}"
    );
    peak
}

#[test]
fn whole_buckets_only_within_the_memory_given() {
    let pts = noisy_sine(100_000, 3);
    // 100 points: 98 buckets of 1,020.4 points (24 bytes each), two at a time.
    let run = |bytes: u64| {
        let mut s = LttbStream::with_memory(pts.len() as u64, 100, bytes).unwrap();
        for p in &pts {
            s.push(p.t, p.v).unwrap();
        }
        let out = s.finish().unwrap();
        (out, s.peak_candidates())
    };
    let (kept, peak_kept) = run(1 << 20);
    let (hull, peak_hull) = run(40_000);
    assert!(peak_kept >= 1_000, "{peak_kept}");
    assert!(peak_kept <= 2 * 1_021, "{peak_kept}");
    assert!(peak_hull < peak_kept, "{peak_hull} vs {peak_kept}");
    let oracle = oracle_lttb(&pts, 100);
    assert_eq!(kept.len(), oracle.len());
    assert!(same_points(&kept, &oracle));
    assert!(same_points(&hull, &oracle));
}

#[test]
fn noisy_sine_matches_oracle() {
    let len = size(200_000);
    let pts = noisy_sine(len, 7);
    for n in [3, 4, 10, 99, 1000, 2000, len - 1] {
        check_all(&pts, n);
    }
}

#[test]
fn documented_small_example() {
    let pts: Vec<Point> = [(0, 10.0), (1, 12.0), (2, 8.0), (3, 10.0), (4, 12.0)]
        .iter()
        .map(|&p| p.into())
        .collect();
    let out = batch_lttb(&pts, 3);
    assert!(same_points(&out, &[pts[0], pts[2], pts[4]]));
}

#[test]
fn n_below_three_is_an_error() {
    let err = downsample(
        &[1, 2, 3],
        &[1.0, 2.0, 3.0],
        2,
        Method::Lttb,
        &DownsampleOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        downsample::DownsampleError::InvalidParameter(_)
    ));
    assert!(
        err.to_string()
            .contains("points must be at least 3 for lttb"),
        "{err}"
    );
    assert!(LttbStream::new(10, 2).is_err());
}

#[test]
fn constant_and_linear_data_match() {
    let constant: Vec<Point> = (0..5000).map(|i| Point::new(i * 7, 0.1)).collect();
    let peak = check_all(&constant, 50);
    // Collinear runs are kept whole (documented memory worst case).
    assert!(peak >= 100, "peak {peak}");
    let linear: Vec<Point> = (0..5000).map(|i| Point::new(i, 0.1 * i as f64)).collect();
    check_all(&linear, 50);
    let steps: Vec<Point> = (0..5000)
        .map(|i| Point::new(i * 3, ((i / 37) % 3) as f64))
        .collect();
    check_all(&steps, 77);
}

#[test]
fn noisy_data_keeps_few_candidates() {
    let pts = noisy_sine(size(1_000_000), 3);
    let peak = check_all(&pts, 100);
    // 10_000 (1_000 in debug) points per bucket; a noisy bucket's hull is tiny.
    assert!(peak < 400, "peak {peak}");
}

#[test]
fn stream_errors() {
    let mut s = LttbStream::new(5, 3).unwrap();
    s.push(10, 1.0).unwrap();
    assert!(matches!(
        s.push(5, 1.0),
        Err(downsample::DownsampleError::InvalidInput(_))
    ));
    let mut s = LttbStream::new(2, 3).unwrap();
    s.push(1, 1.0).unwrap();
    s.push(2, f64::NAN).unwrap();
    s.push(1, 5.0).unwrap(); // duplicate timestamp: skipped
    assert!(s.finish().is_err(), "only 1 of 2 declared points");
    let mut s = LttbStream::new(1, 3).unwrap();
    s.push(1, 1.0).unwrap();
    assert!(s.push(2, 1.0).is_err(), "more than declared");
    let mut s = LttbStream::new(1, 3).unwrap();
    assert!(matches!(
        s.push(1 << 53, 1.0),
        Err(downsample::DownsampleError::Unsupported(_))
    ));
}

/// Time-ordered unique timestamps with assorted value shapes.
fn series() -> impl Strategy<Value = Vec<Point>> {
    timed(prop_oneof![
        // arbitrary finite values of moderate magnitude
        prop::collection::vec(-1e6f64..1e6, 3..400),
        // quantized levels: many exact ties and collinear runs
        prop::collection::vec((0i32..4).prop_map(f64::from), 3..400),
        // constant
        (any::<i16>(), 3usize..400).prop_map(|(c, n)| vec![f64::from(c) * 0.1; n]),
        // tiny differences around a large offset (rounding-heavy)
        prop::collection::vec((0u32..1000).prop_map(|k| 1e9 + f64::from(k) * 1e-7), 3..400),
        // sensor-like: offset, slow trend and noise
        (
            prop::collection::vec(-1.0f64..1.0, 3..400),
            -1e4f64..1e4,
            1e-3f64..1e3
        )
            .prop_map(|(noise, offset, amp)| noise
                .iter()
                .enumerate()
                .map(|(i, e)| offset + amp * ((i as f64) * 0.05).sin() + amp * 0.1 * e)
                .collect()),
    ])
}

/// Values with up to 60 decades of dynamic range between neighbours.
fn wide_range_series() -> impl Strategy<Value = Vec<Point>> {
    timed(prop::collection::vec(
        (-1e3f64..1e3, -30i32..30).prop_map(|(m, e)| m * 10f64.powi(e)),
        3..400,
    ))
}

/// Gives values strictly increasing timestamps with random gaps.
fn timed(values: impl Strategy<Value = Vec<f64>>) -> impl Strategy<Value = Vec<Point>> {
    (
        values,
        prop::collection::vec(1i64..5_000_000, 400),
        -1_000_000_000_000_000i64..1_000_000_000_000_000,
    )
        .prop_map(|(vs, gaps, t0)| {
            let mut t = t0;
            vs.into_iter()
                .zip(gaps)
                .map(|(v, g)| {
                    t += g;
                    Point::new(t, v)
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(400)))]

    #[test]
    fn batch_and_stream_equal_oracle(pts in series(), n in 3usize..120) {
        let oracle = oracle_lttb(&pts, n);
        let batch = batch_lttb(&pts, n);
        prop_assert!(same_points(&batch, &oracle));
        let (stream, exact, _) = stream_lttb(&pts, n);
        prop_assert!(exact);
        prop_assert!(same_points(&stream, &oracle));
        // Exact length, first and last kept, strictly increasing.
        prop_assert_eq!(batch.len(), n.min(pts.len()));
        prop_assert_eq!(batch.first(), pts.first());
        prop_assert_eq!(batch.last(), pts.last());
        prop_assert!(batch.windows(2).all(|w| w[0].t < w[1].t));
    }

    #[test]
    fn skipped_points_do_not_matter(pts in series(), n in 3usize..60, nan_at in prop::collection::vec(any::<prop::sample::Index>(), 0..20)) {
        // Insert NaN/inf points and duplicate timestamps; batch and stream
        // must equal the oracle on the clean series.
        let mut dirty = Vec::new();
        let mut marks = vec![0u8; pts.len()];
        for (k, i) in nan_at.iter().enumerate() {
            marks[i.index(pts.len())] = 1 + (k % 3) as u8;
        }
        for (p, m) in pts.iter().zip(&marks) {
            match m {
                1 => dirty.push(Point::new(p.t, f64::NAN)),
                2 => dirty.push(Point::new(p.t, f64::INFINITY)),
                _ => {}
            }
            dirty.push(*p);
            if *m == 3 {
                dirty.push(Point::new(p.t, p.v + 1.0)); // later duplicate: dropped
            }
        }
        let oracle = oracle_lttb(&pts, n);
        let batch = batch_lttb(&dirty, n);
        prop_assert!(same_points(&batch, &oracle));
        let mut s = LttbStream::new(pts.len() as u64, n).unwrap();
        for p in &dirty {
            s.push(p.t, p.v).unwrap();
        }
        let out = s.finish().unwrap();
        prop_assert!(s.exactness_guaranteed());
        prop_assert!(same_points(&out, &oracle));
    }

    #[test]
    fn wide_dynamic_range(pts in wide_range_series(), n in 3usize..120) {
        // Neighbouring values up to 10^60 apart: the oracle's own area
        // comparisons are dominated by rounding, so the stream may not be
        // able to prove equality; when it does, it must hold.
        let oracle = oracle_lttb(&pts, n);
        prop_assert!(same_points(&batch_lttb(&pts, n), &oracle));
        let (stream, exact, _) = stream_lttb(&pts, n);
        if exact {
            prop_assert!(same_points(&stream, &oracle));
        }
        prop_assert_eq!(stream.len(), oracle.len());
        // Whole buckets need no proof: always the oracle's points.
        let (buckets, exact, _) = bucket_stream_lttb(&pts, n);
        prop_assert!(exact);
        prop_assert_eq!(buckets.len(), oracle.len());
        prop_assert!(same_points(&buckets, &oracle));
    }

    #[test]
    fn unsorted_batch_input_is_sorted_first(pts in series(), n in 3usize..60, seed in any::<u64>()) {
        let mut shuffled = pts.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert!(same_points(&batch_lttb(&shuffled, n), &oracle_lttb(&pts, n)));
    }
}
