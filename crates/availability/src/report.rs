//! Per-bucket states of a report: one equipment's events into buckets
//! `[from + k·width, from + (k+1)·width)`, built in one pass, then every bucket of the
//! window in order, each seeded with the last event before it.

use std::collections::HashMap;

use key_groups::GroupKey;

use crate::error::{AvailabilityError, Result};
use crate::report_share::{put_blob, read_keyed, write_keyed, Reader};
use crate::state::{AvailabilityConfig, AvailabilityState};

/// Format version of [`BucketStates::to_bytes`] and [`BucketStates::groups_to_bytes`].
const BUCKET_STATES_FORMAT: u8 = 1;

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

    /// Bytes to hand the spec to other processes: the bucket width (i64 little-endian),
    /// then an empty state of the window, which carries the settings.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = self.width.to_le_bytes().to_vec();
        out.extend_from_slice(
            &AvailabilityState::new(self.config.clone(), self.from, self.to, None)?.to_bytes(),
        );
        Ok(out)
    }

    /// Reads [`BucketSpec::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<BucketSpec> {
        let width = bytes
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(i64::from_le_bytes)
            .filter(|w| *w > 0)
            .ok_or_else(|| {
                crate::error::AvailabilityError::InvalidState("bucket spec: width".into())
            })?;
        let window = AvailabilityState::from_bytes(&bytes[8..])?;
        let (from, to) = window.window();
        Ok(BucketSpec {
            config: window.config().clone(),
            from,
            to,
            width,
        })
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
        self.push_with_capacity(spec, t, state, 0)
    }

    /// [`BucketStates::push`]; a new bucket's state keeps up to `capacity` raw events
    /// (0: the default).
    pub fn push_with_capacity(
        &mut self,
        spec: &BucketSpec,
        t: i64,
        state: &str,
        capacity: usize,
    ) -> Result<()> {
        let k = (t - spec.from).div_euclid(spec.width);
        let at = match self.buckets.last() {
            Some((last, _)) if *last == k => self.buckets.len() - 1,
            _ => match self.buckets.binary_search_by_key(&k, |(b, _)| *b) {
                Ok(i) => i,
                Err(i) => {
                    let mut fresh = spec.bucket(k)?;
                    if capacity > 0 {
                        fresh.set_buffer_capacity(capacity);
                    }
                    self.buckets.insert(i, (k, fresh));
                    i
                }
            },
        };
        if let Some((_, st)) = self.buckets.get_mut(at) {
            st.push(t, state)?;
        }
        Ok(())
    }

    /// Bucket states by bucket index (sorted, distinct).
    pub fn from_buckets(mut buckets: Vec<(i64, AvailabilityState)>) -> Result<Self> {
        buckets.sort_by_key(|(k, _)| *k);
        if buckets.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(crate::error::AvailabilityError::InvalidState(
                "a bucket appears twice".into(),
            ));
        }
        Ok(BucketStates { buckets })
    }

    /// The buckets that have events, by index.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &AvailabilityState)> + '_ {
        self.buckets.iter().map(|(k, st)| (*k, st))
    }

    /// Merges another equipment's-worth of bucket states, bucket by bucket.
    pub fn merge(&mut self, other: BucketStates) -> Result<()> {
        for (k, st) in other.buckets {
            match self.buckets.binary_search_by_key(&k, |(b, _)| *b) {
                Ok(i) => self.buckets[i].1.merge(&st)?,
                Err(i) => self.buckets.insert(i, (k, st)),
            }
        }
        Ok(())
    }

    /// Bytes to hand the states to another process: the format version, then per bucket
    /// its index (`i64`) and its state's partial bytes ([`AvailabilityState::to_partial_bytes`]:
    /// buffered events kept, so the state goes on as it was) after their `u64` length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![BUCKET_STATES_FORMAT];
        self.write_buckets(&mut out);
        out
    }

    /// Per bucket its index (`i64`) and its state's partial bytes after their `u64` length.
    pub(crate) fn write_buckets(&self, out: &mut Vec<u8>) {
        for (k, st) in &self.buckets {
            out.extend_from_slice(&k.to_le_bytes());
            put_blob(out, &st.to_partial_bytes());
        }
    }

    /// Reads [`BucketStates::write_buckets`] up to the end of `reader`'s bytes.
    pub(crate) fn read_buckets(reader: &mut Reader<'_>) -> Result<BucketStates> {
        let mut buckets = Vec::new();
        while reader.at < reader.bytes.len() {
            let k = reader.word()? as i64;
            buckets.push((k, AvailabilityState::from_bytes(reader.blob()?)?));
        }
        BucketStates::from_buckets(buckets)
    }

    /// Reads [`BucketStates::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<BucketStates> {
        if bytes.first() != Some(&BUCKET_STATES_FORMAT) {
            return Err(corrupt("unknown format version"));
        }
        BucketStates::read_buckets(&mut Reader { bytes, at: 1 })
    }

    /// Several equipments' states as bytes: the format version, then per equipment its
    /// key ([`GroupKey::write`]) and its [`BucketStates::to_bytes`] after their length.
    pub fn groups_to_bytes(groups: &[(GroupKey, BucketStates)]) -> Vec<u8> {
        write_keyed(
            BUCKET_STATES_FORMAT,
            groups.iter().map(|(key, states)| (key, states.to_bytes())),
        )
    }

    /// Reads [`BucketStates::groups_to_bytes`].
    pub fn groups_from_bytes(bytes: &[u8]) -> Result<Vec<(GroupKey, BucketStates)>> {
        let mut groups = Vec::new();
        read_keyed(bytes, BUCKET_STATES_FORMAT, |key, blob| {
            groups.push((key, BucketStates::from_bytes(blob)?));
            Ok(())
        })?;
        Ok(groups)
    }

    /// Whether a bucket's state collapsed runs approximately.
    pub fn is_approximate(&self) -> bool {
        self.buckets.iter().any(|(_, st)| st.is_approximate())
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

fn corrupt(what: &str) -> AvailabilityError {
    AvailabilityError::InvalidState(format!("bucket states: {what}"))
}
