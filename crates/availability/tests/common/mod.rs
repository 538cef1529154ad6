//! Event and configuration generators shared by the property tests.
// Each test file uses its own subset.
#![allow(dead_code)]

use availability::{AvailabilityConfig, AvailabilityState, GapPolicy, Summary, Weights};
use proptest::prelude::*;

pub const STATES: [&str; 7] = [
    "online",
    "warning",
    "offline",
    "maintenance",
    "calibrating",
    "unknown",
    "no_heartbeat",
];
pub const FROM: i64 = 0;
pub const TO: i64 = 200;

pub type Events = Vec<(i64, &'static str)>;

pub fn events_strategy(max: usize) -> impl Strategy<Value = Events> {
    prop::collection::vec((-30i64..230, 0usize..STATES.len()), 0..max)
        .prop_map(|v| v.into_iter().map(|(t, s)| (t, STATES[s])).collect())
}

pub fn config_strategy() -> impl Strategy<Value = AvailabilityConfig> {
    (
        prop::option::of(1i64..40),
        any::<bool>(),
        prop::option::of(0u8..=4),
        any::<bool>(),
    )
        .prop_map(|(liveness, unknown_gaps, calib, weigh_maintenance)| {
            let mut w = Weights::default();
            if let Some(c) = calib {
                w.set("calibrating", Some(f64::from(c) / 4.0))
                    .expect("weight");
            }
            if weigh_maintenance {
                w.set("maintenance", Some(1.0)).expect("weight");
            }
            let policy = if unknown_gaps {
                GapPolicy::Unknown
            } else {
                GapPolicy::Down
            };
            AvailabilityConfig::new(w, liveness, policy).expect("config")
        })
}

pub fn carry_in_strategy() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of((0usize..STATES.len()).prop_map(|i| STATES[i]))
}

/// Sorted event list (stable for equal times).
pub fn sorted(events: &Events) -> Events {
    let mut e = events.clone();
    e.sort_by_key(|&(t, _)| t);
    e
}

pub fn build(
    cfg: &AvailabilityConfig,
    from: i64,
    to: i64,
    carry_in: Option<&str>,
    events: &[(i64, &'static str)],
    capacity: usize,
) -> AvailabilityState {
    let mut s = AvailabilityState::new(cfg.clone(), from, to, carry_in).expect("state");
    s.set_buffer_capacity(capacity);
    for &(t, st) in events {
        s.push(t, st).expect("push");
    }
    s
}

/// `a` merged with `b` (neither changed).
pub fn merged(a: &AvailabilityState, b: &AvailabilityState) -> AvailabilityState {
    let mut m = a.clone();
    m.merge(b).expect("merge");
    m
}

/// Figures every summary must satisfy, exact or approximate.
pub fn check_invariants(s: &Summary) -> Result<(), TestCaseError> {
    if let Some(a) = s.availability {
        prop_assert!((0.0..=1.0).contains(&a), "availability {a}");
    }
    prop_assert_eq!(s.time_in.values().sum::<i64>(), s.to - s.from);
    prop_assert_eq!(s.uptime_us + s.downtime_us, s.included_us);
    prop_assert_eq!(s.included_us + s.excluded_us, s.to - s.from);
    prop_assert!(s.failures <= s.outages);
    prop_assert!(s.longest_outage_us <= s.downtime_us);
    prop_assert_eq!(s.outages == 0, s.downtime_us == 0);
    Ok(())
}

/// Overwrites (position, value) that corrupt an encoded state.
pub fn edits_strategy() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
}

/// `bytes` with `edits` applied.
pub fn corrupted(bytes: &[u8], edits: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for (i, v) in edits {
        let idx = i.index(bytes.len());
        bytes[idx] = *v;
    }
    bytes
}

/// The configuration of the corrupted states: liveness and weights both encoded.
pub fn corruption_config() -> AvailabilityConfig {
    AvailabilityConfig::new(Weights::default(), Some(7), GapPolicy::Down).expect("config")
}
