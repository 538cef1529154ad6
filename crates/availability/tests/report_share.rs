//! Report shares (parallel workers' compressed events) merge to the figures of one serial
//! pass, or say they cannot.

use availability::{
    BucketRow, BucketSpec, BucketStates, GroupKey, KeyRef, ReportShare, ReportShares,
};
use proptest::prelude::*;

mod common;
use common::*;

/// Events in the window, in time order (as a table filled in time order stores them), with
/// a few states so that runs repeat.
fn ordered_events(max: usize) -> impl Strategy<Value = Events> {
    prop::collection::vec((0i64..3, 0usize..3), 0..max).prop_map(|steps| {
        let mut t = FROM;
        steps
            .into_iter()
            .filter_map(|(dt, s)| {
                t += dt;
                (t < TO).then_some((t, STATES[s]))
            })
            .collect()
    })
}

fn rows(states: BucketStates, spec: &BucketSpec, carry: Option<(i64, String)>) -> Vec<BucketRow> {
    states
        .into_rows(spec, carry)
        .collect::<Result<Vec<_>, _>>()
        .expect("rows")
}

/// Events in heap order split into chunks of `chunk` blocks (one event per block), the
/// chunks dealt to `workers` shares as a parallel scan deals them; each share finished,
/// sent as bytes and merged.
fn merged_shares(
    spec: &BucketSpec,
    heap: &[(i64, &'static str)],
    chunk: usize,
    workers: usize,
) -> ReportShare {
    let mut shares = vec![ReportShare::default(); workers];
    for (block, &(t, s)) in heap.iter().enumerate() {
        let worker = (block / chunk) % workers;
        shares[worker].push(spec, t, s, block as u64).expect("push");
    }
    let mut merged: Option<ReportShare> = None;
    for mut share in shares {
        share.finish(spec).expect("finish");
        let back = ReportShare::from_bytes(&share.to_bytes()).expect("bytes");
        match &mut merged {
            Some(m) => m.merge(back).expect("merge"),
            None => merged = Some(back),
        }
    }
    merged.expect("a share")
}

/// Events of several pieces of equipment interleaved in heap order (an equipment per event:
/// an integer, NULL as `None`, and 2 as a text key, so that both kinds meet), dealt to workers' [`ReportShares`] as [`merged_shares`] deals them, sent
/// as bytes and merged.
fn merged_equipment_shares(
    spec: &BucketSpec,
    heap: &[(Option<i64>, i64, &'static str)],
    chunk: usize,
    workers: usize,
) -> ReportShares {
    let mut shares = vec![ReportShares::default(); workers];
    for (block, &(e, t, s)) in heap.iter().enumerate() {
        let worker = (block / chunk) % workers;
        let key = match e {
            Some(2) => KeyRef::Text(b"two"),
            e => KeyRef::int(e),
        };
        shares[worker]
            .push(key, spec, t, s, block as u64)
            .expect("push");
    }
    let mut merged = ReportShares::default();
    for mut share in shares {
        share.finish(spec).expect("finish");
        let back = ReportShares::from_bytes(&share.to_bytes()).expect("bytes");
        merged.merge(back).expect("merge");
    }
    merged
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
    ))]

    /// A table in time order: the shares are exact and give the serial figures.
    #[test]
    fn shares_of_a_time_ordered_table_merge_to_the_serial_report(
        cfg in config_strategy(),
        events in ordered_events(300),
        width in 7i64..80,
        chunk in 1usize..40,
        workers in 1usize..4,
        carry in carry_in_strategy(),
    ) {
        let spec = BucketSpec { config: cfg, from: FROM, to: TO, width };
        let mut serial = BucketStates::default();
        for &(t, s) in &events {
            serial.push(&spec, t, s).expect("push");
        }
        let carry = carry.map(|s| (FROM - 5, s.to_string()));
        let merged = merged_shares(&spec, &events, chunk, workers);
        prop_assert!(merged.is_exact());
        prop_assert_eq!(rows(merged.into_buckets(), &spec, carry.clone()), rows(serial, &spec, carry));
    }

    /// Rows stored away from their time (late uploads appended at the end of the heap):
    /// either the shares say they are not exact, or they are right.
    #[test]
    fn shares_are_never_silently_wrong(
        cfg in config_strategy(),
        events in ordered_events(300),
        late in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        width in 7i64..80,
        chunk in 1usize..40,
        workers in 1usize..4,
    ) {
        let spec = BucketSpec { config: cfg, from: FROM, to: TO, width };
        let mut heap = events.clone();
        // Move some events to the end, as if they had been inserted last.
        for index in late {
            if heap.is_empty() {
                break;
            }
            let e = heap.remove(index.index(heap.len()));
            heap.push(e);
        }
        let mut serial = BucketStates::default();
        for &(t, s) in &heap {
            serial.push(&spec, t, s).expect("push");
        }
        let merged = merged_shares(&spec, &heap, chunk, workers);
        if merged.is_exact() {
            prop_assert_eq!(rows(merged.into_buckets(), &spec, None), rows(serial, &spec, None));
        }
    }

    /// Several pieces of equipment in one state: each one's merged share is the share it
    /// gets alone (same heap blocks, same workers), so its figures are the serial ones.
    #[test]
    fn equipment_shares_are_each_equipment_alone(
        cfg in config_strategy(),
        events in ordered_events(300),
        keys in prop::collection::vec(prop::option::weighted(0.8, -2i64..3), 300),
        width in 7i64..80,
        chunk in 1usize..40,
        workers in 1usize..4,
    ) {
        let spec = BucketSpec { config: cfg, from: FROM, to: TO, width };
        let heap: Vec<_> = events.iter().zip(&keys).map(|(&(t, s), &e)| (e, t, s)).collect();
        let merged = merged_equipment_shares(&spec, &heap, chunk, workers).into_sorted();
        let mut expected: Vec<Option<i64>> = heap.iter().map(|h| h.0).collect();
        // Integers, then the text key, then NULL: the order of GroupKey.
        expected.sort_by_key(|e| match e {
            Some(2) => (1, 0),
            Some(k) => (0, *k),
            None => (2, 0),
        });
        expected.dedup();
        prop_assert_eq!(merged.len(), expected.len());
        for ((key, share), e) in merged.into_iter().zip(expected) {
            let want = match e {
                Some(2) => GroupKey::Text(b"two".to_vec()),
                e => e.map_or(GroupKey::Null, GroupKey::Int),
            };
            prop_assert_eq!(&key, &want);
            // The same equipment alone: its events at the same heap blocks.
            let mut alone = vec![ReportShare::default(); workers];
            for (block, &(k, t, s)) in heap.iter().enumerate() {
                if k == e {
                    alone[(block / chunk) % workers].push(&spec, t, s, block as u64).expect("push");
                }
            }
            let mut alone_merged: Option<ReportShare> = None;
            for mut a in alone {
                a.finish(&spec).expect("finish");
                match &mut alone_merged {
                    Some(m) => m.merge(a).expect("merge"),
                    None => alone_merged = Some(a),
                }
            }
            let alone = alone_merged.expect("a share");
            prop_assert_eq!(share.is_exact(), alone.is_exact());
            prop_assert_eq!(rows(share.into_buckets(), &spec, None), rows(alone.into_buckets(), &spec, None));
        }
    }

    #[test]
    fn a_spec_comes_back_from_its_bytes(cfg in config_strategy(), width in 1i64..500) {
        let spec = BucketSpec { config: cfg, from: FROM, to: TO, width };
        let back = BucketSpec::from_bytes(&spec.to_bytes().expect("bytes")).expect("spec");
        prop_assert_eq!(back.config, spec.config);
        prop_assert_eq!((back.from, back.to, back.width), (spec.from, spec.to, spec.width));
    }

    #[test]
    fn corrupted_share_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = ReportShare::from_bytes(&bytes);
        let _ = ReportShares::from_bytes(&bytes);
        let _ = BucketSpec::from_bytes(&bytes);
    }
}

proptest! {
    /// Time-range partitions cut at bucket boundaries (a parallel report's partitions of a
    /// hypertable): each partition's bucket states, through their bytes, merge to the
    /// serial report, with events in any order and buffers of any size.
    #[test]
    fn bucket_states_of_time_partitions_merge_to_the_serial_report(
        cfg in config_strategy(),
        events in events_strategy(200),
        width in 7i64..80,
        cuts in prop::collection::vec(0i64..40, 0..4),
        capacity in 0usize..8,
        carry in carry_in_strategy(),
    ) {
        let spec = BucketSpec { config: cfg, from: FROM, to: TO, width };
        // The window's events (the scan's conditions), in the generated order.
        let events: Vec<_> = events.into_iter().filter(|(t, _)| FROM <= *t && *t < TO).collect();
        let mut serial = BucketStates::default();
        for &(t, s) in &events {
            serial.push_with_capacity(&spec, t, s, capacity).expect("push");
        }
        // Partition bounds on the bucket grid.
        let mut bounds: Vec<i64> = cuts.iter().map(|c| FROM + c * width).filter(|&b| b < TO).collect();
        bounds.push(FROM);
        bounds.push(TO);
        bounds.sort_unstable();
        bounds.dedup();
        let mut merged = BucketStates::default();
        for part in bounds.windows(2) {
            let mut states = BucketStates::default();
            for &(t, s) in events.iter().filter(|(t, _)| part[0] <= *t && *t < part[1]) {
                states.push_with_capacity(&spec, t, s, capacity).expect("push");
            }
            let groups = vec![(GroupKey::Text(b"pump".to_vec()), states)];
            let back = BucketStates::groups_from_bytes(&BucketStates::groups_to_bytes(&groups)).expect("bytes");
            prop_assert_eq!(back.len(), 1);
            for (key, states) in back {
                prop_assert_eq!(key, GroupKey::Text(b"pump".to_vec()));
                merged.merge(states).expect("merge");
            }
        }
        let carry = carry.map(|s| (FROM - 5, s.to_string()));
        prop_assert_eq!(rows(merged, &spec, carry.clone()), rows(serial, &spec, carry));
    }
}

#[test]
fn bad_bucket_state_bytes_are_errors() {
    assert!(BucketStates::from_bytes(&[]).is_err());
    assert!(BucketStates::from_bytes(&[9]).is_err());
    assert!(BucketStates::groups_from_bytes(&[1, 0, 1, 2]).is_err());
    let mut bytes = BucketStates::default().to_bytes();
    bytes.extend_from_slice(&[1, 2, 3]);
    assert!(BucketStates::from_bytes(&bytes).is_err());
}
