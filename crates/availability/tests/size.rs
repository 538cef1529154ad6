//! State size is proportional to state changes, not rows.

use availability::{AvailabilityConfig, AvailabilityState, GapPolicy, Weights};

const EVENTS: usize = 1_000_000;
const CHANGES: usize = 1_000;
const STATES: [&str; 4] = ["online", "warning", "online", "offline"];
const SEC: i64 = 1_000_000;

fn event(i: usize) -> (i64, &'static str) {
    (
        i as i64 * SEC,
        STATES[(i / (EVENTS / CHANGES)) % STATES.len()],
    )
}

#[test]
fn million_events_thousand_changes_serialize_small() {
    let to = EVENTS as i64 * SEC;
    for liveness in [None, Some(5 * SEC)] {
        let cfg =
            AvailabilityConfig::new(Weights::default(), liveness, GapPolicy::Down).expect("config");
        let mut asc = AvailabilityState::new(cfg.clone(), 0, to, None).expect("state");
        for i in 0..EVENTS {
            let (t, s) = event(i);
            asc.push(t, s).expect("push");
        }
        let bytes = asc.to_bytes();
        eprintln!(
            "{EVENTS} events, {CHANGES} changes, liveness {liveness:?}: {} runs, {} bytes serialized",
            asc.run_count(),
            bytes.len()
        );
        assert_eq!(asc.run_count(), CHANGES);
        assert!(bytes.len() <= 16 * 1024, "{} bytes", bytes.len());
        assert!(bytes.len() <= 200 + 12 * CHANGES);

        // Descending input gives the identical state.
        let mut desc = AvailabilityState::new(cfg, 0, to, None).expect("state");
        for i in (0..EVENTS).rev() {
            let (t, s) = event(i);
            desc.push(t, s).expect("push");
        }
        assert_eq!(desc.to_bytes(), bytes);
        let s = asc.summary();
        assert_eq!(s.outages, (CHANGES / 4) as u64);
        let d = AvailabilityState::from_bytes(&bytes)
            .expect("bytes")
            .summary();
        assert_eq!(d, s);
    }
}
