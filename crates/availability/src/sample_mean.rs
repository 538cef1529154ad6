//! The old service's availability figure: a plain mean of per-event
//! status values, reproduced exactly.

use serde::Serialize;

use crate::error::{AvailabilityError, Result};

const MAGIC: [u8; 2] = *b"SM";
const VERSION: u8 = 1;
/// Serialized size of [`SampleMean`].
pub const SAMPLE_MEAN_BYTES: usize = 19;

/// The old service's value of one status: `online` 1, `warning` 0.5,
/// `offline` 0, anything else (including a missing status) −1. Exact,
/// case-sensitive match.
pub fn status_value(status: Option<&str>) -> f64 {
    match status {
        Some("online") => 1.0,
        Some("warning") => 0.5,
        Some("offline") => 0.0,
        _ => -1.0,
    }
}

/// Mergeable accumulator of the old figure: the sum of status values (kept
/// exactly, in half units) and the number of events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SampleMean {
    half_sum: i64,
    count: u64,
}

impl SampleMean {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one event's status (`None` counts as "anything else", −1).
    pub fn push(&mut self, status: Option<&str>) {
        let half = match status {
            Some("online") => 2,
            Some("warning") => 1,
            Some("offline") => 0,
            _ => -2,
        };
        self.half_sum = self.half_sum.saturating_add(half);
        self.count = self.count.saturating_add(1);
    }

    /// Combines two accumulators (commutative, associative).
    pub fn merge(&mut self, other: &SampleMean) {
        self.half_sum = self.half_sum.saturating_add(other.half_sum);
        self.count = self.count.saturating_add(other.count);
    }

    /// Number of events.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the status values.
    pub fn sum(&self) -> f64 {
        self.half_sum as f64 / 2.0
    }

    /// `round(sum / count * 100, 2)` with Python's `round` semantics
    /// (correctly rounded, ties to even on the exact binary value); `None`
    /// when there are no events. 9 `online` + 1 `offline` → 90.0; the −1 of
    /// other statuses enters the mean, so the result can be negative.
    pub fn value(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let mean = self.sum() / self.count as f64;
        Some(round2(mean * 100.0))
    }

    /// Serialized form: `"SM"`, version byte 1, half-sum i64 LE, count u64 LE.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SAMPLE_MEAN_BYTES);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.half_sum.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out
    }

    /// Parses [`SampleMean::to_bytes`] output; validates that the sum is
    /// possible for the count.
    pub fn from_bytes(bytes: &[u8]) -> Result<SampleMean> {
        let invalid = |m: &str| AvailabilityError::InvalidState(format!("sample mean: {m}"));
        if bytes.len() != SAMPLE_MEAN_BYTES {
            return Err(invalid("wrong length"));
        }
        if bytes.get(0..2) != Some(&MAGIC[..]) {
            return Err(invalid("bad magic"));
        }
        match bytes.get(2).copied() {
            Some(VERSION) => {}
            Some(v) if v > VERSION => {
                return Err(AvailabilityError::Unsupported(format!(
                    "sample mean format version {v}"
                )))
            }
            _ => return Err(invalid("bad version")),
        }
        let half_sum = bytes
            .get(3..11)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_le_bytes)
            .ok_or_else(|| invalid("truncated"))?;
        let count = bytes
            .get(11..19)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| invalid("truncated"))?;
        if i128::from(half_sum).abs() > 2 * i128::from(count) {
            return Err(invalid("sum impossible for the count"));
        }
        Ok(SampleMean { half_sum, count })
    }
}

/// The old figure of a list of statuses (see [`SampleMean::value`]).
pub fn sample_mean<'a, I>(statuses: I) -> Option<f64>
where
    I: IntoIterator<Item = Option<&'a str>>,
{
    let mut acc = SampleMean::new();
    for s in statuses {
        acc.push(s);
    }
    acc.value()
}

/// Python's `round(x, 2)`: the double nearest to the correctly rounded
/// (ties-to-even) two-decimal value of `x`. Rust's fixed-precision
/// formatting rounds the exact binary value the same way.
fn round2(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.2}").parse::<f64>().unwrap_or(x)
}
