//! Per-bucket states of a report: one equipment's events into buckets
//! `[from + k·width, from + (k+1)·width)`, built in one pass, then every bucket of the
//! window in order, each seeded with the last event before it.

use std::collections::HashMap;

use crate::error::Result;
use crate::state::{AvailabilityConfig, AvailabilityState};

/// The window, bucket width and settings of a report.
#[derive(Clone, Debug)]
pub struct BucketSpec {
    pub config: AvailabilityConfig,
    pub from: i64,
    pub to: i64,
    pub width: i64,
}

impl BucketSpec {
    /// How many buckets cover the window (the last one may be shorter).
    pub fn n_buckets(&self) -> i64 {
        (self.to - self.from + self.width - 1) / self.width
    }

    fn bucket(&self, k: i64) -> Result<AvailabilityState> {
        let start = self.from + k * self.width;
        AvailabilityState::new(
            self.config.clone(),
            start,
            (start + self.width).min(self.to),
            None,
        )
    }
}

/// One bucket's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketRow {
    pub time: i64,
    pub availability: Option<f64>,
    pub uptime: i64,
    pub downtime: i64,
    pub unknown: i64,
    pub outages: Option<i64>,
    pub last_state: Option<String>,
    pub approximate: bool,
}

/// The bucket states of one equipment. Rows of a time-ordered scan hit the last bucket
/// again, so the lookup is a comparison, not a search.
#[derive(Clone, Debug, Default)]
pub struct BucketStates {
    buckets: Vec<(i64, AvailabilityState)>,
}

impl BucketStates {
    /// Adds an event at `t` (inside the spec's window).
    pub fn push(&mut self, spec: &BucketSpec, t: i64, state: &str) -> Result<()> {
        let k = (t - spec.from).div_euclid(spec.width);
        let at = match self.buckets.last() {
            Some((last, _)) if *last == k => self.buckets.len() - 1,
            _ => match self.buckets.binary_search_by_key(&k, |(b, _)| *b) {
                Ok(i) => i,
                Err(i) => {
                    self.buckets.insert(i, (k, spec.bucket(k)?));
                    i
                }
            },
        };
        if let Some((_, st)) = self.buckets.get_mut(at) {
            st.push(t, state)?;
        }
        Ok(())
    }

    /// Every bucket of the window in order, each seeded with the last event before it: the
    /// carry-in for the first, then each bucket's own last event. Lazy, so that the caller
    /// can check for interrupts between buckets.
    pub fn into_rows(
        self,
        spec: &BucketSpec,
        carry: Option<(i64, String)>,
    ) -> impl Iterator<Item = Result<BucketRow>> + '_ {
        let mut states: HashMap<i64, AvailabilityState> = self.buckets.into_iter().collect();
        let mut last_event = carry;
        (0..spec.n_buckets()).map(move |k| {
            let start = spec.from + k * spec.width;
            let mut st = match states.remove(&k) {
                Some(st) => st,
                None => spec.bucket(k)?,
            };
            if let Some((t, s)) = &last_event {
                st.push(*t, s)?;
            }
            let s = st.summary();
            if let (Some(t), Some(state)) = (s.last_event_time, s.last_state.clone()) {
                if t >= start {
                    last_event = Some((t, state));
                }
            }
            Ok(BucketRow {
                time: start,
                availability: s.availability,
                uptime: s.uptime_us,
                downtime: s.downtime_us,
                unknown: s.unknown_us,
                outages: i64::try_from(s.outages).ok(),
                last_state: s.last_state,
                approximate: s.approximate,
            })
        })
    }
}
