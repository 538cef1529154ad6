"""Every reference vector of fixtures/sqal, through the SQL functions.

Numbers must match to |a-b| <= 1e-9*max(1,|b|). The fusion cases assert our two
corrected grading rules where the reference's bugs show (see crates/quality docs):
  1. a ToF rejection forces the fused grade to REJECT;
  2. compliant = A+/A/B, downgraded = B/C, rejected = REJECT.
"""
import json
import math

import pytest
from psycopg.types.json import Jsonb

from conftest import close

SPECTRAL_ARGS = {
    "F1_violet": "f1", "F2_indigo": "f2", "F3_blue": "f3", "F4_cyan": "f4",
    "F5_green": "f5", "F6_yellow": "f6", "F7_orange": "f7", "F8_red": "f8",
    "NIR": "nir", "Clear": "clear", "Flicker": "flicker",
}
GRADE_OF_LABEL = {
    "Grade A - Excellente qualité": "A", "Grade B - Bonne qualité": "B",
    "Grade C - Qualité acceptable": "C", "REJET - Qualité insuffisante": "REJECT",
}


def load(shared_fixtures, name):
    with open(shared_fixtures / "sqal" / name, encoding="utf-8") as f:
        cases = json.load(f)
    assert len(cases) == 200, name
    return cases


def same(ours, expected, where):
    """Deep comparison with the vectors' tolerance; NaN equals NaN."""
    if isinstance(expected, dict):
        assert isinstance(ours, dict), where
        assert sorted(ours) == sorted(expected), where
        for k in expected:
            same(ours[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(ours, list) and len(ours) == len(expected), where
        for i, (a, b) in enumerate(zip(ours, expected)):
            same(a, b, f"{where}[{i}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert ours == expected, f"{where}: {ours!r} != {expected!r}"
    else:
        if isinstance(ours, str) and ours in ("NaN", "Infinity", "-Infinity"):
            ours = float(ours)  # jsonb spells non-finite float8 values as strings
        if isinstance(expected, float) and math.isnan(expected):
            assert isinstance(ours, float) and math.isnan(ours), where
        else:
            assert close(float(ours), float(expected)), f"{where}: {ours!r} != {expected!r}"


def tof_row(db, tof):
    meta = tof["meta"]
    return db.execute(
        """SELECT to_jsonb(r) FROM sensor.tof_analysis(
               %s::float8[], %s::float8[], %s::float8[], histograms => %s::float8[],
               sensor_height_mm => %s, zone_size_mm => %s, params => %s) AS r""",
        (tof["distance_matrix"], tof["reflectance_matrix"], tof["amplitude_matrix"],
         tof["bins_matrix"], meta["height_sensor_mm"], meta["zone_size_mm"],
         Jsonb(tof["analyzer_params"])),
    ).fetchone()[0]


def spectral_row(db, spectral):
    counts = spectral["raw_counts"]
    args = ", ".join(f"{SPECTRAL_ARGS[k]} => %s::float8" for k in counts)
    return db.execute(
        f"SELECT to_jsonb(r) FROM sensor.spectral_analysis({args}) AS r", list(counts.values())
    ).fetchone()[0]


def check_tof(ours, exp, where):
    stats = {k: v for k, v in exp["stats"].items() if k not in ("volume_simpson_mm3", "volume_spline_mm3")}
    for k, v in stats.items():
        same(ours[k], v, f"{where}.stats.{k}")
    refl = exp["reflectance_analysis"]
    for k in ("mean_reflectance_pct", "std_reflectance_pct", "low_reflectance_fraction", "high_reflectance_fraction"):
        same(ours[k], refl[k], f"{where}.{k}")
    same(ours["local_variations"], refl["local_variations"], f"{where}.local_variations")
    for k, v in exp["amplitude_consistency"].items():
        same(ours[k], v, f"{where}.{k}")
    for k, v in exp["score_breakdown"].items():
        same(ours["consistency_score" if k == "consistency_ok" else k], v, f"{where}.breakdown.{k}")
    same(ours["quality_score"], exp["quality_score"], f"{where}.quality_score")
    assert ours["grade_label"] == exp["grade"], where
    assert ours["grade"] == GRADE_OF_LABEL[exp["grade"]], where
    same(ours["defects"], exp["defects"], f"{where}.defects")
    assert ours["defect_count"] == len(exp["defects"]), where
    same(ours["bins_analysis"], exp["bins_analysis"], f"{where}.bins_analysis")


def check_spectral(ours, exp, where):
    """Checks what the vector records (fusion vectors keep only score, grade and defects)."""
    for k, v in exp.get("spectral_ratios", {}).items():
        same(ours[k], v, f"{where}.{k}")
    if "quality_metrics" in exp:
        metrics = exp["quality_metrics"]
        for k in ("freshness_index", "fat_quality_index", "color_uniformity", "oxidation_index"):
            same(ours[k], metrics[k], f"{where}.{k}")
        assert ours["preliminary_grade"] == metrics["overall_grade"], where
        same(ours["preliminary_score"], metrics["quality_score"], f"{where}.preliminary_score")
    assert ours["grade"] == exp["grade"], where
    same(ours["quality_score"], exp["quality_score"], f"{where}.quality_score")
    assert ours["defects"] == exp["defects"], where
    assert ours["defect_count"] == len(exp["defects"]), where


def test_tof_cases(db, shared_fixtures):
    for case in load(shared_fixtures, "tof_cases.json"):
        check_tof(tof_row(db, case["input"]), case["expected"], case["id"])


def test_spectral_cases(db, shared_fixtures):
    for case in load(shared_fixtures, "spectral_cases.json"):
        check_spectral(spectral_row(db, case["input"]), case["expected"], case["id"])


def test_fusion_cases_with_corrected_grading(db, shared_fixtures):
    corrected_rejections = corrected_flags = 0
    for case in load(shared_fixtures, "fusion_cases.json"):
        cid, inp, exp = case["id"], case["input"], case["expected"]
        efus = exp["fusion"]
        tof = tof_row(db, inp["tof"])
        same(tof["quality_score"], exp["tof"]["quality_score"], f"{cid}.tof.score")
        assert tof["grade_label"] == exp["tof"]["grade"], cid
        assert tof["defect_count"] == exp["tof"]["num_defects"], cid
        spectral = spectral_row(db, inp["spectral"]) if inp["spectral"] is not None else None
        if spectral is not None:
            check_spectral(spectral, exp["spectral"], f"{cid}.spectral")

        # Quality-profile blending is a simulator artifact: use the reference's ToF score.
        tof_score = tof["quality_score"]
        if inp.get("quality_profile") is not None:
            tof_score = efus.get("tof_score", efus["final_score"])
        args = (tof_score, tof["grade"], tof["defect_count"],
                spectral and spectral["quality_score"], spectral and spectral["grade"],
                spectral and spectral["defect_count"])
        ours = db.execute(
            "SELECT to_jsonb(r) FROM sensor.quality_fusion(%s, %s, %s, %s, %s, %s) AS r", args
        ).fetchone()[0]

        ref_grade = efus["final_grade"]
        same(ours["final_score"], efus["final_score"], f"{cid}.final_score")
        same(ours["tof_contribution"], efus["tof_contribution"], cid)
        same(ours["spectral_contribution"], efus["spectral_contribution"], cid)
        assert ours["num_defects"] == efus.get("num_defects", len(efus["combined_defects"])), cid
        assert ours["fusion_mode"] == efus["fusion_mode"], cid
        same(ours["score_100"], 100 * efus["final_score"], cid)
        if spectral is None:
            # ToF only: the ToF verdict passes through under its own label.
            assert ours["final_grade_label"] == ref_grade, cid
            assert ours["final_grade"] == GRADE_OF_LABEL[ref_grade], cid
            expected_grade = ours["final_grade"]
        else:
            # Fix 1: the reference never sees "REJET - ..." as a rejection.
            if tof["grade"] == "REJECT" and ref_grade != "REJECT":
                expected_grade = "REJECT"
                corrected_rejections += 1
            else:
                expected_grade = ref_grade
            assert ours["final_grade"] == expected_grade, f"{cid}: {ours['final_grade']} != {expected_grade}"
            assert ours["final_grade_label"] == expected_grade, cid
            same(ours["spectral_score"], efus["spectral_score"], cid)
        # Fix 2: flags from the normalised grade.
        flags = efus.get("foie_gras_metrics")  # the reference has no flags in ToF-only mode
        want = (expected_grade in ("A+", "A", "B"), expected_grade in ("B", "C"), expected_grade == "REJECT")
        got = (ours["compliant"], ours["downgraded"], ours["rejected"])
        assert got == want, f"{cid}: {got} != {want}"
        if flags is not None:
            same(ours["score_100"], flags["global_quality_score_100"], cid)
        if flags is not None and want != (flags["is_compliant"], flags["is_downgraded"], flags["is_rejected"]):
            corrected_flags += 1

        # The composite overload agrees (without a profile, where the ToF score is our own).
        if inp.get("quality_profile") is None:
            spectral_sql = ("jsonb_populate_record(NULL::sensor.spectral_report, %s)"
                            if spectral is not None else "NULL::sensor.spectral_report")
            params = (Jsonb(tof),) + ((Jsonb(spectral),) if spectral is not None else ())
            via_reports = db.execute(
                "SELECT to_jsonb(sensor.quality_fusion("
                f"jsonb_populate_record(NULL::sensor.tof_report, %s), {spectral_sql}))",
                params,
            ).fetchone()[0]
            assert via_reports == ours, cid
    # The vectors exercise both bugs; if these drop to zero the test proves nothing.
    assert corrected_rejections > 0 and corrected_flags > 0, (corrected_rejections, corrected_flags)


def test_grade_thresholds(db):
    rows = db.execute(
        "SELECT s, sensor.quality_grade(s) FROM unnest(ARRAY[0.85, 0.8499, 0.75, 0.6, 0.45, 0.4499, 0, 1]::float8[]) s"
    ).fetchall()
    assert [g for _, g in rows] == ["A+", "A", "A", "B", "C", "REJECT", "REJECT", "A+"]


@pytest.mark.parametrize("array,shape", [("array_fill(1::float8, ARRAY[63])", "63"), ("array_fill(1::float8, ARRAY[8,9])", "8×9")])
def test_shape_errors_name_the_array(db, array, shape):
    flat = "array_fill(60::float8, ARRAY[8,8])"
    with pytest.raises(Exception) as err:
        db.execute(f"SELECT sensor.tof_analysis({flat}, {flat}, {array})")
    assert err.value.sqlstate == "22023"
    assert str(err.value).startswith(f"amplitude must be an 8×8 array (or 64 values), got {shape}")
