//! Batch invariants of every method, streaming == batch for the equal-time
//! methods, and `BucketedState` merge/serialization properties.

mod common;

use common::{cases, noisy_sine, same_points, size, split};
use downsample::{
    bins_for, clean_series, downsample, merge_summaries, BucketedState, DownsampleOptions,
    M4Summary, Method, Point, TimeRangeDownsampler,
};
use proptest::prelude::*;

const TIME_METHODS: [Method; 4] = [Method::M4, Method::MinMax, Method::Avg, Method::MinMaxLttb];

fn opts(ratio: usize) -> DownsampleOptions {
    DownsampleOptions {
        ratio,
        parallel: false,
    }
}

/// Raw samples: mostly increasing times with duplicates, NaN/inf values and
/// occasional disorder.
fn dirty_samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec(
        (
            0i64..20,
            prop_oneof![
                8 => -100.0f64..100.0,
                2 => (0i32..3).prop_map(f64::from),
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(-0.0f64),
            ],
            prop::bool::weighted(0.03),
        ),
        0..600,
    )
    .prop_map(|raw| {
        let mut t = 1_000_000i64;
        raw.into_iter()
            .map(|(gap, v, back)| {
                t += if back { -gap * 7 } else { gap * 1000 };
                (t, v)
            })
            .collect()
    })
}

/// Clean, time-ordered series with unique timestamps.
fn clean_samples() -> impl Strategy<Value = Vec<Point>> {
    prop::collection::vec((1i64..3000, -1000.0f64..1000.0), 1..800).prop_map(|raw| {
        let mut t = -5_000_000i64;
        raw.into_iter()
            .map(|(gap, v)| {
                t += gap;
                Point::new(t, v)
            })
            .collect()
    })
}

fn max_len(method: Method, n: usize) -> usize {
    match method {
        Method::M4 => 4 * (n / 4),
        Method::MinMax => 2 * ((n - 2) / 2) + 2,
        _ => n,
    }
}

fn check_batch_invariants(
    samples: &[(i64, f64)],
    n: usize,
    method: Method,
    ratio: usize,
) -> Result<(), TestCaseError> {
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let vs: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let clean = clean_series(&ts, &vs).unwrap();
    let out = downsample(&ts, &vs, n, method, &opts(ratio)).unwrap();
    // Strictly increasing timestamps, finite values.
    prop_assert!(out.windows(2).all(|w| w[0].t < w[1].t));
    prop_assert!(out.iter().all(|p| p.v.is_finite()));
    if n >= clean.len() {
        prop_assert!(
            same_points(&out, &clean),
            "n >= N must return the clean input"
        );
        return Ok(());
    }
    match method {
        Method::Lttb | Method::Uniform => prop_assert_eq!(out.len(), n),
        _ => prop_assert!(out.len() <= max_len(method, n)),
    }
    if method == Method::MinMaxLttb {
        prop_assert!(!out.is_empty());
    }
    if method != Method::Avg {
        // Points come from the clean input; first and last are kept.
        let mut k = 0;
        for p in &out {
            while k < clean.len() && clean[k].t < p.t {
                k += 1;
            }
            prop_assert!(
                k < clean.len() && clean[k].t == p.t && clean[k].v.to_bits() == p.v.to_bits()
            );
        }
        prop_assert_eq!(out.first(), clean.first());
        prop_assert_eq!(out.last(), clean.last());
    } else {
        // Averages lie within the data's range and at bin starts in range.
        let lo = clean.iter().map(|p| p.v).fold(f64::INFINITY, f64::min);
        let hi = clean.iter().map(|p| p.v).fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(out.iter().all(|p| p.v >= lo - 1e-9 && p.v <= hi + 1e-9));
        prop_assert!(out
            .iter()
            .all(|p| p.t >= clean[0].t && p.t <= clean[clean.len() - 1].t));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(300)))]

    #[test]
    fn batch_invariants_every_method(samples in dirty_samples(), n in 4usize..80, ratio in 2usize..9) {
        for method in Method::ALL {
            check_batch_invariants(&samples, n, method, ratio)?;
        }
    }

    #[test]
    fn streaming_equals_batch(pts in clean_samples(), n in 4usize..120, ratio in 2usize..9) {
        let (ts, vs) = split(&pts);
        let (from, to) = (pts[0].t, pts[pts.len() - 1].t + 1);
        for method in TIME_METHODS {
            let batch = downsample(&ts, &vs, n, method, &opts(ratio)).unwrap();
            let mut s = TimeRangeDownsampler::new(from, to, n, method, &opts(ratio)).unwrap();
            for p in &pts {
                s.push(p.t, p.v);
            }
            prop_assert!(same_points(&s.finish().unwrap(), &batch), "{}", method);
            // Memory bound: never more buckets than the method's bins.
            prop_assert_eq!(s.state().bucket_count(), bins_for(method, n, ratio).unwrap());
        }
    }

    #[test]
    fn finish_equals_merging_its_buckets(pts in clean_samples(), n in 4usize..120, ratio in 2usize..9) {
        // finish() of a state built for its method emits its buckets directly; batch goes
        // the same way, so check it against re-binning the buckets with merge_summaries.
        prop_assume!(pts.len() > n);
        let (from, to) = (pts[0].t, pts[pts.len() - 1].t + 1);
        for method in TIME_METHODS {
            let mut s = TimeRangeDownsampler::new(from, to, n, method, &opts(ratio)).unwrap();
            for p in &pts {
                s.push(p.t, p.v);
            }
            let state = s.state();
            let rebinned = merge_summaries(
                state.buckets().into_iter().map(|(j, m)| (state.bucket_start(j), m)),
                from,
                to,
                n,
                method,
                &opts(ratio),
            )
            .unwrap();
            prop_assert!(!rebinned.is_empty());
            prop_assert!(same_points(&s.finish().unwrap(), &rebinned), "{}", method);
        }
    }

    #[test]
    fn streaming_skips_like_batch(samples in dirty_samples(), n in 4usize..60) {
        // Time-ordered input (duplicates adjacent): streaming skips NaN/inf and
        // repeated timestamps exactly like the batch cleaning does.
        let mut samples = samples;
        samples.sort_by_key(|s| s.0);
        let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
        let vs: Vec<f64> = samples.iter().map(|s| s.1).collect();
        let clean = clean_series(&ts, &vs).unwrap();
        prop_assume!(!clean.is_empty());
        let (from, to) = (clean[0].t, clean[clean.len() - 1].t + 1);
        for method in TIME_METHODS {
            let batch = downsample(&ts, &vs, n, method, &opts(4)).unwrap();
            let mut s = TimeRangeDownsampler::new(from, to, n, method, &opts(4)).unwrap();
            for &(t, v) in &samples {
                s.push(t, v);
            }
            prop_assert!(same_points(&s.finish().unwrap(), &batch), "{}", method);
        }
    }

    #[test]
    fn bucketed_split_merge_equals_whole(
        pts in clean_samples(),
        n in 3usize..60,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        order_seed in any::<u64>(),
    ) {
        // Integer values: bucket sums are exact, so equality is exact.
        let pts: Vec<Point> = pts.iter().map(|p| Point::new(p.t, p.v.round())).collect();
        let (from, to) = (pts[0].t - 17, pts[pts.len() - 1].t + 5);
        let mut whole = BucketedState::new(from, to, n, 4).unwrap();
        for p in &pts {
            whole.push(p.t, p.v);
        }
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(pts.len() + 1)).collect();
        bounds.push(0);
        bounds.push(pts.len());
        bounds.sort_unstable();
        let mut parts: Vec<BucketedState> = bounds
            .windows(2)
            .map(|w| {
                let mut s = BucketedState::new(from, to, n, 4).unwrap();
                for p in &pts[w[0]..w[1]] {
                    s.push(p.t, p.v);
                }
                s
            })
            .collect();
        // Merge in a seed-dependent order.
        let mut seed = order_seed | 1;
        while parts.len() > 1 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % parts.len() as u64) as usize;
            let x = parts.swap_remove(i);
            let j = (seed / 7 % parts.len() as u64) as usize;
            parts[j].merge(&x).unwrap();
        }
        let merged = &parts[0];
        prop_assert_eq!(merged.buckets(), whole.buckets());
        prop_assert_eq!(merged.accepted(), whole.accepted());
        for method in Method::ALL {
            prop_assume!(n >= method.min_points());
            prop_assert!(same_points(&merged.finish(method).unwrap(), &whole.finish(method).unwrap()));
        }
    }

    #[test]
    fn bucketed_merge_commutative_associative(
        a in clean_samples(), b in clean_samples(), c in clean_samples(), n in 4usize..40,
    ) {
        // Overlapping time ranges and shared timestamps on purpose.
        let state = |pts: &[Point]| {
            let mut s = BucketedState::new(-6_000_000, 0, n, 4).unwrap();
            for p in pts {
                s.push(p.t, p.v.round());
            }
            s
        };
        let (sa, sb, sc) = (state(&a), state(&b), state(&c));
        let mut ab = sa.clone();
        ab.merge(&sb).unwrap();
        let mut ba = sb.clone();
        ba.merge(&sa).unwrap();
        prop_assert_eq!(ab.buckets(), ba.buckets());
        let mut ab_c = ab.clone();
        ab_c.merge(&sc).unwrap();
        let mut bc = sb.clone();
        bc.merge(&sc).unwrap();
        let mut a_bc = sa.clone();
        a_bc.merge(&bc).unwrap();
        prop_assert_eq!(ab_c.buckets(), a_bc.buckets());
        for method in Method::ALL {
            prop_assert!(same_points(&ab.finish(method).unwrap(), &ba.finish(method).unwrap()));
            prop_assert!(same_points(&ab_c.finish(method).unwrap(), &a_bc.finish(method).unwrap()));
        }
    }

    #[test]
    fn bucketed_roundtrip_and_garbage(pts in clean_samples(), n in 1usize..50, flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4)) {
        let mut s = BucketedState::new(pts[0].t, pts[pts.len() - 1].t + 1, n, 4).unwrap();
        for p in &pts {
            s.push(p.t, p.v);
        }
        let bytes = s.to_bytes();
        let back = BucketedState::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back.buckets(), s.buckets());
        prop_assert_eq!(back.to_bytes(), bytes.clone());
        for method in Method::ALL {
            prop_assert_eq!(back.finish(method).is_ok(), s.finish(method).is_ok());
            if let (Ok(x), Ok(y)) = (back.finish(method), s.finish(method)) {
                prop_assert!(same_points(&x, &y));
            }
        }
        // Every truncation is an error; corruption never panics, and what
        // still decodes is a valid state.
        for cut in 0..bytes.len() {
            prop_assert!(BucketedState::from_bytes(&bytes[..cut]).is_err());
        }
        let mut bad = bytes.clone();
        for (at, x) in flips {
            let i = at.index(bad.len());
            bad[i] ^= x;
        }
        if let Ok(decoded) = BucketedState::from_bytes(&bad) {
            for method in Method::ALL {
                let _ = decoded.finish(method);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = BucketedState::from_bytes(&bytes);
        let _ = M4Summary::from_bytes(&bytes);
        let mut versioned = vec![1u8];
        versioned.extend_from_slice(&bytes);
        let _ = BucketedState::from_bytes(&versioned);
        let _ = M4Summary::from_bytes(&versioned);
    }

    #[test]
    fn zoom_from_minute_summaries(values in prop::collection::vec(-50i32..50, 10..3000), step in 1i64..40, groups in 1usize..12) {
        // Points every `step` seconds over whole minutes; summaries per minute;
        // output bins that are unions of whole minutes make the zoomed result
        // equal to downsampling the raw points directly.
        const MINUTE: i64 = 60_000_000;
        let t0 = 1_700_000_040 * 1_000_000 / MINUTE * MINUTE;
        let pts: Vec<Point> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| Point::new(t0 + i as i64 * step * 1_000_000 + 3, f64::from(v)))
            .collect();
        let minutes = ((pts[pts.len() - 1].t - t0) / MINUTE + 1) as usize;
        let per_group = minutes.div_ceil(groups);
        let to = t0 + (groups * per_group) as i64 * MINUTE;
        let mut per_minute: std::collections::BTreeMap<i64, M4Summary> = Default::default();
        for p in &pts {
            let start = t0 + (p.t - t0) / MINUTE * MINUTE;
            per_minute
                .entry(start)
                .and_modify(|s| { s.push(p.t, p.v); })
                .or_insert_with(|| M4Summary::new(p.t, p.v).unwrap());
        }
        for (method, points) in [(Method::M4, 4 * groups), (Method::Avg, groups), (Method::Uniform, groups + 1)] {
            let zoomed = merge_summaries(per_minute.clone(), t0, to, points, method, &opts(4)).unwrap();
            let mut direct = TimeRangeDownsampler::new(t0, to, points, method, &opts(4)).unwrap();
            for p in &pts {
                direct.push(p.t, p.v);
            }
            let direct = direct.finish().unwrap();
            if pts.len() > points {
                prop_assert!(same_points(&zoomed, &direct), "{}", method);
            }
            prop_assert!(zoomed.len() <= points);
            prop_assert!(zoomed.windows(2).all(|w| w[0].t < w[1].t));
        }
    }
}

#[test]
fn noisy_sine_minmax_lttb_and_m4() {
    let pts = noisy_sine(size(100_000), 11);
    let (ts, vs) = split(&pts);
    let mut previous: Option<Vec<Point>> = None;
    for parallel in [false, true] {
        let o = DownsampleOptions { ratio: 4, parallel };
        let mm = downsample(&ts, &vs, 500, Method::MinMaxLttb, &o).unwrap();
        assert_eq!(mm.len(), 500);
        let m4 = downsample(&ts, &vs, 500, Method::M4, &o).unwrap();
        // 125 bins of up to 4 distinct points (first/last may be the min/max).
        assert!(m4.len() <= 500 && m4.len() > 375, "{}", m4.len());
        // The global extremes survive M4.
        let max = pts.iter().map(|p| p.v).fold(f64::NEG_INFINITY, f64::max);
        let min = pts.iter().map(|p| p.v).fold(f64::INFINITY, f64::min);
        assert!(m4.iter().any(|p| p.v == max) && m4.iter().any(|p| p.v == min));
        // Parallel and sequential results are identical.
        if let Some(prev) = &previous {
            assert!(same_points(prev, &mm));
        }
        previous = Some(mm);
    }
}

#[test]
fn parameters_are_checked() {
    let o = DownsampleOptions::default();
    for (method, min) in [
        (Method::Lttb, 3),
        (Method::MinMaxLttb, 3),
        (Method::M4, 4),
        (Method::MinMax, 4),
        (Method::Uniform, 2),
        (Method::Avg, 1),
    ] {
        assert_eq!(method.min_points(), min);
        let err = downsample(&[1, 2], &[1.0, 2.0], min - 1, method, &o).unwrap_err();
        assert!(
            matches!(err, downsample::DownsampleError::InvalidParameter(_)),
            "{err}"
        );
        assert!(err.to_string().contains(&format!(
            "points must be at least {min} for {}",
            method.name()
        )));
        assert_eq!(method.name().parse::<Method>().unwrap(), method);
    }
    assert!("nope".parse::<Method>().is_err());
    assert!(downsample(&[1], &[1.0, 2.0], 3, Method::Lttb, &o).is_err());
    assert!(downsample(
        &[1, 2, 3],
        &[1.0, 2.0, 3.0],
        3,
        Method::MinMaxLttb,
        &DownsampleOptions {
            ratio: 1,
            parallel: false
        }
    )
    .is_err());
    assert!(BucketedState::new(5, 5, 10, 4).is_err(), "empty range");
    assert!(TimeRangeDownsampler::new(0, 10, 3, Method::M4, &o).is_err());
    let mut a = BucketedState::new(0, 10, 10, 4).unwrap();
    assert!(a.merge(&BucketedState::new(0, 11, 10, 4).unwrap()).is_err());
}

#[test]
fn gap_breaks_mark_long_gaps() {
    let pts: Vec<Point> = [0, 10, 20, 100, 110, 300]
        .iter()
        .map(|&t| Point::new(t, 1.0))
        .collect();
    assert_eq!(downsample::gap_breaks(&pts, 50).unwrap(), vec![3, 5]);
    assert_eq!(
        downsample::gap_breaks(&pts, 1000).unwrap(),
        Vec::<usize>::new()
    );
    assert!(downsample::gap_breaks(&pts, 0).is_err());
}
