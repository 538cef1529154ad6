//! Time-weighted equipment availability: a mergeable aggregate state for
//! `availability_agg(time, state, "from", "to", carry_in, weights, liveness)`,
//! its `rollup`, accessors, the old service's sample mean and timeline
//! reduction. Pure Rust; the SQL glue lives in the extension.
//!
//! Times are `i64` microseconds (PostgreSQL `timestamptz`), durations too.
//! States are arbitrary strings compared byte-exactly.
//!
//! # Semantics of one window `[from, to)`
//!
//! * **Events** `(time, state)` arrive in any order. Each state holds from
//!   its event until the next event; the last one holds until `to`.
//!   Events at or after `to` are ignored.
//! * **Carry-in.** Events before `from` are accepted: the latest of them is
//!   the state in force at `from` (so `WHERE time >= from - interval '1 day'`
//!   gives correct results). The `carry_in` argument is a fallback used only
//!   when no event before `from` was seen. An event exactly at `from`
//!   overrides the carry-in. Without any carry-in, the time before the first
//!   event is `unknown`.
//! * **Duplicate timestamps.** Among events at the same instant the *worst*
//!   state wins and the others are dropped — worst in the severity order of
//!   [`Weights::severity_cmp`]: lowest weight first, then excluded states,
//!   then `unknown`; ties by byte order of the name. The rule does not depend
//!   on input order.
//! * **Weights.** Availability = Σ weight × duration / Σ duration over the
//!   states that have a weight (`None` when that denominator is 0). Defaults:
//!   `online` 1, `warning` 0.5, `offline` 0, `no_heartbeat` 0; `maintenance`,
//!   `unknown` and **every state without a weight** are excluded from the
//!   denominator — their time is still reported by `time_in`. The weights map
//!   can give any state (also `maintenance` or `unknown`) a weight in
//!   `[0, 1]`, or exclude one with `null`.
//! * **`unknown`** is the no-information state: the prefix without carry-in,
//!   time after an event whose state is literally `"unknown"`, and heartbeat
//!   gaps under [`GapPolicy::Unknown`].
//! * **Outages.** An outage is a maximal stretch of the window's timeline in
//!   weight-0 states (consecutive weight-0 states, e.g. `offline` then
//!   `no_heartbeat`, form one outage; any other state, excluded ones too,
//!   ends it). `outages` counts every outage intersecting the window —
//!   including one already in progress at `from` through a weight-0 carry-in
//!   and one still open at `to` — with its in-window duration. `failures`
//!   counts those that began inside the window (`outages` minus the one in
//!   progress at `from`).
//! * **Uptime / downtime.** `uptime` = time in states of positive weight,
//!   `downtime` = time in weight-0 states (= total outage duration).
//! * **MTBF** = `uptime / failures`, **MTTR** = `downtime / outages`, both
//!   rounded to the nearest µs, `None` when the divisor is 0.
//! * **Heartbeat mode** (liveness `L` µs): an event at `t` proves liveness on
//!   `[t, t + L)`. If the next event comes later than `t + L`, the time from
//!   `t + L` to that event is a gap: `no_heartbeat` (weight 0, an outage)
//!   under [`GapPolicy::Down`], or `unknown` under [`GapPolicy::Unknown`]. The
//!   last event's liveness also ends before `to` the same way. A carry-in
//!   event keeps its own time (its liveness may have lapsed before `from`); a
//!   `carry_in` argument counts as heard at `from`.
//!
//! # State, merging and exactness
//!
//! The state keeps collapsed runs `(start, last_event_time, state)` of
//! identical consecutive states (split also at heartbeat gaps), so its size
//! is proportional to the number of state changes, not rows; plus a buffer of
//! at most [`DEFAULT_BUFFER_CAPACITY`] uncollapsed events that is sorted and
//! folded in when full (and before serializing).
//!
//! [`AvailabilityState::merge`] combines two states for the same, adjacent,
//! overlapping or even disjoint windows: the window becomes the hull; a
//! later state's unknown prefix is resolved by the earlier state's last
//! state; a run spanning the boundary joins; heartbeat liveness continues
//! across the boundary (the last event time is kept); carry-in events of the
//! later state that fall inside the hull become ordinary events. A gap
//! between the windows is assumed to hold no events (an empty bucket has no
//! row in a continuous aggregate). A later window's `carry_in` argument is
//! kept only if nothing at all is known at or before its `from`.
//!
//! **Exact cases.** Results are exact, and merging is commutative and
//! associative, whenever no event (or run) of one side falls strictly inside
//! a collapsed run of a *different* state of the other side — i.e. for
//! states whose events are time-contiguous (chunk-wise partials, bucket
//! rollups, split windows), for input sorted ascending or descending, and
//! for any input order as long as a state sees at most
//! `DEFAULT_BUFFER_CAPACITY` events in its window.
//!
//! **Inexact case.** A collapsed run `(s, l, A)` only says "events of `A` at
//! `s` and `l` and possibly at unknown times between". When an event of
//! another state `B` at `s < t < l` arrives later — out-of-order input
//! beyond the buffer, or partial states of interleaved subsets (e.g. PostgreSQL
//! parallel workers reading alternating blocks) — the first `A` event after
//! `t` is unknown. Rule: `B` holds from its first to its last known event and
//! `A` resumes **1 µs after** it; the earlier piece of `A` is treated as alive
//! until `t`. The duration of `B` is thus *underestimated* by at most the
//! distance to the next real event of `A` (with heartbeat mode, at most
//! `L`); totals still sum to the window length and availability stays in
//! `[0, 1]`. In this case merging stays commutative but is only
//! approximately associative. Merging interleaved subsets whose runs only
//! touch or abut (a state change exactly at a subset boundary) stays exact.
//!
//! # Other pieces
//!
//! * [`SampleMean`] / [`sample_mean`]: the old service's figure (mean of
//!   per-event values × 100, rounded to 2 decimals).
//! * [`AvailabilityState::timeline`] and [`reduce_timeline`] for
//!   `state_timeline(...)`.
//! * [`AvailabilityState::to_bytes`] / [`AvailabilityState::from_bytes`]: the
//!   versioned binary format (see the `codec` module docs, also in the
//!   crate README/report), and `serde::Serialize` for a JSON debug view.

mod codec;
mod debug_view;
mod error;
mod runs;
mod sample_mean;
mod state;
mod summary;
mod timeline;
mod weights;

pub use error::{AvailabilityError, Result};
pub use sample_mean::{sample_mean, status_value, SampleMean, SAMPLE_MEAN_BYTES};
pub use state::{AvailabilityConfig, AvailabilityState, GapPolicy, DEFAULT_BUFFER_CAPACITY};
pub use summary::Summary;
pub use timeline::{reduce_timeline, Interval, MAX_POINTS};
pub use weights::{Weights, NO_HEARTBEAT, UNKNOWN};

/// Timeline of a sorted (or any-order) event stream over `[from, to)`:
/// builds a state and returns [`AvailabilityState::timeline`].
pub fn timeline_from_events<'a, I>(
    config: AvailabilityConfig,
    from: i64,
    to: i64,
    carry_in: Option<&str>,
    events: I,
) -> Result<Vec<Interval>>
where
    I: IntoIterator<Item = (i64, &'a str)>,
{
    Ok(AvailabilityState::from_events(config, from, to, carry_in, events)?.timeline())
}
