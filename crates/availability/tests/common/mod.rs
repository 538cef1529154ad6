//! Event and configuration generators shared by the property tests.
// Each test file uses its own subset.
#![allow(dead_code)]

use availability::{AvailabilityConfig, AvailabilityState, GapPolicy, Weights};
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
