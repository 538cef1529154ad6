//! `rollup(state, from, to)`: bucket states merged over a stated window, so that time before
//! the first and after the last bucket with rows still counts, in the states next to it.
//! The window is applied once, at the end ([`AvailabilityState::window_only`]).

use crate::error::{AvailabilityError, Result};
use crate::state::AvailabilityState;

/// The merged states so far and the window they will be widened to.
#[derive(Clone, Debug)]
pub struct WindowedRollup {
    window: (i64, i64),
    state: Option<AvailabilityState>,
}

impl WindowedRollup {
    /// An empty rollup over `[from, to)` (`from < to`).
    pub fn new(from: i64, to: i64) -> Result<Self> {
        if from >= to {
            return Err(AvailabilityError::InvalidArgument(
                "\"to\" must be after \"from\"".to_string(),
            ));
        }
        Ok(WindowedRollup {
            window: (from, to),
            state: None,
        })
    }

    /// Merges one bucket's state.
    pub fn merge(&mut self, other: &AvailabilityState) -> Result<()> {
        match &mut self.state {
            Some(st) => st.merge(other)?,
            None => self.state = Some(other.clone()),
        }
        Ok(())
    }

    /// Merges another partial rollup (parallel aggregation).
    pub fn merge_rollup(&mut self, other: &WindowedRollup) -> Result<()> {
        match &other.state {
            Some(st) => self.merge(st),
            None => Ok(()),
        }
    }

    /// The rollup widened to its window; `None` when no state was merged.
    pub fn finish(&self) -> Result<Option<AvailabilityState>> {
        let Some(st) = &self.state else {
            return Ok(None);
        };
        let mut widened =
            AvailabilityState::window_only(st.config().clone(), self.window.0, self.window.1)?;
        widened.merge(st)?;
        Ok(Some(widened))
    }

    /// Partial bytes for parallel aggregation: `from` and `to` (i64 little-endian), then the
    /// merged state's bytes (none while empty). Pinned by `tests/frozen_formats.rs`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.window.0.to_le_bytes());
        out.extend_from_slice(&self.window.1.to_le_bytes());
        if let Some(st) = &self.state {
            out.extend_from_slice(&st.to_bytes());
        }
        out
    }

    /// Reads [`WindowedRollup::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let word = |range: std::ops::Range<usize>| -> Result<i64> {
            bytes
                .get(range)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(i64::from_le_bytes)
                .ok_or_else(|| AvailabilityError::InvalidState("truncated rollup state".into()))
        };
        let window = (word(0..8)?, word(8..16)?);
        let rest = bytes.get(16..).unwrap_or_default();
        let state = if rest.is_empty() {
            None
        } else {
            Some(AvailabilityState::from_bytes(rest)?)
        };
        Ok(WindowedRollup { window, state })
    }
}
