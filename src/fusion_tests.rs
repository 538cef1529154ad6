// `#[pg_test]`s of the quality scoring functions.

use crate::tests::assert_sqlstate;
use pgrx::prelude::*;

const FLAT: &str = "array_fill(60::float8, ARRAY[8,8])";

#[pg_test]
fn tof_analysis_of_a_flat_frame() {
    let (score, grade, defects) = Spi::get_three::<f64, String, i32>(&format!(
        "SELECT quality_score, grade, defect_count FROM sensor.tof_analysis({FLAT}, array_fill(50::float8, ARRAY[8,8]), array_fill(100::float8, ARRAY[64]))"
    ))
    .unwrap();
    let score = score.unwrap();
    assert!((0.0..=1.0).contains(&score), "{score}");
    assert_eq!(defects, Some(0));
    assert!(
        matches!(grade.as_deref(), Some("A" | "B" | "C" | "REJECT")),
        "{grade:?}"
    );
}

#[pg_test]
fn wrong_shapes_name_the_array_and_the_shape() {
    let err = Spi::get_one::<String>(&format!(
        "SELECT tests.error_fields_of($$SELECT sensor.tof_analysis({FLAT}, array_fill(1::float8, ARRAY[4,16]), {FLAT})$$)"
    ))
    .unwrap()
    .unwrap();
    assert_eq!(
        err,
        "22023|reflectance must be an 8×8 array (or 64 values), got 4×16||"
    );
    let err = Spi::get_one::<String>(&format!(
        "SELECT tests.error_fields_of($$SELECT sensor.tof_analysis({FLAT}, {FLAT}, {FLAT}, histograms => array_fill(1::float8, ARRAY[8,7,3]))$$)"
    ))
    .unwrap()
    .unwrap();
    assert_eq!(
        err,
        "22023|histograms must be an 8×8×n array (or 64×n), n ≥ 1 bins, got 8×7×3||"
    );
    assert_sqlstate(&format!(
            "SELECT sensor.tof_analysis({FLAT}, ARRAY[1,NULL]::float8[], {FLAT})"
        ), "22023");
    assert_sqlstate(&format!(
            "SELECT sensor.tof_analysis({FLAT}, {FLAT}, {FLAT}, params => '{{\"nope\": 1}}')"
        ), "22023");
}

#[pg_test]
fn fusion_applies_both_bug_fixes() {
    // A ToF rejection rejects the fusion even with a perfect spectral score.
    let (grade, rejected) = Spi::get_two::<String, bool>(
        "SELECT final_grade, rejected FROM sensor.quality_fusion(0.9, 'REJET - Qualité insuffisante', 1, 1.0, 'A+', 0)",
    )
    .unwrap();
    assert_eq!(grade.as_deref(), Some("REJECT"));
    assert_eq!(rejected, Some(true));
    // A fused C is downgraded, not compliant.
    let (grade, compliant, downgraded) = Spi::get_three::<String, bool, bool>(
        "SELECT final_grade, compliant, downgraded FROM sensor.quality_fusion(0.5, 'C', 0, 0.5, 'C', 0)",
    )
    .unwrap();
    assert_eq!(grade.as_deref(), Some("C"));
    assert_eq!((compliant, downgraded), (Some(false), Some(true)));
}

#[pg_test]
fn fusion_without_spectral_is_tof_only_and_null_tof_is_null() {
    let mode =
        Spi::get_one::<String>("SELECT fusion_mode FROM sensor.quality_fusion(0.8, 'A', 0)")
            .unwrap();
    assert_eq!(mode.as_deref(), Some("ToF only"));
    let null =
        Spi::get_one::<bool>("SELECT sensor.quality_fusion(NULL, 'A', 0) IS NULL").unwrap();
    assert_eq!(null, Some(true));
    assert_sqlstate("SELECT sensor.quality_fusion(0.8, 'Z', 0)", "22P02");
    assert_sqlstate("SELECT sensor.quality_fusion(1.8, 'A', 0)", "22023");
    assert_sqlstate("SELECT sensor.quality_fusion(0.8, 'A', 0, 0.5)", "22023");
}

#[pg_test]
fn functions_work_with_the_continuous_aggregate_search_path() {
    Spi::run("SET LOCAL search_path = pg_catalog, pg_temp").unwrap();
    let grade = Spi::get_one::<String>(
        "SELECT (sensor.quality_fusion(sensor.tof_analysis(array_fill(60::float8, ARRAY[8,8]), array_fill(50::float8, ARRAY[8,8]), array_fill(100::float8, ARRAY[8,8])), sensor.spectral_analysis(f1 => 100, f7 => 300))).final_grade",
    )
    .unwrap();
    assert!(grade.is_some());
    assert_eq!(
        Spi::get_one::<String>("SELECT sensor.quality_grade(0.85)")
            .unwrap()
            .as_deref(),
        Some("A+")
    );
}
