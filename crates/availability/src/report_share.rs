//! A parallel worker's share of one equipment's report, small enough to send to the leader
//! and exact when merged.
//!
//! A parallel scan hands each worker whole runs of heap blocks, so a worker's share of an
//! equipment is a series of *segments*: events from contiguous blocks, in time order when
//! the table was filled in time order. Inside a segment an event that repeats the state of
//! the one before it (same bucket, within the liveness) changes no figure, as long as no
//! other event lies between them: only each run's first and last events are kept. That
//! holds when no other segment, of any worker, has an event strictly inside this segment's
//! time span, which [`ReportShare::is_exact`] checks on the merged spans: when it fails
//! (rows stored far from their time, a late upload), the caller computes the report
//! serially instead. The kept events go into per-bucket states that keep them raw, so the
//! leader's merge of the buckets is exact as well.

use key_groups::{GroupKey, KeyGroups, KeyRef};

use crate::error::{AvailabilityError, Result};
use crate::report::{BucketSpec, BucketStates};

/// Raw events a bucket's state keeps before collapsing runs: the kept events of a share are
/// few (run boundaries), and raw ones merge exactly.
const SHARE_BUFFER_EVENTS: usize = 16_384;

/// Format version of [`ReportShare::to_bytes`] (transient: between the processes of one
/// query).
const SHARE_FORMAT: u8 = 1;

/// One worker's events of one equipment, compressed to run boundaries.
#[derive(Clone, Debug, Default)]
pub struct ReportShare {
    buckets: BucketStates,
    /// The open run: its state, bucket, last event time, and whether that last event was
    /// dropped so far (it is kept when the run ends).
    run: Option<OpenRun>,
    /// The open segment: first and last event time, last heap block.
    segment: Option<(i64, i64, u64)>,
    /// Closed segments' time spans `[first, last]`.
    spans: Vec<(i64, i64)>,
    /// The latest instant: its time, the first state seen at it, and whether another
    /// state was seen at it too (the state then decides its own winner at that instant,
    /// so the next event cannot be dropped as a repeat).
    instant: Option<(i64, String, bool)>,
}

#[derive(Clone, Debug)]
struct OpenRun {
    state: String,
    bucket: i64,
    last: i64,
    last_dropped: bool,
    /// Time of the run's last kept event.
    kept: i64,
}

impl ReportShare {
    /// Adds an event at `t` (inside the spec's window) read from heap block `block`.
    pub fn push(&mut self, spec: &BucketSpec, t: i64, state: &str, block: u64) -> Result<()> {
        let contiguous = match &mut self.segment {
            Some((_, last, at)) if t >= *last && (block == *at || block == at.wrapping_add(1)) => {
                *last = t;
                *at = block;
                true
            }
            _ => false,
        };
        if !contiguous {
            if let Some((first, last, _)) = self.segment.replace((t, t, block)) {
                self.spans.push((first, last));
            }
            // Another share may end a segment at this very instant, with other states:
            // the instant counts as mixed, so the next one is kept whatever its state.
            self.instant = Some((t, String::new(), true));
        }
        let after_mixed = match &mut self.instant {
            Some((at, first, mixed)) if *at == t => {
                *mixed |= first.as_str() != state;
                false
            }
            Some((at, first, mixed)) => {
                let was_mixed = *mixed;
                *at = t;
                first.clear();
                first.push_str(state);
                *mixed = false;
                was_mixed
            }
            None => {
                self.instant = Some((t, state.to_string(), false));
                false
            }
        };
        let bucket = (t - spec.from).div_euclid(spec.width);
        if let Some(run) = &mut self.run {
            let liveness = spec.config.liveness_us();
            let alive = liveness.is_none_or(|l| t.saturating_sub(run.last) <= l);
            if contiguous && alive && !after_mixed && run.bucket == bucket && run.state == state {
                // Heard within the liveness of the last kept event, or the dropped one
                // before this is kept: kept events must not open a heartbeat gap.
                if liveness.is_some_and(|l| t.saturating_sub(run.kept) > l) && run.last_dropped {
                    let (last, name) = (run.last, run.state.clone());
                    run.kept = last;
                    self.buckets
                        .push_with_capacity(spec, last, &name, SHARE_BUFFER_EVENTS)?;
                }
                if let Some(run) = &mut self.run {
                    run.last = t;
                    run.last_dropped = true;
                }
                return Ok(());
            }
        }
        self.end_run(spec)?;
        self.buckets
            .push_with_capacity(spec, t, state, SHARE_BUFFER_EVENTS)?;
        match &mut self.run {
            Some(run) => {
                run.state.clear();
                run.state.push_str(state);
                run.bucket = bucket;
                run.last = t;
                run.last_dropped = false;
                run.kept = t;
            }
            None => {
                self.run = Some(OpenRun {
                    state: state.to_string(),
                    bucket,
                    last: t,
                    last_dropped: false,
                    kept: t,
                })
            }
        }
        Ok(())
    }

    /// Keeps the open run's last event.
    fn end_run(&mut self, spec: &BucketSpec) -> Result<()> {
        if let Some(run) = &mut self.run {
            if run.last_dropped {
                run.last_dropped = false;
                let (t, state) = (run.last, run.state.clone());
                self.buckets
                    .push_with_capacity(spec, t, &state, SHARE_BUFFER_EVENTS)?;
            }
        }
        Ok(())
    }

    /// Ends the share: keeps the open run's last event and closes the open segment. Call it
    /// before [`ReportShare::to_bytes`], [`ReportShare::merge`] and
    /// [`ReportShare::into_buckets`].
    pub fn finish(&mut self, spec: &BucketSpec) -> Result<()> {
        self.end_run(spec)?;
        self.run = None;
        self.instant = None;
        if let Some((first, last, _)) = self.segment.take() {
            self.spans.push((first, last));
        }
        Ok(())
    }

    /// Merges another finished share of the same equipment.
    pub fn merge(&mut self, other: ReportShare) -> Result<()> {
        if self.run.is_some() || other.run.is_some() || other.segment.is_some() {
            return Err(AvailabilityError::InvalidArgument(
                "a report share must be finished before it is merged".into(),
            ));
        }
        self.buckets.merge(other.buckets)?;
        self.spans.extend(other.spans);
        Ok(())
    }

    /// Whether the merged shares give exactly the figures of one pass over every event: no
    /// segment has an event strictly inside another's time span, and no bucket had to
    /// collapse runs.
    pub fn is_exact(&self) -> bool {
        let mut spans = self.spans.clone();
        spans.sort_unstable();
        let disjoint = spans.windows(2).all(|w| w[1].0 >= w[0].1);
        disjoint && !self.buckets.is_approximate()
    }

    /// The per-bucket states (see [`BucketStates::into_rows`]).
    pub fn into_buckets(self) -> BucketStates {
        self.buckets
    }

    /// Bytes for the leader: version, the spans, then each bucket's index and state (raw
    /// events kept). All integers little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![SHARE_FORMAT];
        out.extend_from_slice(&(self.spans.len() as u64).to_le_bytes());
        for (first, last) in &self.spans {
            out.extend_from_slice(&first.to_le_bytes());
            out.extend_from_slice(&last.to_le_bytes());
        }
        self.buckets.write_buckets(&mut out);
        out
    }

    /// Reads [`ReportShare::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ReportShare> {
        if bytes.first() != Some(&SHARE_FORMAT) {
            return Err(corrupt("unknown format version"));
        }
        let mut reader = Reader { bytes, at: 1 };
        let n_spans = reader.word()?;
        // Each span takes 16 bytes: a count beyond the bytes left is corrupt.
        if n_spans > (bytes.len() as u64) / 16 {
            return Err(corrupt("span count beyond the bytes"));
        }
        let mut spans = Vec::with_capacity(n_spans as usize);
        for _ in 0..n_spans {
            spans.push((reader.word()? as i64, reader.word()? as i64));
        }
        Ok(ReportShare {
            buckets: BucketStates::read_buckets(&mut reader)?,
            run: None,
            segment: None,
            spans,
            instant: None,
        })
    }
}

/// Format version of [`ReportShares::to_bytes`] (transient, as a share's).
const SHARES_FORMAT: u8 = 1;

/// Every equipment's share, for one aggregate without GROUP BY over all of them (a plain
/// Agg: no hash table per row, which costs a parallel plan more than the shares do).
#[derive(Clone, Debug, Default)]
pub struct ReportShares {
    shares: KeyGroups<ReportShare>,
}

impl ReportShares {
    /// Adds an event of equipment `equipment`, as [`ReportShare::push`].
    pub fn push(
        &mut self,
        equipment: KeyRef<'_>,
        spec: &BucketSpec,
        t: i64,
        state: &str,
        block: u64,
    ) -> Result<()> {
        self.shares
            .of_ref(equipment, |_| {
                Ok::<_, AvailabilityError>(ReportShare::default())
            })?
            .push(spec, t, state, block)
    }

    /// How many pieces of equipment there are.
    pub fn len(&self) -> usize {
        self.shares.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }

    /// Finishes every share ([`ReportShare::finish`]).
    pub fn finish(&mut self, spec: &BucketSpec) -> Result<()> {
        self.shares.values_mut().try_for_each(|s| s.finish(spec))
    }

    /// Merges other finished shares, equipment by equipment.
    pub fn merge(&mut self, other: ReportShares) -> Result<()> {
        for (key, share) in other.shares {
            match self.shares.get_mut(&key) {
                Some(mine) => mine.merge(share)?,
                None => {
                    // Absent, so new: insert_new cannot hand the share back.
                    let _ = self.shares.insert_new(key, share);
                }
            }
        }
        Ok(())
    }

    /// Each equipment's merged share, in key order.
    pub fn into_sorted(self) -> Vec<(GroupKey, ReportShare)> {
        self.shares.into_sorted()
    }

    /// Finished shares' bytes: version, then per equipment its key ([`GroupKey::write`]),
    /// the `u64` length of its share's bytes ([`ReportShare::to_bytes`]) and those bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        write_keyed(
            SHARES_FORMAT,
            self.shares
                .iter()
                .map(|(key, share)| (key, share.to_bytes())),
        )
    }

    /// Reads [`ReportShares::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ReportShares> {
        let mut shares = KeyGroups::new();
        read_keyed(bytes, SHARES_FORMAT, |key, blob| {
            let share = ReportShare::from_bytes(blob)?;
            if shares.insert_new(key, share).is_err() {
                return Err(corrupt("an equipment appears twice"));
            }
            Ok(())
        })?;
        Ok(ReportShares { shares })
    }
}

fn corrupt(what: &str) -> AvailabilityError {
    AvailabilityError::InvalidState(format!("report share: {what}"))
}

pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or_else(|| corrupt("length"))?;
        let taken = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| corrupt("truncated"))?;
        self.at = end;
        Ok(taken)
    }

    pub(crate) fn word(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(
            <[u8; 8]>::try_from(b).map_err(|_| corrupt("truncated"))?,
        ))
    }

    /// Bytes written by [`put_blob`].
    pub(crate) fn blob(&mut self) -> Result<&'a [u8]> {
        let len = usize::try_from(self.word()?).map_err(|_| corrupt("length"))?;
        self.take(len)
    }
}

/// `version`, then per key its [`GroupKey::write`] and `blob` after its length.
pub(crate) fn write_keyed<'k>(
    version: u8,
    entries: impl Iterator<Item = (&'k GroupKey, Vec<u8>)>,
) -> Vec<u8> {
    let mut out = vec![version];
    for (key, blob) in entries {
        key.write(&mut out);
        put_blob(&mut out, &blob);
    }
    out
}

/// Reads [`write_keyed`] of `version`, each key and blob through `read`.
pub(crate) fn read_keyed(
    bytes: &[u8],
    version: u8,
    mut read: impl FnMut(GroupKey, &[u8]) -> Result<()>,
) -> Result<()> {
    if bytes.first() != Some(&version) {
        return Err(corrupt("unknown format version"));
    }
    let mut reader = Reader { bytes, at: 1 };
    while reader.at < bytes.len() {
        let rest = bytes.get(reader.at..).unwrap_or_default();
        let (key, n) = GroupKey::read(rest).ok_or_else(|| corrupt("key"))?;
        reader.take(n)?;
        read(key, reader.blob()?)?;
    }
    Ok(())
}

/// `bytes` after their `u64` length.
pub(crate) fn put_blob(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}
