//! Partial states of parallel workers: `to_partial_bytes` keeps the raw
//! buffer, so merging the partial states of interleaved subsets is exact
//! when every subset fits in its buffer, and exact-or-flagged otherwise.

use availability::{
    AvailabilityConfig, AvailabilityError, AvailabilityState, GapPolicy, Weights,
    DEFAULT_BUFFER_CAPACITY, MAX_BUFFER_CAPACITY,
};
use proptest::prelude::*;

mod common;
use common::*;

/// How a parallel scan hands rows to workers: consecutive blocks of the
/// heap (sizes from `blocks`, cycled) go to the workers in turn, or to the
/// worker `pick` names (workers take the next chunk when they are free).
fn split_by_blocks(
    heap: &Events,
    workers: usize,
    blocks: &[usize],
    pick: &[prop::sample::Index],
) -> Vec<Events> {
    let mut parts = vec![Vec::new(); workers];
    let mut rest = heap.as_slice();
    let mut k = 0usize;
    while !rest.is_empty() {
        let size = blocks.get(k % blocks.len().max(1)).copied().unwrap_or(1);
        let (block, tail) = rest.split_at(size.min(rest.len()));
        let worker = if pick.is_empty() {
            k % workers
        } else {
            pick[k % pick.len()].index(workers)
        };
        parts[worker].extend_from_slice(block);
        rest = tail;
        k += 1;
    }
    parts
}

/// Each worker's state (capacity from `capacity(len)`), serialized with
/// `to_partial_bytes`, deserialized, then merged pairwise in the order
/// `order` gives (like a leader combining, or a tree of combines); merged
/// states travel as partial bytes again.
fn merge_partials(
    cfg: &AvailabilityConfig,
    carry_in: Option<&str>,
    parts: &[Events],
    capacity: impl Fn(usize) -> usize,
    order: &[prop::sample::Index],
) -> AvailabilityState {
    let mut pieces: Vec<AvailabilityState> = parts
        .iter()
        .map(|p| {
            let s = build(cfg, FROM, TO, carry_in, p, capacity(p.len()));
            AvailabilityState::from_bytes(&s.to_partial_bytes()).expect("partial bytes")
        })
        .collect();
    let mut k = 0usize;
    while pieces.len() > 1 {
        let i = order[k % order.len()].index(pieces.len());
        let a = pieces.remove(i);
        let j = order[(k + 1) % order.len()].index(pieces.len());
        let b = pieces.remove(j);
        let mut m = a;
        m.merge(&b).expect("merge");
        pieces.push(AvailabilityState::from_bytes(&m.to_partial_bytes()).expect("bytes"));
        k += 2;
    }
    pieces.pop().expect("one piece")
}

fn blocks_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..12, 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
    ))]

    /// The fix: interleaved block subsets, each within its buffer, merge to
    /// exactly the state of all events (same bytes, not approximate).
    #[test]
    fn interleaved_block_partials_merge_exactly(
        cfg in config_strategy(),
        carry in carry_in_strategy(),
        events in events_strategy(120),
        time_ordered_heap in any::<bool>(),
        workers in 2usize..=4,
        blocks in blocks_strategy(),
        pick in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        spare in 0usize..4,
        order in prop::collection::vec(any::<prop::sample::Index>(), 1..8),
    ) {
        let heap = if time_ordered_heap { sorted(&events) } else { events };
        let direct = build(&cfg, FROM, TO, carry, &heap, DEFAULT_BUFFER_CAPACITY);
        prop_assert!(!direct.is_approximate());
        let parts = split_by_blocks(&heap, workers, &blocks, &pick);
        prop_assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), heap.len());
        let merged = merge_partials(&cfg, carry, &parts, |n| n + 1 + spare, &order);
        prop_assert!(!merged.is_approximate());
        prop_assert_eq!(merged.summary(), direct.summary());
        prop_assert_eq!(merged.timeline(), direct.timeline());
        prop_assert_eq!(merged.to_bytes(), direct.to_bytes());
    }

    /// Same for arbitrary subsets (any row to any worker).
    #[test]
    fn arbitrary_subset_partials_merge_exactly(
        cfg in config_strategy(),
        carry in carry_in_strategy(),
        events in events_strategy(120),
        owner in prop::collection::vec(any::<prop::sample::Index>(), 120),
        workers in 2usize..=4,
        order in prop::collection::vec(any::<prop::sample::Index>(), 1..8),
    ) {
        let direct = build(&cfg, FROM, TO, carry, &events, DEFAULT_BUFFER_CAPACITY);
        let mut parts = vec![Vec::new(); workers];
        for (e, o) in events.iter().zip(owner.iter()) {
            parts[o.index(workers)].push(*e);
        }
        prop_assert_eq!(events.len().min(owner.len()), events.len());
        let merged = merge_partials(&cfg, carry, &parts, |n| n + 1, &order);
        prop_assert!(!merged.is_approximate());
        prop_assert_eq!(merged.summary(), direct.summary());
        prop_assert_eq!(merged.to_bytes(), direct.to_bytes());
    }

    /// Subsets larger than their buffer (compaction happened before
    /// serializing, or merges outgrew four times the capacity): the result
    /// is exact or says it is approximate — never silently wrong.
    #[test]
    fn compacted_partials_are_exact_or_flagged(
        cfg in config_strategy(),
        carry in carry_in_strategy(),
        events in events_strategy(120),
        time_ordered_heap in any::<bool>(),
        workers in 2usize..=4,
        blocks in blocks_strategy(),
        pick in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        capacity in 1usize..24,
        order in prop::collection::vec(any::<prop::sample::Index>(), 1..8),
    ) {
        let heap = if time_ordered_heap { sorted(&events) } else { events };
        let direct = build(&cfg, FROM, TO, carry, &heap, DEFAULT_BUFFER_CAPACITY);
        let parts = split_by_blocks(&heap, workers, &blocks, &pick);
        let merged = merge_partials(&cfg, carry, &parts, |_| capacity, &order);
        let sum = merged.summary();
        check_invariants(&sum)?;
        prop_assert_eq!(sum.approximate, merged.is_approximate());
        if !sum.approximate {
            prop_assert_eq!(&sum, &direct.summary());
            prop_assert_eq!(merged.timeline(), direct.timeline());
        }
        prop_assert!(merged.buffered_events() <= 4 * merged.buffer_capacity());
    }

    /// Time-contiguous shares (a time-ordered heap cut into one range per
    /// worker), each compacted through a tiny buffer, all over the same
    /// window, merged neighbour with neighbour in any tree: exact. (Merging
    /// two non-adjacent compacted shares of one window first may join runs
    /// across the share between them: then the result says approximate —
    /// see `compacted_partials_are_exact_or_flagged`.) Events held back in
    /// a buffer must keep the other side's runs from joining across them.
    #[test]
    fn contiguous_partials_with_small_buffers_merge_exactly(
        cfg in config_strategy(),
        carry in carry_in_strategy(),
        events in events_strategy(120),
        mut cuts in prop::collection::vec(FROM..TO, 1..4),
        capacity in 1usize..6,
        order in prop::collection::vec(any::<prop::sample::Index>(), 1..8),
    ) {
        let heap = sorted(&events);
        let direct = build(&cfg, FROM, TO, carry, &heap, DEFAULT_BUFFER_CAPACITY);
        cuts.sort_unstable();
        let mut parts: Vec<Events> = vec![Vec::new(); cuts.len() + 1];
        for e in &heap {
            parts[cuts.partition_point(|&c| c <= e.0)].push(*e);
        }
        let mut pieces: Vec<AvailabilityState> = parts
            .iter()
            .map(|p| {
                let s = build(&cfg, FROM, TO, carry, p, capacity);
                AvailabilityState::from_bytes(&s.to_partial_bytes()).expect("partial bytes")
            })
            .collect();
        let mut k = 0usize;
        while pieces.len() > 1 {
            let pick = order[k % order.len()];
            let i = pick.index(pieces.len() - 1);
            let b = pieces.remove(i + 1);
            let a = pieces.remove(i);
            // Either side may be the one merged into.
            let (mut m, other) = if pick.index(2) == 0 { (a, b) } else { (b, a) };
            m.merge(&other).expect("merge");
            pieces.insert(i, AvailabilityState::from_bytes(&m.to_partial_bytes()).expect("bytes"));
            k += 1;
        }
        let merged = pieces.pop().expect("one piece");
        prop_assert!(!merged.is_approximate());
        prop_assert_eq!(merged.summary(), direct.summary());
        prop_assert_eq!(merged.timeline(), direct.timeline());
    }

    /// A single state whose input exceeds its buffer: also exact or flagged.
    #[test]
    fn any_order_beyond_the_buffer_is_exact_or_flagged(
        cfg in config_strategy(),
        carry in carry_in_strategy(),
        events in events_strategy(150),
        capacity in 1usize..16,
    ) {
        let direct = build(&cfg, FROM, TO, carry, &events, DEFAULT_BUFFER_CAPACITY);
        let s = build(&cfg, FROM, TO, carry, &events, capacity);
        let sum = s.summary();
        check_invariants(&sum)?;
        if !sum.approximate {
            prop_assert_eq!(&sum, &direct.summary());
            prop_assert_eq!(s.timeline(), direct.timeline());
        }
        prop_assert!(s.buffered_events() < 3 * capacity);
    }

    #[test]
    fn partial_bytes_round_trip(
        cfg in config_strategy(),
        carry in carry_in_strategy(),
        events in events_strategy(80),
        more in events_strategy(40),
        capacity in 1usize..64,
    ) {
        let mut s = build(&cfg, FROM, TO, carry, &events, capacity);
        s.merge(&build(&cfg, FROM, TO, None, &more, capacity)).expect("merge");
        let bytes = s.to_partial_bytes();
        let back = AvailabilityState::from_bytes(&bytes).expect("partial round trip");
        prop_assert_eq!(back.to_partial_bytes(), bytes.clone());
        prop_assert_eq!(back.to_bytes(), s.to_bytes());
        prop_assert_eq!(back.summary(), s.summary());
        prop_assert_eq!(back.timeline(), s.timeline());
        prop_assert_eq!(back.buffer_capacity(), s.buffer_capacity());
        prop_assert!(back.buffered_events() <= s.buffered_events());
        // Canonical bytes do not carry the buffer.
        let canonical = AvailabilityState::from_bytes(&s.to_bytes()).expect("canonical");
        prop_assert_eq!(canonical.buffered_events(), 0);
        prop_assert_eq!(canonical.buffer_capacity(), DEFAULT_BUFFER_CAPACITY);
        prop_assert_eq!(canonical.to_bytes(), s.to_bytes());
    }

    #[test]
    fn corrupted_partial_bytes_never_panic(
        events in events_strategy(40),
        edits in edits_strategy(),
        cut in any::<prop::sample::Index>(),
        capacity in 1usize..40,
    ) {
        let s = build(&corruption_config(), FROM, TO, Some("online"), &events, capacity);
        let good = s.to_partial_bytes();
        // Every strict prefix is truncated.
        prop_assert!(AvailabilityState::from_bytes(&good[..cut.index(good.len())]).is_err());
        let bytes = corrupted(&good, &edits);
        if let Ok(st) = AvailabilityState::from_bytes(&bytes) {
            // Whatever decodes is a consistent state, in both forms.
            let again = st.to_partial_bytes();
            let re = AvailabilityState::from_bytes(&again).expect("re-read");
            prop_assert_eq!(re.to_partial_bytes(), again);
            prop_assert_eq!(re.to_bytes(), st.to_bytes());
            check_invariants(&st.summary())?;
            let m = merged(&st, &re);
            check_invariants(&m.summary())?;
        }
        let _ = AvailabilityState::from_bytes(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn random_partial_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let mut with_header = b"AV\x01\x20".to_vec();
        with_header.extend_from_slice(&bytes);
        if let Ok(s) = AvailabilityState::from_bytes(&with_header) {
            check_invariants(&s.summary())?;
            prop_assert!(s.buffered_events() <= 4 * s.buffer_capacity());
        }
    }
}

/// The measured case: 200,000 rows of 10 equipments (one row per second in
/// time order, equipments round-robin), a parallel sequential scan handing
/// chunks of blocks to three processes in turns, buffer capacity 16384.
#[test]
fn parallel_scan_of_ten_equipments_is_exact() {
    const ROWS: i64 = 200_000;
    const EQUIPMENTS: i64 = 10;
    const SEC: i64 = 1_000_000;
    const CAPACITY: usize = 16_384;
    let state_of = |i: i64| -> &'static str {
        // Per-equipment phases of varying length, with short outages.
        let phase = (i / EQUIPMENTS + 37 * (i % EQUIPMENTS)) % 1_009;
        match phase {
            0..=4 => "offline",
            5..=30 => "warning",
            31..=33 => "maintenance",
            _ => "online",
        }
    };
    let rows: Vec<(i64, i64, &str)> = (0..ROWS)
        .map(|i| (i % EQUIPMENTS, i * SEC, state_of(i)))
        .collect();
    let cfg = AvailabilityConfig::default();
    let window = (0, ROWS * SEC);
    let new_state = || {
        let mut s = AvailabilityState::new(cfg.clone(), window.0, window.1, None).expect("state");
        s.set_buffer_capacity(CAPACITY);
        s
    };
    // Chunks of 1000 rows (a few heap blocks), shrinking to 100 near the end
    // like PostgreSQL's chunk ramp-down; worker = chunk number mod 3.
    let mut workers: Vec<Vec<AvailabilityState>> = (0..3)
        .map(|_| (0..EQUIPMENTS).map(|_| new_state()).collect())
        .collect();
    let mut pos = 0usize;
    let mut chunk = 0usize;
    while pos < rows.len() {
        let size = if pos < rows.len() * 9 / 10 { 1000 } else { 100 };
        let end = (pos + size).min(rows.len());
        for &(eq, t, st) in &rows[pos..end] {
            workers[chunk % 3][eq as usize].push(t, st).expect("push");
        }
        pos = end;
        chunk += 1;
    }
    for eq in 0..EQUIPMENTS as usize {
        let mut direct = new_state();
        for &(e, t, st) in &rows {
            if e as usize == eq {
                direct.push(t, st).expect("push");
            }
        }
        let mut leader: Option<AvailabilityState> = None;
        for w in &workers {
            let partial = w[eq].to_partial_bytes();
            assert!(w[eq].buffered_events() < CAPACITY);
            let st = AvailabilityState::from_bytes(&partial).expect("partial");
            match leader.as_mut() {
                None => leader = Some(st),
                Some(l) => l.merge(&st).expect("merge"),
            }
        }
        let merged = leader.expect("leader");
        assert!(!merged.is_approximate(), "equipment {eq}");
        assert_eq!(merged.summary(), direct.summary(), "equipment {eq}");
        assert_eq!(merged.to_bytes(), direct.to_bytes(), "equipment {eq}");
        // The old serialization (collapsed runs) is approximate here.
        let mut old: Option<AvailabilityState> = None;
        for w in &workers {
            let st = AvailabilityState::from_bytes(&w[eq].to_bytes()).expect("bytes");
            match old.as_mut() {
                None => old = Some(st),
                Some(l) => l.merge(&st).expect("merge"),
            }
        }
        assert!(old.expect("old").is_approximate(), "equipment {eq}");
    }
}

#[test]
fn partial_bytes_take_a_few_bytes_per_buffered_event() {
    const N: i64 = 10_000;
    let mut s = AvailabilityState::new(AvailabilityConfig::default(), 0, N * 1_000_000, None)
        .expect("state");
    s.set_buffer_capacity(16_384);
    // 1 s sampling with up to ±50 ms jitter, a state change every 500 rows,
    // pushed as a worker sees them: blocks of 100 rows, every other block.
    let states = ["online", "warning", "offline", "online"];
    let mut pushed = 0usize;
    for i in (0..N).filter(|i| (i / 100) % 2 == 0) {
        let jitter = (i * 7919) % 100_000;
        s.push(i * 1_000_000 + jitter, states[((i / 500) % 4) as usize])
            .expect("push");
        pushed += 1;
    }
    assert_eq!(s.buffered_events(), pushed);
    let bytes = s.to_partial_bytes();
    let per_event = bytes.len() as f64 / pushed as f64;
    eprintln!(
        "{pushed} buffered events: {} partial bytes ({per_event:.2} bytes/event), {} canonical bytes",
        bytes.len(),
        s.to_bytes().len()
    );
    assert!(per_event <= 5.0, "{per_event} bytes per event");
    // 10,000 events, all buffered.
    let mut full = AvailabilityState::new(AvailabilityConfig::default(), 0, N * 1_000_000, None)
        .expect("state");
    full.set_buffer_capacity(16_384);
    for i in 0..N {
        full.push(i * 1_000_000, states[((i / 500) % 4) as usize])
            .expect("push");
    }
    assert_eq!(full.buffered_events(), N as usize);
    let bytes = full.to_partial_bytes();
    assert!(bytes.len() <= 4 * N as usize + 200, "{} bytes", bytes.len());
    let back = AvailabilityState::from_bytes(&bytes).expect("bytes");
    assert_eq!(back.buffered_events(), N as usize);
    assert_eq!(back.to_bytes(), full.to_bytes());
}

#[test]
fn canonical_bytes_are_unchanged() {
    // Golden bytes written by the format-1 writer before partial bytes
    // existed: stored values keep decoding and comparing equal.
    let mut w = Weights::default();
    w.set("calibrating", Some(0.25)).expect("weight");
    let cfg = AvailabilityConfig::new(w, Some(7), GapPolicy::Unknown).expect("config");
    let mut a = AvailabilityState::new(cfg.clone(), 100, 400, Some("warning")).expect("state");
    for (t, s) in [
        (90, "offline"),
        (100, "online"),
        (105, "online"),
        (130, "calibrating"),
        (131, "calibrating"),
        (200, "offline"),
        (203, "offline"),
        (350, "online"),
    ] {
        a.push(t, s).expect("push");
    }
    const NAMES: &str = "0b63616c6962726174696e6701000000000000d03f0b6d61696e74656e616e6365000c6e6f5f686561727462656174010000000000000000076f66666c696e65010000000000000000066f6e6c696e6501000000000000f03f07756e6b6e6f776e00077761726e696e6701000000000000e03f040b63616c6962726174696e67076f66666c696e65066f6e6c696e65077761726e696e67";
    assert_eq!(
        hex::encode(a.to_bytes()),
        format!("4156010fc801ac020707{NAMES}030a01000400050218010044030192010002")
    );
    let mut b = AvailabilityState::new(cfg, 500, 600, None).expect("state");
    b.push(510, "online").expect("push");
    b.push(520, "offline").expect("push");
    let m = merged(&a, &b);
    assert_eq!(
        hex::encode(m.to_bytes()),
        format!(
            "4156010fc801f4030707{NAMES}030a0101ab026306000502180100440301920100029f010002090001"
        )
    );
    let mut c =
        AvailabilityState::new(AvailabilityConfig::default(), -50, 1000, None).expect("state");
    c.set_buffer_capacity(2);
    for t in (0..=100).step_by(10) {
        c.push(t, "online").expect("push");
    }
    c.push(45, "offline").expect("push");
    assert!(c.is_approximate());
    assert_eq!(
        hex::encode(c.to_bytes()),
        "41560110639a08060b6d61696e74656e616e6365000c6e6f5f686561727462656174010000000000000000076f66666c696e65010000000000000000066f6e6c696e6501000000000000f03f07756e6b6e6f776e00077761726e696e6701000000000000e03f02076f66666c696e65066f6e6c696e650003322c01000000003601"
    );
}

/// Partial bytes of a small state, for hand-made corruptions: window
/// [0, 100), default weights, no runs, buffered events (10, online),
/// (20, offline), capacity 4.
fn small_partial() -> (Vec<u8>, usize) {
    let mut s = AvailabilityState::new(AvailabilityConfig::default(), 0, 100, None).expect("state");
    s.set_buffer_capacity(4);
    s.push(20, "offline").expect("push");
    s.push(10, "online").expect("push");
    let bytes = s.to_partial_bytes();
    assert_eq!(bytes[3], 0x20, "partial flag only");
    // Tail: runs count 0, capacity 4, 2 events: +10 online(1), +10 offline(0).
    let tail = [0u8, 4, 2, 10, 1, 10, 0];
    assert!(bytes.ends_with(&tail), "{bytes:?}");
    (bytes.clone(), bytes.len() - tail.len())
}

#[test]
fn malformed_partial_bytes_are_invalid_state() {
    let (good, at) = small_partial();
    let back = AvailabilityState::from_bytes(&good).expect("good");
    assert_eq!(back.buffered_events(), 2);
    assert_eq!(back.buffer_capacity(), 4);
    assert_eq!(back.summary().time_in("offline"), 80);
    let with_tail = |tail: &[u8]| {
        let mut b = good[..at].to_vec();
        b.extend_from_slice(tail);
        AvailabilityState::from_bytes(&b)
    };
    let cases: [(&str, &[u8]); 10] = [
        ("capacity 0", &[0, 0, 2, 10, 1, 10, 0]),
        (
            "capacity above the maximum",
            &[0, 0x81, 0x80, 0x80, 1, 2, 10, 1, 10, 0],
        ),
        (
            "more events than 4 × capacity",
            &[0, 1, 5, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
        ),
        ("count larger than the input", &[0, 4, 100, 10, 1]),
        ("event at the window end", &[0, 4, 2, 10, 1, 90, 0]),
        ("same time, index not ascending", &[0, 4, 2, 10, 1, 0, 0]),
        ("duplicate event", &[0, 4, 2, 10, 1, 0, 1]),
        ("name index out of range", &[0, 4, 2, 10, 1, 10, 2]),
        ("truncated", &[0, 4, 2, 10, 1, 10]),
        ("trailing bytes", &[0, 4, 2, 10, 1, 10, 0, 0]),
    ];
    for (what, tail) in cases {
        match with_tail(tail) {
            Err(AvailabilityError::InvalidState(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    // A time delta past i64.
    assert!(matches!(
        with_tail(&[0, 4, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0]),
        Err(AvailabilityError::InvalidState(_))
    ));
    // Canonical bytes with stray buffer bytes, and an unknown flag bit.
    let canonical = back.to_bytes();
    let mut extra = canonical.clone();
    extra.extend_from_slice(&[4, 0]);
    assert!(matches!(
        AvailabilityState::from_bytes(&extra),
        Err(AvailabilityError::InvalidState(_))
    ));
    let mut flag = good.clone();
    flag[3] |= 0x40;
    assert!(matches!(
        AvailabilityState::from_bytes(&flag),
        Err(AvailabilityError::InvalidState(_))
    ));
}

#[test]
fn runs_kept_apart_by_a_raw_event_are_valid_only_with_it() {
    // A merge may not collapse runs across a still buffered event: the
    // left piece holds online 10 (folded) and offline 20 (buffered), the
    // right piece's online 30 arrives as a run.
    let cfg = AvailabilityConfig::default();
    let mut left = AvailabilityState::new(cfg.clone(), 0, 100, None).expect("state");
    left.set_buffer_capacity(2);
    left.push(10, "online").expect("push");
    left.push(20, "offline").expect("push");
    assert_eq!(left.buffered_events(), 1, "offline 20 held back");
    let mut right = AvailabilityState::new(cfg.clone(), 0, 100, None).expect("state");
    right.push(30, "online").expect("push");
    let right = AvailabilityState::from_bytes(&right.to_bytes()).expect("bytes");
    let m = merged(&left, &right);
    let direct = AvailabilityState::from_events(
        cfg,
        0,
        100,
        None,
        [(10, "online"), (20, "offline"), (30, "online")],
    )
    .expect("state");
    assert!(!m.is_approximate());
    assert_eq!(m.to_bytes(), direct.to_bytes());
    // Its partial bytes hold runs online 10 and online 30 side by side; the
    // reader accepts that only because offline 20 lies between them.
    let partial = m.to_partial_bytes();
    let back = AvailabilityState::from_bytes(&partial).expect("partial");
    assert_eq!(back.to_bytes(), direct.to_bytes());
    assert_eq!(back.run_count(), 3);
}

#[test]
fn buffer_capacity_is_clamped_and_idempotent() {
    let cfg = AvailabilityConfig::default();
    let mut s = AvailabilityState::new(cfg.clone(), 0, 1_000_000, None).expect("state");
    assert_eq!(s.buffer_capacity(), DEFAULT_BUFFER_CAPACITY);
    s.set_buffer_capacity(0);
    assert_eq!(s.buffer_capacity(), 1);
    s.set_buffer_capacity(usize::MAX);
    assert_eq!(s.buffer_capacity(), MAX_BUFFER_CAPACITY);
    s.set_buffer_capacity(16_384);
    for t in 0..10_000 {
        s.push(t * 10, if t % 700 < 20 { "offline" } else { "online" })
            .expect("push");
        // Setting the same capacity again (as a transition function may do
        // on every row) never compacts.
        s.set_buffer_capacity(16_384);
    }
    assert_eq!(s.buffered_events(), 10_000);
    // Lowering it below the buffered count folds the buffer in.
    s.set_buffer_capacity(100);
    assert_eq!(s.buffered_events(), 0);
    assert!(!s.is_approximate());
}

#[test]
fn merges_keep_at_most_four_times_the_capacity() {
    let cfg = AvailabilityConfig::default();
    let piece = |k: i64| {
        let mut s = AvailabilityState::new(cfg.clone(), 0, 10_000, None).expect("state");
        s.set_buffer_capacity(10);
        for t in 0..9 {
            s.push(k * 9 + t, if t == 4 { "offline" } else { "online" })
                .expect("push");
        }
        s
    };
    let mut m = piece(0);
    for k in 1..4 {
        m.merge(&piece(k)).expect("merge");
        assert_eq!(m.buffered_events(), 9 * (k as usize + 1));
    }
    // The fifth piece would make 45 > 40: the buffer is folded in, exactly
    // (everything was raw).
    m.merge(&piece(4)).expect("merge");
    assert_eq!(m.buffered_events(), 0);
    assert!(!m.is_approximate());
    let direct = AvailabilityState::from_events(
        cfg.clone(),
        0,
        10_000,
        None,
        (0..45).map(|t| (t, if t % 9 == 4 { "offline" } else { "online" })),
    )
    .expect("state");
    assert_eq!(m.to_bytes(), direct.to_bytes());
    // The merged capacity is the larger one of both sides.
    let mut small =
        AvailabilityState::new(AvailabilityConfig::default(), 0, 10_000, None).expect("state");
    small.set_buffer_capacity(3);
    small.merge(&piece(0)).expect("merge");
    assert_eq!(small.buffer_capacity(), 10);
}

#[test]
fn held_back_instant_cannot_grow_the_buffer_without_bound() {
    // Many events at one instant with a rare other event in between: the
    // instant is held back uncollapsed only up to twice the capacity.
    let mut s =
        AvailabilityState::new(AvailabilityConfig::default(), 0, 1000, None).expect("state");
    s.set_buffer_capacity(8);
    let mut max = 0;
    for i in 0..10_000 {
        if i % 7 == 0 {
            s.push(50, "online").expect("push");
        }
        s.push(100, if i % 3 == 0 { "warning" } else { "online" })
            .expect("push");
        max = max.max(s.buffered_events());
    }
    assert!(max < 3 * 8, "buffer reached {max}");
    assert_eq!(s.summary().time_in("warning"), 900);
}

#[test]
fn raw_event_at_a_run_end_keeps_runs_apart() {
    // Left share: no_heartbeat 0, then at 80 online, no_heartbeat, online
    // (no_heartbeat wins 80). With capacity 1 the last online event, pushed
    // right after the no_heartbeat event that outranks it at 80, is dropped:
    // the share is the run no_heartbeat 0..80. Out of order (no_heartbeat
    // 0, 80, 50, then online 80) the online event stays raw at the end of
    // the run no_heartbeat 50..80. The right share's no_heartbeat 90 must
    // not join that run across the raw event at its end instant, or the
    // raw event would land inside the joined run.
    let cfg = AvailabilityConfig::default();
    let build1 = |events: &[(i64, &str)]| {
        let mut s = AvailabilityState::new(cfg.clone(), 0, 200, None).expect("state");
        s.set_buffer_capacity(1);
        for &(t, st) in events {
            s.push(t, st).expect("push");
        }
        AvailabilityState::from_bytes(&s.to_partial_bytes()).expect("partial")
    };
    let left = build1(&[
        (0, "no_heartbeat"),
        (80, "online"),
        (80, "no_heartbeat"),
        (80, "online"),
    ]);
    assert_eq!(left.buffered_events(), 0);
    let unordered = build1(&[
        (0, "no_heartbeat"),
        (80, "no_heartbeat"),
        (50, "no_heartbeat"),
        (80, "online"),
    ]);
    assert_eq!(unordered.buffered_events(), 1);
    let right = build1(&[(90, "no_heartbeat"), (90, "online")]);
    for (a, b) in [
        (&left, &right),
        (&right, &left),
        (&unordered, &right),
        (&right, &unordered),
    ] {
        let m = merged(a, b);
        assert!(!m.is_approximate());
        let tl = m.timeline();
        assert_eq!(tl.len(), 1, "{tl:?}");
        assert_eq!(
            (tl[0].state.as_str(), tl[0].start, tl[0].end),
            ("no_heartbeat", 0, 200)
        );
    }
}

#[test]
fn invented_run_boundary_met_by_a_later_raw_event_is_exact_or_flagged() {
    // pa is the collapsed points online 163 and 170 plus the raw warning
    // 163 (which wins 163); pb is the collapsed run warning 84..165. In
    // pa ⊕ pb that run used to be cut at pa's online 163 (the raw-resumes
    // path: warning resumes at 164), ending "1 µs before" it at 162, an
    // instant no known event holds. pc's raw maintenance 162, merged later,
    // then lost 162 to that invented last event of the (better-ranked)
    // warning run, unflagged. It lies strictly inside pb's collapsed run,
    // so the merge cannot know where warning's events are around it: it
    // must win 162 as in the direct state, or the merge must be flagged.
    let cfg = AvailabilityConfig::default();
    let partial = |events: &[(i64, &'static str)], capacity: usize, recap: Option<usize>| {
        let mut s = build(&cfg, FROM, TO, None, events, capacity);
        if let Some(c) = recap {
            s.set_buffer_capacity(c);
        }
        AvailabilityState::from_bytes(&s.to_partial_bytes()).expect("partial")
    };
    let pa_events = [(163, "online"), (170, "online"), (163, "warning")];
    let pb_events = [(84, "warning"), (118, "warning"), (165, "warning")];
    let pc_events = [(162, "maintenance")];
    let pa = partial(&pa_events, 1, None);
    let pb = partial(&pb_events, 1024, Some(1));
    let pc = partial(&pc_events, 1, None);
    let all: Events = pa_events
        .iter()
        .chain(&pb_events)
        .chain(&pc_events)
        .copied()
        .collect();
    let direct = build(&cfg, FROM, TO, None, &all, DEFAULT_BUFFER_CAPACITY);
    assert_eq!(direct.summary().time_in("maintenance"), 1);
    let ab = AvailabilityState::from_bytes(&merged(&pa, &pb).to_partial_bytes()).expect("ab");
    let m = merged(&ab, &pc);
    let s = m.summary();
    assert!(
        s.approximate || s == direct.summary(),
        "merged {s:?}\ndirect {:?}",
        direct.summary()
    );
}
