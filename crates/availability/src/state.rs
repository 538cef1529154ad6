//! The mergeable aggregate state: transition (`push`), combine (`merge`).

use std::collections::HashMap;

use serde::Serialize;

use crate::error::{AvailabilityError, Result};
use crate::runs::{normalize, raw_inside_another_state, starting_before_in, Joiner, Run, RunList};
use crate::weights::Weights;

/// How many uncollapsed events the transition buffers before it sorts them
/// and folds them into the run list. Input order does not matter at all
/// while a state has seen at most this many events in its window.
pub const DEFAULT_BUFFER_CAPACITY: usize = 1024;

/// Largest buffer capacity [`AvailabilityState::set_buffer_capacity`]
/// accepts (larger values are clamped): 2²⁰ events, 16 MiB of buffer, at
/// most four times that after merges.
pub const MAX_BUFFER_CAPACITY: usize = 1 << 20;

/// A state never buffers more than this many times its capacity: pushes
/// keep it below three times (events held back at one instant), a merge
/// keeps the raw events of both sides while they fit in four times and
/// folds them in otherwise.
pub(crate) const BUFFER_LIMIT_FACTOR: usize = 4;

/// What a heartbeat gap (no event for longer than the liveness interval)
/// counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapPolicy {
    /// The gap is time in the pseudo-state `no_heartbeat` (weight 0 unless
    /// the weights say otherwise): downtime and an outage.
    Down,
    /// The gap is time in `unknown` (excluded unless the weights give
    /// `unknown` a weight).
    Unknown,
}

impl GapPolicy {
    /// Parses `"down"` or `"unknown"` (the spelling of a SQL option).
    pub fn parse(text: &str) -> Result<GapPolicy> {
        match text {
            "down" => Ok(GapPolicy::Down),
            "unknown" => Ok(GapPolicy::Unknown),
            other => Err(AvailabilityError::InvalidArgument(format!(
                "heartbeat gap policy must be 'down' or 'unknown', got {other:?}"
            ))),
        }
    }
}

/// Settings of an aggregate; two states merge only when their settings are
/// equal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AvailabilityConfig {
    pub(crate) weights: Weights,
    pub(crate) liveness_us: Option<i64>,
    pub(crate) gap_policy: GapPolicy,
}

impl Default for AvailabilityConfig {
    fn default() -> Self {
        AvailabilityConfig {
            weights: Weights::default(),
            liveness_us: None,
            gap_policy: GapPolicy::Down,
        }
    }
}

impl AvailabilityConfig {
    /// `liveness_us`: heartbeat mode when `Some(L)`; an event at `t` proves
    /// liveness on `[t, t + L)`. `L` must be positive (`InvalidArgument`).
    pub fn new(weights: Weights, liveness_us: Option<i64>, gap_policy: GapPolicy) -> Result<Self> {
        if let Some(l) = liveness_us {
            if l <= 0 {
                return Err(AvailabilityError::InvalidArgument(format!(
                    "liveness interval must be positive, got {l} µs"
                )));
            }
        }
        Ok(AvailabilityConfig {
            weights,
            liveness_us,
            gap_policy,
        })
    }

    /// The state weights.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The heartbeat liveness interval in microseconds, if any.
    pub fn liveness_us(&self) -> Option<i64> {
        self.liveness_us
    }

    /// What a heartbeat gap counts as.
    pub fn gap_policy(&self) -> GapPolicy {
        self.gap_policy
    }
}

/// A buffered event: time (µs) and interned state.
type Event = (i64, u32);

/// Interned state names of one aggregate state.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameTable {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl NameTable {
    pub fn intern(&mut self, name: &str) -> Result<u32> {
        if let Some(&id) = self.index.get(name) {
            return Ok(id);
        }
        let id = u32::try_from(self.names.len())
            .ok()
            .filter(|&id| id < u32::MAX)
            .ok_or_else(|| {
                AvailabilityError::InvalidArgument("too many distinct states".to_string())
            })?;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        Ok(id)
    }

    pub fn name(&self, id: u32) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// `rank[id]`: position of the state in the severity order (0 = worst).
    pub fn ranks(&self, weights: &Weights) -> Vec<u32> {
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        order.sort_by(|&a, &b| {
            let na = self.names.get(a).map(String::as_str).unwrap_or("");
            let nb = self.names.get(b).map(String::as_str).unwrap_or("");
            weights.severity_cmp(na, nb)
        });
        let mut rank = vec![0u32; self.names.len()];
        for (pos, id) in order.into_iter().enumerate() {
            if let Some(slot) = rank.get_mut(id) {
                *slot = u32::try_from(pos).unwrap_or(u32::MAX);
            }
        }
        rank
    }
}

/// Partial aggregate state of `availability_agg` for one window.
///
/// Memory is O(number of runs) + at most four times the buffer capacity of
/// raw, uncollapsed events (16 bytes each). The canonical serialized form
/// holds runs only, the partial form also the raw events. See the crate
/// documentation for the semantics.
#[derive(Clone, Debug)]
pub struct AvailabilityState {
    pub(crate) config: AvailabilityConfig,
    pub(crate) from: i64,
    pub(crate) to: i64,
    /// Carry-in given as an argument: the state in force at `from`.
    pub(crate) carry_in_param: Option<u32>,
    /// Latest event seen before `from` (time, state).
    pub(crate) carry_in_event: Option<(i64, u32)>,
    pub(crate) runs: RunList,
    /// Ranges `[start, end)` of the hull that no merged window covered
    /// (sorted, disjoint, never touching `from` or `to`).
    pub(crate) holes: Vec<(i64, i64)>,
    /// Set once an event or run landed strictly inside a collapsed run of
    /// another state (the documented approximation was applied).
    pub(crate) approximate: bool,
    pub(crate) buffer: Vec<(i64, u32)>,
    pub(crate) buffer_capacity: usize,
    /// Buffer length that triggers the next compaction.
    compact_at: usize,
    pub(crate) names: NameTable,
    last_pushed: Option<u32>,
    /// Time of the latest in-window event pushed: for sorted input, the
    /// only instant whose duplicates may still be on their way.
    last_push_time: Option<i64>,
    /// The worst state pushed at `last_push_time` (in memory only). A
    /// later event at that instant that it outranks or equals is dropped:
    /// it loses there whatever else is merged in. Kept raw, it could lie
    /// next to (or, after a merge joins runs at its instant, inside) a run
    /// that already holds the winner, where it looks approximate.
    last_push_worst: u32,
}

impl AvailabilityState {
    /// A new state for the window `[from, to)` (microseconds; `from < to`,
    /// and `to - from` must fit in an i64). `carry_in`: the state in force at
    /// `from`, used only when no event before `from` is seen.
    pub fn new(
        config: AvailabilityConfig,
        from: i64,
        to: i64,
        carry_in: Option<&str>,
    ) -> Result<Self> {
        if from >= to {
            return Err(AvailabilityError::InvalidArgument(format!(
                "window end ({to}) must be after its start ({from})"
            )));
        }
        if to.checked_sub(from).is_none() {
            return Err(AvailabilityError::InvalidArgument(
                "window is longer than the i64 microsecond range".to_string(),
            ));
        }
        let mut names = NameTable::default();
        let carry_in_param = carry_in.map(|s| names.intern(s)).transpose()?;
        Ok(AvailabilityState {
            config,
            from,
            to,
            carry_in_param,
            carry_in_event: None,
            runs: RunList::default(),
            holes: Vec::new(),
            approximate: false,
            buffer: Vec::new(),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            compact_at: DEFAULT_BUFFER_CAPACITY,
            names,
            last_pushed: None,
            last_push_time: None,
            last_push_worst: 0,
        })
    }

    /// A state over `[from, to)` that knows nothing, not even that the window had no
    /// events. Merging a finished rollup into it, once, widens the rollup's hull to
    /// `[from, to)` (time before the first and after the last bucket takes the states
    /// next to it) while the gaps between buckets stay holes. Used by
    /// `rollup(state, from, to)`. Edge holes are not representable, so merge it last
    /// and only once.
    pub fn window_only(config: AvailabilityConfig, from: i64, to: i64) -> Result<Self> {
        let mut state = Self::new(config, from, to, None)?;
        state.holes = vec![(from, to)];
        Ok(state)
    }

    /// Builds a state from events in any order.
    pub fn from_events<'a, I>(
        config: AvailabilityConfig,
        from: i64,
        to: i64,
        carry_in: Option<&str>,
        events: I,
    ) -> Result<Self>
    where
        I: IntoIterator<Item = (i64, &'a str)>,
    {
        let mut state = Self::new(config, from, to, carry_in)?;
        for (t, s) in events {
            state.push(t, s)?;
        }
        Ok(state)
    }

    /// Sets how many events are buffered before being collapsed, clamped to
    /// `1..=`[`MAX_BUFFER_CAPACITY`]. Setting the current value again does
    /// nothing; a different value folds the buffer in at once if it already
    /// holds that many events. Memory: 16 bytes per buffered event; a state
    /// buffers at most four times its capacity (after merges).
    ///
    /// Larger capacities keep more events raw: partial states of parallel
    /// workers ([`AvailabilityState::to_partial_bytes`]) merge exactly when
    /// each worker's share of a group fits in its buffer. Compaction costs
    /// O(n log n) for n buffered events (linear for sorted input), so pushes
    /// cost amortised O(log n) whatever the capacity. The capacity is kept
    /// by [`AvailabilityState::to_partial_bytes`], not by
    /// [`AvailabilityState::to_bytes`].
    pub fn set_buffer_capacity(&mut self, capacity: usize) {
        let capacity = capacity.clamp(1, MAX_BUFFER_CAPACITY);
        if capacity == self.buffer_capacity {
            return;
        }
        self.buffer_capacity = capacity;
        self.compact_at = capacity;
        if self.buffer.len() >= capacity {
            self.compact();
        }
    }

    /// The buffer capacity (see [`AvailabilityState::set_buffer_capacity`]).
    pub fn buffer_capacity(&self) -> usize {
        self.buffer_capacity
    }

    /// Number of events currently buffered uncollapsed (in-window events
    /// only; carry-in events are kept apart).
    pub fn buffered_events(&self) -> usize {
        self.buffer.len()
    }

    /// Restores a deserialized buffer (already validated against the window
    /// and the name table).
    pub(crate) fn restore_buffer(&mut self, capacity: usize, buffer: Vec<Event>) {
        self.buffer_capacity = capacity.clamp(1, MAX_BUFFER_CAPACITY);
        self.compact_at = self.buffer_capacity;
        self.buffer = buffer;
    }

    /// The settings.
    pub fn config(&self) -> &AvailabilityConfig {
        &self.config
    }

    /// The window `[from, to)` in microseconds (for a merged state: the hull).
    pub fn window(&self) -> (i64, i64) {
        (self.from, self.to)
    }

    /// Number of collapsed runs (after folding in buffered events): the
    /// size of the state, proportional to the number of state changes
    /// (plus heartbeat gaps in heartbeat mode).
    pub fn run_count(&self) -> usize {
        self.snapshot_runs().len()
    }

    /// Transition: one event. Events at or after `to` are ignored; events
    /// before `from` only update the carry-in (the latest one wins); the
    /// rest are buffered and collapsed into runs.
    pub fn push(&mut self, time: i64, state: &str) -> Result<()> {
        if time >= self.to {
            return Ok(());
        }
        let id = match self.last_pushed {
            Some(id) if self.names.name(id) == state => id,
            _ => {
                let id = self.names.intern(state)?;
                self.last_pushed = Some(id);
                id
            }
        };
        if time < self.from {
            self.offer_carry_in_event(time, id);
            return Ok(());
        }
        // `worse` is a total order (ties broken by name), so an equal state is dropped too.
        if self.last_push_time == Some(time) && !self.worse(id, self.last_push_worst) {
            return Ok(());
        }
        self.buffer.push((time, id));
        self.last_push_time = Some(time);
        self.last_push_worst = id;
        if self.buffer.len() >= self.compact_at {
            self.compact_holding_back();
        }
        Ok(())
    }

    fn offer_carry_in_event(&mut self, time: i64, id: u32) {
        let replace = match self.carry_in_event {
            None => true,
            Some((t, s)) => {
                time > t
                    || (time == t
                        && self
                            .config
                            .weights
                            .severity_cmp(self.names.name(id), self.names.name(s))
                            .is_lt())
            }
        };
        if replace {
            self.carry_in_event = Some((time, id));
        }
    }

    /// The joiner for folding the whole buffer in (no raw events remain).
    pub(crate) fn joiner(&self) -> Joiner<'_> {
        Joiner {
            liveness: self.config.liveness_us,
            holes: &self.holes,
            raw: &[],
        }
    }

    /// Folds all buffered events into the run list.
    pub(crate) fn compact(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.buffer.sort_unstable_by_key(|e| e.0);
        self.fold_buffer_range(0, self.buffer.len());
        self.buffer.clear();
    }

    /// Folds `buffer[lo..hi]` (sorted by time) into the run list; the caller
    /// removes those events from the buffer. The events outside the range
    /// (before `lo` or from `hi` on, never both) stay raw: runs do not
    /// collapse across them.
    fn fold_buffer_range(&mut self, lo: usize, hi: usize) {
        let rank = self.names.ranks(&self.config.weights);
        let raw = if lo > 0 {
            self.buffer.get(..lo)
        } else {
            self.buffer.get(hi..)
        };
        let join = Joiner {
            liveness: self.config.liveness_us,
            holes: &self.holes,
            raw: raw.unwrap_or(&[]),
        };
        let events = self.buffer.get(lo..hi).unwrap_or(&[]);
        self.approximate |= self.runs.fold_sorted_events(events, &rank, &join);
    }

    /// Compaction of a full buffer. The buffer is sorted by time (linear
    /// for sorted input). When the latest pushed event lies at the buffer's
    /// earliest or latest instant (sorted input, ascending or descending),
    /// the events at that instant stay buffered, so that a duplicate
    /// timestamp arriving next still meets them uncollapsed — unless they
    /// are twice the capacity or more. If the whole buffer is at that
    /// instant it waits to fill up to twice the capacity. Pushes thus keep
    /// the buffer below three times the capacity.
    fn compact_holding_back(&mut self) {
        let capacity = self.buffer_capacity;
        let hold_limit = capacity.saturating_mul(2);
        self.buffer.sort_unstable_by_key(|e| e.0);
        let len = self.buffer.len();
        let (Some(&(t_min, _)), Some(&(t_max, _))) = (self.buffer.first(), self.buffer.last())
        else {
            return;
        };
        let hold = self.last_push_time.filter(|&t| t == t_min || t == t_max);
        let held = match hold {
            Some(h) if h == t_max => len - self.buffer.partition_point(|e| e.0 < h),
            Some(h) => self.buffer.partition_point(|e| e.0 <= h),
            None => 0,
        };
        match hold {
            Some(h) if held < len && held < hold_limit => {
                if h == t_max {
                    let split = len - held;
                    self.fold_buffer_range(0, split);
                    self.buffer.drain(..split);
                } else {
                    self.fold_buffer_range(held, len);
                    self.buffer.truncate(held);
                }
            }
            Some(_) if held == len && len < hold_limit => {}
            _ => self.compact(),
        }
        self.compact_at = self.buffer.len().saturating_add(capacity);
    }

    /// Most events the buffer may hold (after merges).
    pub(crate) fn buffer_limit(&self) -> usize {
        self.buffer_capacity.saturating_mul(BUFFER_LIMIT_FACTOR)
    }

    /// The run list with the buffered events folded in, without mutating.
    pub(crate) fn snapshot_runs(&self) -> Vec<Run> {
        self.snapshot().0
    }

    /// Runs with the buffer folded in, and whether the result is approximate.
    pub(crate) fn snapshot(&self) -> (Vec<Run>, bool) {
        if self.buffer.is_empty() {
            return (self.runs.to_vec(), self.approximate);
        }
        let rank = self.names.ranks(&self.config.weights);
        let mut events = self.buffer.clone();
        events.sort_unstable_by_key(|e| e.0);
        let (runs, approx) = self.runs.with_sorted_events(&events, &rank, &self.joiner());
        (runs, self.approximate || approx)
    }

    /// Whether the documented approximation was applied to this state (an
    /// event or merged run fell strictly inside a collapsed run of another
    /// state). When false, every figure is exact.
    pub fn is_approximate(&self) -> bool {
        self.snapshot().1
    }

    /// Time of the earliest event inside the window, buffered or collapsed.
    fn earliest_event(&self) -> Option<i64> {
        let run = self.runs.first().map(|r| r.start);
        let buffered = self.buffer.iter().map(|&(t, _)| t).min();
        match (run, buffered) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Combine: merges `other` into `self`. The window becomes the hull of
    /// both windows; a gap between the windows is assumed to hold no events
    /// (true for a rollup of buckets where empty buckets have no row).
    /// Errors with `InvalidArgument` when the settings differ.
    pub fn merge(&mut self, other: &AvailabilityState) -> Result<()> {
        if self.config != other.config {
            return Err(AvailabilityError::InvalidArgument(
                "cannot merge availability states built with different weights, liveness or gap policy"
                    .to_string(),
            ));
        }
        // Before the buffer takes in `other`'s events.
        let self_earliest = self.earliest_event();
        let remap = self.intern_names_of(other)?;
        let map = |id: u32| remap.get(id as usize).copied().unwrap_or(u32::MAX);

        let hull_from = self.from.min(other.from);
        let hull_to = self.to.max(other.to);

        // Buffered events of both sides stay raw, single events (folded in
        // only when they outgrow the buffer limit, or for the final figures),
        // so nothing is collapsed before it meets the events of partial
        // states merged later.
        self.buffer
            .extend(other.buffer.iter().map(|&(t, s)| (t, map(s))));
        self.buffer_capacity = self.buffer_capacity.max(other.buffer_capacity);
        let mut items: Vec<Run> = other
            .runs
            .iter()
            .map(|r| Run {
                start: r.start,
                last: r.last,
                state: map(r.state),
            })
            .collect();
        // Before the carry-in points join `items` (other's runs, sorted).
        let raw_inside = self.raw_inside_runs(&items);
        let other_event = other.carry_in_event.map(|(t, s)| (t, map(s)));
        let carry_in_event = self.merged_carry_in_event(other_event, hull_from, &mut items);
        let other_param = other.carry_in_param.map(map);
        let carry_in_param =
            self.merged_carry_in_param(other, other_param, self_earliest, &mut items);

        let holes = merged_holes(
            &coverage(self.from, self.to, &self.holes),
            &coverage(other.from, other.to, &other.holes),
        );
        let approximate = self.fold_merged(items, &holes);
        self.approximate |= approximate || other.approximate || raw_inside;
        self.holes = holes;
        self.compact_at = self.buffer_capacity;
        self.from = hull_from;
        self.to = hull_to;
        self.carry_in_param = carry_in_param;
        self.carry_in_event = carry_in_event;
        if self.buffer.len() > self.buffer_limit() {
            self.compact();
        }
        Ok(())
    }

    /// Whether a (merged) buffered event lies strictly inside a collapsed
    /// run of another state, of this state or of `other_runs` (sorted by
    /// start): see [`raw_inside_another_state`]. Sorts the buffer.
    fn raw_inside_runs(&mut self, other_runs: &[Run]) -> bool {
        if self.buffer.is_empty() {
            return false;
        }
        self.buffer.sort_unstable_by_key(|e| e.0);
        let rank = self.names.ranks(&self.config.weights);
        raw_inside_another_state(&self.buffer, &rank, |t| self.runs.starting_before(t))
            || raw_inside_another_state(&self.buffer, &rank, |t| starting_before_in(other_runs, t))
    }

    /// `other`'s names interned into this state's table, by `other`'s id.
    fn intern_names_of(&mut self, other: &AvailabilityState) -> Result<Vec<u32>> {
        let mut remap = Vec::with_capacity(other.names.names().len());
        for name in other.names.names() {
            remap.push(self.names.intern(name)?);
        }
        Ok(remap)
    }

    /// Whether state `a` is worse than state `b` ([`Weights::severity_cmp`]).
    fn worse(&self, a: u32, b: u32) -> bool {
        self.config
            .weights
            .severity_cmp(self.names.name(a), self.names.name(b))
            .is_lt()
    }

    /// The carry-in event of a merge (`other_event` in this state's ids):
    /// before the hull the carry-in events compete for it (the later wins,
    /// ties to the worse), inside it they are ordinary events of `items`.
    fn merged_carry_in_event(
        &self,
        other_event: Option<(i64, u32)>,
        hull_from: i64,
        items: &mut Vec<Run>,
    ) -> Option<(i64, u32)> {
        let mut carry_in_event = None;
        for (t, s) in [self.carry_in_event, other_event].into_iter().flatten() {
            if t >= hull_from {
                items.push(Run::point(t, s));
            } else {
                carry_in_event = Some(match carry_in_event {
                    None => (t, s),
                    Some((ct, cs)) => {
                        let better = t > ct || (t == ct && self.worse(s, cs));
                        if better {
                            (t, s)
                        } else {
                            (ct, cs)
                        }
                    }
                });
            }
        }
        carry_in_event
    }

    /// The carry-in parameter of a merge (`other_param` in this state's ids;
    /// `self_earliest` from before the merge): of equal windows the worse
    /// one; else the earlier window's, the later window's surviving only as
    /// an event in `items` (see [`LateSide::param_as_event`]).
    fn merged_carry_in_param(
        &self,
        other: &AvailabilityState,
        other_param: Option<u32>,
        self_earliest: Option<i64>,
        items: &mut Vec<Run>,
    ) -> Option<u32> {
        match self.from.cmp(&other.from) {
            std::cmp::Ordering::Equal => match (self.carry_in_param, other_param) {
                (Some(a), Some(b)) => Some(if self.worse(b, a) { b } else { a }),
                (a, b) => a.or(b),
            },
            std::cmp::Ordering::Less => {
                let late = LateSide {
                    from: other.from,
                    param: other_param,
                    has_event: other.carry_in_event.is_some(),
                    first_start: other.earliest_event(),
                };
                if let Some(p) = late.param_as_event(
                    self.carry_in_param.is_some()
                        || self.carry_in_event.is_some()
                        || self_earliest.is_some_and(|t| t <= other.from),
                ) {
                    items.push(p);
                }
                self.carry_in_param
            }
            std::cmp::Ordering::Greater => {
                let late = LateSide {
                    from: self.from,
                    param: self.carry_in_param,
                    has_event: self.carry_in_event.is_some(),
                    first_start: self_earliest,
                };
                if let Some(p) = late.param_as_event(
                    other_param.is_some()
                        || other.carry_in_event.is_some()
                        || other.earliest_event().is_some_and(|t| t <= self.from),
                ) {
                    items.push(p);
                }
                other_param
            }
        }
    }

    /// Folds a merge's `items` into the runs, with the merged `holes` and
    /// the (merged) buffer kept raw; returns whether that was approximate.
    fn fold_merged(&mut self, mut items: Vec<Run>, holes: &[(i64, i64)]) -> bool {
        // A hole of `self` that `other` (partly) filled may let runs of
        // `self` on both sides of it join: renormalize everything then.
        let filled = self
            .holes
            .iter()
            .any(|h| !holes.iter().any(|n| n.0 <= h.0 && h.1 <= n.1));
        let rank = self.names.ranks(&self.config.weights);
        // The merged buffer stays raw: runs must not collapse across it.
        self.buffer.sort_unstable_by_key(|e| e.0);
        let join = Joiner {
            liveness: self.config.liveness_us,
            holes,
            raw: &self.buffer,
        };
        if filled {
            items.extend(self.runs.iter());
            let (runs, approximate) = normalize(&items, &rank, &join);
            self.runs = RunList::from_sorted(runs);
            approximate
        } else {
            self.runs.fold_in(&items, &rank, &join)
        }
    }
}

/// The state with the later window start, in a merge of different windows.
struct LateSide {
    from: i64,
    param: Option<u32>,
    has_event: bool,
    first_start: Option<i64>,
}

impl LateSide {
    /// A later window's carry-in parameter survives a merge only as an
    /// event at its `from`, and only when nothing else is known at or
    /// before that instant (it is a fallback, as in a single state).
    fn param_as_event(&self, early_knows_before: bool) -> Option<Run> {
        let p = self.param?;
        if early_knows_before || self.has_event || self.first_start == Some(self.from) {
            return None;
        }
        Some(Run::point(self.from, p))
    }
}

/// Covered ranges `[start, end)` of a window with holes.
fn coverage(from: i64, to: i64, holes: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(holes.len() + 1);
    let mut cursor = from;
    for &(a, b) in holes {
        if a > cursor {
            out.push((cursor, a));
        }
        cursor = cursor.max(b);
    }
    if to > cursor {
        out.push((cursor, to));
    }
    out
}

/// Holes of the hull of two coverages: the uncovered ranges between the
/// union's pieces.
fn merged_holes(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut all: Vec<(i64, i64)> = a.iter().chain(b.iter()).copied().collect();
    all.sort_unstable();
    let mut holes = Vec::new();
    let mut reach: Option<i64> = None;
    for (start, end) in all {
        match reach {
            Some(r) if start > r => {
                holes.push((r, start));
                reach = Some(end);
            }
            Some(r) => reach = Some(r.max(end)),
            None => reach = Some(end),
        }
    }
    holes
}
