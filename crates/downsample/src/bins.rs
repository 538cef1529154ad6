//! Equal-time bins over a half-open range `[from, to)` of microseconds.

use crate::error::{DownsampleError, Result};

/// `count` equal-time bins over `[from, to)`: bin `j` holds the times `t`
/// with `floor((t - from) * count / (to - from)) == j`, computed exactly in
/// 128-bit integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeBins {
    from: i64,
    width: i128,
    count: u64,
}

impl TimeBins {
    pub(crate) fn new(from: i64, to: i64, count: u64) -> Result<Self> {
        if from >= to {
            return Err(DownsampleError::InvalidParameter(format!(
                "time range is empty: from ({from}) must be before to ({to})"
            )));
        }
        if count == 0 {
            return Err(DownsampleError::InvalidParameter(
                "bin count must be positive".into(),
            ));
        }
        Ok(TimeBins {
            from,
            width: i128::from(to) - i128::from(from),
            count,
        })
    }

    /// Bins over `[from, from + width)`; `width` may reach past `i64::MAX`
    /// (a batch series ending at `i64::MAX`).
    pub(crate) fn with_width(from: i64, width: i128, count: u64) -> Result<Self> {
        if width <= 0 || count == 0 {
            return Err(DownsampleError::InvalidParameter(
                "empty time range or zero bins".into(),
            ));
        }
        Ok(TimeBins { from, width, count })
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Bin of `t`, or `None` outside `[from, to)`.
    #[inline]
    pub(crate) fn index(&self, t: i64) -> Option<u64> {
        let d = i128::from(t) - i128::from(self.from);
        if d < 0 || d >= self.width {
            return None;
        }
        u64::try_from(d * i128::from(self.count) / self.width).ok()
    }

    /// First time of bin `j` (`to` for `j == count`): the smallest `t` with
    /// `index(t) >= j`, i.e. `from + ceil(j * width / count)`.
    #[inline]
    pub(crate) fn start(&self, j: u64) -> i64 {
        let c = i128::from(self.count);
        let j = i128::from(j.min(self.count));
        let off = (j * self.width + c - 1) / c;
        // Never exceeds `to`, which is an i64.
        i64::try_from(i128::from(self.from) + off).unwrap_or(i64::MAX)
    }
}
