//! Hand-computed figures.

use energy::{EnergyError, EnergyState, Summary};

const S: i64 = 1_000_000;

fn summary_of(rows: &[(i64, f64)], max_gap: Option<i64>) -> Summary {
    let mut st = EnergyState::new(max_gap).unwrap();
    for &(t, v) in rows {
        st.push(t, v);
    }
    st.summary().unwrap()
}

#[test]
fn constant_power_for_an_hour_is_its_watt_hours() {
    // 100 W for one hour, a sample every 10 minutes: 100 Wh.
    let rows: Vec<_> = (0..=6).map(|i| (i * 600 * S, 100.0)).collect();
    let s = summary_of(&rows, None);
    assert_eq!(s.energy_wh(), 100.0);
    assert_eq!(s.covered, 3600 * S);
    assert_eq!(s.time_weighted_mean(), Some(100.0));
    assert_eq!((s.rows, s.gaps, s.approximate), (7, 0, false));
}

#[test]
fn trapezoids_between_samples() {
    // 0 W to 3600 W over an hour, then flat for half an hour: 1800 + 1800 = 3600 Wh.
    let s = summary_of(&[(0, 0.0), (3600 * S, 3600.0), (5400 * S, 3600.0)], None);
    assert_eq!(s.energy_wh(), 3600.0);
    assert_eq!(s.time_weighted_mean(), Some(3600.0 * 3600.0 / 5400.0));
}

#[test]
fn a_gap_longer_than_max_gap_is_not_integrated_and_is_reported() {
    // 60 W for 10 min, the logger is off 2 h, 60 W for 10 min again.
    let rows = [
        (0, 60.0),
        (600 * S, 60.0),
        (600 * S + 7200 * S, 60.0),
        (1200 * S + 7200 * S, 60.0),
    ];
    let s = summary_of(&rows, Some(900 * S));
    assert_eq!(s.energy_wh(), 20.0);
    assert_eq!(s.covered, 1200 * S);
    assert_eq!((s.gaps, s.gap_time), (1, 7200 * S));
    assert_eq!(s.time_weighted_mean(), Some(60.0));
    // Without max_gap the two hours count at 60 W.
    assert_eq!(summary_of(&rows, None).energy_wh(), 140.0);
}

#[test]
fn rows_at_the_same_instant_are_one_point_their_mean() {
    let a = summary_of(&[(0, 10.0), (0, 30.0), (3600 * S, 20.0)], None);
    let b = summary_of(&[(3600 * S, 20.0), (0, 30.0), (0, 10.0)], None);
    assert_eq!(a.energy_wh(), 20.0);
    assert_eq!(a, b);
    assert_eq!(a.rows, 3);
}

#[test]
fn one_instant_has_no_covered_time_and_no_mean() {
    let s = summary_of(&[(5, 42.0)], None);
    assert_eq!(
        (s.integral, s.covered, s.time_weighted_mean()),
        (0.0, 0, None)
    );
    assert_eq!((s.first_value, s.last_value), (42.0, 42.0));
}

#[test]
fn non_finite_values_are_skipped() {
    let s = summary_of(
        &[
            (0, 1.0),
            (S, f64::NAN),
            (2 * S, f64::INFINITY),
            (3600 * S, 1.0),
        ],
        None,
    );
    assert_eq!((s.rows, s.energy_wh()), (2, 1.0));
    let mut empty = EnergyState::new(None).unwrap();
    empty.push(0, f64::NAN);
    assert_eq!(empty.summary(), None);
}

#[test]
fn bucket_states_roll_up_with_the_segments_between_buckets() {
    // Hourly buckets of 1 sample per 20 minutes: each bucket alone misses the segment from
    // its last sample to the next bucket's first; the rollup has it.
    let rows: Vec<_> = (0..9).map(|i| (i * 1200 * S, 100.0 + i as f64)).collect();
    let mut whole = EnergyState::new(None).unwrap();
    let mut buckets: Vec<EnergyState> = Vec::new();
    for chunk in rows.chunks(3) {
        let mut b = EnergyState::new(None).unwrap();
        for &(t, v) in chunk {
            b.push(t, v);
            whole.push(t, v);
        }
        buckets.push(EnergyState::from_bytes(&b.to_final_bytes()).unwrap());
    }
    let per_bucket: f64 = buckets.iter().map(|b| b.summary().unwrap().integral).sum();
    let mut rollup = EnergyState::new(None).unwrap();
    for b in buckets.iter().rev() {
        rollup.merge(b).unwrap();
    }
    let (r, w) = (rollup.summary().unwrap(), whole.summary().unwrap());
    assert_eq!(r, w);
    assert_eq!(w.covered, 8 * 1200 * S);
    assert!(per_bucket < w.integral, "{per_bucket} vs {}", w.integral);
}

#[test]
fn a_shared_instant_at_a_bucket_edge_merges_exactly() {
    let rows = [(0, 0.0), (10 * S, 10.0), (10 * S, 30.0), (20 * S, 0.0)];
    let (mut a, mut b) = (
        EnergyState::new(None).unwrap(),
        EnergyState::new(None).unwrap(),
    );
    for &(t, v) in &rows[..2] {
        a.push(t, v);
    }
    for &(t, v) in &rows[2..] {
        b.push(t, v);
    }
    a.merge(&b).unwrap();
    let s = a.summary().unwrap();
    // Mean 20 at 10 s: 2 × (20 / 2 × 10) = 200 W·s.
    assert_eq!((s.integral, s.rows, s.approximate), (200.0, 4, false));
}

#[test]
fn out_of_order_rows_beyond_the_buffer_inside_a_folded_run_are_flagged() {
    let mut st = EnergyState::new(None).unwrap();
    st.set_buffer_capacity(64);
    for i in 0..80 {
        st.push(i * S, 1.0);
    }
    st.push(S / 2, 5.0);
    let s = st.summary().unwrap();
    assert!(s.approximate);
    assert_eq!(s.rows, 81);
}

#[test]
fn max_gap_must_be_positive_and_match_to_merge() {
    assert!(matches!(
        EnergyState::new(Some(0)),
        Err(EnergyError::InvalidArgument(_))
    ));
    let mut a = EnergyState::new(Some(S)).unwrap();
    let b = EnergyState::new(None).unwrap();
    assert!(matches!(a.merge(&b), Err(EnergyError::InvalidArgument(_))));
}

#[test]
fn bad_bytes_are_refused_with_the_right_error() {
    assert!(matches!(
        EnergyState::from_bytes(b""),
        Err(EnergyError::InvalidState(_))
    ));
    assert!(matches!(
        EnergyState::from_bytes(b"X\x01\x00"),
        Err(EnergyError::InvalidState(_))
    ));
    assert!(matches!(
        EnergyState::from_bytes(b"E\x02\x00"),
        Err(EnergyError::Unsupported(_))
    ));
    // A run count the bytes do not hold.
    let mut bytes = b"E\x01\x00".to_vec();
    bytes.extend(u32::MAX.to_le_bytes());
    assert!(matches!(
        EnergyState::from_bytes(&bytes),
        Err(EnergyError::InvalidState(_))
    ));
    // Availability state bytes are not energy state bytes.
    assert!(matches!(
        EnergyState::from_bytes(&[1, 0, 0, 0]),
        Err(EnergyError::InvalidState(_))
    ));
}
