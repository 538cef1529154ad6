//! Final function: the timeline of a window and the figures derived from it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::runs::Run;
use crate::state::{AvailabilityState, GapPolicy};
use crate::timeline::Interval;
use crate::weights::{Weights, NO_HEARTBEAT, UNKNOWN};

/// Figures of one window, all durations in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Window start (inclusive), µs.
    pub from: i64,
    /// Window end (exclusive), µs.
    pub to: i64,
    /// Σ weight × duration / Σ duration over included (weighted) states;
    /// `None` when no time is in an included state.
    pub availability: Option<f64>,
    /// Σ duration over included states (the denominator), µs.
    pub included_us: i64,
    /// Σ weight × duration over included states (the numerator), µs.
    pub weighted_uptime_us: f64,
    /// Time in included states of positive weight (up, possibly degraded), µs.
    pub uptime_us: i64,
    /// Time in included states of weight 0 (= total outage duration), µs.
    pub downtime_us: i64,
    /// Time in `unknown` (no information), µs.
    pub unknown_us: i64,
    /// Time in excluded states, `unknown` included, µs.
    pub excluded_us: i64,
    /// Time spent in each state (every name that has time), µs. Includes the
    /// pseudo-states `unknown` and `no_heartbeat`. Sums to `to - from`.
    pub time_in: BTreeMap<String, i64>,
    /// Maximal intervals of weight-0 time intersecting the window, including
    /// one already in progress at `from` and one still open at `to`.
    pub outages: u64,
    /// Outages that began inside the window: `outages` minus the one in
    /// progress at `from`, if any.
    pub failures: u64,
    /// The window starts inside an outage that began before `from`.
    pub outage_in_progress_at_from: bool,
    /// The window ends inside an outage.
    pub outage_in_progress_at_to: bool,
    /// Longest outage (its part inside the window), µs; 0 without outages.
    pub longest_outage_us: i64,
    /// Mean time between failures: `uptime_us / failures`, rounded to the
    /// nearest µs; `None` when `failures == 0`.
    pub mtbf_us: Option<i64>,
    /// Mean time to repair: `downtime_us / outages`, rounded to the nearest
    /// µs; `None` when `outages == 0`.
    pub mttr_us: Option<i64>,
    /// Reported state in force at `from`: an event at `from`, else the
    /// carry-in; `None` when unknown. Liveness is not applied.
    pub first_state: Option<String>,
    /// Reported state of the latest event in the window, else the carry-in;
    /// `None` when unknown. Liveness is not applied. This is the value to
    /// pass as `carry_in` to the next window.
    pub last_state: Option<String>,
    /// Time of the latest event in the window, else of the carry-in event; µs.
    pub last_event_time: Option<i64>,
    /// The documented approximation was applied (an event or merged run
    /// fell strictly inside a collapsed run of another state); when false,
    /// every figure is exact.
    pub approximate: bool,
}

impl Summary {
    /// Time spent in `state` (0 if none), µs.
    pub fn time_in(&self, state: &str) -> i64 {
        self.time_in.get(state).copied().unwrap_or(0)
    }
}

/// The carry-in in force at `from` and the time it was last heard.
struct Head {
    heard_at: i64,
    state: u32,
}

impl AvailabilityState {
    fn head(&self) -> Option<Head> {
        match (self.carry_in_event, self.carry_in_param) {
            (Some((t, s)), _) => Some(Head {
                heard_at: t,
                state: s,
            }),
            (None, Some(s)) => Some(Head {
                heard_at: self.from,
                state: s,
            }),
            (None, None) => None,
        }
    }

    fn gap_name(&self) -> &'static str {
        match self.config.gap_policy {
            GapPolicy::Down => NO_HEARTBEAT,
            GapPolicy::Unknown => UNKNOWN,
        }
    }

    /// The window as consecutive intervals covering `[from, to)` exactly;
    /// adjacent intervals always differ in state.
    pub fn timeline(&self) -> Vec<Interval> {
        self.timeline_of(&self.snapshot_runs())
    }

    /// The timeline's intervals, in order, without collecting them: `f(state, start,
    /// end)` for each (what [`AvailabilityState::timeline`] returns).
    pub fn for_each_interval(&self, f: impl FnMut(&str, i64, i64)) {
        self.visit_timeline(&self.snapshot_runs(), f);
    }

    /// The timeline of `runs` (the state's runs with its buffer folded in).
    fn timeline_of(&self, runs: &[Run]) -> Vec<Interval> {
        let mut out: Vec<Interval> = Vec::with_capacity(runs.len().saturating_mul(2) + 2);
        self.visit_timeline(runs, |state, start, end| {
            out.push(Interval {
                state: state.to_string(),
                start,
                end,
            })
        });
        out
    }

    /// Calls `f` with each interval of the timeline of `runs`, adjacent pieces of one
    /// state joined.
    fn visit_timeline(&self, runs: &[Run], mut f: impl FnMut(&str, i64, i64)) {
        let liveness = self.config.liveness_us;
        let gap = self.gap_name();
        let alive_until = |heard: i64| liveness.map_or(i64::MAX, |l| heard.saturating_add(l));
        // The interval being grown: it is handed to `f` once the next one differs.
        let mut pending: Option<(&str, i64, i64)> = None;
        fn push<'s>(
            pending: &mut Option<(&'s str, i64, i64)>,
            state: &'s str,
            start: i64,
            end: i64,
            f: &mut dyn FnMut(&str, i64, i64),
        ) {
            if end <= start {
                return;
            }
            if let Some((s, _, e)) = pending {
                if *s == state && *e == start {
                    *e = end;
                    return;
                }
            }
            if let Some((s, a, b)) = pending.replace((state, start, end)) {
                f(s, a, b);
            }
        }
        let first_start = runs.first().map_or(self.to, |r| r.start);
        // The state in force at `from` up to the first run, then each run up to the next:
        // (state, start, last heard, end).
        let head = self
            .head()
            .map(|h| (self.names.name(h.state), self.from, h.heard_at, first_start));
        if head.is_none() {
            push(&mut pending, UNKNOWN, self.from, first_start, &mut f);
        }
        let heard = runs.iter().enumerate().map(|(i, r)| {
            let end = runs.get(i + 1).map_or(self.to, |n| n.start);
            (self.names.name(r.state), r.start, r.last, end)
        });
        // Each is its state while heard, then the gap state.
        for (state, start, last, end) in head.into_iter().chain(heard) {
            let alive_end = alive_until(last).min(end).max(start);
            push(&mut pending, state, start, alive_end, &mut f);
            push(&mut pending, gap, alive_end, end, &mut f);
        }
        if let Some((s, a, b)) = pending {
            f(s, a, b);
        }
    }

    /// All figures of the window.
    pub fn summary(&self) -> Summary {
        // One snapshot (the buffer folded in) serves every figure.
        let (runs, approximate) = self.snapshot();
        let timeline = self.timeline_of(&runs);
        let weights: &Weights = &self.config.weights;
        let time_in = time_in_states(&timeline);
        let totals = WeightedTotals::of(&time_in, weights);
        let availability =
            (totals.included_us > 0).then(|| totals.weighted_uptime_us / totals.included_us as f64);
        let outages = Outages::of(&timeline, weights);
        let outage_in_progress_at_from = self.down_just_before_from()
            && timeline
                .first()
                .is_some_and(|iv| is_down(weights, &iv.state));
        let failures = outages
            .count
            .saturating_sub(u64::from(outage_in_progress_at_from));
        let (first_state, last_state, last_event_time) = self.end_states(&runs);
        Summary {
            from: self.from,
            to: self.to,
            availability,
            included_us: totals.included_us,
            weighted_uptime_us: totals.weighted_uptime_us,
            uptime_us: totals.uptime_us,
            downtime_us: totals.downtime_us,
            unknown_us: time_in.get(UNKNOWN).copied().unwrap_or(0),
            excluded_us: totals.excluded_us,
            outages: outages.count,
            failures,
            outage_in_progress_at_from,
            outage_in_progress_at_to: outages.in_progress_at_to,
            longest_outage_us: outages.longest_us,
            mtbf_us: rounded_div(totals.uptime_us, failures),
            mttr_us: rounded_div(totals.downtime_us, outages.count),
            first_state,
            last_state,
            last_event_time,
            approximate,
            time_in,
        }
    }

    /// The state at `from`, the last state and the time of the last event
    /// (from the runs, else from the carry-in).
    fn end_states(&self, runs: &[Run]) -> (Option<String>, Option<String>, Option<i64>) {
        let head = self.head();
        let first_state = match runs.first() {
            Some(r) if r.start == self.from => Some(self.names.name(r.state).to_string()),
            _ => head.as_ref().map(|h| self.names.name(h.state).to_string()),
        };
        let (last_state, last_event_time) = match runs.last() {
            Some(r) => (Some(self.names.name(r.state).to_string()), Some(r.last)),
            None => (
                head.as_ref().map(|h| self.names.name(h.state).to_string()),
                self.carry_in_event.map(|(t, _)| t),
            ),
        };
        (first_state, last_state, last_event_time)
    }

    /// Whether the timeline 1 µs before `from` (as known from the carry-in)
    /// was in a weight-0 state.
    fn down_just_before_from(&self) -> bool {
        let Some(h) = self.head() else {
            return false;
        };
        let before = self.from.saturating_sub(1);
        let alive = match self.config.liveness_us {
            None => true,
            Some(l) => h.heard_at.saturating_add(l) > before,
        };
        let state = if alive {
            self.names.name(h.state)
        } else {
            self.gap_name()
        };
        is_down(&self.config.weights, state)
    }
}

/// Whether `state` has weight 0 (counts as an outage).
fn is_down(weights: &Weights, state: &str) -> bool {
    weights.weight(state) == Some(0.0)
}

/// Time in each state over the timeline.
fn time_in_states(timeline: &[Interval]) -> BTreeMap<String, i64> {
    let mut time_in: BTreeMap<String, i64> = BTreeMap::new();
    for iv in timeline {
        let slot = time_in.entry(iv.state.clone()).or_insert(0);
        *slot = slot.saturating_add(iv.duration());
    }
    time_in
}

/// Time in included (weighted) states, split by weight, and in excluded
/// states.
struct WeightedTotals {
    included_us: i64,
    weighted_uptime_us: f64,
    uptime_us: i64,
    downtime_us: i64,
    excluded_us: i64,
}

impl WeightedTotals {
    fn of(time_in: &BTreeMap<String, i64>, weights: &Weights) -> Self {
        let mut t = WeightedTotals {
            included_us: 0,
            weighted_uptime_us: 0.0,
            uptime_us: 0,
            downtime_us: 0,
            excluded_us: 0,
        };
        for (state, &d) in time_in {
            match weights.weight(state) {
                Some(w) => {
                    t.included_us = t.included_us.saturating_add(d);
                    t.weighted_uptime_us += w * d as f64;
                    if w > 0.0 {
                        t.uptime_us = t.uptime_us.saturating_add(d);
                    } else {
                        t.downtime_us = t.downtime_us.saturating_add(d);
                    }
                }
                None => t.excluded_us = t.excluded_us.saturating_add(d),
            }
        }
        t
    }
}

/// Outages: maximal runs of consecutive weight-0 intervals.
struct Outages {
    count: u64,
    longest_us: i64,
    /// Whether the timeline ends in an outage.
    in_progress_at_to: bool,
}

impl Outages {
    fn of(timeline: &[Interval], weights: &Weights) -> Self {
        let mut count = 0u64;
        let mut longest_us = 0i64;
        let mut current: Option<i64> = None;
        for iv in timeline {
            if is_down(weights, &iv.state) {
                current = Some(current.unwrap_or(0).saturating_add(iv.duration()));
            } else if let Some(d) = current.take() {
                count += 1;
                longest_us = longest_us.max(d);
            }
        }
        let in_progress_at_to = current.is_some();
        if let Some(d) = current {
            count += 1;
            longest_us = longest_us.max(d);
        }
        Outages {
            count,
            longest_us,
            in_progress_at_to,
        }
    }
}

fn rounded_div(total: i64, count: u64) -> Option<i64> {
    if count == 0 {
        return None;
    }
    let total = i128::from(total);
    let count = i128::from(count);
    i64::try_from((total + count / 2) / count).ok()
}
