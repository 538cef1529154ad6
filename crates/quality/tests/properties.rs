//! Property tests: score ranges, the monotonicity that the spec's rules
//! guarantee (see "Monotonicity" in the crate docs), and robustness on
//! arbitrary input.

use proptest::prelude::*;
use quality::{
    fuse, quality_grade, spectral_analysis, tof_analysis, FusionSensorInput, Grade,
    SpectralChannel, SpectralInput, TofDefectKind, TofInput, TofParams, TofReport, ZoneHistograms,
};

/// An owned ToF frame for generating inputs.
#[derive(Debug, Clone)]
struct Frame {
    distance: Vec<f64>,
    reflectance: Vec<f64>,
    amplitude: Vec<f64>,
    histograms: Option<(Vec<f64>, usize)>,
    sensor_height_mm: f64,
    zone_size_mm: f64,
}

impl Frame {
    fn analyse(&self, params: &TofParams) -> TofReport {
        let input = TofInput {
            distance: &self.distance,
            reflectance: &self.reflectance,
            amplitude: &self.amplitude,
            histograms: self
                .histograms
                .as_ref()
                .map(|(counts, bins)| ZoneHistograms {
                    counts,
                    bins_per_zone: *bins,
                }),
            sensor_height_mm: self.sensor_height_mm,
            zone_size_mm: self.zone_size_mm,
        };
        tof_analysis(&input, params).expect("generated frames are valid")
    }
}

fn histograms() -> impl Strategy<Value = Option<(Vec<f64>, usize)>> {
    prop_oneof![
        Just(None),
        prop::sample::select(vec![1usize, 2, 3, 16, 24, 36, 41, 64, 128]).prop_flat_map(|bins| {
            prop::collection::vec(
                prop_oneof![0.0..20.0f64, 0.0..600.0f64, Just(0.0)],
                64 * bins,
            )
            .prop_map(move |counts| Some((counts, bins)))
        }),
    ]
}

/// Frames with distances in `distance_range`.
fn frames(distance_range: std::ops::Range<f64>) -> impl Strategy<Value = Frame> {
    (
        prop::collection::vec(distance_range, 64),
        prop::collection::vec(prop_oneof![0.0..100.0f64, 20.0..35.0, 75.0..90.0], 64),
        prop::collection::vec(prop_oneof![0.0..20.0f64, Just(8.0)], 64),
        histograms(),
        80.0..160.0f64,
        5.0..40.0f64,
    )
        .prop_map(
            |(distance, reflectance, amplitude, histograms, h, z)| Frame {
                distance,
                reflectance,
                amplitude,
                histograms,
                sensor_height_mm: h,
                zone_size_mm: z,
            },
        )
}

fn params() -> impl Strategy<Value = TofParams> {
    (
        1.0..50.0f64,
        0.1..1.5f64,
        0.0..5000.0f64,
        0.0..1.0f64,
        0.0..3.0f64,
    )
        .prop_map(|(t, c, dt, k, w)| TofParams {
            distance_defect_threshold_mm: t,
            critical_foreign_body_severity_threshold: c,
            density_threshold: dt,
            consistency_threshold: k,
            defect_penalty_weight: w,
        })
}

fn grade_from_rules(report: &TofReport, params: &TofParams) -> Grade {
    let critical = report.defects.iter().any(|d| {
        d.kind == TofDefectKind::ForeignBody
            && d.severity > params.critical_foreign_body_severity_threshold
    });
    let s = report.quality_score;
    if critical || s < 0.5 {
        Grade::Reject
    } else if s >= 0.8 {
        Grade::A
    } else if s >= 0.65 {
        Grade::B
    } else {
        Grade::C
    }
}

fn channel_value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        4 => (0.0..70000.0f64).prop_map(Some),
        2 => (100.0..8000.0f64).prop_map(Some),
        1 => Just(None),
        1 => Just(Some(f64::NAN)),
        1 => prop::sample::select(vec![f64::INFINITY, f64::NEG_INFINITY, -5.0, 0.0, 9.0, 10.0, 65500.0])
            .prop_map(Some),
    ]
}

fn spectral_inputs() -> impl Strategy<Value = SpectralInput> {
    prop::collection::vec(channel_value(), 11).prop_map(|values| {
        let mut input = SpectralInput::default();
        for (c, v) in SpectralChannel::ALL.into_iter().zip(values) {
            input.set(c, v);
        }
        input
    })
}

fn grades() -> impl Strategy<Value = Grade> {
    prop::sample::select(Grade::ALL.to_vec())
}

fn sensors() -> impl Strategy<Value = FusionSensorInput> {
    (0.0..=1.0f64, grades(), 0usize..8).prop_map(|(score, grade, defect_count)| FusionSensorInput {
        score,
        grade,
        defect_count,
    })
}

proptest! {
    /// ToF: every score and sub-score stays in range and the grade follows
    /// the spec's rule.
    #[test]
    fn tof_scores_in_range(frame in frames(0.0..200.0), params in params()) {
        let r = frame.analyse(&params);
        prop_assert!((0.0..=1.0).contains(&r.quality_score), "{}", r.quality_score);
        let b = &r.score_breakdown;
        prop_assert!((0.4..=1.0).contains(&b.vol_score));
        prop_assert!((0.0..=1.0).contains(&b.texture_score));
        prop_assert!((0.0..=1.0).contains(&b.density_score));
        prop_assert!((0.0..=1.0).contains(&b.mean_signal_quality), "{}", b.mean_signal_quality);
        prop_assert!((0.0..=1.0).contains(&b.reflectance_penalty));
        prop_assert!((0.0..=1.0).contains(&b.defect_penalty));
        prop_assert!((0.0..=1.0).contains(&b.effective_defect_penalty));
        prop_assert!(r.defects.iter().all(|d| (0.0..=1.0).contains(&d.severity)));
        prop_assert_eq!(r.grade, grade_from_rules(&r, &params));
        prop_assert_eq!(r.grade_label, r.grade.tof_label());
        prop_assert!(r.grade != Grade::APlus);
        if let Some(bins) = &r.bins_analysis {
            for row in &bins.texture_score {
                prop_assert!(row.iter().all(|t| (0.0..=1.0 + 1e-9).contains(t)));
            }
        }
    }

    /// ToF: a zone at distance 0 is a foreign body of severity 1 whenever the
    /// median exceeds T, so with C < 1 the frame is rejected: adding it never
    /// improves the grade.
    #[test]
    fn tof_critical_foreign_body_rejects(
        frame in frames(60.0..200.0),
        params in params(),
        zone in 0usize..64,
    ) {
        prop_assume!(params.critical_foreign_body_severity_threshold < 1.0);
        let before = frame.analyse(&params);
        let mut touched = frame.clone();
        touched.distance[zone] = 0.0;
        let after = touched.analyse(&params);
        let d = after
            .defects
            .iter()
            .find(|d| d.pos == [(zone / 8) as i32, (zone % 8) as i32]);
        prop_assert!(matches!(d, Some(d) if d.kind == TofDefectKind::ForeignBody && d.severity == 1.0));
        prop_assert_eq!(after.grade, Grade::Reject);
        prop_assert!(after.grade <= before.grade);
    }

    /// ToF: deepening a surface deformation whose height is already clipped
    /// to 0 (distance ≥ sensor height and above every other zone) raises only
    /// its severity: the score never rises and the grade never improves.
    #[test]
    fn tof_deeper_clipped_deformation_never_improves(
        frame in frames(40.0..140.0),
        params in params(),
        zone in 0usize..64,
        margin in 0.0..30.0f64,
        extra in 0.0..200.0f64,
    ) {
        let mut shallow = frame.clone();
        let others_max = shallow
            .distance
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != zone)
            .map(|(_, &d)| d)
            .fold(f64::NEG_INFINITY, f64::max);
        // Beyond the sensor height (height 0), above every other zone, and
        // deviating by more than T from the median (which is ≤ others_max).
        shallow.distance[zone] = others_max.max(shallow.sensor_height_mm)
            + params.distance_defect_threshold_mm
            + 1.0
            + margin;
        let mut deep = shallow.clone();
        deep.distance[zone] += extra;
        let a = shallow.analyse(&params);
        let b = deep.analyse(&params);
        prop_assert_eq!(a.defects.len(), b.defects.len());
        prop_assert_eq!(a.stats.volume_mm3, b.stats.volume_mm3);
        prop_assert!(b.quality_score <= a.quality_score, "{} > {}", b.quality_score, a.quality_score);
        prop_assert!(b.grade <= a.grade);
    }

    /// Spectral: the score stays in [0, 1] for any counts, NaN, infinities
    /// and missing channels included; the grade follows the spec's rule.
    #[test]
    fn spectral_scores_in_range(input in spectral_inputs()) {
        let r = spectral_analysis(&input);
        prop_assert!((0.0..=1.0).contains(&r.quality_score), "{}", r.quality_score);
        let m = &r.quality_metrics;
        for v in [m.freshness_index, m.fat_quality_index, m.color_uniformity, m.oxidation_index] {
            prop_assert!((0.0..=1.0).contains(&v));
        }
        prop_assert!(m.quality_score <= 1.0 + 1e-15);
        let saturated = r.defects.iter().any(|d| d.is_critical());
        let expected = if saturated && r.quality_score < 0.60 {
            Grade::Reject
        } else {
            quality_grade(r.quality_score)
        };
        prop_assert_eq!(r.grade, expected);
    }

    /// Spectral: Clear enters no scored ratio, so saturating it (or starving
    /// it below 10 counts) only adds a defect: the grade never improves.
    /// Flicker is ignored entirely.
    #[test]
    fn spectral_clear_defect_never_improves(
        input in spectral_inputs(),
        clear in prop::sample::select(vec![65500.0, 65535.0, 1e9, 9.0, 0.0, -1.0]),
        flicker in channel_value(),
    ) {
        let before = spectral_analysis(&input);
        let mut changed = input;
        changed.clear = Some(clear);
        let after = spectral_analysis(&changed);
        prop_assert!(after.grade <= before.grade, "{} -> {}", before.grade, after.grade);
        prop_assert!(after.quality_score <= before.quality_score);
        let mut flickered = input;
        flickered.flicker = flicker;
        let same = spectral_analysis(&flickered);
        prop_assert_eq!(same.grade, before.grade);
        prop_assert_eq!(&same.defects, &before.defects);
        prop_assert_eq!(same.quality_score, before.quality_score);
    }

    /// Fusion: the score stays in [0, 1]; the fused grade never improves when
    /// a defect count rises, a sensor grade is lowered or a score is lowered.
    #[test]
    fn fusion_monotone(
        tof in sensors(),
        spectral in sensors(),
        with_spectral in any::<bool>(),
        weight in 0.0..=1.0f64,
        more in 1usize..6,
        lower_grade in grades(),
        score_cut in 0.0..=1.0f64,
    ) {
        let spectral = with_spectral.then_some(spectral);
        let base = fuse(&tof, spectral.as_ref(), weight).expect("valid");
        prop_assert!((0.0..=1.0).contains(&base.final_score));
        prop_assert_eq!(base.is_compliant, matches!(base.final_grade, Grade::APlus | Grade::A | Grade::B));
        prop_assert_eq!(base.is_downgraded, matches!(base.final_grade, Grade::B | Grade::C));
        prop_assert_eq!(base.is_rejected, base.final_grade == Grade::Reject);
        if tof.grade == Grade::Reject {
            prop_assert_eq!(base.final_grade, Grade::Reject);
        }

        let mut variants = Vec::new();
        let mut t = tof;
        t.defect_count += more;
        variants.push((t, spectral));
        let mut t = tof;
        t.grade = t.grade.min(lower_grade);
        variants.push((t, spectral));
        let mut t = tof;
        t.score *= score_cut;
        variants.push((t, spectral));
        if let Some(s) = spectral {
            let mut s2 = s;
            s2.defect_count += more;
            variants.push((tof, Some(s2)));
            let mut s2 = s;
            s2.grade = s2.grade.min(lower_grade);
            variants.push((tof, Some(s2)));
            let mut s2 = s;
            s2.score *= score_cut;
            variants.push((tof, Some(s2)));
        }
        for (t, s) in variants {
            let r = fuse(&t, s.as_ref(), weight).expect("valid");
            prop_assert!(r.final_grade <= base.final_grade, "{:?}/{:?}: {} -> {}", t, s, base.final_grade, r.final_grade);
        }
    }

    /// Arbitrary shapes and values never panic: wrong shapes and non-finite
    /// measurements are errors, anything else is scored.
    #[test]
    fn tof_never_panics(
        distance in prop::collection::vec(prop_oneof![4 => -1e3..1e3f64, 1 => any::<f64>()], 68),
        reflectance in prop::collection::vec(any::<f64>(), 68),
        amplitude in prop::collection::vec(prop_oneof![4 => 0.0..10.0f64, 1 => any::<f64>()], 68),
        counts in prop::collection::vec(prop_oneof![20 => 0.0..10.0f64, 1 => any::<f64>()], 320),
        lens in (prop_oneof![6 => Just(64usize), 1 => 60usize..68], prop_oneof![6 => Just(64usize), 1 => 60usize..68]),
        bins in 0usize..6,
        counts_len in prop_oneof![3 => Just(None), 1 => (0usize..320).prop_map(Some)],
        h in prop_oneof![4 => 0.0..200.0f64, 1 => any::<f64>()],
        z in prop_oneof![4 => 0.0..50.0f64, 1 => any::<f64>()],
    ) {
        let (distance_len, amplitude_len) = lens;
        let counts = &counts[..counts_len.unwrap_or(64 * bins).min(320)];
        let input = TofInput {
            distance: &distance[..distance_len],
            reflectance: &reflectance[..64],
            amplitude: &amplitude[..amplitude_len],
            histograms: Some(ZoneHistograms { counts, bins_per_zone: bins }),
            sensor_height_mm: h,
            zone_size_mm: z,
        };
        let shapes_ok = distance_len == 64 && amplitude_len == 64 && bins > 0 && counts.len() == 64 * bins;
        let finite = distance[..distance_len].iter().chain(&amplitude[..amplitude_len]).chain(counts)
            .all(|v| v.is_finite()) && h.is_finite() && z.is_finite();
        match tof_analysis(&input, &TofParams::default()) {
            Ok(r) => {
                prop_assert!(shapes_ok && finite);
                prop_assert!((0.0..=1.0).contains(&r.quality_score));
            }
            Err(e) => {
                prop_assert!(!(shapes_ok && finite), "{}", e);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}

/// The ToF grade is NOT monotone in the number of deviating zones: the defect
/// penalty is the mean severity, so a mild second defect dilutes a severe
/// first one. Here adding a 12 mm dent lifts a REJECT to C.
#[test]
fn tof_adding_mild_defect_can_improve_grade() {
    let sensor_height = 150.0;
    let zone = (700_000.0f64 / 3200.0).sqrt(); // 64 zones × 50 mm ≈ 700 000 mm³
    let mut distance = vec![100.0; 64];
    distance[9] = 125.0; // severity 25 / 50 = 0.5
    let reflectance = vec![50.0; 64];
    let amplitude = vec![8.0; 64];
    let analyse = |d: &[f64]| {
        tof_analysis(
            &TofInput {
                distance: d,
                reflectance: &reflectance,
                amplitude: &amplitude,
                histograms: None,
                sensor_height_mm: sensor_height,
                zone_size_mm: zone,
            },
            &TofParams::default(),
        )
        .expect("valid")
    };
    let before = analyse(&distance);
    distance[42] = 112.0; // severity 12 / 50 = 0.24
    let after = analyse(&distance);
    assert_eq!(before.defects.len(), 1);
    assert_eq!(after.defects.len(), 2);
    assert_eq!(
        before.grade,
        Grade::Reject,
        "score {}",
        before.quality_score
    );
    assert_eq!(after.grade, Grade::C, "score {}", after.quality_score);
    assert!(after.grade > before.grade);
}
