//! Rollup of hourly bucket states equals the direct computation.

use availability::{AvailabilityConfig, AvailabilityState, GapPolicy, Summary, Weights};

const SEC: i64 = 1_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// One event per minute from `from` to `to`, with the state a function of time.
fn minute_samples(
    from: i64,
    to: i64,
    state_at: impl Fn(i64) -> Option<&'static str>,
) -> Vec<(i64, &'static str)> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        if let Some(s) = state_at(t) {
            out.push((t, s));
        }
        t += MIN;
    }
    out
}

/// Day 1 = [0, DAY), day 2 = [DAY, 2·DAY). An outage crosses the start of
/// day 1 (23:30 → 00:45), another crosses the midnight between the days
/// (23:50 → 00:20); a warning hour, maintenance, and a silent stretch that
/// spans an hour boundary and one that leaves hour 15 of day 1 empty.
fn state_at(t: i64) -> Option<&'static str> {
    let tod = t.rem_euclid(DAY);
    let day = t.div_euclid(DAY);
    if day == 0 && (10 * HOUR + 10 * MIN..11 * HOUR + 20 * MIN).contains(&tod) {
        return None; // silent across the 10→11 boundary
    }
    if day == 0 && (14 * HOUR + 50 * MIN..16 * HOUR + 10 * MIN).contains(&tod) {
        return None; // hour 15 has no events at all
    }
    let across_day_start = tod >= 23 * HOUR + 30 * MIN && day == -1 || tod < 45 * MIN && day == 0;
    let across_midnight = tod >= 23 * HOUR + 50 * MIN && day == 0 || tod < 20 * MIN && day == 1;
    let s = if across_day_start || across_midnight {
        "offline"
    } else if (6 * HOUR..7 * HOUR).contains(&tod) {
        "warning"
    } else if (12 * HOUR..12 * HOUR + 30 * MIN).contains(&tod) {
        "maintenance"
    } else {
        "online"
    };
    Some(s)
}

fn config(liveness: Option<i64>) -> AvailabilityConfig {
    AvailabilityConfig::new(Weights::default(), liveness, GapPolicy::Down).expect("config")
}

fn direct(
    cfg: &AvailabilityConfig,
    from: i64,
    to: i64,
    events: &[(i64, &str)],
) -> AvailabilityState {
    AvailabilityState::from_events(cfg.clone(), from, to, None, events.iter().copied())
        .expect("state")
}

/// One state over the window from the events [`hourly`] buckets see: from an hour of
/// look-back before `from` on.
fn direct_with_lookback(
    cfg: &AvailabilityConfig,
    from: i64,
    to: i64,
    events: &[(i64, &str)],
) -> AvailabilityState {
    let seen: Vec<(i64, &str)> = events
        .iter()
        .copied()
        .filter(|&(t, _)| t >= from - HOUR)
        .collect();
    direct(cfg, from, to, &seen)
}

/// Hourly buckets like a continuous aggregate: each sees only its own hour
/// (the first one also an hour of look-back for the carry-in); buckets
/// without events do not exist.
fn hourly(
    cfg: &AvailabilityConfig,
    from: i64,
    hours: i64,
    events: &[(i64, &str)],
) -> Vec<AvailabilityState> {
    let mut out = Vec::new();
    for k in 0..hours {
        let (a, b) = (from + k * HOUR, from + (k + 1) * HOUR);
        let lookback = if k == 0 { a - HOUR } else { a };
        let mine: Vec<(i64, &str)> = events
            .iter()
            .copied()
            .filter(|&(t, _)| t >= lookback && t < b)
            .collect();
        if mine.is_empty() {
            continue;
        }
        out.push(direct(cfg, a, b, &mine));
    }
    out
}

/// Same figures and timeline. Bytes differ while a bucket is missing: the
/// rolled-up state remembers the uncovered hour as a hole.
fn assert_same(a: &AvailabilityState, b: &AvailabilityState) {
    assert_eq!(a.summary(), b.summary());
    assert_eq!(a.timeline(), b.timeline());
}

/// Empty states for the hours that have no bucket.
fn fill_missing(
    cfg: &AvailabilityConfig,
    from: i64,
    hours: i64,
    buckets: &[AvailabilityState],
) -> Vec<AvailabilityState> {
    (0..hours)
        .map(|k| from + k * HOUR)
        .filter(|&a| !buckets.iter().any(|b| b.window().0 == a))
        .map(|a| AvailabilityState::new(cfg.clone(), a, a + HOUR, None).expect("state"))
        .collect()
}

fn rollup(states: &[AvailabilityState]) -> AvailabilityState {
    let mut it = states.iter();
    let mut acc = it.next().expect("at least one bucket").clone();
    for s in it {
        // Round-trip every bucket through bytes, as a cagg stores them.
        let stored = AvailabilityState::from_bytes(&s.to_bytes()).expect("bytes");
        acc.merge(&stored).expect("merge");
    }
    acc
}

fn check_day(liveness: Option<i64>) -> (Summary, usize) {
    let cfg = config(liveness);
    let events = minute_samples(-DAY, 2 * DAY, state_at);
    let whole = direct_with_lookback(&cfg, 0, DAY, &events);
    let buckets = hourly(&cfg, 0, 24, &events);
    let rolled = rollup(&buckets);
    assert_same(&rolled, &whole);
    assert_ne!(rolled.to_bytes(), whole.to_bytes(), "hour 15 is a hole");
    let stored = AvailabilityState::from_bytes(&rolled.to_bytes()).expect("bytes with a hole");
    assert_eq!(stored.to_bytes(), rolled.to_bytes());
    assert_eq!(
        serde_json::to_value(&rolled).expect("json")["holes"][0][0],
        15 * HOUR
    );
    // Merging the missing hour's (empty) state closes the hole exactly.
    let mut closed = rolled.clone();
    for empty in fill_missing(&cfg, 0, 24, &buckets) {
        closed.merge(&empty).expect("merge");
    }
    assert_eq!(closed.to_bytes(), whole.to_bytes());
    // Merge order does not matter: fold from the end, as a balanced tree,
    // and in a scrambled order (non-adjacent buckets first).
    let mut rev = buckets.last().expect("bucket").clone();
    for s in buckets.iter().rev().skip(1) {
        rev.merge(s).expect("merge");
    }
    assert_same(&rev, &whole);
    let mut scrambled: Vec<&AvailabilityState> = buckets.iter().collect();
    scrambled.sort_by_key(|b| (b.window().0 / HOUR * 7) % 24);
    let mut acc = scrambled[0].clone();
    for s in &scrambled[1..] {
        acc.merge(s).expect("merge");
    }
    assert_same(&acc, &whole);
    assert_eq!(acc.to_bytes(), rolled.to_bytes());
    let mut level = buckets.clone();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| {
                let mut a = c[0].clone();
                if let Some(b) = c.get(1) {
                    a.merge(b).expect("merge");
                }
                a
            })
            .collect();
    }
    assert_same(&level[0], &whole);
    assert_eq!(level[0].to_bytes(), rolled.to_bytes());
    (whole.summary(), buckets.len())
}

#[test]
fn hourly_rollup_equals_daily() {
    let (s, buckets) = check_day(None);
    assert_eq!(buckets, 23, "hour 15 has no bucket");
    // Hand-checked figures: offline 00:00-00:45 (carried in from 23:30),
    // 23:50-24:00; warning 06:00-07:00; maintenance 12:00-12:30.
    assert_eq!(s.time_in("offline"), 45 * MIN + 10 * MIN);
    assert_eq!(s.time_in("warning"), HOUR);
    assert_eq!(s.time_in("maintenance"), 30 * MIN);
    assert_eq!(s.unknown_us, 0);
    assert!(s.outage_in_progress_at_from && s.outage_in_progress_at_to);
    assert_eq!((s.outages, s.failures), (2, 1));
    let included = DAY - 30 * MIN;
    let up = included - 55 * MIN;
    let expect = (up as f64 - 0.5 * HOUR as f64) / included as f64;
    assert!((s.availability.expect("defined") - expect).abs() < 1e-12);
    assert_eq!(s.mttr_us, Some(55 * MIN / 2));
    assert_eq!(s.mtbf_us, Some(up));
}

#[test]
fn hourly_rollup_equals_daily_with_heartbeat() {
    let (s, _) = check_day(Some(5 * MIN));
    // Silences: 10:10→11:20 (last event 10:09, alive until 10:14) and
    // 14:50→16:10 (last 14:49, alive until 14:54).
    assert_eq!(
        s.time_in("no_heartbeat"),
        (11 * HOUR + 20 * MIN - (10 * HOUR + 14 * MIN))
            + (16 * HOUR + 10 * MIN - (14 * HOUR + 54 * MIN))
    );
    assert_eq!(s.outages, 4);
}

#[test]
fn outage_across_midnight_is_one_outage_in_two_day_rollup() {
    let cfg = config(None);
    let events = minute_samples(-DAY, 3 * DAY, state_at);
    let whole = direct_with_lookback(&cfg, 0, 2 * DAY, &events);
    let rolled = rollup(&hourly(&cfg, 0, 48, &events));
    assert_same(&rolled, &whole);
    let s = rolled.summary();
    // 00:00-00:45 day 1 (in progress at from), 23:50 day 1 → 00:20 day 2.
    assert_eq!(s.outages, 2);
    assert_eq!(s.longest_outage_us, 45 * MIN);
    assert_eq!(s.time_in("offline"), 45 * MIN + 30 * MIN);
    // The two daily states merge into the same result.
    let d1 = rollup(&hourly(&cfg, 0, 24, &events));
    let d2 = rollup(&hourly(&cfg, DAY, 24, &events));
    let mut m = d1.clone();
    m.merge(&d2).expect("merge");
    assert_eq!(m.to_bytes(), rolled.to_bytes());
    // Day 2 alone (no look-back) starts offline via carry-in event.
    assert!(d2.summary().outage_in_progress_at_from);
}

#[test]
fn carry_in_flows_from_hour_to_hour() {
    let cfg = config(None);
    // One event at 00:10, nothing after: each later hour alone is unknown,
    // the rollup carries `warning` across all of them.
    let a = direct(&cfg, 0, HOUR, &[(10 * MIN, "warning")]);
    let b = direct(&cfg, HOUR, 2 * HOUR, &[]);
    let c = direct(
        &cfg,
        2 * HOUR,
        3 * HOUR,
        &[(2 * HOUR + 30 * MIN, "offline")],
    );
    assert_eq!(c.summary().unknown_us, 30 * MIN);
    let mut m = a.clone();
    m.merge(&c).expect("merge");
    m.merge(&b).expect("merge");
    let s = m.summary();
    assert_eq!(s.unknown_us, 10 * MIN);
    assert_eq!(s.time_in("warning"), 2 * HOUR + 20 * MIN);
    assert_eq!(s.time_in("offline"), 30 * MIN);
    assert_eq!(s.last_state.as_deref(), Some("offline"));
}

/// `window_only` widens a finished rollup to a stated window: merged once, last, it keeps
/// the holes between buckets, so the result is exact whatever the order of the buckets.
#[test]
fn window_only_widens_a_rollup_exactly() {
    use availability::{AvailabilityConfig, AvailabilityState, GapPolicy, Weights};
    const H: i64 = 3_600_000_000;
    let cfg = || AvailabilityConfig::new(Weights::new(), None, GapPolicy::Down).unwrap();
    let events = [
        (0, "online"),
        (6 * H, "offline"),
        (9 * H, "online"),
        (23 * H, "offline"),
        (25 * H, "online"),
    ];
    let direct = AvailabilityState::from_events(cfg(), 0, 48 * H, None, events.iter().copied())
        .unwrap()
        .summary();
    let buckets: Vec<AvailabilityState> = events
        .iter()
        .map(|&(t, s)| {
            let start = t / H * H;
            AvailabilityState::from_events(cfg(), start, start + H, None, [(t, s)]).unwrap()
        })
        .collect();
    for order in [[0, 1, 2, 3, 4], [4, 2, 0, 3, 1], [3, 4, 1, 0, 2]] {
        let mut rolled = buckets[order[0]].clone();
        for &i in &order[1..] {
            rolled.merge(&buckets[i]).unwrap();
        }
        let mut widened = AvailabilityState::window_only(cfg(), 0, 48 * H).unwrap();
        widened.merge(&rolled).unwrap();
        let s = widened.summary();
        assert!(!s.approximate, "{order:?}");
        assert_eq!(s.availability, direct.availability, "{order:?}");
        assert_eq!(s.downtime_us, 5 * H);
        assert_eq!(s.outages, direct.outages);
        let bytes = widened.to_bytes();
        assert_eq!(AvailabilityState::from_bytes(&bytes).unwrap().summary(), s);
    }
}
