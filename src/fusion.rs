//! Foie gras quality scoring: `sensor.tof_analysis`, `sensor.spectral_analysis`,
//! `sensor.quality_fusion` and `sensor.quality_grade`, over the `quality` crate.
//!
//! Every function is IMMUTABLE and PARALLEL SAFE and resolves its types in schema `sensor`
//! by catalog lookup, so it can run in generated columns, triggers and continuous
//! aggregates (whose refresh sets `search_path = pg_catalog, pg_temp`).

use pgrx::prelude::*;
use pgrx::{JsonB, PgMemoryContexts};
use quality::{FusionSensorInput, Grade, SpectralInput, TofInput, TofParams, ZoneHistograms};

use crate::error::{RaiseError, SensorError, SensorResult};
use crate::pg::composite::sensor_composite;
use crate::pg::float8_array::Float8Array;

fn d<T: IntoDatum>(value: T) -> Option<pg_sys::Datum> {
    value.into_datum()
}

fn json<T: serde::Serialize>(value: &T) -> SensorResult<Option<pg_sys::Datum>> {
    let value = serde_json::to_value(value).map_err(|e| {
        SensorError::invalid_input(format!("could not render a report as JSON: {e}"))
    })?;
    // Most frames have no defects: reuse one '[]' instead of printing and parsing it.
    if value.as_array().is_some_and(Vec::is_empty) {
        if let Some(datum) = empty_json_array() {
            return Ok(Some(datum));
        }
    }
    Ok(JsonB(value).into_datum())
}

thread_local! {
    static EMPTY_JSON_ARRAY: std::cell::Cell<Option<pg_sys::Datum>> = const { std::cell::Cell::new(None) };
}

/// A `'[]'::jsonb` datum that lives as long as the backend (forming a tuple copies it).
fn empty_json_array() -> Option<pg_sys::Datum> {
    EMPTY_JSON_ARRAY.with(|cell| {
        if cell.get().is_none() {
            // SAFETY: allocates in TopMemoryContext, which lives as long as the backend.
            let datum = unsafe {
                PgMemoryContexts::TopMemoryContext
                    .switch_to(|_| JsonB(serde_json::Value::Array(Vec::new())).into_datum())
            };
            cell.set(datum);
        }
        cell.get()
    })
}

/// An 8×8 matrix argument: 64 values, as `float8[8][8]` or a flat `float8[64]`.
fn zone_matrix<'a>(array: Array<'a, f64>, argument: &str) -> SensorResult<&'a [f64]> {
    let array = Float8Array::new(array, argument)?;
    if array.dims == [8, 8] || array.dims == [64] {
        return Ok(array.values());
    }
    Err(SensorError::invalid_parameter(format!(
        "{argument} must be an 8×8 array (or 64 values), got {}",
        array.shape()
    )))
}

/// Per-zone histograms: `float8[8][8][n]` or `float8[64][n]`, n ≥ 1 bins.
fn zone_histograms<'a>(array: Array<'a, f64>) -> SensorResult<ZoneHistograms<'a>> {
    let array = Float8Array::new(array, "histograms")?;
    let bins = match array.dims.as_slice() {
        [8, 8, n] | [64, n] if *n >= 1 => *n,
        _ => {
            return Err(SensorError::invalid_parameter(format!(
                "histograms must be an 8×8×n array (or 64×n), n ≥ 1 bins, got {}",
                array.shape()
            )))
        }
    };
    Ok(ZoneHistograms {
        counts: array.values(),
        bins_per_zone: bins,
    })
}

/// Analyzer parameters from jsonb; absent keys keep the specification's defaults.
fn tof_params(params: Option<JsonB>) -> SensorResult<TofParams> {
    let mut out = TofParams::default();
    let Some(JsonB(value)) = params else {
        return Ok(out);
    };
    if value.is_null() {
        return Ok(out);
    }
    let object = value
        .as_object()
        .ok_or_else(|| SensorError::invalid_parameter("params must be a jsonb object"))?;
    for (key, v) in object {
        let slot = match key.as_str() {
            "distance_defect_threshold_mm" => &mut out.distance_defect_threshold_mm,
            "critical_foreign_body_severity_threshold" => &mut out.critical_foreign_body_severity_threshold,
            "density_threshold" => &mut out.density_threshold,
            "consistency_threshold" => &mut out.consistency_threshold,
            "defect_penalty_weight" => &mut out.defect_penalty_weight,
            // Accepted by the reference analyzer but unused by its scoring.
            "bin_size_mm" | "texture_threshold" => continue,
            _ => {
                return Err(SensorError::invalid_parameter(format!("unknown ToF analyzer parameter \"{key}\""))
                    .with_hint("Known parameters: distance_defect_threshold_mm, critical_foreign_body_severity_threshold, density_threshold, consistency_threshold, defect_penalty_weight."))
            }
        };
        *slot = v.as_f64().ok_or_else(|| {
            SensorError::invalid_parameter(format!(
                "ToF analyzer parameter \"{key}\" must be a number"
            ))
        })?;
    }
    Ok(out)
}

/// Time-of-flight (VL53L8CH) analysis of one 8×8 frame: volume, heights, uniformity,
/// reflectance and amplitude statistics, histogram texture, defects, score and grade.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn tof_analysis(
    distance_mm: Option<Array<'_, f64>>,
    reflectance: Option<Array<'_, f64>>,
    amplitude: Option<Array<'_, f64>>,
    histograms: default!(Option<Array<'_, f64>>, "NULL"),
    sensor_height_mm: default!(Option<f64>, 100.0),
    zone_size_mm: default!(Option<f64>, 25.0),
    params: default!(Option<JsonB>, "NULL"),
) -> Option<pgrx::composite_type!('static, "sensor.tof_report")> {
    // NULL matrices mean no frame: no report (as a STRICT function would give).
    let (Some(distance), Some(reflectance), Some(amplitude)) =
        (distance_mm, reflectance, amplitude)
    else {
        return None;
    };
    tof_report(
        distance,
        reflectance,
        amplitude,
        histograms,
        sensor_height_mm,
        zone_size_mm,
        params,
    )
    .or_raise()
}

#[allow(clippy::too_many_arguments)]
fn tof_report(
    distance: Array<'_, f64>,
    reflectance: Array<'_, f64>,
    amplitude: Array<'_, f64>,
    histograms: Option<Array<'_, f64>>,
    sensor_height_mm: Option<f64>,
    zone_size_mm: Option<f64>,
    params: Option<JsonB>,
) -> SensorResult<Option<pgrx::heap_tuple::PgHeapTuple<'static, pgrx::AllocatedByRust>>> {
    let params = tof_params(params)?;
    let input = TofInput {
        distance: zone_matrix(distance, "distance_mm")?,
        reflectance: zone_matrix(reflectance, "reflectance")?,
        amplitude: zone_matrix(amplitude, "amplitude")?,
        histograms: histograms.map(zone_histograms).transpose()?,
        sensor_height_mm: sensor_height_mm.unwrap_or(quality::DEFAULT_SENSOR_HEIGHT_MM),
        zone_size_mm: zone_size_mm.unwrap_or(quality::DEFAULT_ZONE_SIZE_MM),
    };
    let r = quality::tof_analysis(&input, &params)?;
    let s = &r.stats;
    let b = &r.score_breakdown;
    let bins = match &r.bins_analysis {
        Some(bins) => json(bins)?,
        None => None,
    };
    Ok(Some(sensor_composite(
        c"tof_report",
        [
            d(r.quality_score),
            d(r.grade.as_str()),
            d(r.grade_label),
            d(i32::try_from(r.defects.len()).unwrap_or(i32::MAX)),
            json(&r.defects)?,
            d(r.has_critical_foreign_body(&params)),
            d(s.volume_mm3),
            d(s.volume_trapezoidal_mm3),
            d(s.average_height_mm),
            d(s.max_height_mm),
            d(s.min_height_mm),
            d(s.height_range_mm),
            d(s.height_variation_mm),
            d(s.occupied_pixels),
            d(s.base_area_mm2),
            d(s.surface_uniformity),
            d(r.reflectance_analysis.mean_reflectance_pct),
            d(r.reflectance_analysis.std_reflectance_pct),
            d(r.reflectance_analysis.low_reflectance_fraction),
            d(r.reflectance_analysis.high_reflectance_fraction),
            json(&r.reflectance_analysis.local_variations)?,
            d(r.amplitude_consistency.mean_amplitude),
            d(r.amplitude_consistency.std_amplitude),
            d(r.amplitude_consistency.outlier_fraction),
            d(r.amplitude_consistency.consistency_ok),
            d(b.vol_score),
            d(b.texture_score),
            d(b.density_score),
            d(b.mean_signal_quality),
            d(b.reflectance_penalty),
            d(b.consistency_ok),
            d(b.defect_penalty),
            d(b.defect_penalty_weight),
            d(b.effective_defect_penalty),
            bins,
        ],
    )?))
}

/// Spectral (AS7341) analysis: band ratios, quality indices, defects, score and grade.
/// Missing channels are NULL.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn spectral_analysis(
    f1: default!(Option<f64>, "NULL"),
    f2: default!(Option<f64>, "NULL"),
    f3: default!(Option<f64>, "NULL"),
    f4: default!(Option<f64>, "NULL"),
    f5: default!(Option<f64>, "NULL"),
    f6: default!(Option<f64>, "NULL"),
    f7: default!(Option<f64>, "NULL"),
    f8: default!(Option<f64>, "NULL"),
    nir: default!(Option<f64>, "NULL"),
    clear: default!(Option<f64>, "NULL"),
    flicker: default!(Option<f64>, "NULL"),
) -> pgrx::composite_type!('static, "sensor.spectral_report") {
    let input = SpectralInput {
        f1_violet: f1,
        f2_indigo: f2,
        f3_blue: f3,
        f4_cyan: f4,
        f5_green: f5,
        f6_yellow: f6,
        f7_orange: f7,
        f8_red: f8,
        nir,
        clear,
        flicker,
    };
    let r = quality::spectral_analysis(&input);
    let q = &r.spectral_ratios;
    let m = &r.quality_metrics;
    let defects: Vec<String> = r.defects.iter().map(ToString::to_string).collect();
    let datums = (|| -> SensorResult<_> {
        Ok([
            d(r.quality_score),
            d(r.grade.as_str()),
            d(r.grade_label),
            d(i32::try_from(defects.len()).unwrap_or(i32::MAX)),
            json(&defects)?,
            d(q.violet_orange_ratio),
            d(q.nir_violet_ratio),
            d(q.discoloration_index),
            d(q.lipid_oxidation_index),
            d(q.freshness_meat_index),
            d(q.oil_oxidation_index),
            d(q.red_violet_ratio),
            d(q.green_red_ratio),
            d(q.yellow_blue_ratio),
            d(q.normalized_clear),
            d(m.freshness_index),
            d(m.fat_quality_index),
            d(m.color_uniformity),
            d(m.oxidation_index),
            d(m.overall_grade.as_str()),
            d(m.quality_score),
        ])
    })();
    datums
        .and_then(|datums| sensor_composite(c"spectral_report", datums))
        .or_raise()
}

fn grade_of(label: &str, argument: &str) -> SensorResult<Grade> {
    Grade::from_label(label).map_err(|e| {
        let e = SensorError::from(e);
        SensorError {
            message: format!("{argument}: {}", e.message),
            ..e
        }
    })
}

fn defect_count(count: Option<i32>, argument: &str) -> SensorResult<usize> {
    usize::try_from(count.unwrap_or(0))
        .map_err(|_| SensorError::invalid_parameter(format!("{argument} must not be negative")))
}

/// Fuses the ToF and spectral verdicts into a final score and grade (ToF weight 0.6 by
/// default). With a NULL spectral score the result is ToF-only. A ToF rejection rejects
/// the fused result; compliant = A+/A/B, downgraded = B/C, rejected = REJECT.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn quality_fusion(
    tof_score: Option<f64>,
    tof_grade: Option<&str>,
    tof_defect_count: Option<i32>,
    spectral_score: default!(Option<f64>, "NULL"),
    spectral_grade: default!(Option<&str>, "NULL"),
    spectral_defect_count: default!(Option<i32>, "NULL"),
    tof_weight: default!(Option<f64>, 0.6),
) -> Option<pgrx::composite_type!('static, "sensor.fusion_result")> {
    let (Some(tof_score), Some(tof_grade)) = (tof_score, tof_grade) else {
        return None;
    };
    fusion_result(
        tof_score,
        tof_grade,
        tof_defect_count,
        spectral_score,
        spectral_grade,
        spectral_defect_count,
        tof_weight,
    )
    .map(Some)
    .or_raise()
}

#[allow(clippy::too_many_arguments)]
fn fusion_result(
    tof_score: f64,
    tof_grade: &str,
    tof_defect_count: Option<i32>,
    spectral_score: Option<f64>,
    spectral_grade: Option<&str>,
    spectral_defect_count: Option<i32>,
    tof_weight: Option<f64>,
) -> SensorResult<pgrx::heap_tuple::PgHeapTuple<'static, pgrx::AllocatedByRust>> {
    let tof = FusionSensorInput {
        score: tof_score,
        grade: grade_of(tof_grade, "tof_grade")?,
        defect_count: defect_count(tof_defect_count, "tof_defect_count")?,
    };
    let spectral = match spectral_score {
        None => None,
        Some(score) => {
            let grade = spectral_grade.ok_or_else(|| {
                SensorError::invalid_parameter("spectral_grade must be given with spectral_score")
                    .with_hint("Pass spectral_score => NULL for a ToF-only verdict.")
            })?;
            Some(FusionSensorInput {
                score,
                grade: grade_of(grade, "spectral_grade")?,
                defect_count: defect_count(spectral_defect_count, "spectral_defect_count")?,
            })
        }
    };
    let weight = tof_weight.unwrap_or(quality::DEFAULT_TOF_WEIGHT);
    let r = quality::fuse(&tof, spectral.as_ref(), weight)?;
    sensor_composite(
        c"fusion_result",
        [
            d(r.final_score),
            d(r.final_grade.as_str()),
            d(r.final_grade_label),
            d(r.global_quality_score_100),
            d(r.is_compliant),
            d(r.is_downgraded),
            d(r.is_rejected),
            d(r.num_defects),
            d(r.fusion_mode.as_str()),
            d(r.tof_score),
            d(r.spectral_score),
            d(r.tof_contribution),
            d(r.spectral_contribution),
        ],
    )
}

/// The score-to-grade thresholds alone: ≥0.85 A+, ≥0.75 A, ≥0.60 B, ≥0.45 C, else REJECT.
#[pg_extern(immutable, parallel_safe, strict)]
fn quality_grade(score: f64) -> &'static str {
    quality::quality_grade(score).as_str()
}

pgrx::extension_sql_file!(
    "../sql/quality.sql",
    name = "quality",
    requires = [
        tof_analysis,
        spectral_analysis,
        quality_fusion,
        quality_grade
    ]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // Kept in its own file; #[pg_schema] needs the module inline.
    include!("fusion_tests.rs");
}
