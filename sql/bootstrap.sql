-- Types that SQL functions return; created first, before the functions that use them.

-- Foie gras quality (src/fusion.rs builds these attribute lists in this order).
CREATE TYPE sensor.tof_report AS (
    quality_score              float8,
    grade                      text,
    grade_label                text,
    defect_count               integer,
    defects                    jsonb,
    critical_foreign_body      boolean,
    volume_mm3                 float8,
    volume_trapezoidal_mm3     float8,
    average_height_mm          float8,
    max_height_mm              float8,
    min_height_mm              float8,
    height_range_mm            float8,
    height_variation_mm        float8,
    occupied_pixels            integer,
    base_area_mm2              float8,
    surface_uniformity         float8,
    mean_reflectance_pct       float8,
    std_reflectance_pct        float8,
    low_reflectance_fraction   float8,
    high_reflectance_fraction  float8,
    local_variations           jsonb,
    mean_amplitude             float8,
    std_amplitude              float8,
    outlier_fraction           float8,
    consistency_ok             boolean,
    vol_score                  float8,
    texture_score              float8,
    density_score              float8,
    mean_signal_quality        float8,
    reflectance_penalty        float8,
    consistency_score          float8,
    defect_penalty             float8,
    defect_penalty_weight      float8,
    effective_defect_penalty   float8,
    bins_analysis              jsonb
);

CREATE TYPE sensor.spectral_report AS (
    quality_score          float8,
    grade                  text,
    grade_label            text,
    defect_count           integer,
    defects                jsonb,
    violet_orange_ratio    float8,
    nir_violet_ratio       float8,
    discoloration_index    float8,
    lipid_oxidation_index  float8,
    freshness_meat_index   float8,
    oil_oxidation_index    float8,
    red_violet_ratio       float8,
    green_red_ratio        float8,
    yellow_blue_ratio      float8,
    normalized_clear       float8,
    freshness_index        float8,
    fat_quality_index      float8,
    color_uniformity       float8,
    oxidation_index        float8,
    preliminary_grade      text,
    preliminary_score      float8
);

CREATE TYPE sensor.fusion_result AS (
    final_score            float8,
    final_grade            text,
    final_grade_label      text,
    score_100              float8,
    compliant              boolean,
    downgraded             boolean,
    rejected               boolean,
    num_defects            integer,
    fusion_mode            text,
    tof_score              float8,
    spectral_score         float8,
    tof_contribution       float8,
    spectral_contribution  float8
);

-- Equipment availability: the aggregate state, in the availability crate's versioned
-- binary encoding (size proportional to state changes). Text form: bytea hex.
CREATE DOMAIN sensor.availability_state AS bytea;
-- Energy over a period: the energy crate's versioned encoding (size proportional to the
-- runs of time-ordered rows, one for a finished state).
CREATE DOMAIN sensor.energy_state AS bytea;
-- Downsampling (src/downsample/aggregates.rs builds these attribute lists in this order).
CREATE TYPE sensor.timevector AS (
    time   timestamptz[],
    value  float8[]
);

CREATE TYPE sensor.m4 AS (
    first_time   timestamptz,
    first_value  float8,
    min_time     timestamptz,
    min_value    float8,
    max_time     timestamptz,
    max_value    float8,
    last_time    timestamptz,
    last_value   float8,
    count        bigint,
    sum          float8
);
