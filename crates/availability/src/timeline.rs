//! Timeline intervals and their reduction to a fixed number of slots.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{AvailabilityError, Result};
use crate::weights::Weights;

/// Upper bound of `points` accepted by [`reduce_timeline`].
pub const MAX_POINTS: u64 = 10_000_000;

/// One interval of a state timeline: `state` held on `[start, end)` (µs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    /// State name (`unknown` and `no_heartbeat` are pseudo-states).
    pub state: String,
    /// Start, inclusive, µs.
    pub start: i64,
    /// End, exclusive, µs.
    pub end: i64,
}

impl Interval {
    /// `end - start` in µs (0 if the interval is empty or reversed).
    pub fn duration(&self) -> i64 {
        self.end.saturating_sub(self.start).max(0)
    }
}

/// Reduces a timeline to at most `points` intervals over `[from, to)`.
///
/// The window is cut into `points` fixed slots; slot `k` is
/// `[from + floor(k·span/points), from + floor((k+1)·span/points))` with
/// `span = to - from` (slots are empty when `points > span`). Each slot gets
/// the *worst* state (see [`Weights::severity_cmp`]: lowest weight first,
/// then excluded states, `unknown` last) among the input intervals that
/// overlap it by a positive length; a slot no interval overlaps is left out.
/// Adjacent slots with the same state are merged, so the output is sorted,
/// non-overlapping and has at most `points` intervals.
///
/// Input intervals may be in any order and may overlap; they are clipped
/// to the window. Cost: O(n log n) in the number of intervals, independent
/// of `points`. Errors: `InvalidArgument` when `from >= to`, `points == 0`
/// or `points > MAX_POINTS`.
pub fn reduce_timeline(
    intervals: &[Interval],
    from: i64,
    to: i64,
    points: u64,
    weights: &Weights,
) -> Result<Vec<Interval>> {
    if from >= to {
        return Err(AvailabilityError::InvalidArgument(format!(
            "window end ({to}) must be after its start ({from})"
        )));
    }
    if points == 0 || points > MAX_POINTS {
        return Err(AvailabilityError::InvalidArgument(format!(
            "points must be between 1 and {MAX_POINTS}, got {points}"
        )));
    }
    let slots = Slots {
        from,
        to,
        span: i128::from(to) - i128::from(from),
        n: i128::from(points),
    };
    let names = severity_order(intervals, weights);
    let rank_of: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let events = slot_events(intervals, &slots, &rank_of);
    Ok(worst_per_slot(&events, &names, &slots))
}

/// The `n` slots of the window `[from, to)` (`span = to - from`).
struct Slots {
    from: i64,
    to: i64,
    span: i128,
    n: i128,
}

impl Slots {
    /// Start of slot `k` (`to` for `k == n`).
    fn boundary(&self, k: i128) -> i64 {
        let b = i128::from(self.from) + k * self.span / self.n;
        i64::try_from(b).unwrap_or(self.to)
    }

    /// Last slot whose start is <= t (t inside the window).
    fn slot_of(&self, t: i64) -> i128 {
        let x = i128::from(t) - i128::from(self.from);
        ((x + 1) * self.n + self.span - 1) / self.span - 1
    }
}

/// The distinct state names, worst first by [`Weights::severity_cmp`]: a
/// name's position is its severity rank.
fn severity_order<'a>(intervals: &'a [Interval], weights: &Weights) -> Vec<&'a str> {
    let mut names: Vec<&str> = intervals.iter().map(|iv| iv.state.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.sort_by(|a, b| weights.severity_cmp(a, b));
    names
}

/// Each clipped interval covers the slot range `[a, b]`: a start event at
/// `a` and an end event at `b + 1` with its rank, sorted by slot.
fn slot_events(
    intervals: &[Interval],
    slots: &Slots,
    rank_of: &BTreeMap<&str, usize>,
) -> Vec<(i128, bool, usize)> {
    let mut events: Vec<(i128, bool, usize)> = Vec::new();
    for iv in intervals {
        let start = iv.start.max(slots.from);
        let end = iv.end.min(slots.to);
        if end <= start {
            continue;
        }
        let Some(&rank) = rank_of.get(iv.state.as_str()) else {
            continue;
        };
        let a = slots.slot_of(start);
        let b = slots.slot_of(end - 1);
        events.push((a, true, rank));
        events.push((b + 1, false, rank));
    }
    events.sort_unstable();
    events
}

/// Sweeps the slot axis with a multiset of active ranks: each stretch of
/// slots gets the worst active state, adjacent equal states merged.
fn worst_per_slot(events: &[(i128, bool, usize)], names: &[&str], slots: &Slots) -> Vec<Interval> {
    let mut active: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out: Vec<Interval> = Vec::new();
    let mut i = 0;
    while let Some(&(slot, _, _)) = events.get(i) {
        while let Some(&(s, is_start, rank)) = events.get(i) {
            if s != slot {
                break;
            }
            if is_start {
                *active.entry(rank).or_insert(0) += 1;
            } else if let Some(c) = active.get_mut(&rank) {
                *c -= 1;
                if *c == 0 {
                    active.remove(&rank);
                }
            }
            i += 1;
        }
        let Some((&worst, _)) = active.first_key_value() else {
            continue;
        };
        let next_slot = events.get(i).map_or(slots.n, |e| e.0);
        let (start, end) = (slots.boundary(slot), slots.boundary(next_slot));
        if end <= start {
            continue;
        }
        let state = names.get(worst).copied().unwrap_or("");
        match out.last_mut() {
            Some(prev) if prev.state == state && prev.end == start => prev.end = end,
            _ => out.push(Interval {
                state: state.to_string(),
                start,
                end,
            }),
        }
    }
    out
}
