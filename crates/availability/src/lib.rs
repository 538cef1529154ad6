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
//! raw, uncollapsed events (16 bytes each) that is folded in when it reaches
//! the buffer capacity ([`DEFAULT_BUFFER_CAPACITY`], settable up to
//! [`MAX_BUFFER_CAPACITY`] with [`AvailabilityState::set_buffer_capacity`]).
//! Pushes keep the buffer below three times the capacity, merges below four
//! times. 1,000,000 events with 1,000 changes serialize to about 9 KB.
//!
//! Two serialized forms: [`AvailabilityState::to_bytes`] folds the buffer in
//! and is canonical (equal states, equal bytes: for stored values and final
//! results); [`AvailabilityState::to_partial_bytes`] writes the runs plus the
//! raw buffered events (about 4 bytes each at 1 s sampling) and the buffer
//! capacity, for the aggregate's serialize function: the leader of a
//! parallel plan gets the workers' events back as single events.
//! [`AvailabilityState::from_bytes`] reads both.
//!
//! Cost: a compaction sorts the buffer (linear when it is already sorted);
//! events that all land in one gap between runs (sorted input) are folded in
//! one linear pass, others cluster by cluster, each touching only the runs
//! next to it (runs are kept ordered by start). So a compaction of `n`
//! events costs O(n log n + n log R) for `R` runs — whatever the capacity and
//! the input order — and a push amortised O(log n + log R). Final functions
//! (summary, timeline, `to_bytes`) cost O(R + n log n).
//!
//! [`AvailabilityState::merge`] combines two states for the same, adjacent,
//! overlapping or disjoint windows: the window becomes the hull; a later
//! state's unknown prefix is resolved by the earlier state's last state; a
//! run spanning the boundary joins; heartbeat liveness continues across the
//! boundary (the last event time is kept); carry-in events of the later
//! state that fall inside the hull become ordinary events. Buffered events of
//! both sides stay raw in the merged buffer (its capacity is the larger of
//! the two) as long as together they fit in four times the capacity;
//! otherwise they are folded in. While events are buffered, runs never
//! collapse across them, so they still meet the other side's runs as single
//! events when they are folded in later. A later window's
//! `carry_in` argument is kept only if nothing at all is known at or before
//! its `from`. Parts of the hull that no merged window covered are kept as
//! *holes*: the final figures assume they hold no events (an empty bucket of
//! a continuous aggregate has no row), but runs never collapse across a
//! hole, so a state covering it that is merged later (a rollup reading its
//! buckets out of time order) still gives the exact result.
//!
//! **Exact cases.** All figures and the timeline are exact, and merging is
//! commutative and associative, whenever no event (or run) of one side falls
//! strictly inside a collapsed run of a *different* state of the other
//! side. Folding raw events is always exact; only events that land inside an
//! *already collapsed* run are not. That covers:
//!
//! * **parallel partial states** of any subsets of a group's rows —
//!   interleaved heap blocks handed to workers in turns, or arbitrary
//!   subsets — serialized with [`AvailabilityState::to_partial_bytes`] and
//!   merged in any order, when every worker's share stayed below its buffer
//!   capacity (nothing was collapsed before serializing) and all shares
//!   together fit in four times the capacity (with capacity 16384: up to
//!   16,383 rows of a group per process and 65,536 in all).
//!   A merge whose buffers outgrow four times the capacity folds everything
//!   in, still exactly; only partial states merged after it can be inexact;
//! * states of time-contiguous event sets merged in any order over different
//!   windows (chunk-wise partials, bucket rollups, split windows; holes keep
//!   non-adjacent pieces apart) or merged neighbour with neighbour over one
//!   window;
//! * input sorted ascending; input sorted descending unless more than twice
//!   the buffer capacity of events share one instant (the events at the
//!   newest pushed instant are held back uncollapsed, so duplicates arriving
//!   next meet them); any input order while a state holds at most the buffer
//!   capacity of events; and interleaved subsets whose runs only abut.
//!
//! **Inexact case.** A collapsed run `(s, l, A)` only says "events of `A` at
//! `s` and `l` and possibly at unknown times between". When events of other
//! states land strictly inside it later — unsorted input beyond the buffer,
//! partial states of interleaved subsets whose worker's share outgrew its
//! buffer before serializing (or that were serialized with
//! [`AvailabilityState::to_bytes`]), or two compacted partial states of one
//! window that are not time neighbours merged before the one between them —
//! the first `A` event after them is unknown. Rule: consecutive such events are treated as contiguous
//! (a nested run holds from its first to its last known event) and `A`
//! resumes **1 µs after** the last of them; the earlier piece of `A` is
//! treated as alive until the first. Their duration is thus
//! *underestimated* by at most the distance to the next real event of `A`
//! (typically less than one sampling period; with heartbeat mode at most
//! `L`); durations still sum to the window and availability stays in
//! `[0, 1]`. A duplicate timestamp whose events were split across such
//! states is the same situation. Merging then stays commutative (it is a
//! function of the union of runs) but only approximately associative.
//!
//! The worst realistic case is a *transition* fed large blocks of rows in
//! scrambled time order (more than the buffer): two far-apart blocks in one
//! buffer collapse across the unseen time between them, and each block that
//! later fills that time leaves a sliver (≈ one sampling period) of the
//! enclosing state. Availability stays close (10⁶ events in 1000-row
//! blocks scrambled, `examples/throughput.rs`: 0.62527 vs 0.62562 exact)
//! but outage counts inflate when the sliver state is a down state (731 vs
//! 251). Such states report
//! [`AvailabilityState::is_approximate`] / [`Summary::approximate`] = true;
//! whenever that flag is false, every figure is exact. Feeding rows in time
//! order (index scan, `ORDER BY`), merging time-contiguous partial states,
//! or partial bytes from buffers larger than each worker's share, avoids it.
//!
//! One detail: when a worse event at the same instant cuts off a collapsed
//! run, the stored last-event time of that run becomes "1 µs before the cut"
//! (its real last event before the cut is unknown once collapsed). That has
//! no effect on the figures; an event of a better state arriving later at
//! exactly that instant loses to it, which is flagged approximate (a run
//! winning at its last instant with a worse run starting 1 µs later). The
//! serialized bytes of two equivalent states can differ there.
//!
//! # Other pieces
//!
//! * [`SampleMean`] / [`sample_mean`]: the old service's figure (mean of
//!   per-event values × 100, rounded to 2 decimals).
//! * [`WindowedRollup`]: bucket states merged over a stated window (`rollup(state, from,
//!   to)`), with its partial bytes.
//! * [`BucketStates`] / [`BucketSpec`]: one pass of events into per-bucket states and the
//!   rows of a report, each bucket seeded with the last event before it.
//! * [`AvailabilityState::timeline`] and [`reduce_timeline`] for
//!   `state_timeline(...)`.
//! * [`AvailabilityState::to_bytes`] / [`AvailabilityState::to_partial_bytes`]
//!   / [`AvailabilityState::from_bytes`]: the versioned binary format, version
//!   1 with flag bit5 for partial bytes (see the `codec` module docs, also in
//!   the crate README/report), and `serde::Serialize` for a JSON debug view.

#![forbid(unsafe_code)]

mod codec;
mod debug_view;
mod error;
mod report;
mod report_share;
mod rollup;
mod runs;
mod sample_mean;
mod state;
mod summary;
mod timeline;
mod weights;

pub use error::{AvailabilityError, Result};
pub use key_groups::{GroupKey, KeyRef};
pub use report::{BucketRow, BucketSpec, BucketStates};
pub use report_share::{ReportShare, ReportShares};
pub use rollup::WindowedRollup;
pub use sample_mean::{sample_mean, status_value, SampleMean, SAMPLE_MEAN_BYTES};
pub use state::{
    AvailabilityConfig, AvailabilityState, GapPolicy, DEFAULT_BUFFER_CAPACITY, MAX_BUFFER_CAPACITY,
};
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
