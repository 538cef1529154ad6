-- Foie gras quality scoring: the composite overload of quality_fusion, and documentation.

CREATE FUNCTION sensor.quality_fusion(
    tof sensor.tof_report,
    spectral sensor.spectral_report,
    tof_weight float8 DEFAULT 0.6
) RETURNS sensor.fusion_result
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Schema-qualified throughout: it also runs inside continuous-aggregate refreshes.
RETURN sensor.quality_fusion(
    (tof).quality_score, (tof).grade, (tof).defect_count,
    (spectral).quality_score, (spectral).grade, (spectral).defect_count,
    tof_weight);

COMMENT ON TYPE sensor.tof_report IS
    'Result of sensor.tof_analysis: score, grade (A+/A/B/C/REJECT, plus the original French label), defects as jsonb, and every scalar of the VL53L8CH report.';
COMMENT ON TYPE sensor.spectral_report IS
    'Result of sensor.spectral_analysis: score, grade, defects as jsonb, band ratios and quality indices of the AS7341 spectrum.';
COMMENT ON TYPE sensor.fusion_result IS
    'Result of sensor.quality_fusion: final score and grade, score out of 100, and the compliant / downgraded / rejected flags.';

COMMENT ON FUNCTION sensor.tof_analysis(float8[], float8[], float8[], float8[], float8, float8, jsonb) IS
    'Scores one VL53L8CH time-of-flight frame: distance_mm, reflectance and amplitude are 8×8 (or 64 values), histograms 8×8×n. params (jsonb) overrides analyzer parameters. NULL matrices give NULL; a wrong shape is error 22023.';
COMMENT ON FUNCTION sensor.spectral_analysis(float8, float8, float8, float8, float8, float8, float8, float8, float8, float8, float8) IS
    'Scores one AS7341 spectrum given as named channels f1..f8, nir, clear, flicker (missing channels NULL): ratios, indices, defects, score and grade.';
COMMENT ON FUNCTION sensor.quality_fusion(float8, text, integer, float8, text, integer, float8) IS
    'Fuses ToF and spectral verdicts (ToF weight 0.6 by default; ToF-only when spectral_score is NULL). A ToF rejection forces REJECT; compliant = A+/A/B, downgraded = B/C, rejected = REJECT. Grades accept A+/A/B/C/REJECT or the ToF French labels.';
COMMENT ON FUNCTION sensor.quality_fusion(sensor.tof_report, sensor.spectral_report, float8) IS
    'quality_fusion over the reports of tof_analysis and spectral_analysis (spectral NULL = ToF only).';
COMMENT ON FUNCTION sensor.quality_grade(float8) IS
    'The score-to-grade thresholds alone: >= 0.85 A+, >= 0.75 A, >= 0.60 B, >= 0.45 C, else REJECT.';
