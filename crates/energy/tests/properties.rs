//! Invariants: split anywhere and merge = whole; input order does not matter within the
//! buffer; parallel shares of blocks merge exactly; bytes round-trip.

mod common;

use common::{close, direct, Direct};
use energy::{EnergyState, Summary};
use proptest::prelude::*;

fn state_of(rows: &[(i64, f64)], max_gap: Option<i64>, capacity: usize) -> EnergyState {
    let mut st = EnergyState::new(max_gap).unwrap();
    st.set_buffer_capacity(capacity);
    for &(t, v) in rows {
        st.push(t, v);
    }
    st
}

fn assert_matches(s: &Summary, d: &Direct) {
    assert!(!s.approximate);
    assert_eq!(
        (s.rows, s.covered, s.gaps, s.gap_time),
        (d.rows, d.covered, d.gaps, d.gap_time)
    );
    assert!(
        close(s.integral, d.integral),
        "{} vs {}",
        s.integral,
        d.integral
    );
}

/// Time-sorted rows: steps of 0 (a repeated instant) to 100 s, values in ±5 kW.
fn sorted_rows() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec((0i64..100_000_000, -5000.0f64..5000.0), 1..300).prop_map(|steps| {
        let mut t = 1_700_000_000_000_000i64;
        steps
            .into_iter()
            .map(|(step, v)| {
                t += if step % 7 == 0 { 0 } else { step };
                (t, v)
            })
            .collect()
    })
}

fn max_gap() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), (1i64..100_000_000).prop_map(Some)]
}

proptest! {
    #[test]
    fn split_anywhere_and_merge_equals_whole(
        rows in sorted_rows(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        max_gap in max_gap(),
        order in any::<u64>(),
    ) {
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(rows.len() + 1)).collect();
        at.extend([0, rows.len()]);
        at.sort_unstable();
        at.dedup();
        let mut pieces: Vec<EnergyState> = at
            .windows(2)
            .map(|w| {
                let bytes = state_of(&rows[w[0]..w[1]], max_gap, 1 << 16).to_final_bytes();
                EnergyState::from_bytes(&bytes).unwrap()
            })
            .collect();
        // Merged in a scrambled order, as a rollup may read them.
        let n = pieces.len();
        pieces.rotate_left((order as usize) % n);
        if order & 1 == 1 {
            pieces.reverse();
        }
        let mut rollup = EnergyState::new(max_gap).unwrap();
        for p in &pieces {
            rollup.merge(p).unwrap();
        }
        assert_matches(&rollup.summary().unwrap(), &direct(&rows, max_gap));
    }

    #[test]
    fn any_order_within_the_buffer_is_exact(
        rows in sorted_rows(),
        max_gap in max_gap(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = rows.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let s = state_of(&shuffled, max_gap, rows.len().max(2)).summary().unwrap();
        assert_matches(&s, &direct(&rows, max_gap));
    }

    #[test]
    fn parallel_shares_of_blocks_merge_exactly(
        steps in prop::collection::vec(1_000_000i64..1_500_000, 50..600),
        block in 24usize..64,
        owners in prop::collection::vec(0usize..3, 30),
        capacity in prop_oneof![64usize..300, Just(1 << 16)],
        late in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3), 0..3),
        max_gap in max_gap(),
    ) {
        // A regular series (1 to 1.5 s steps) in blocks handed to 3 workers, each reading
        // its blocks in heap order with a small buffer, so it folds often.
        let mut t = 0i64;
        let mut rows: Vec<(i64, f64)> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| { t += s; (t, (i % 17) as f64 * 10.0) })
            .collect();
        let mut workers: Vec<EnergyState> = (0..3).map(|_| state_of(&[], max_gap, capacity)).collect();
        for (b, chunk) in rows.chunks(block).enumerate() {
            for &(t, v) in chunk {
                workers[owners[b % owners.len()]].push(t, v);
            }
        }
        // Late rows, stored at the end of the heap far from their time, read by any worker:
        // exact while its share fits in its buffer.
        if capacity == 1 << 16 {
            let base = rows.clone();
            for (at, w) in &late {
                let row = (base[at.index(base.len())].0 + 1, 7.0);
                workers[*w].push(row.0, row.1);
                rows.push(row);
            }
        }
        let mut leader = EnergyState::new(max_gap).unwrap();
        for w in &workers {
            leader.merge(&EnergyState::from_bytes(&w.to_bytes()).unwrap()).unwrap();
        }
        assert_matches(&leader.summary().unwrap(), &direct(&rows, max_gap));
    }

    #[test]
    fn bytes_round_trip(rows in sorted_rows(), max_gap in max_gap(), capacity in 64usize..200) {
        let st = state_of(&rows, max_gap, capacity);
        let back = EnergyState::from_bytes(&st.to_bytes()).unwrap();
        prop_assert_eq!(back.to_bytes(), st.to_bytes());
        // Equal but for rounding: the fold of the raw rows may cut runs elsewhere (the
        // typical step is not stored), summing in another order.
        let (a, b) = (back.summary().unwrap(), st.summary().unwrap());
        prop_assert!(close(a.integral, b.integral));
        prop_assert_eq!(Summary { integral: 0.0, ..a }, Summary { integral: 0.0, ..b });
    }
}
