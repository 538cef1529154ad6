//! ToF + spectral fusion (spec §3), with the reference's two grading bugs
//! fixed (see the crate's BUGFIXES section).

use serde::{Serialize, Serializer};

use crate::numpy_reductions::{py_max, py_min};
use crate::spectral::{SpectralDefect, SpectralReport};
use crate::tof::{TofDefect, TofReport};
use crate::{quality_grade, Grade, QualityError};

/// Default weight of the ToF score in the fused score (spectral gets the
/// rest).
pub const DEFAULT_TOF_WEIGHT: f64 = 0.6;
/// Fused defect count at which the sample is rejected.
pub const MAX_DEFECTS_BEFORE_REJECT: usize = 5;
/// Severity the reference gives every spectral defect in the combined list.
pub const SPECTRAL_DEFECT_SEVERITY: f64 = 0.5;

/// What one sensor contributes to the fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionSensorInput {
    /// The sensor's quality score, in [0, 1] (for the ToF sensor, the
    /// profile-adjusted score when a quality profile is used).
    pub score: f64,
    /// The sensor's grade (parse labels with [`Grade::from_label`]).
    pub grade: Grade,
    /// Number of defects the sensor reported.
    pub defect_count: usize,
}

/// How the result was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FusionMode {
    /// No spectral reading: the ToF result passes through (`ToF only`).
    TofOnly,
    /// Weighted fusion (`ToF + Spectral`).
    TofAndSpectral,
}

impl FusionMode {
    /// The reference's `fusion_mode` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            FusionMode::TofOnly => "ToF only",
            FusionMode::TofAndSpectral => "ToF + Spectral",
        }
    }
}

impl Serialize for FusionMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Fused verdict (all scalars; no heap).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FusionResult {
    /// Fused grade (corrected rules, see BUGFIXES).
    pub final_grade: Grade,
    /// Label in the reference's vocabulary: the ToF label (e.g.
    /// `Grade A - Excellente qualité`) in ToF-only mode, else the normalised
    /// name (`A+` … `REJECT`).
    pub final_grade_label: &'static str,
    /// `tof·w + spectral·(1 − w)`, or the ToF score alone; in [0, 1].
    pub final_score: f64,
    /// The ToF score used.
    pub tof_score: f64,
    /// The spectral score used, if any.
    pub spectral_score: Option<f64>,
    /// Weight of the ToF score (1 in ToF-only mode).
    pub tof_contribution: f64,
    /// Weight of the spectral score (0 in ToF-only mode).
    pub spectral_contribution: f64,
    /// Total defects of both sensors.
    pub num_defects: i32,
    /// Fusion mode.
    pub fusion_mode: FusionMode,
    /// `final_score · 100`.
    pub global_quality_score_100: f64,
    /// Grade is A+, A or B.
    pub is_compliant: bool,
    /// Grade is B or C.
    pub is_downgraded: bool,
    /// Grade is REJECT.
    pub is_rejected: bool,
}

fn check_unit(name: &'static str, value: f64) -> Result<(), QualityError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(QualityError::InvalidParameter {
            name,
            requirement: "a finite number in [0, 1]",
            value,
        })
    }
}

/// Fuses the per-sensor verdicts (spec §3, corrected).
///
/// Without a spectral input the ToF verdict passes through. Otherwise
/// `final_score = tof·tof_weight + spectral·(1 − tof_weight)` and the grade is
/// REJECT when either sensor rejected or the sensors report 5 or more defects
/// together, else [`quality_grade`] of the fused score.
///
/// Errors (22023): a score or `tof_weight` that is not a finite number in
/// [0, 1] (`tof_weight` is checked in ToF-only mode too).
pub fn fuse(
    tof: &FusionSensorInput,
    spectral: Option<&FusionSensorInput>,
    tof_weight: f64,
) -> Result<FusionResult, QualityError> {
    check_unit("tof score", tof.score)?;
    check_unit("tof_weight", tof_weight)?;
    let Some(spectral) = spectral else {
        let grade = tof.grade;
        return Ok(result(
            grade,
            grade.tof_label(),
            tof.score,
            tof.score,
            None,
            (1.0, 0.0),
            tof.defect_count,
            FusionMode::TofOnly,
        ));
    };
    check_unit("spectral score", spectral.score)?;
    let spectral_weight = 1.0 - tof_weight;
    let final_score = tof.score * tof_weight + spectral.score * spectral_weight;
    let total_defects = tof.defect_count.saturating_add(spectral.defect_count);
    // BUGFIX 1: the reference compares the ToF grade with "REJECT" while the
    // ToF scorer says "REJET - …", so a ToF rejection never propagated.
    let any_sensor_rejects = tof.grade == Grade::Reject || spectral.grade == Grade::Reject;
    let grade = if any_sensor_rejects || total_defects >= MAX_DEFECTS_BEFORE_REJECT {
        Grade::Reject
    } else {
        quality_grade(final_score)
    };
    Ok(result(
        grade,
        grade.as_str(),
        final_score,
        tof.score,
        Some(spectral.score),
        (tof_weight, spectral_weight),
        total_defects,
        FusionMode::TofAndSpectral,
    ))
}

#[allow(clippy::too_many_arguments)]
fn result(
    grade: Grade,
    label: &'static str,
    final_score: f64,
    tof_score: f64,
    spectral_score: Option<f64>,
    (tof_contribution, spectral_contribution): (f64, f64),
    defects: usize,
    fusion_mode: FusionMode,
) -> FusionResult {
    FusionResult {
        final_grade: grade,
        final_grade_label: label,
        final_score,
        tof_score,
        spectral_score,
        tof_contribution,
        spectral_contribution,
        num_defects: i32::try_from(defects).unwrap_or(i32::MAX),
        fusion_mode,
        global_quality_score_100: final_score * 100.0,
        // BUGFIX 2: flags from the normalised grade, not from substrings of a
        // label in the wrong vocabulary.
        is_compliant: grade.is_compliant(),
        is_downgraded: grade.is_downgraded(),
        is_rejected: grade.is_rejected(),
    }
}

/// ToF score adjusted by a quality profile: the target is the profile draw
/// clamped to `[min, max]`, blended 70 % target / 30 % measured score.
/// (The reference draws `gauss(mean, (max − min)/6)`; the caller supplies
/// the draw.)
pub fn quality_profile_tof_score(tof_score: f64, draw: f64, min: f64, max: f64) -> f64 {
    let target = py_max(min, py_min(max, draw));
    0.7 * target + 0.3 * tof_score
}

/// A spectral defect in the combined list:
/// `{type: "Spectral: <text>", source: "AS7341", severity: 0.5}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CombinedSpectralDefect(pub SpectralDefect);

impl Serialize for CombinedSpectralDefect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Prefixed(SpectralDefect);
        impl std::fmt::Display for Prefixed {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "Spectral: {}", self.0)
            }
        }
        impl Serialize for Prefixed {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        let mut s = serializer.serialize_struct("CombinedSpectralDefect", 3)?;
        s.serialize_field("type", &Prefixed(self.0))?;
        s.serialize_field("source", "AS7341")?;
        s.serialize_field("severity", &SPECTRAL_DEFECT_SEVERITY)?;
        s.end()
    }
}

/// One entry of the combined defect list (serialised untagged: a ToF defect
/// object or a spectral defect object).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CombinedDefect {
    /// A ToF distance defect, as reported.
    Tof(TofDefect),
    /// A spectral defect.
    Spectral(CombinedSpectralDefect),
}

/// ToF defects followed by spectral defects, as the reference combines them.
pub fn combined_defects(tof: &[TofDefect], spectral: &[SpectralDefect]) -> Vec<CombinedDefect> {
    let mut out = Vec::with_capacity(tof.len() + spectral.len());
    out.extend(tof.iter().copied().map(CombinedDefect::Tof));
    out.extend(
        spectral
            .iter()
            .copied()
            .map(|d| CombinedDefect::Spectral(CombinedSpectralDefect(d))),
    );
    out
}

/// Sensor metrics carried along in a fused report (`metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FusionMetrics {
    /// ToF grade.
    pub tof_grade: Grade,
    /// ToF grade in the reference's vocabulary.
    pub tof_grade_label: &'static str,
    /// Spectral grade.
    pub spectral_grade: Grade,
    /// Spectral freshness index.
    pub freshness_index: f64,
    /// Spectral fat quality index.
    pub fat_quality_index: f64,
    /// ToF trapezoidal volume, mm³.
    pub volume_mm3: f64,
}

/// Fused verdict plus the combined defect list and metrics, built from full
/// reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FusionReport {
    /// The verdict (its fields appear at the top level when serialised).
    #[serde(flatten)]
    pub result: FusionResult,
    /// ToF defects then spectral defects.
    pub combined_defects: Vec<CombinedDefect>,
    /// Sensor metrics (only with a spectral reading, as in the reference).
    pub metrics: Option<FusionMetrics>,
}

/// Fuses full reports. `tof_score` overrides the ToF report's score (pass the
/// profile-adjusted score from [`quality_profile_tof_score`]), `None` uses
/// `tof.quality_score`.
pub fn fuse_reports(
    tof: &TofReport,
    spectral: Option<&SpectralReport>,
    tof_score: Option<f64>,
    tof_weight: f64,
) -> Result<FusionReport, QualityError> {
    let tof_input = FusionSensorInput {
        score: tof_score.unwrap_or(tof.quality_score),
        grade: tof.grade,
        defect_count: tof.defects.len(),
    };
    let spectral_input = spectral.map(|s| FusionSensorInput {
        score: s.quality_score,
        grade: s.grade,
        defect_count: s.defects.len(),
    });
    let result = fuse(&tof_input, spectral_input.as_ref(), tof_weight)?;
    let spectral_defects = spectral.map(|s| s.defects.as_slice()).unwrap_or(&[]);
    Ok(FusionReport {
        result,
        combined_defects: combined_defects(&tof.defects, spectral_defects),
        metrics: spectral.map(|s| FusionMetrics {
            tof_grade: tof.grade,
            tof_grade_label: tof.grade_label,
            spectral_grade: s.grade,
            freshness_index: s.quality_metrics.freshness_index,
            fat_quality_index: s.quality_metrics.fat_quality_index,
            volume_mm3: tof.stats.volume_trapezoidal_mm3,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensor(score: f64, grade: Grade, defect_count: usize) -> FusionSensorInput {
        FusionSensorInput {
            score,
            grade,
            defect_count,
        }
    }

    #[test]
    fn tof_rejection_forces_reject() {
        let r = fuse(
            &sensor(0.9, Grade::Reject, 1),
            Some(&sensor(0.9, Grade::APlus, 0)),
            DEFAULT_TOF_WEIGHT,
        )
        .unwrap();
        assert_eq!(r.final_grade, Grade::Reject);
        assert!(r.is_rejected && !r.is_compliant && !r.is_downgraded);
    }

    #[test]
    fn defect_count_and_thresholds() {
        let spectral = sensor(0.9, Grade::APlus, 2);
        let r = fuse(&sensor(0.9, Grade::A, 3), Some(&spectral), 0.6).unwrap();
        assert_eq!(r.final_grade, Grade::Reject);
        assert_eq!(r.num_defects, 5);
        let r = fuse(&sensor(0.9, Grade::A, 2), Some(&spectral), 0.6).unwrap();
        assert_eq!(r.final_grade, Grade::APlus);
        assert_eq!(r.final_grade_label, "A+");
        let r = fuse(
            &sensor(0.5, Grade::C, 0),
            Some(&sensor(0.5, Grade::C, 0)),
            0.6,
        )
        .unwrap();
        assert_eq!(r.final_grade, Grade::C);
        assert!(!r.is_compliant && r.is_downgraded && !r.is_rejected);
    }

    #[test]
    fn tof_only_passes_through_with_label() {
        let r = fuse(&sensor(0.7, Grade::B, 7), None, DEFAULT_TOF_WEIGHT).unwrap();
        assert_eq!(r.final_grade, Grade::B);
        assert_eq!(r.final_grade_label, "Grade B - Bonne qualité");
        assert_eq!((r.tof_contribution, r.spectral_contribution), (1.0, 0.0));
        assert_eq!(r.fusion_mode.as_str(), "ToF only");
        assert_eq!(r.spectral_score, None);
    }

    #[test]
    fn invalid_scores_and_weights() {
        let ok = sensor(0.5, Grade::C, 0);
        assert!(fuse(&sensor(f64::NAN, Grade::C, 0), None, 0.6).is_err());
        assert!(fuse(&ok, Some(&sensor(1.5, Grade::C, 0)), 0.6).is_err());
        let err = fuse(&ok, None, -0.1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tof_weight must be a finite number in [0, 1], got -0.1"
        );
    }

    #[test]
    fn profile_blend_clamps_draw() {
        assert_eq!(
            quality_profile_tof_score(0.5, 2.0, 0.6, 0.8),
            0.7 * 0.8 + 0.3 * 0.5
        );
        assert_eq!(
            quality_profile_tof_score(0.5, 0.0, 0.6, 0.8),
            0.7 * 0.6 + 0.3 * 0.5
        );
    }
}
