//! Hand-computed cases of the documented semantics.

use availability::{
    reduce_timeline, sample_mean, AvailabilityConfig, AvailabilityError, AvailabilityState,
    GapPolicy, Interval, SampleMean, Summary, Weights,
};

fn summary(from: i64, to: i64, carry_in: Option<&str>, events: &[(i64, &str)]) -> Summary {
    summary_with(AvailabilityConfig::default(), from, to, carry_in, events)
}

fn summary_with(
    config: AvailabilityConfig,
    from: i64,
    to: i64,
    carry_in: Option<&str>,
    events: &[(i64, &str)],
) -> Summary {
    let s = AvailabilityState::from_events(config, from, to, carry_in, events.iter().copied())
        .expect("state");
    let direct = s.summary();
    // Every case must also hold after a serialization round trip and for
    // the reversed input order.
    let back = AvailabilityState::from_bytes(&s.to_bytes()).expect("round trip");
    assert_eq!(back.summary(), direct, "round trip changed the summary");
    let reversed = AvailabilityState::from_events(
        s.config().clone(),
        from,
        to,
        carry_in,
        events.iter().rev().copied(),
    )
    .expect("state");
    assert_eq!(
        reversed.summary(),
        direct,
        "reversed input changed the summary"
    );
    direct
}

fn heartbeat(liveness: i64, policy: GapPolicy) -> AvailabilityConfig {
    AvailabilityConfig::new(Weights::default(), Some(liveness), policy).expect("config")
}

fn assert_close(a: Option<f64>, b: f64) {
    let a = a.expect("availability defined");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn basic_outage() {
    let s = summary(
        0,
        100,
        None,
        &[(0, "online"), (30, "offline"), (50, "online")],
    );
    assert_close(s.availability, 0.8);
    assert_eq!(s.time_in("online"), 80);
    assert_eq!(s.time_in("offline"), 20);
    assert_eq!(s.uptime_us, 80);
    assert_eq!(s.downtime_us, 20);
    assert_eq!((s.outages, s.failures), (1, 1));
    assert_eq!(s.longest_outage_us, 20);
    assert_eq!(s.mtbf_us, Some(80));
    assert_eq!(s.mttr_us, Some(20));
    assert_eq!(s.first_state.as_deref(), Some("online"));
    assert_eq!(s.last_state.as_deref(), Some("online"));
    assert_eq!(s.last_event_time, Some(50));
}

#[test]
fn last_state_extends_to_window_end() {
    let s = summary(0, 100, None, &[(0, "online"), (90, "offline")]);
    assert_close(s.availability, 0.9);
    assert_eq!(s.time_in("offline"), 10);
    assert!(s.outage_in_progress_at_to);
    assert_eq!(s.mttr_us, Some(10));
}

#[test]
fn no_carry_in_prefix_is_unknown_and_excluded() {
    let s = summary(0, 100, None, &[(40, "online")]);
    assert_eq!(s.unknown_us, 40);
    assert_eq!(s.time_in("unknown"), 40);
    assert_eq!(s.included_us, 60);
    assert_close(s.availability, 1.0);
    assert_eq!(s.first_state, None);
}

#[test]
fn carry_in_argument() {
    let s = summary(0, 100, Some("offline"), &[(40, "online")]);
    assert_close(s.availability, 0.6);
    assert_eq!(s.unknown_us, 0);
    assert_eq!(s.outages, 1);
    assert!(s.outage_in_progress_at_from);
    assert_eq!(s.failures, 0);
    assert_eq!(s.mtbf_us, None);
    assert_eq!(s.mttr_us, Some(40));
    assert_eq!(s.first_state.as_deref(), Some("offline"));
}

#[test]
fn event_before_from_is_carry_in_and_beats_argument() {
    let events = [(-10, "online"), (-5, "offline"), (40, "online")];
    let s = summary(0, 100, None, &events);
    assert_close(s.availability, 0.6);
    // The argument is only a fallback: the event at -5 wins over it.
    let s2 = summary(0, 100, Some("online"), &events);
    assert_eq!(s2, s);
}

#[test]
fn event_at_from_overrides_carry_in_and_event_at_to_is_ignored() {
    let s = summary(
        0,
        100,
        Some("offline"),
        &[(0, "online"), (100, "offline"), (150, "offline")],
    );
    assert_close(s.availability, 1.0);
    assert_eq!(s.outages, 0);
    assert_eq!(s.last_state.as_deref(), Some("online"));
    assert_eq!(s.first_state.as_deref(), Some("online"));
}

#[test]
fn duplicate_timestamps_worst_wins_in_any_order() {
    let a = summary(
        0,
        100,
        None,
        &[(0, "online"), (50, "online"), (50, "offline")],
    );
    let b = summary(
        0,
        100,
        None,
        &[(50, "offline"), (0, "online"), (50, "online")],
    );
    assert_eq!(a, b);
    assert_close(a.availability, 0.5);
    // warning (0.5) beats online; maintenance (excluded) loses to online.
    let c = summary(0, 100, None, &[(0, "online"), (0, "warning")]);
    assert_eq!(c.time_in("warning"), 100);
    let d = summary(0, 100, None, &[(0, "maintenance"), (0, "online")]);
    assert_eq!(d.time_in("online"), 100);
    // Two excluded states: byte order of the name decides.
    let e = summary(0, 100, None, &[(0, "zeta"), (0, "alpha")]);
    assert_eq!(e.time_in("alpha"), 100);
}

#[test]
fn warning_maintenance_and_custom_states() {
    let s = summary(0, 100, None, &[(0, "online"), (50, "warning")]);
    assert_close(s.availability, 0.75);
    assert_eq!(s.uptime_us, 100);
    assert_eq!(s.weighted_uptime_us, 75.0);

    let s = summary(
        0,
        100,
        None,
        &[(0, "online"), (50, "maintenance"), (75, "offline")],
    );
    assert_eq!(s.included_us, 75);
    assert_close(s.availability, 50.0 / 75.0);
    assert_eq!(s.excluded_us, 25);

    // A state without a weight is excluded like maintenance, its time reported.
    let s = summary(0, 100, None, &[(0, "online"), (60, "calibrating")]);
    assert_eq!(s.time_in("calibrating"), 40);
    assert_close(s.availability, 1.0);

    let weights =
        Weights::from_json_str(r#"{"calibrating": 0.25, "maintenance": 1, "warning": null}"#)
            .expect("weights");
    let config = AvailabilityConfig::new(weights, None, GapPolicy::Down).expect("config");
    let s = summary_with(
        config,
        0,
        100,
        None,
        &[(0, "calibrating"), (40, "maintenance"), (60, "warning")],
    );
    assert_eq!(s.included_us, 60);
    assert_close(s.availability, (0.25 * 40.0 + 20.0) / 60.0);
}

#[test]
fn explicit_unknown_events_and_weighted_unknown() {
    let s = summary(
        0,
        100,
        None,
        &[(0, "online"), (50, "unknown"), (80, "online")],
    );
    assert_eq!(s.unknown_us, 30);
    assert_close(s.availability, 1.0);
    let weights = Weights::from_json_str(r#"{"unknown": 0}"#).expect("weights");
    let config = AvailabilityConfig::new(weights, None, GapPolicy::Down).expect("config");
    let s = summary_with(
        config,
        0,
        100,
        None,
        &[(20, "online"), (50, "unknown"), (80, "online")],
    );
    // Prefix 20 + explicit 30 unknown, both weight 0: two outages.
    assert_close(s.availability, 50.0 / 100.0);
    assert_eq!(s.outages, 2);
    assert_eq!(s.failures, 2);
}

#[test]
fn empty_window_without_information() {
    let s = summary(0, 100, None, &[]);
    assert_eq!(s.availability, None);
    assert_eq!(s.unknown_us, 100);
    assert_eq!(s.outages, 0);
    assert_eq!(s.last_state, None);
}

#[test]
fn heartbeat_gaps_count_as_down() {
    let events = [(0, "online"), (5, "online"), (40, "online"), (45, "online")];
    let s = summary_with(heartbeat(10, GapPolicy::Down), 0, 100, None, &events);
    // Alive [0,15) and [40,55); gaps [15,40) and [55,100).
    assert_eq!(s.time_in("online"), 30);
    assert_eq!(s.time_in("no_heartbeat"), 70);
    assert_close(s.availability, 0.3);
    assert_eq!((s.outages, s.failures), (2, 2));
    assert_eq!(s.longest_outage_us, 45);
    assert!(s.outage_in_progress_at_to);
    // A gap of exactly L is no gap.
    let s = summary_with(
        heartbeat(10, GapPolicy::Down),
        0,
        30,
        None,
        &[(0, "online"), (10, "online"), (20, "online")],
    );
    assert_close(s.availability, 1.0);
}

#[test]
fn heartbeat_gaps_as_unknown() {
    let events = [(0, "online"), (5, "online"), (40, "online"), (45, "online")];
    let s = summary_with(heartbeat(10, GapPolicy::Unknown), 0, 100, None, &events);
    assert_eq!(s.unknown_us, 70);
    assert_close(s.availability, 1.0);
    assert_eq!(s.outages, 0);
}

#[test]
fn heartbeat_offline_then_gap_is_one_outage() {
    let events = [(0, "online"), (20, "offline"), (60, "online")];
    let s = summary_with(heartbeat(10, GapPolicy::Down), 0, 70, None, &events);
    // online [0,10) gap [10,20) offline [20,30) gap [30,60) online [60,70)
    assert_eq!(s.time_in("online"), 20);
    assert_eq!(s.time_in("offline"), 10);
    assert_eq!(s.time_in("no_heartbeat"), 40);
    assert_eq!(s.outages, 1);
    assert_eq!(s.longest_outage_us, 50);
}

#[test]
fn heartbeat_carry_in_liveness() {
    let window = |carry_in, events: &[(i64, &str)]| {
        summary_with(heartbeat(10, GapPolicy::Down), 0, 100, carry_in, events)
    };
    // Carry-in event at -20 lapsed at -10: the window starts in a gap that
    // began before `from`.
    let s = window(None, &[(-20, "online"), (30, "online")]);
    assert_eq!(s.time_in("no_heartbeat"), 30 + 60);
    assert!(s.outage_in_progress_at_from);
    assert_eq!((s.outages, s.failures), (2, 1));
    // Carry-in event still alive at from: [0,5) online.
    let s = window(None, &[(-5, "online"), (30, "online")]);
    assert_eq!(s.time_in("online"), 5 + 10);
    // A carry-in argument counts as heard at from.
    let s = window(Some("online"), &[(30, "online")]);
    assert_eq!(s.time_in("online"), 10 + 10);
    assert!(!s.outage_in_progress_at_from);
}

#[test]
fn timeline_covers_window() {
    let s = AvailabilityState::from_events(
        heartbeat(10, GapPolicy::Down),
        0,
        100,
        None,
        [(20, "online"), (25, "online"), (50, "offline")],
    )
    .expect("state");
    let tl = s.timeline();
    let expect = [
        ("unknown", 0, 20),
        ("online", 20, 35),
        ("no_heartbeat", 35, 50),
        ("offline", 50, 60),
        ("no_heartbeat", 60, 100),
    ];
    assert_eq!(tl.len(), expect.len());
    for (iv, (st, a, b)) in tl.iter().zip(expect) {
        assert_eq!((iv.state.as_str(), iv.start, iv.end), (st, a, b));
    }
}

#[test]
fn reducer_keeps_worst_state_per_slot() {
    let iv = |s: &str, a: i64, b: i64| Interval {
        state: s.to_string(),
        start: a,
        end: b,
    };
    let tl = vec![
        iv("unknown", 0, 5),
        iv("online", 5, 32),
        iv("offline", 32, 33),
        iv("online", 33, 60),
        iv("maintenance", 60, 80),
        iv("warning", 80, 100),
    ];
    let out = reduce_timeline(&tl, 0, 100, 10, &Weights::default()).expect("reduce");
    let got: Vec<(&str, i64, i64)> = out
        .iter()
        .map(|i| (i.state.as_str(), i.start, i.end))
        .collect();
    assert_eq!(
        got,
        vec![
            ("online", 0, 30),
            ("offline", 30, 40),
            ("online", 40, 60),
            ("maintenance", 60, 80),
            ("warning", 80, 100),
        ]
    );
    // Fewer slots than the span allows: at most `points` intervals.
    let out = reduce_timeline(&tl, 0, 100, 3, &Weights::default()).expect("reduce");
    assert!(out.len() <= 3);
    assert_eq!(out.first().map(|i| i.state.as_str()), Some("offline"));
    assert!(matches!(
        reduce_timeline(&tl, 0, 100, 0, &Weights::default()),
        Err(AvailabilityError::InvalidArgument(_))
    ));
}

#[test]
fn old_service_sample_mean() {
    let mut statuses = vec![Some("online"); 9];
    statuses.push(Some("offline"));
    assert_eq!(sample_mean(statuses.iter().copied()), Some(90.0));
    // -1 enters the mean.
    assert_eq!(
        sample_mean([Some("online"), Some("maintenance")]),
        Some(0.0)
    );
    assert_eq!(sample_mean([Some("offline"), Some("unknown")]), Some(-50.0));
    assert_eq!(
        sample_mean([Some("online"), None, Some("warning")]),
        Some(16.67)
    );
    assert_eq!(sample_mean(std::iter::empty()), None);
    // Mergeable and serializable accumulator.
    let mut a = SampleMean::new();
    let mut b = SampleMean::new();
    for (i, s) in statuses.iter().enumerate() {
        if i % 2 == 0 {
            a.push(*s)
        } else {
            b.push(*s)
        }
    }
    a.merge(&b);
    assert_eq!(a.count(), 10);
    assert_eq!(a.value(), Some(90.0));
    let back = SampleMean::from_bytes(&a.to_bytes()).expect("round trip");
    assert_eq!(back, a);
    assert!(SampleMean::from_bytes(b"SM\x01garbage").is_err());
}

#[test]
fn invalid_arguments() {
    let cfg = AvailabilityConfig::default();
    assert!(matches!(
        AvailabilityState::new(cfg.clone(), 10, 10, None),
        Err(AvailabilityError::InvalidArgument(_))
    ));
    assert!(matches!(
        AvailabilityConfig::new(Weights::default(), Some(0), GapPolicy::Down),
        Err(AvailabilityError::InvalidArgument(_))
    ));
    assert!(Weights::from_json_str(r#"{"online": 2}"#).is_err());
    assert!(Weights::from_json_str(r#"{"online": "1"}"#).is_err());
    assert!(Weights::from_json_str(r#"[1]"#).is_err());
    assert!(GapPolicy::parse("sideways").is_err());
    let mut a = AvailabilityState::new(cfg, 0, 10, None).expect("state");
    let b = AvailabilityState::new(heartbeat(5, GapPolicy::Down), 0, 10, None).expect("state");
    assert!(matches!(
        a.merge(&b),
        Err(AvailabilityError::InvalidArgument(_))
    ));
}

#[test]
fn garbage_bytes_are_errors() {
    assert!(matches!(
        AvailabilityState::from_bytes(b""),
        Err(AvailabilityError::InvalidState(_))
    ));
    assert!(matches!(
        AvailabilityState::from_bytes(b"AV\x09\x00"),
        Err(AvailabilityError::Unsupported(_))
    ));
    // A huge run count with no bytes behind it is refused before allocating.
    let mut bytes = AvailabilityState::new(AvailabilityConfig::default(), 0, 10, None)
        .expect("state")
        .to_bytes();
    bytes.pop();
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        AvailabilityState::from_bytes(&bytes),
        Err(AvailabilityError::InvalidState(_))
    ));
}

#[test]
fn json_debug_view() {
    let s = AvailabilityState::from_events(
        AvailabilityConfig::default(),
        0,
        100,
        Some("offline"),
        [(10, "online"), (20, "online"), (-3, "warning")],
    )
    .expect("state");
    let v = serde_json::to_value(&s).expect("json");
    assert_eq!(v["from"], 0);
    assert_eq!(v["runs"][0]["state"], "online");
    assert_eq!(v["runs"][0]["last"], 20);
    assert_eq!(v["carry_in_event"]["state"], "warning");
    assert_eq!(v["carry_in_param"], "offline");
    assert_eq!(v["weights"]["warning"], 0.5);
    let sv = serde_json::to_value(s.summary()).expect("json");
    assert_eq!(sv["time_in"]["warning"], 10);
}

#[test]
fn documented_approximation_for_an_event_inside_a_collapsed_run() {
    let mut s = AvailabilityState::new(AvailabilityConfig::default(), 0, 200, None).expect("state");
    s.set_buffer_capacity(4);
    for t in (0..=100).step_by(10) {
        s.push(t, "online").expect("push");
    }
    // Arrives after online 40 and 50 were collapsed into one run: the next
    // online event after 45 is unknown, so online resumes 1 µs later.
    s.push(45, "offline").expect("push");
    let tl = s.timeline();
    let got: Vec<(&str, i64, i64)> = tl
        .iter()
        .map(|i| (i.state.as_str(), i.start, i.end))
        .collect();
    assert_eq!(
        got,
        vec![("online", 0, 45), ("offline", 45, 46), ("online", 46, 200)]
    );
    // With every event in one buffer the answer is exact: offline [45, 50).
    let exact = AvailabilityState::from_events(
        AvailabilityConfig::default(),
        0,
        200,
        None,
        (0..=100)
            .step_by(10)
            .map(|t| (t, "online"))
            .chain([(45, "offline")]),
    )
    .expect("state");
    assert_eq!(exact.summary().time_in("offline"), 5);
    assert!(!exact.is_approximate());
}

/// Events every 10 µs; two partial states take alternating 100 µs blocks
/// (like parallel workers reading alternating heap blocks).
fn interleaved(
    offline: std::ops::Range<i64>,
) -> (AvailabilityState, AvailabilityState, AvailabilityState) {
    let events: Vec<(i64, &str)> = (0..60)
        .map(|i| i * 10)
        .map(|t| {
            (
                t,
                if offline.contains(&t) {
                    "offline"
                } else {
                    "online"
                },
            )
        })
        .collect();
    let build = |pick: i64| {
        let mut s =
            AvailabilityState::new(AvailabilityConfig::default(), 0, 600, None).expect("state");
        s.set_buffer_capacity(3);
        for &(t, st) in events.iter().filter(|e| (e.0 / 100) % 2 == pick) {
            s.push(t, st).expect("push");
        }
        // Partial states travel serialized (fully collapsed).
        AvailabilityState::from_bytes(&s.to_bytes()).expect("bytes")
    };
    let whole = AvailabilityState::from_events(
        AvailabilityConfig::default(),
        0,
        600,
        None,
        events.iter().copied(),
    )
    .expect("state");
    (build(0), build(1), whole)
}

#[test]
fn interleaved_partials_exact_when_runs_do_not_nest() {
    // Offline [150, 260): each partial's runs only abut the other's.
    let (a, b, whole) = interleaved(150..260);
    let mut m = a.clone();
    m.merge(&b).expect("merge");
    assert_eq!(m.summary(), whole.summary());
    assert_eq!(m.summary().time_in("offline"), 110);
    assert!(!m.is_approximate());
}

#[test]
fn interleaved_partials_nested_run_underestimated_by_less_than_a_sample() {
    // Offline [150, 200) lies inside partial A's collapsed online run
    // 0..290: offline ends 1 µs after its last event (190) instead of at
    // A's next event (200).
    let (a, b, whole) = interleaved(150..200);
    let mut ab = a.clone();
    ab.merge(&b).expect("merge");
    let mut ba = b.clone();
    ba.merge(&a).expect("merge");
    assert_eq!(ab.to_bytes(), ba.to_bytes());
    assert_eq!(whole.summary().time_in("offline"), 50);
    assert_eq!(ab.summary().time_in("offline"), 41);
    assert_eq!(ab.summary().outages, 1);
    assert!(ab.is_approximate() && ba.is_approximate());
}
