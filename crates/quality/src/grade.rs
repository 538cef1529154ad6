//! Normalised quality grades and the reference's labels.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::QualityError;

/// Reference label of a VL53L8CH grade A.
pub const TOF_LABEL_A: &str = "Grade A - Excellente qualité";
/// Reference label of a VL53L8CH grade B.
pub const TOF_LABEL_B: &str = "Grade B - Bonne qualité";
/// Reference label of a VL53L8CH grade C.
pub const TOF_LABEL_C: &str = "Grade C - Qualité acceptable";
/// Reference label of a VL53L8CH rejection.
pub const TOF_LABEL_REJECT: &str = "REJET - Qualité insuffisante";

/// A quality grade, normalised across the three scorers.
///
/// Displayed (and serialised) as `A+`, `A`, `B`, `C`, `REJECT`. Ordered by
/// quality: `Reject < C < B < A < APlus`, so "a grade never improves" reads
/// `after <= before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grade {
    /// `A+` (spectral and fused grades only; the ToF scorer tops out at `A`).
    APlus,
    /// `A`.
    A,
    /// `B`.
    B,
    /// `C`.
    C,
    /// `REJECT` (the ToF reference spells it `REJET - Qualité insuffisante`).
    Reject,
}

impl Grade {
    /// All grades from best to worst.
    pub const ALL: [Grade; 5] = [Grade::APlus, Grade::A, Grade::B, Grade::C, Grade::Reject];

    /// The normalised name: `A+`, `A`, `B`, `C` or `REJECT`. This is also the
    /// exact label the spectral and fused reference grades use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Grade::APlus => "A+",
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::Reject => "REJECT",
        }
    }

    /// The VL53L8CH (ToF) reference label, e.g. `Grade A - Excellente qualité`.
    /// The ToF scorer never produces `A+`; for it this returns `A+`.
    pub const fn tof_label(self) -> &'static str {
        match self {
            Grade::APlus => "A+",
            Grade::A => TOF_LABEL_A,
            Grade::B => TOF_LABEL_B,
            Grade::C => TOF_LABEL_C,
            Grade::Reject => TOF_LABEL_REJECT,
        }
    }

    /// Parses a normalised grade (`A+`, `A`, `B`, `C`, `REJECT`) or one of the
    /// four exact VL53L8CH reference labels.
    pub fn from_label(label: &str) -> Result<Grade, QualityError> {
        match label {
            "A+" => Ok(Grade::APlus),
            "A" | TOF_LABEL_A => Ok(Grade::A),
            "B" | TOF_LABEL_B => Ok(Grade::B),
            "C" | TOF_LABEL_C => Ok(Grade::C),
            "REJECT" | TOF_LABEL_REJECT => Ok(Grade::Reject),
            other => Err(QualityError::UnknownGradeLabel(other.to_owned())),
        }
    }

    /// Quality rank: 0 for `REJECT` up to 4 for `A+`.
    const fn rank(self) -> u8 {
        match self {
            Grade::Reject => 0,
            Grade::C => 1,
            Grade::B => 2,
            Grade::A => 3,
            Grade::APlus => 4,
        }
    }

    /// Compliant grades: `A+`, `A` and `B`.
    pub const fn is_compliant(self) -> bool {
        matches!(self, Grade::APlus | Grade::A | Grade::B)
    }

    /// Downgraded (sold below the top grades) but not rejected: `B` and `C`.
    pub const fn is_downgraded(self) -> bool {
        matches!(self, Grade::B | Grade::C)
    }

    /// `REJECT`.
    pub const fn is_rejected(self) -> bool {
        matches!(self, Grade::Reject)
    }
}

impl PartialOrd for Grade {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Grade {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Grade {
    type Err = QualityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Grade::from_label(s)
    }
}

impl Serialize for Grade {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The grade of the first `(threshold, grade)` step whose threshold `score` reaches (steps
/// from the best grade down), otherwise (including NaN) REJECT.
pub(crate) fn grade_by_steps(score: f64, steps: &[(f64, Grade)]) -> Grade {
    steps
        .iter()
        .find(|&&(threshold, _)| score >= threshold)
        .map_or(Grade::Reject, |&(_, grade)| grade)
}

/// Grade from a score using the thresholds shared by the spectral final grade
/// and the fused grade: `≥ 0.85` A+, `≥ 0.75` A, `≥ 0.60` B, `≥ 0.45` C,
/// otherwise (including NaN) REJECT.
pub fn quality_grade(score: f64) -> Grade {
    grade_by_steps(
        score,
        &[
            (0.85, Grade::APlus),
            (0.75, Grade::A),
            (0.60, Grade::B),
            (0.45, Grade::C),
        ],
    )
}
