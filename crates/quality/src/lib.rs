//! Foie gras quality scoring kernels: VL53L8CH time-of-flight analysis,
//! AS7341 spectral analysis and their fusion, reproducing the SQAL reference
//! (`jacquesj1/projet_sqal`) as specified in
//! `fixtures/sqal/SPEC.md`, with two grading bugs fixed.
//!
//! * [`tof_analysis`]: 8×8 distance / reflectance / amplitude matrices
//!   (row-major, 64 values each) and optional 8×8×n histograms →
//!   [`TofReport`] (volume, heights, uniformity, histogram texture / density /
//!   peaks, reflectance, amplitude consistency, distance defects, sub-scores,
//!   score and grade).
//! * [`spectral_analysis`]: AS7341 raw counts → [`SpectralReport`] (ratios,
//!   indices, defects, score and grade).
//! * [`fuse`]: per-sensor score / grade / defect count → [`FusionResult`];
//!   [`fuse_reports`] does the same from full reports and adds the combined
//!   defect list.
//! * [`quality_grade`]: the score → grade thresholds (A+ ≥ 0.85, A ≥ 0.75,
//!   B ≥ 0.60, C ≥ 0.45).
//!
//! Every function is deterministic, never panics, and allocates only for
//! non-empty defect lists (plus one scratch buffer when histograms have more
//! than 128 bins). Numbers match the reference within `1e-9·max(1, |x|)`;
//! sums are done in numpy's pairwise order so thresholds tie the same way.
//!
//! Grades are normalised to [`Grade`] (`A+`, `A`, `B`, `C`, `REJECT`); each
//! report also keeps the reference's label (`grade_label`, e.g.
//! `Grade A - Excellente qualité` for the ToF grade A).
//!
//! # Input policy
//!
//! * ToF matrices must have exactly 64 values and histograms `64 × n` values
//!   with `n ≥ 1` ([`QualityError::WrongShape`]).
//! * Distances, amplitudes, histogram counts, sensor height, zone size and
//!   parameters must be finite ([`QualityError::NonFiniteValue`],
//!   [`QualityError::InvalidParameter`]); the density threshold must be ≥ 0.
//!   Reflectance may hold NaN (ignored, as the reference's `nanmean`).
//! * Spectral channels are `Option<f64>` and accept any value, with the
//!   reference's Python semantics for NaN and missing channels.
//! * Fusion scores and the ToF weight must lie in [0, 1].
//!
//! # Not reproduced
//!
//! `volume_simpson_mm3` and `volume_spline_mm3` (scipy splines, informational),
//! the spectral `quality_js` score, random parts of the fusion (sample id,
//! weight estimate, Cp/Cpk history, colour enrichment). The quality-profile
//! blend is available as [`quality_profile_tof_score`] given the draw. The
//! histogram smoothing is always the direct convolution (scipy picks FFT only
//! for histograms of roughly 10⁵ bins or more).
//!
//! Exact ties in the smoothed histogram: the reference convolves with
//! `numpy.convolve`, whose dot products go through OpenBLAS `ddot` (FMA,
//! CPU-dependent accumulation order); this crate sums each output in input
//! order. Both agree to ~1e-16, but when two smoothed samples are
//! *mathematically* equal (e.g. two identical echoes placed symmetrically)
//! the reference's rounding noise decides `peak_bin_map` (first maximum) and
//! plateau-based `multi_peak_count`, and ours may pick the other sample. Only
//! those two informational maps can differ; no score or grade depends on
//! them. None of the 900 reference vectors hits such a tie.
//!
//! # BUGFIXES
//!
//! The reference's fusion grades with string comparisons across two label
//! vocabularies (ToF: `Grade A - Excellente qualité` … `REJET - Qualité
//! insuffisante`; spectral / fused: `A+` … `REJECT`). Two consequences are
//! fixed here; every other output matches the reference.
//!
//! 1. **ToF rejection is ignored.** The reference rejects the fused sample
//!    when `tof_grade == "REJECT"`, which never holds since the ToF scorer
//!    says `REJET - Qualité insuffisante`; so a critical foreign body (or a
//!    ToF score below 0.5) never rejects a fused result. Here a ToF grade of
//!    [`Grade::Reject`] forces the fused grade to REJECT.
//! 2. **Compliance flags use the wrong vocabulary.** The reference sets
//!    `is_compliant = grade ∉ {"REJECT", "Grade C - Qualité acceptable"}`
//!    and `is_downgraded = "B" in grade or "C" in grade` on the fused grade,
//!    so a fused `C` counts as compliant and `REJECT` (which contains a "C")
//!    as downgraded. Here `is_compliant` ⇔ A+, A or B; `is_downgraded` ⇔ B or
//!    C; `is_rejected` ⇔ REJECT. The flags are computed in ToF-only mode too
//!    (the reference has none there).
//!
//! # Monotonicity (what holds, what does not)
//!
//! * Fusion: the fused grade never improves when either defect count rises,
//!   when either sensor's grade is lowered, or when either score is lowered
//!   (with the weight in [0, 1]). In ToF-only mode it equals the ToF grade.
//! * Spectral: pushing Clear to saturation (≥ 65500) or below 10 counts adds a
//!   defect without touching any ratio, so the grade never improves.
//! * ToF: a zone at distance 0 (something touching the sensor) is a foreign
//!   body of severity 1 whenever the median distance exceeds `T`, so with
//!   `C < 1` it always rejects. Deepening a surface deformation whose height
//!   is already clipped to 0 (distance ≥ sensor height, above every other
//!   zone) raises only its severity, so the grade never improves.
//! * ToF, **not** monotone in general: adding a deviating zone can improve
//!   the grade, because the defect penalty is the *mean* severity (a mild new
//!   defect dilutes severe ones) and because the zone also changes the volume
//!   sub-score.

#![forbid(unsafe_code)]

mod error;
mod fusion;
mod grade;
mod histogram;
mod numpy_reductions;
mod spectral;
mod tof;

pub use error::QualityError;
pub use fusion::{
    combined_defects, fuse, fuse_reports, quality_profile_tof_score, CombinedDefect,
    CombinedSpectralDefect, FusionMetrics, FusionMode, FusionReport, FusionResult,
    FusionSensorInput, DEFAULT_TOF_WEIGHT, MAX_DEFECTS_BEFORE_REJECT, SPECTRAL_DEFECT_SEVERITY,
};
pub use grade::{quality_grade, Grade, TOF_LABEL_A, TOF_LABEL_B, TOF_LABEL_C, TOF_LABEL_REJECT};
pub use spectral::{
    spectral_analysis, spectral_ratios, SpectralChannel, SpectralDefect, SpectralInput,
    SpectralQualityMetrics, SpectralRatioKind, SpectralRatios, SpectralReport,
};
pub use tof::{
    tof_analysis, AmplitudeConsistency, BinsAnalysis, LocalVariation, ReflectanceAnalysis,
    ScoreBreakdown, TofDefect, TofDefectKind, TofInput, TofParams, TofReport, TofStats,
    ZoneHistograms, DEFAULT_SENSOR_HEIGHT_MM, DEFAULT_ZONE_SIZE_MM, GRID_SIDE, ZONES,
};
