//! SeriesBuckets: per-series results equal one MethodBuckets per series, and partial states
//! of any split of the rows, through their bytes, merge to the whole.

use downsample::{GroupKey, Method, MethodBuckets, SeriesBuckets};
use proptest::prelude::*;

const FROM: i64 = 0;
const TO: i64 = 10_000;

/// Rows of up to 4 series (and NULL), each timestamp at most once per series: which of two
/// rows at one instant a state keeps depends on the order they come in, in any partial
/// state as in `downsample_agg`.
fn rows_strategy() -> impl Strategy<Value = Vec<(Option<i64>, i64, f64)>> {
    prop::collection::vec(
        (
            prop::option::weighted(0.9, 0i64..4),
            FROM..TO,
            -100.0f64..100.0,
        ),
        0..300,
    )
    .prop_map(|mut rows| {
        let mut seen = std::collections::HashSet::new();
        rows.retain(|&(k, t, _)| seen.insert((k, t)));
        rows
    })
}

fn method_strategy() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::MinMaxLttb,
        Method::M4,
        Method::MinMax,
        Method::Uniform,
        Method::Avg,
    ])
}

fn build(rows: &[(Option<i64>, i64, f64)], method: Method, points: usize) -> SeriesBuckets {
    let mut s = SeriesBuckets::new(FROM, TO, points, method).unwrap();
    for &(k, t, v) in rows {
        s.push(k, t, v).unwrap();
    }
    s
}

proptest! {
    #[test]
    fn each_series_is_its_own_method_buckets(rows in rows_strategy(), method in method_strategy(), points in 4usize..40) {
        let got = build(&rows, method, points).finish().unwrap();
        let mut keys: Vec<Option<i64>> = rows.iter().map(|r| r.0).collect();
        keys.sort_by_key(|k| (k.is_none(), *k));
        keys.dedup();
        prop_assert_eq!(got.len(), keys.len());
        for ((key, points_got), k) in got.iter().zip(&keys) {
            prop_assert_eq!(key, &k.map_or(GroupKey::Null, GroupKey::Int));
            let mut one = MethodBuckets::new(FROM, TO, points, method).unwrap();
            for &(_, t, v) in rows.iter().filter(|r| r.0 == *k) {
                one.buckets.push(t, v);
            }
            prop_assert_eq!(points_got, &one.buckets.finish(method).unwrap());
        }
    }

    #[test]
    fn partial_states_through_their_bytes_merge_to_the_whole(
        rows in rows_strategy(),
        method in prop::sample::select(vec![Method::MinMaxLttb, Method::M4, Method::MinMax, Method::Uniform]),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) {
        let whole = build(&rows, method, 12);
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(rows.len() + 1)).collect();
        bounds.push(0);
        bounds.push(rows.len());
        bounds.sort_unstable();
        let mut merged: Option<SeriesBuckets> = None;
        for w in bounds.windows(2) {
            let part = build(&rows[w[0]..w[1]], method, 12);
            let part = SeriesBuckets::from_bytes(&part.to_bytes()).unwrap();
            match merged.as_mut() {
                None => merged = Some(part),
                Some(m) => m.merge(&part).unwrap(),
            }
        }
        prop_assert_eq!(merged.unwrap().finish().unwrap(), whole.finish().unwrap());
    }
}

#[test]
fn keys_come_in_order_null_last_and_survive_the_bytes() {
    let mut s = SeriesBuckets::new(FROM, TO, 4, Method::M4).unwrap();
    for (k, t) in [(Some(9), 1), (None, 2), (Some(-4), 3), (Some(9), 4)] {
        s.push(k, t, 1.0).unwrap();
    }
    let keys: Vec<GroupKey> = s.finish().unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [GroupKey::Int(-4), GroupKey::Int(9), GroupKey::Null]);
    let back = SeriesBuckets::from_bytes(&s.to_bytes()).unwrap();
    assert_eq!(back.finish().unwrap(), s.finish().unwrap());
}

#[test]
fn bad_bytes_and_other_windows_are_errors() {
    let s = build(&[(Some(1), 5, 1.0)], Method::M4, 8);
    let bytes = s.to_bytes();
    for cut in 0..bytes.len() {
        assert!(
            SeriesBuckets::from_bytes(&bytes[..cut]).is_err(),
            "cut {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(SeriesBuckets::from_bytes(&longer).is_err());
    let mut v2 = bytes;
    v2[0] = 2;
    assert!(SeriesBuckets::from_bytes(&v2).is_err());
    let mut a = build(&[], Method::M4, 8);
    assert!(a.merge(&build(&[], Method::M4, 9)).is_err());
    assert!(a.merge(&build(&[], Method::MinMax, 8)).is_err());
}

#[test]
fn added_series_of_any_key_merge_and_survive_the_bytes() {
    // Series made elsewhere (a parallel partition's kernels) and added whole: text keys too.
    let buckets = |values: &[(i64, f64)]| {
        let mut b = MethodBuckets::new(0, 1_000, 8, Method::M4).unwrap();
        for &(t, v) in values {
            b.buckets.push(t, v);
        }
        b
    };
    let mut state = SeriesBuckets::new(0, 1_000, 8, Method::M4).unwrap();
    let pump = GroupKey::Text(b"pump".to_vec());
    state
        .add_series(&pump, buckets(&[(10, 1.0), (500, 3.0)]))
        .unwrap();
    state
        .add_series(&GroupKey::Int(7), buckets(&[(20, 2.0)]))
        .unwrap();
    // The same key again: merged into the series, not a second one.
    state.add_series(&pump, buckets(&[(900, -1.0)])).unwrap();
    assert_eq!(state.series_count(), 2);
    let back = SeriesBuckets::from_bytes(&state.to_bytes()).unwrap();
    let finished = back.finish().unwrap();
    assert_eq!(finished.len(), 2);
    let pump_points = &finished.iter().find(|(k, _)| *k == pump).unwrap().1;
    assert_eq!(
        pump_points.iter().map(|p| p.t).collect::<Vec<_>>(),
        vec![10, 500, 900]
    );
    // Buckets of another window are refused.
    let other = || MethodBuckets::new(0, 2_000, 8, Method::M4).unwrap();
    assert!(state.add_series(&pump, other()).is_err());
    assert!(state.add_series(&GroupKey::Null, other()).is_err());
    assert_eq!(state.series_count(), 2);
}
