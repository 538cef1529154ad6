//! AS7341 spectral analysis (spec §2).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::grade::grade_by_steps;
use crate::numpy_reductions::py_max;
use crate::{quality_grade, Grade};

/// An AS7341 channel, in the order of the reference's `raw_counts` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpectralChannel {
    /// 415 nm, `F1_violet`.
    F1Violet,
    /// 445 nm, `F2_indigo`.
    F2Indigo,
    /// 480 nm, `F3_blue`.
    F3Blue,
    /// 515 nm, `F4_cyan`.
    F4Cyan,
    /// 555 nm, `F5_green`.
    F5Green,
    /// 590 nm, `F6_yellow`.
    F6Yellow,
    /// 630 nm, `F7_orange`.
    F7Orange,
    /// 680 nm, `F8_red`.
    F8Red,
    /// 910 nm, `NIR`.
    Nir,
    /// Unfiltered, `Clear`.
    Clear,
    /// Flicker detection, `Flicker` (ignored by every rule).
    Flicker,
}

impl SpectralChannel {
    /// All channels in `raw_counts` key order.
    pub const ALL: [SpectralChannel; 11] = [
        SpectralChannel::F1Violet,
        SpectralChannel::F2Indigo,
        SpectralChannel::F3Blue,
        SpectralChannel::F4Cyan,
        SpectralChannel::F5Green,
        SpectralChannel::F6Yellow,
        SpectralChannel::F7Orange,
        SpectralChannel::F8Red,
        SpectralChannel::Nir,
        SpectralChannel::Clear,
        SpectralChannel::Flicker,
    ];

    /// The reference's `raw_counts` key, e.g. `F1_violet`.
    pub const fn key(self) -> &'static str {
        match self {
            SpectralChannel::F1Violet => "F1_violet",
            SpectralChannel::F2Indigo => "F2_indigo",
            SpectralChannel::F3Blue => "F3_blue",
            SpectralChannel::F4Cyan => "F4_cyan",
            SpectralChannel::F5Green => "F5_green",
            SpectralChannel::F6Yellow => "F6_yellow",
            SpectralChannel::F7Orange => "F7_orange",
            SpectralChannel::F8Red => "F8_red",
            SpectralChannel::Nir => "NIR",
            SpectralChannel::Clear => "Clear",
            SpectralChannel::Flicker => "Flicker",
        }
    }

    /// Channel for a `raw_counts` key.
    pub fn from_key(key: &str) -> Option<SpectralChannel> {
        SpectralChannel::ALL.into_iter().find(|c| c.key() == key)
    }
}

/// One AS7341 reading: raw counts per channel, `None` when the channel is
/// missing. Any `f64` is accepted, NaN and infinities included, with the
/// reference's Python semantics (a NaN channel yields NaN ratios, scores 0.3
/// in every band it enters and triggers no defect).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpectralInput {
    /// `F1_violet` counts.
    pub f1_violet: Option<f64>,
    /// `F2_indigo` counts.
    pub f2_indigo: Option<f64>,
    /// `F3_blue` counts.
    pub f3_blue: Option<f64>,
    /// `F4_cyan` counts.
    pub f4_cyan: Option<f64>,
    /// `F5_green` counts.
    pub f5_green: Option<f64>,
    /// `F6_yellow` counts.
    pub f6_yellow: Option<f64>,
    /// `F7_orange` counts.
    pub f7_orange: Option<f64>,
    /// `F8_red` counts.
    pub f8_red: Option<f64>,
    /// `NIR` counts.
    pub nir: Option<f64>,
    /// `Clear` counts.
    pub clear: Option<f64>,
    /// `Flicker` counts (unused).
    pub flicker: Option<f64>,
}

impl SpectralInput {
    /// The value of `channel`, if present.
    pub fn get(&self, channel: SpectralChannel) -> Option<f64> {
        match channel {
            SpectralChannel::F1Violet => self.f1_violet,
            SpectralChannel::F2Indigo => self.f2_indigo,
            SpectralChannel::F3Blue => self.f3_blue,
            SpectralChannel::F4Cyan => self.f4_cyan,
            SpectralChannel::F5Green => self.f5_green,
            SpectralChannel::F6Yellow => self.f6_yellow,
            SpectralChannel::F7Orange => self.f7_orange,
            SpectralChannel::F8Red => self.f8_red,
            SpectralChannel::Nir => self.nir,
            SpectralChannel::Clear => self.clear,
            SpectralChannel::Flicker => self.flicker,
        }
    }

    /// Sets the value of `channel`.
    pub fn set(&mut self, channel: SpectralChannel, value: Option<f64>) {
        let slot = match channel {
            SpectralChannel::F1Violet => &mut self.f1_violet,
            SpectralChannel::F2Indigo => &mut self.f2_indigo,
            SpectralChannel::F3Blue => &mut self.f3_blue,
            SpectralChannel::F4Cyan => &mut self.f4_cyan,
            SpectralChannel::F5Green => &mut self.f5_green,
            SpectralChannel::F6Yellow => &mut self.f6_yellow,
            SpectralChannel::F7Orange => &mut self.f7_orange,
            SpectralChannel::F8Red => &mut self.f8_red,
            SpectralChannel::Nir => &mut self.nir,
            SpectralChannel::Clear => &mut self.clear,
            SpectralChannel::Flicker => &mut self.flicker,
        };
        *slot = value;
    }

    /// `max(value, 1)` with Python semantics; a missing channel counts as 1.
    fn ratio_operand(&self, channel: SpectralChannel) -> f64 {
        py_max(self.get(channel).unwrap_or(1.0), 1.0)
    }
}

/// Spectral ratios (`spectral_ratios`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpectralRatios {
    /// F1/F7.
    pub violet_orange_ratio: f64,
    /// NIR/F1.
    pub nir_violet_ratio: f64,
    /// (F5+F6)/(F1+F2).
    pub discoloration_index: f64,
    /// (F7+F8)/F4.
    pub lipid_oxidation_index: f64,
    /// (F1+F2)/(F7+F8).
    pub freshness_meat_index: f64,
    /// (F1+F3)/(F5+F6).
    pub oil_oxidation_index: f64,
    /// F8/F1.
    pub red_violet_ratio: f64,
    /// F5/F8.
    pub green_red_ratio: f64,
    /// F6/F3.
    pub yellow_blue_ratio: f64,
    /// Clear/65535.
    pub normalized_clear: f64,
}

/// Quality indices before defect penalties (`quality_metrics`; the
/// reference's always-empty `defects_detected` is omitted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpectralQualityMetrics {
    /// `0.6·b(vor) + 0.4·b(fmi)`.
    pub freshness_index: f64,
    /// `0.6·b(loi) + 0.4·b(ooi)`.
    pub fat_quality_index: f64,
    /// `b(discol)`.
    pub color_uniformity: f64,
    /// `1 − fat_quality_index`.
    pub oxidation_index: f64,
    /// Preliminary grade of the base score (`≥ 0.85` A+, `≥ 0.75` A,
    /// `≥ 0.65` B, `≥ 0.50` C, else REJECT).
    pub overall_grade: Grade,
    /// Base score before defect penalties.
    pub quality_score: f64,
}

/// Which ratio a ratio defect concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpectralRatioKind {
    /// Violet/orange.
    VioletOrange,
    /// NIR/violet.
    NirViolet,
    /// Discoloration index.
    Discoloration,
    /// Lipid oxidation index.
    LipidOxidation,
    /// Freshness (meat) index.
    FreshnessMeat,
    /// Oil oxidation index.
    OilOxidation,
}

/// A spectral defect; serialised (and displayed) as the reference's French
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpectralDefect {
    /// The ratio is below its acceptable band.
    RatioLow(SpectralRatioKind),
    /// The ratio is above its acceptable band.
    RatioHigh(SpectralRatioKind),
    /// A channel (not Flicker) reads ≥ 65500: `Saturation canal <key>`.
    Saturation(SpectralChannel),
    /// A channel (not Flicker) reads < 10: `Signal trop faible <key>`.
    WeakSignal(SpectralChannel),
}

impl SpectralDefect {
    /// Whether this defect makes a low score a rejection (the reference's
    /// only reachable "critical" spectral defect is saturation).
    pub const fn is_critical(self) -> bool {
        matches!(self, SpectralDefect::Saturation(_))
    }
}

impl fmt::Display for SpectralDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SpectralRatioKind as R;
        let text = match self {
            SpectralDefect::RatioLow(R::VioletOrange) => {
                "Ratio Violet/Orange anormalement bas (< 0.20)"
            }
            SpectralDefect::RatioHigh(R::VioletOrange) => {
                "Oxydation lipidique excessive (Violet/Orange > 0.55)"
            }
            SpectralDefect::RatioLow(R::NirViolet) => "Structure inhomogène (NIR/Violet < 1.0)",
            SpectralDefect::RatioHigh(R::NirViolet) => "Anomalie structurelle (NIR/Violet > 2.0)",
            SpectralDefect::RatioLow(R::Discoloration) => "Indice décoloration anormal (< 1.1)",
            SpectralDefect::RatioHigh(R::Discoloration) => {
                "Jaunissement excessif (décoloration > 2.0)"
            }
            SpectralDefect::RatioLow(R::LipidOxidation) => "Indice oxydation lipidique bas (< 0.7)",
            SpectralDefect::RatioHigh(R::LipidOxidation) => {
                "Oxydation acides gras élevée (TBARS > 1.4)"
            }
            SpectralDefect::RatioLow(R::FreshnessMeat) => {
                "Dégradation pigments hémiques (freshness < 0.25)"
            }
            SpectralDefect::RatioHigh(R::FreshnessMeat) => "Indice fraîcheur anormal (> 0.75)",
            SpectralDefect::RatioLow(R::OilOxidation) => "Indice oxydation huile bas (< 0.4)",
            SpectralDefect::RatioHigh(R::OilOxidation) => "Oxydation graisses excessive (> 0.9)",
            SpectralDefect::Saturation(c) => return write!(f, "Saturation canal {}", c.key()),
            SpectralDefect::WeakSignal(c) => return write!(f, "Signal trop faible {}", c.key()),
        };
        f.write_str(text)
    }
}

impl Serialize for SpectralDefect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Full spectral report, mirroring the reference's keys (`quality_js` is not
/// reproduced).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpectralReport {
    /// Ratios.
    pub spectral_ratios: SpectralRatios,
    /// Indices and base score.
    pub quality_metrics: SpectralQualityMetrics,
    /// Final grade.
    pub grade: Grade,
    /// The reference's label (identical to the normalised name for spectral).
    pub grade_label: &'static str,
    /// `max(0, base − min(0.1·#defects, 0.5))`, in [0, 1].
    pub quality_score: f64,
    /// Defects in the spec's order.
    pub defects: Vec<SpectralDefect>,
}

/// An acceptable band with an optimal core: `(omin, omax, amin, amax)`.
#[derive(Clone, Copy)]
struct Band {
    kind: SpectralRatioKind,
    optimal_min: f64,
    optimal_max: f64,
    acceptable_min: f64,
    acceptable_max: f64,
}

impl Band {
    /// 1 in the optimal core, 0.7..1 linearly across the acceptable margin,
    /// 0.3 outside (and for NaN).
    fn score(&self, x: f64) -> f64 {
        if self.optimal_min <= x && x <= self.optimal_max {
            1.0
        } else if self.acceptable_min <= x && x <= self.acceptable_max {
            let (dist, max_dist) = if x < self.optimal_min {
                (self.optimal_min - x, self.optimal_min - self.acceptable_min)
            } else {
                (x - self.optimal_max, self.acceptable_max - self.optimal_max)
            };
            0.7 + 0.3 * (1.0 - dist / max_dist)
        } else {
            0.3
        }
    }

    fn defect(&self, x: f64) -> Option<SpectralDefect> {
        if x < self.acceptable_min {
            Some(SpectralDefect::RatioLow(self.kind))
        } else if x > self.acceptable_max {
            Some(SpectralDefect::RatioHigh(self.kind))
        } else {
            None
        }
    }
}

const fn band(kind: SpectralRatioKind, omin: f64, omax: f64, amin: f64, amax: f64) -> Band {
    Band {
        kind,
        optimal_min: omin,
        optimal_max: omax,
        acceptable_min: amin,
        acceptable_max: amax,
    }
}

const VOR: Band = band(SpectralRatioKind::VioletOrange, 0.25, 0.45, 0.20, 0.55);
const FMI: Band = band(SpectralRatioKind::FreshnessMeat, 0.35, 0.65, 0.25, 0.75);
const LOI: Band = band(SpectralRatioKind::LipidOxidation, 0.8, 1.2, 0.7, 1.4);
const OOI: Band = band(SpectralRatioKind::OilOxidation, 0.5, 0.8, 0.4, 0.9);
const DISCOL: Band = band(SpectralRatioKind::Discoloration, 1.3, 1.7, 1.1, 2.0);
const NVR: Band = band(SpectralRatioKind::NirViolet, 1.2, 1.8, 1.0, 2.0);

/// Counts at or above this are saturated.
const SATURATION_COUNTS: f64 = 65500.0;
/// Counts below this are too weak.
const WEAK_COUNTS: f64 = 10.0;

/// Computes the ratios of spec §2.
pub fn spectral_ratios(input: &SpectralInput) -> SpectralRatios {
    use SpectralChannel as C;
    let c = |ch| input.ratio_operand(ch);
    let (f1, f2, f3, f4) = (c(C::F1Violet), c(C::F2Indigo), c(C::F3Blue), c(C::F4Cyan));
    let (f5, f6, f7, f8) = (c(C::F5Green), c(C::F6Yellow), c(C::F7Orange), c(C::F8Red));
    let (nir, clear) = (c(C::Nir), c(C::Clear));
    SpectralRatios {
        violet_orange_ratio: f1 / f7,
        nir_violet_ratio: nir / f1,
        discoloration_index: (f5 + f6) / (f1 + f2),
        lipid_oxidation_index: (f7 + f8) / f4,
        freshness_meat_index: (f1 + f2) / (f7 + f8),
        oil_oxidation_index: (f1 + f3) / (f5 + f6),
        red_violet_ratio: f8 / f1,
        green_red_ratio: f5 / f8,
        yellow_blue_ratio: f6 / f3,
        normalized_clear: clear / 65535.0,
    }
}

/// Preliminary grade of the base score.
fn preliminary_grade(score: f64) -> Grade {
    grade_by_steps(
        score,
        &[
            (0.85, Grade::APlus),
            (0.75, Grade::A),
            (0.65, Grade::B),
            (0.50, Grade::C),
        ],
    )
}

/// Analyses one AS7341 reading (spec §2). Never fails.
///
/// Channel-level defects follow the fixed channel order F1..F8, NIR, Clear
/// (the reference follows its dict's key order, which is this order for every
/// reading the simulator produces).
pub fn spectral_analysis(input: &SpectralInput) -> SpectralReport {
    let ratios = spectral_ratios(input);

    let freshness =
        0.6 * VOR.score(ratios.violet_orange_ratio) + 0.4 * FMI.score(ratios.freshness_meat_index);
    let fat_quality =
        0.6 * LOI.score(ratios.lipid_oxidation_index) + 0.4 * OOI.score(ratios.oil_oxidation_index);
    let color_uniformity = DISCOL.score(ratios.discoloration_index);
    let oxidation = 1.0 - fat_quality;
    let base =
        freshness * 0.35 + fat_quality * 0.30 + color_uniformity * 0.20 + (1.0 - oxidation) * 0.15;

    let mut defects = Vec::new();
    for (b, x) in [
        (VOR, ratios.violet_orange_ratio),
        (NVR, ratios.nir_violet_ratio),
        (DISCOL, ratios.discoloration_index),
        (LOI, ratios.lipid_oxidation_index),
        (FMI, ratios.freshness_meat_index),
        (OOI, ratios.oil_oxidation_index),
    ] {
        if let Some(d) = b.defect(x) {
            defects.push(d);
        }
    }
    let present = || {
        SpectralChannel::ALL
            .into_iter()
            .filter(|&c| c != SpectralChannel::Flicker)
            .filter_map(|c| input.get(c).map(|v| (c, v)))
    };
    for (c, v) in present() {
        if v >= SATURATION_COUNTS {
            defects.push(SpectralDefect::Saturation(c));
        }
    }
    for (c, v) in present() {
        if v < WEAK_COUNTS {
            defects.push(SpectralDefect::WeakSignal(c));
        }
    }

    let penalty = (defects.len() as f64 * 0.10).min(0.5);
    let quality_score = py_max(0.0, base - penalty);
    let grade = if defects.iter().any(|d| d.is_critical()) && quality_score < 0.60 {
        Grade::Reject
    } else {
        quality_grade(quality_score)
    };

    SpectralReport {
        spectral_ratios: ratios,
        quality_metrics: SpectralQualityMetrics {
            freshness_index: freshness,
            fat_quality_index: fat_quality,
            color_uniformity,
            oxidation_index: oxidation,
            overall_grade: preliminary_grade(base),
            quality_score: base,
        },
        grade,
        grade_label: grade.as_str(),
        quality_score,
        defects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nominal() -> SpectralInput {
        SpectralInput {
            f1_violet: Some(400.0),
            f2_indigo: Some(600.0),
            f3_blue: Some(500.0),
            f4_cyan: Some(1900.0),
            f5_green: Some(900.0),
            f6_yellow: Some(600.0),
            f7_orange: Some(1150.0),
            f8_red: Some(750.0),
            nir: Some(600.0),
            clear: Some(6500.0),
            flicker: Some(0.0),
        }
    }

    #[test]
    fn nan_channel_scores_low_band_without_defect() {
        let mut input = nominal();
        input.f1_violet = Some(f64::NAN);
        let r = spectral_analysis(&input);
        assert!(r.spectral_ratios.violet_orange_ratio.is_nan());
        assert_eq!(r.quality_metrics.color_uniformity, 0.3);
        assert!(r.defects.is_empty(), "{:?}", r.defects);
        assert!((0.0..=1.0).contains(&r.quality_score));
    }

    #[test]
    fn missing_channel_counts_as_one_and_is_not_checked() {
        let mut input = nominal();
        input.f4_cyan = None;
        let r = spectral_analysis(&input);
        assert_eq!(r.spectral_ratios.lipid_oxidation_index, 1900.0);
        assert!(!r
            .defects
            .iter()
            .any(|d| matches!(d, SpectralDefect::WeakSignal(_))));
    }

    #[test]
    fn messages_and_keys() {
        assert_eq!(
            SpectralDefect::Saturation(SpectralChannel::Clear).to_string(),
            "Saturation canal Clear"
        );
        assert_eq!(
            SpectralDefect::WeakSignal(SpectralChannel::Nir).to_string(),
            "Signal trop faible NIR"
        );
        for c in SpectralChannel::ALL {
            assert_eq!(SpectralChannel::from_key(c.key()), Some(c));
        }
        assert_eq!(SpectralChannel::from_key("F9"), None);
    }
}
