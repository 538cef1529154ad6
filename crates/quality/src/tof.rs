//! VL53L8CH time-of-flight analysis (spec §1).

use serde::ser::SerializeTuple;
use serde::{Serialize, Serializer};

use crate::grade::grade_by_steps;
use crate::histogram::{analyse_zone, SmoothingWindow, ZoneScratch};
use crate::numpy_reductions::{mean, median_in, py_max, py_min, std64_with_mean, sum};
use crate::{Grade, QualityError};

/// Zones per side of the sensor grid.
pub const GRID_SIDE: usize = 8;
/// Zones in the sensor grid (8×8).
pub const ZONES: usize = GRID_SIDE * GRID_SIDE;

/// Default sensor height above the belt, mm. Not part of SPEC.md (every case
/// carries its own `meta.height_sensor_mm`): this is the reference
/// simulator's default.
pub const DEFAULT_SENSOR_HEIGHT_MM: f64 = 100.0;
/// Default zone (pixel) pitch, mm; the reference simulator's default.
pub const DEFAULT_ZONE_SIZE_MM: f64 = 25.0;

/// Expected product volume, mm³ (vol_score is 1 there).
const EXPECTED_VOLUME_MM3: f64 = 700_000.0;
/// Histogram lengths up to this run with stack scratch space.
const STACK_BINS: usize = 128;

/// Per-zone ToF histograms: `counts` holds 64 histograms of `bins_per_zone`
/// bins each, zone-major in row-major zone order (`counts[(i·8 + j)·n + b]`
/// is bin `b` of zone `(i, j)`), i.e. a C-order 8×8×n array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneHistograms<'a> {
    /// The flattened 8×8×n counts.
    pub counts: &'a [f64],
    /// Bins per zone (n ≥ 1).
    pub bins_per_zone: usize,
}

impl<'a> ZoneHistograms<'a> {
    /// Infers `bins_per_zone` from a flattened 8×8×n array; the length must
    /// be a positive multiple of 64.
    pub fn from_flat(counts: &'a [f64]) -> Result<ZoneHistograms<'a>, QualityError> {
        if counts.is_empty() || !counts.len().is_multiple_of(ZONES) {
            return Err(QualityError::WrongShape {
                array: "histograms",
                expected: "64×n values (8×8 zones × n ≥ 1 bins)".to_owned(),
                got: counts.len(),
            });
        }
        Ok(ZoneHistograms {
            counts,
            bins_per_zone: counts.len() / ZONES,
        })
    }
}

/// One VL53L8CH frame. Matrices are 8×8, flattened row-major (64 values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TofInput<'a> {
    /// Distance from the sensor per zone, mm (`distance_matrix`). Finite.
    pub distance: &'a [f64],
    /// Reflectance per zone, % (`reflectance_matrix`). NaN is allowed and
    /// ignored like the reference's `nanmean`/`nanstd`.
    pub reflectance: &'a [f64],
    /// Signal amplitude per zone, arbitrary units (`amplitude_matrix`). Finite.
    pub amplitude: &'a [f64],
    /// Optional per-zone histograms (`bins_matrix`). Finite.
    pub histograms: Option<ZoneHistograms<'a>>,
    /// Sensor height above the belt, mm (`meta.height_sensor_mm`).
    pub sensor_height_mm: f64,
    /// Zone pitch, mm (`meta.zone_size_mm`).
    pub zone_size_mm: f64,
}

/// Analyser parameters (`analyzer_params`); `Default` gives the spec's
/// defaults. The reference's `bin_size_mm` and `texture_threshold` are unused
/// by the maths and therefore absent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TofParams {
    /// `T`: a zone deviating from the median distance by more than this is a
    /// defect, mm. Default 10.
    pub distance_defect_threshold_mm: f64,
    /// `C`: a foreign body with severity above this rejects the sample.
    /// Default 0.7.
    pub critical_foreign_body_severity_threshold: f64,
    /// `Dt`: mean histogram energy that earns a full density score (≥ 0).
    /// Default 3000.
    pub density_threshold: f64,
    /// `K`: amplitude is consistent while the outlier fraction is below
    /// `1 − K`. Default 0.6.
    pub consistency_threshold: f64,
    /// `W`: multiplier of the defect penalty. Default 1.
    pub defect_penalty_weight: f64,
}

impl Default for TofParams {
    fn default() -> Self {
        TofParams {
            distance_defect_threshold_mm: 10.0,
            critical_foreign_body_severity_threshold: 0.7,
            density_threshold: 3000.0,
            consistency_threshold: 0.6,
            defect_penalty_weight: 1.0,
        }
    }
}

/// Height and volume statistics (`stats`). Heights are `max(H − D, 0)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TofStats {
    /// `Σh·z²`, mm³.
    pub volume_mm3: f64,
    /// Mean height, mm.
    pub average_height_mm: f64,
    /// Largest height, mm.
    pub max_height_mm: f64,
    /// Smallest height, mm.
    pub min_height_mm: f64,
    /// `max − min`, mm.
    pub height_range_mm: f64,
    /// Zones higher than 5 % of the largest height.
    pub occupied_pixels: i32,
    /// `64·z²`, mm².
    pub base_area_mm2: f64,
    /// Bilinear (trapezoidal) volume over the 7×7 cells between zone
    /// centres, mm³.
    pub volume_trapezoidal_mm3: f64,
    /// `1 / (1 + mean |∇D|)` (gradient of the distances, unit spacing).
    pub surface_uniformity: f64,
    /// Population standard deviation of the heights, mm.
    pub height_variation_mm: f64,
}

/// Histogram analysis (`bins_analysis`), one 8×8 map per metric, indexed
/// `[row][column]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BinsAnalysis {
    /// Peaks of the smoothed histogram above 18 % of its maximum with a
    /// prominence of at least 5 % of it.
    pub multi_peak_count: [[i32; GRID_SIDE]; GRID_SIDE],
    /// `std(s) / (max(s) + 1e-9)` of the smoothed histogram `s`.
    pub surface_roughness: [[f64; GRID_SIDE]; GRID_SIDE],
    /// `max(s) / (total + 1e-9)`.
    pub signal_quality: [[f64; GRID_SIDE]; GRID_SIDE],
    /// Normalised entropy of the baseline-removed histogram, in [0, 1].
    pub texture_score: [[f64; GRID_SIDE]; GRID_SIDE],
    /// Baseline-removed energy `Σp + 1e-12` (counts).
    pub density_score: [[f64; GRID_SIDE]; GRID_SIDE],
    /// First bin of the smoothed maximum.
    pub peak_bin_map: [[i64; GRID_SIDE]; GRID_SIDE],
}

/// A 3×3 reflectance window whose standard deviation exceeds 12 %; serialised
/// as the reference's `[row, column, std]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalVariation {
    /// Row of the window centre (1..=6).
    pub row: i32,
    /// Column of the window centre (1..=6).
    pub col: i32,
    /// Population standard deviation of the window, %.
    pub std: f64,
}

impl Serialize for LocalVariation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = serializer.serialize_tuple(3)?;
        t.serialize_element(&self.row)?;
        t.serialize_element(&self.col)?;
        t.serialize_element(&self.std)?;
        t.end()
    }
}

/// Reflectance statistics (`reflectance_analysis`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReflectanceAnalysis {
    /// Mean reflectance ignoring NaN, %.
    pub mean_reflectance_pct: f64,
    /// Population standard deviation ignoring NaN, %.
    pub std_reflectance_pct: f64,
    /// Fraction of the 64 zones below 30 %.
    pub low_reflectance_fraction: f64,
    /// Fraction of the 64 zones above 80 %.
    pub high_reflectance_fraction: f64,
    /// Interior windows with a standard deviation above 12 %, row-major
    /// (at most 36, the reference keeps the first 50).
    pub local_variations: Vec<LocalVariation>,
}

/// Amplitude consistency (`amplitude_consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AmplitudeConsistency {
    /// Mean amplitude.
    pub mean_amplitude: f64,
    /// Population standard deviation of the amplitude.
    pub std_amplitude: f64,
    /// Fraction of zones with `|A − mean| / (std + 1e-9) > 2.5`.
    pub outlier_fraction: f64,
    /// `outlier_fraction < 1 − K`.
    pub consistency_ok: bool,
}

/// Kind of a distance defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TofDefectKind {
    /// Closer than the median (something sticks up): `foreign_body`.
    ForeignBody,
    /// Farther than the median (a dent): `surface_deformation`.
    SurfaceDeformation,
}

impl TofDefectKind {
    /// The reference's `type` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            TofDefectKind::ForeignBody => "foreign_body",
            TofDefectKind::SurfaceDeformation => "surface_deformation",
        }
    }
}

/// A zone whose distance deviates from the median by more than `T`.
/// Serialised as the reference's `{pos, type, severity, deviation_mm}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TofDefect {
    /// `[row, column]` of the zone.
    pub pos: [i32; 2],
    /// Defect kind (JSON key `type`).
    #[serde(rename = "type")]
    pub kind: TofDefectKind,
    /// `min(1, |dev| / (0.5·median + 1e-9))`.
    pub severity: f64,
    /// `D − median(D)`, mm (negative for foreign bodies).
    pub deviation_mm: f64,
}

/// Sub-scores of the ToF quality score (`score_breakdown`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreBreakdown {
    /// Volume sub-score in [0.4, 1].
    pub vol_score: f64,
    /// `max(0, 1 − mean texture)`, or 0.8 without histograms.
    pub texture_score: f64,
    /// `min(1, mean density / (Dt + 1e-9))`, or 0.8 without histograms.
    pub density_score: f64,
    /// Mean signal quality, or 0.8 without histograms.
    pub mean_signal_quality: f64,
    /// `max(0, low + high reflectance fractions)`.
    pub reflectance_penalty: f64,
    /// 1.0 when the amplitude is consistent, else 0.5.
    pub consistency_ok: f64,
    /// `min(1, mean defect severity)`, 0 without defects.
    pub defect_penalty: f64,
    /// `W` as given.
    pub defect_penalty_weight: f64,
    /// `clamp(defect_penalty·W, 0, 1)`.
    pub effective_defect_penalty: f64,
}

/// Full ToF report, mirroring the reference's report keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TofReport {
    /// Height and volume statistics.
    pub stats: TofStats,
    /// Histogram analysis, when histograms were given (boxed: 3 KiB).
    pub bins_analysis: Option<Box<BinsAnalysis>>,
    /// Reflectance statistics.
    pub reflectance_analysis: ReflectanceAnalysis,
    /// Amplitude consistency.
    pub amplitude_consistency: AmplitudeConsistency,
    /// Distance defects, row-major.
    pub defects: Vec<TofDefect>,
    /// Quality score in [0, 1].
    pub quality_score: f64,
    /// Sub-scores.
    pub score_breakdown: ScoreBreakdown,
    /// Normalised grade (never `A+`).
    pub grade: Grade,
    /// The reference's label, e.g. `Grade A - Excellente qualité`.
    pub grade_label: &'static str,
}

impl TofReport {
    /// Whether a foreign body with severity above `C` forced the rejection.
    pub fn has_critical_foreign_body(&self, params: &TofParams) -> bool {
        has_critical_foreign_body(&self.defects, params)
    }
}

fn check_grid(array: &'static str, values: &[f64]) -> Result<(), QualityError> {
    if values.len() != ZONES {
        return Err(QualityError::WrongShape {
            array,
            expected: "64 values (8×8)".to_owned(),
            got: values.len(),
        });
    }
    Ok(())
}

fn check_finite(array: &'static str, values: &[f64]) -> Result<(), QualityError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(QualityError::NonFiniteValue {
            array,
            index,
            value: values.get(index).copied().unwrap_or(f64::NAN),
        }),
        None => Ok(()),
    }
}

fn check_scalar(
    name: &'static str,
    value: f64,
    ok: bool,
    requirement: &'static str,
) -> Result<(), QualityError> {
    if ok {
        Ok(())
    } else {
        Err(QualityError::InvalidParameter {
            name,
            requirement,
            value,
        })
    }
}

/// A validated 8×8 matrix.
type Grid<'a> = &'a [f64; ZONES];

/// Validates the input and returns the distance, reflectance and amplitude
/// grids as fixed arrays.
fn validate<'a>(
    input: &TofInput<'a>,
    params: &TofParams,
) -> Result<(Grid<'a>, Grid<'a>, Grid<'a>), QualityError> {
    check_grid("distance", input.distance)?;
    check_grid("reflectance", input.reflectance)?;
    check_grid("amplitude", input.amplitude)?;
    check_finite("distance", input.distance)?;
    check_finite("amplitude", input.amplitude)?;
    if let Some(h) = input.histograms {
        check_histograms(&h)?;
    }
    check_geometry(input)?;
    check_params(params)?;
    Ok((
        as_grid(input.distance)?,
        as_grid(input.reflectance)?,
        as_grid(input.amplitude)?,
    ))
}

/// Histograms of `64 × bins_per_zone` finite counts, `bins_per_zone ≥ 1`.
fn check_histograms(h: &ZoneHistograms<'_>) -> Result<(), QualityError> {
    let expected_len = h.bins_per_zone.checked_mul(ZONES);
    if h.bins_per_zone == 0 || expected_len != Some(h.counts.len()) {
        let expected = match expected_len {
            Some(len) if h.bins_per_zone > 0 => format!(
                "64×{} = {} values (8×8 zones × {} bins)",
                h.bins_per_zone, len, h.bins_per_zone
            ),
            _ => "64×n values (8×8 zones × n ≥ 1 bins)".to_owned(),
        };
        return Err(QualityError::WrongShape {
            array: "histograms",
            expected,
            got: h.counts.len(),
        });
    }
    check_finite("histograms", h.counts)
}

/// A finite sensor height and zone size.
fn check_geometry(input: &TofInput<'_>) -> Result<(), QualityError> {
    let finite = "a finite number";
    check_scalar(
        "sensor_height_mm",
        input.sensor_height_mm,
        input.sensor_height_mm.is_finite(),
        finite,
    )?;
    check_scalar(
        "zone_size_mm",
        input.zone_size_mm,
        input.zone_size_mm.is_finite(),
        finite,
    )
}

/// Finite parameters, and a density threshold ≥ 0.
fn check_params(p: &TofParams) -> Result<(), QualityError> {
    let finite = "a finite number";
    check_scalar(
        "distance_defect_threshold_mm",
        p.distance_defect_threshold_mm,
        p.distance_defect_threshold_mm.is_finite(),
        finite,
    )?;
    check_scalar(
        "critical_foreign_body_severity_threshold",
        p.critical_foreign_body_severity_threshold,
        p.critical_foreign_body_severity_threshold.is_finite(),
        finite,
    )?;
    check_scalar(
        "density_threshold",
        p.density_threshold,
        p.density_threshold.is_finite() && p.density_threshold >= 0.0,
        "a finite number ≥ 0",
    )?;
    check_scalar(
        "consistency_threshold",
        p.consistency_threshold,
        p.consistency_threshold.is_finite(),
        finite,
    )?;
    check_scalar(
        "defect_penalty_weight",
        p.defect_penalty_weight,
        p.defect_penalty_weight.is_finite(),
        finite,
    )
}

/// `v` as an 8×8 grid.
fn as_grid(v: &[f64]) -> Result<Grid<'_>, QualityError> {
    v.try_into().map_err(|_| QualityError::WrongShape {
        array: "grid",
        expected: "64 values (8×8)".to_owned(),
        got: v.len(),
    })
}

/// Analyses one ToF frame (spec §1) and grades it.
///
/// Errors: a matrix without exactly 64 values, histograms whose length is not
/// `64 × bins_per_zone` with `bins_per_zone ≥ 1`, a non-finite distance,
/// amplitude or histogram value, a non-finite sensor height, zone size or
/// parameter, or a negative density threshold.
pub fn tof_analysis(input: &TofInput<'_>, params: &TofParams) -> Result<TofReport, QualityError> {
    let (distance, reflectance, amplitude) = validate(input, params)?;

    let stats = height_stats(distance, input.sensor_height_mm, input.zone_size_mm);
    let bins_analysis = input.histograms.map(|h| Box::new(analyse_histograms(h)));
    let reflectance_analysis = analyse_reflectance(reflectance);
    let amplitude_consistency = analyse_amplitude(amplitude, params.consistency_threshold);
    let defects = detect_defects(distance, params.distance_defect_threshold_mm);
    let (quality_score, score_breakdown) = score(
        &stats,
        bins_analysis.as_deref(),
        &reflectance_analysis,
        &amplitude_consistency,
        &defects,
        params,
    );
    let grade = tof_grade(quality_score, &defects, params);
    Ok(TofReport {
        stats,
        bins_analysis,
        reflectance_analysis,
        amplitude_consistency,
        defects,
        quality_score,
        score_breakdown,
        grade,
        grade_label: grade.tof_label(),
    })
}

fn at(values: &[f64; ZONES], i: usize, j: usize) -> f64 {
    values.get(i * GRID_SIDE + j).copied().unwrap_or(0.0)
}

fn height_stats(distance: &[f64; ZONES], sensor_height: f64, zone_size: f64) -> TofStats {
    let mut h = [0.0f64; ZONES];
    for (hv, &d) in h.iter_mut().zip(distance) {
        let raw = sensor_height - d;
        *hv = if raw < 0.0 { 0.0 } else { raw };
    }
    let zone_area = zone_size * zone_size;
    let volume_mm3 = sum(&h) * zone_area;
    let average = mean(&h);
    let max_h = h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min_h = h.iter().copied().fold(f64::INFINITY, f64::min);
    let occupied_threshold = 0.05 * max_h;
    let occupied_pixels = h.iter().filter(|&&v| v > occupied_threshold).count() as i32;

    let mut trapezoidal = 0.0;
    for i in 0..GRID_SIDE - 1 {
        for j in 0..GRID_SIDE - 1 {
            let cell = (at(&h, i, j) + at(&h, i, j + 1) + at(&h, i + 1, j) + at(&h, i + 1, j + 1))
                / 4.0
                * zone_area;
            trapezoidal += cell;
        }
    }

    // numpy.gradient of the distances along rows and columns: central
    // differences inside, one-sided at the edges, unit spacing.
    let gradient = |a: f64, b: f64, c: f64, k: usize| -> f64 {
        // a, b, c = values at k−1, k, k+1 (clamped at the edges).
        if k == 0 {
            c - b
        } else if k == GRID_SIDE - 1 {
            b - a
        } else {
            (c - a) / 2.0
        }
    };
    let mut magnitude = [0.0f64; ZONES];
    for (idx, m) in magnitude.iter_mut().enumerate() {
        let (i, j) = (idx / GRID_SIDE, idx % GRID_SIDE);
        let (up, down) = (i.saturating_sub(1), (i + 1).min(GRID_SIDE - 1));
        let (left, right) = (j.saturating_sub(1), (j + 1).min(GRID_SIDE - 1));
        let here = at(distance, i, j);
        let gr = gradient(at(distance, up, j), here, at(distance, down, j), i);
        let gc = gradient(at(distance, i, left), here, at(distance, i, right), j);
        *m = (gr * gr + gc * gc).sqrt();
    }
    let surface_uniformity = 1.0 / (1.0 + mean(&magnitude));

    TofStats {
        volume_mm3,
        average_height_mm: average,
        max_height_mm: max_h,
        min_height_mm: min_h,
        height_range_mm: max_h - min_h,
        occupied_pixels,
        base_area_mm2: zone_area * ZONES as f64,
        volume_trapezoidal_mm3: trapezoidal,
        surface_uniformity,
        height_variation_mm: std64_with_mean(&h, average),
    }
}

fn analyse_histograms(h: ZoneHistograms<'_>) -> BinsAnalysis {
    let bins = h.bins_per_zone;
    let mut stack_buffer = [0.0f64; 5 * STACK_BINS];
    let mut heap_buffer = Vec::new();
    let buffer: &mut [f64] = if bins <= STACK_BINS {
        &mut stack_buffer
    } else {
        // Validation bounds bins by the input length, so 5·bins fits.
        heap_buffer.resize(bins.saturating_mul(5), 0.0);
        &mut heap_buffer
    };
    let mut out = BinsAnalysis {
        multi_peak_count: [[0; GRID_SIDE]; GRID_SIDE],
        surface_roughness: [[0.0; GRID_SIDE]; GRID_SIDE],
        signal_quality: [[0.0; GRID_SIDE]; GRID_SIDE],
        texture_score: [[0.0; GRID_SIDE]; GRID_SIDE],
        density_score: [[0.0; GRID_SIDE]; GRID_SIDE],
        peak_bin_map: [[0; GRID_SIDE]; GRID_SIDE],
    };
    let Some(mut scratch) = ZoneScratch::new(buffer, bins) else {
        return out;
    };
    let window = SmoothingWindow::for_bins(bins);
    for (zone, hist) in h.counts.chunks_exact(bins).take(ZONES).enumerate() {
        let z = analyse_zone(hist, &window, &mut scratch);
        let (i, j) = (zone / GRID_SIDE, zone % GRID_SIDE);
        let cell = |m: &mut [[f64; GRID_SIDE]; GRID_SIDE], v: f64| {
            if let Some(slot) = m.get_mut(i).and_then(|row| row.get_mut(j)) {
                *slot = v;
            }
        };
        cell(&mut out.surface_roughness, z.surface_roughness);
        cell(&mut out.signal_quality, z.signal_quality);
        cell(&mut out.texture_score, z.texture_score);
        cell(&mut out.density_score, z.density_score);
        if let Some(slot) = out.multi_peak_count.get_mut(i).and_then(|r| r.get_mut(j)) {
            *slot = i32::try_from(z.multi_peak_count).unwrap_or(i32::MAX);
        }
        if let Some(slot) = out.peak_bin_map.get_mut(i).and_then(|r| r.get_mut(j)) {
            *slot = i64::try_from(z.peak_bin).unwrap_or(i64::MAX);
        }
    }
    out
}

fn analyse_reflectance(r: &[f64; ZONES]) -> ReflectanceAnalysis {
    // np.nanmean / np.nanstd: NaN counts as 0 in the sums and not in the count.
    let present = r.iter().filter(|v| !v.is_nan()).count();
    let masked = |v: f64| if v.is_nan() { 0.0 } else { v };
    let mut zeroed = [0.0f64; ZONES];
    for (z, &v) in zeroed.iter_mut().zip(r) {
        *z = masked(v);
    }
    let mean_r = sum(&zeroed) / present as f64;
    let mut squares = [0.0f64; ZONES];
    for (s, &v) in squares.iter_mut().zip(r) {
        *s = if v.is_nan() {
            0.0
        } else {
            let d = v - mean_r;
            d * d
        };
    }
    let std_r = (sum(&squares) / present as f64).sqrt();
    let low = r.iter().filter(|&&v| v < 30.0).count();
    let high = r.iter().filter(|&&v| v > 80.0).count();

    let mut local_variations = Vec::new();
    for i in 1..GRID_SIDE - 1 {
        for j in 1..GRID_SIDE - 1 {
            let var = window_variance(r, i, j);
            // sqrt is monotone and sqrt(144) = 12 exactly: skip the sqrt
            // for the common quiet window.
            if var <= 144.0 {
                continue;
            }
            let std = var.sqrt();
            if std > 12.0 && local_variations.len() < 50 {
                local_variations.push(LocalVariation {
                    row: i as i32,
                    col: j as i32,
                    std,
                });
            }
        }
    }
    ReflectanceAnalysis {
        mean_reflectance_pct: mean_r,
        std_reflectance_pct: std_r,
        low_reflectance_fraction: low as f64 / ZONES as f64,
        high_reflectance_fraction: high as f64 / ZONES as f64,
        local_variations,
    }
}

/// Population variance of the 3×3 window centred on `(i, j)` (1 ≤ i, j ≤ 6),
/// summed row by row as numpy reduces a strided 3×3 view.
fn window_variance(r: &[f64; ZONES], i: usize, j: usize) -> f64 {
    let mut w = [0.0f64; 9];
    for (k, slot) in w.iter_mut().enumerate() {
        *slot = at(r, i + k / 3 - 1, j + k % 3 - 1);
    }
    let m = window_sum(&w, |v| v) / 9.0;
    window_sum(&w, |v| (v - m) * (v - m)) / 9.0
}

/// Sum of `f` over a 3×3 window: each row left to right, then the rows.
fn window_sum(w: &[f64; 9], f: impl Fn(f64) -> f64) -> f64 {
    let mut total = -0.0;
    for row in w.chunks_exact(3) {
        total += row.iter().fold(-0.0, |acc, &v| acc + f(v));
    }
    total
}

fn analyse_amplitude(a: &[f64; ZONES], consistency_threshold: f64) -> AmplitudeConsistency {
    let m = mean(a);
    let s = std64_with_mean(a, m);
    let outliers = a
        .iter()
        .filter(|&&v| ((v - m) / (s + 1e-9)).abs() > 2.5)
        .count();
    let outlier_fraction = outliers as f64 / ZONES as f64;
    AmplitudeConsistency {
        mean_amplitude: m,
        std_amplitude: s,
        outlier_fraction,
        consistency_ok: outlier_fraction < 1.0 - consistency_threshold,
    }
}

fn detect_defects(distance: &[f64; ZONES], threshold: f64) -> Vec<TofDefect> {
    let mut scratch = [0.0f64; ZONES];
    let median = median_in(distance, &mut scratch);
    let mut defects = Vec::new();
    for (idx, &d) in distance.iter().enumerate() {
        let dev = d - median;
        if dev.abs() > threshold {
            defects.push(TofDefect {
                pos: [(idx / GRID_SIDE) as i32, (idx % GRID_SIDE) as i32],
                kind: if dev < 0.0 {
                    TofDefectKind::ForeignBody
                } else {
                    TofDefectKind::SurfaceDeformation
                },
                severity: py_min(1.0, dev.abs() / (0.5 * median + 1e-9)),
                deviation_mm: dev,
            });
        }
    }
    defects
}

/// vol_score of spec §1 for a volume in mm³.
fn volume_score(vol: f64) -> f64 {
    let vol_min = EXPECTED_VOLUME_MM3 * 0.5;
    let vol_max = EXPECTED_VOLUME_MM3 * 1.5;
    if vol_min <= vol && vol <= vol_max {
        let s = 1.0 - (vol - EXPECTED_VOLUME_MM3).abs() / (EXPECTED_VOLUME_MM3 * 0.5);
        py_max(0.75, py_min(1.0, s))
    } else if vol < vol_min {
        py_max(0.4, vol / vol_min)
    } else {
        py_max(0.4, vol_max / vol)
    }
}

fn grid_mean(m: &[[f64; GRID_SIDE]; GRID_SIDE]) -> f64 {
    let mut flat = [0.0f64; ZONES];
    for (slot, v) in flat.iter_mut().zip(m.iter().flatten()) {
        *slot = *v;
    }
    mean(&flat)
}

fn score(
    stats: &TofStats,
    bins: Option<&BinsAnalysis>,
    refl: &ReflectanceAnalysis,
    consistency: &AmplitudeConsistency,
    defects: &[TofDefect],
    params: &TofParams,
) -> (f64, ScoreBreakdown) {
    let vol_score = volume_score(stats.volume_mm3);
    let (texture_score, density_score, mean_signal_quality) = match bins {
        Some(b) => (
            py_max(0.0, 1.0 - grid_mean(&b.texture_score)),
            py_min(
                1.0,
                grid_mean(&b.density_score) / (params.density_threshold + 1e-9),
            ),
            grid_mean(&b.signal_quality),
        ),
        None => (0.8, 0.8, 0.8),
    };
    let reflectance_penalty = py_max(
        0.0,
        refl.low_reflectance_fraction + refl.high_reflectance_fraction,
    );
    let consistency_ok = if consistency.consistency_ok { 1.0 } else { 0.5 };
    let defect_penalty = if defects.is_empty() {
        0.0
    } else {
        let total: f64 = defects.iter().fold(0.0, |acc, d| acc + d.severity);
        py_min(1.0, total / py_max(1.0, defects.len() as f64))
    };
    let combined = 0.15 * vol_score
        + 0.20 * texture_score
        + 0.20 * density_score
        + 0.15 * mean_signal_quality
        + 0.15 * (1.0 - reflectance_penalty)
        + 0.15 * consistency_ok;
    let effective_defect_penalty = clip01(defect_penalty * params.defect_penalty_weight);
    let quality_score = clip01(combined * (1.0 - effective_defect_penalty));
    (
        quality_score,
        ScoreBreakdown {
            vol_score,
            texture_score,
            density_score,
            mean_signal_quality,
            reflectance_penalty,
            consistency_ok,
            defect_penalty,
            defect_penalty_weight: params.defect_penalty_weight,
            effective_defect_penalty,
        },
    )
}

/// `np.clip(x, 0, 1)` (NaN stays NaN).
fn clip01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

fn has_critical_foreign_body(defects: &[TofDefect], params: &TofParams) -> bool {
    defects.iter().any(|d| {
        d.kind == TofDefectKind::ForeignBody
            && d.severity > params.critical_foreign_body_severity_threshold
    })
}

/// ToF grade: REJECT on a critical foreign body, else `≥ 0.80` A, `≥ 0.65` B,
/// `≥ 0.50` C, otherwise REJECT.
fn tof_grade(score: f64, defects: &[TofDefect], params: &TofParams) -> Grade {
    if has_critical_foreign_body(defects, params) {
        return Grade::Reject;
    }
    grade_by_steps(
        score,
        &[(0.80, Grade::A), (0.65, Grade::B), (0.50, Grade::C)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat_input<'a>(d: &'a [f64], r: &'a [f64], a: &'a [f64]) -> TofInput<'a> {
        TofInput {
            distance: d,
            reflectance: r,
            amplitude: a,
            histograms: None,
            sensor_height_mm: 120.0,
            zone_size_mm: 20.0,
        }
    }

    #[test]
    fn shape_errors_name_array_and_length() {
        let ok = [100.0; 64];
        let short = [50.0; 63];
        let err = tof_analysis(&flat_input(&ok, &short, &ok), &TofParams::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "reflectance must have 64 values (8×8), got 63"
        );
        let err = tof_analysis(&flat_input(&[], &ok, &ok), &TofParams::default()).unwrap_err();
        assert_eq!(err.to_string(), "distance must have 64 values (8×8), got 0");
        let counts = [1.0; 130];
        let mut input = flat_input(&ok, &ok, &ok);
        input.histograms = Some(ZoneHistograms {
            counts: &counts,
            bins_per_zone: 2,
        });
        let err = tof_analysis(&input, &TofParams::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "histograms must have 64×2 = 128 values (8×8 zones × 2 bins), got 130"
        );
        input.histograms = Some(ZoneHistograms {
            counts: &[],
            bins_per_zone: 0,
        });
        let err = tof_analysis(&input, &TofParams::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "histograms must have 64×n values (8×8 zones × n ≥ 1 bins), got 0"
        );
        assert!(ZoneHistograms::from_flat(&counts).is_err());
        assert_eq!(
            ZoneHistograms::from_flat(&counts[..128])
                .unwrap()
                .bins_per_zone,
            2
        );
    }

    #[test]
    fn non_finite_values_are_rejected_except_reflectance() {
        let ok = [100.0; 64];
        let mut bad = [100.0; 64];
        bad[5] = f64::NAN;
        let err = tof_analysis(&flat_input(&bad, &ok, &ok), &TofParams::default()).unwrap_err();
        assert!(matches!(
            err,
            QualityError::NonFiniteValue {
                array: "distance",
                index: 5,
                ..
            }
        ));
        let report = tof_analysis(&flat_input(&ok, &bad, &ok), &TofParams::default()).unwrap();
        // Mean of 63 values of 100 ignoring the NaN.
        assert_eq!(report.reflectance_analysis.mean_reflectance_pct, 100.0);
        assert_eq!(
            report.reflectance_analysis.high_reflectance_fraction,
            63.0 / 64.0
        );
        let params = TofParams {
            density_threshold: -1.0,
            ..TofParams::default()
        };
        let err = tof_analysis(&flat_input(&ok, &ok, &ok), &params).unwrap_err();
        assert!(matches!(
            err,
            QualityError::InvalidParameter {
                name: "density_threshold",
                ..
            }
        ));
    }

    #[test]
    fn volume_score_piecewise() {
        assert_eq!(volume_score(700_000.0), 1.0);
        assert_eq!(volume_score(350_000.0), 0.75);
        assert_eq!(volume_score(1_050_000.0), 0.75);
        assert_eq!(volume_score(0.0), 0.4);
        assert_eq!(volume_score(175_000.0), 0.5);
        assert_eq!(volume_score(2_100_000.0), 0.5);
    }
}
