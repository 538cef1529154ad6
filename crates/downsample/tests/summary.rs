//! `M4Summary` merge algebra and serialization.

use downsample::{M4Summary, Point};
use proptest::prelude::*;

/// Points with many shared timestamps and values (incl. ±0) to exercise ties.
fn points() -> impl Strategy<Value = Vec<Point>> {
    prop::collection::vec(
        (
            0i64..30,
            prop_oneof![(-5i32..5).prop_map(f64::from), Just(-0.0), Just(0.0)],
        ),
        1..40,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(t, x)| Point::new(t * 1000 - 7000, x))
            .collect()
    })
}

fn summarize(pts: &[Point]) -> M4Summary {
    let mut s = M4Summary::new(pts[0].t, pts[0].v).unwrap();
    for p in &pts[1..] {
        assert!(s.push(p.t, p.v));
    }
    s
}

fn bits(s: &M4Summary) -> Vec<(i64, u64)> {
    [s.first, s.last, s.min, s.max]
        .iter()
        .map(|p| (p.t, p.v.to_bits()))
        .chain([(s.count as i64, s.sum.to_bits())])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn merge_is_commutative_and_associative(a in points(), b in points(), c in points()) {
        // Integer values: sums are exact, so the whole summary must match.
        let (sa, sb, sc) = (summarize(&a), summarize(&b), summarize(&c));
        let mut ab = sa;
        ab.merge(&sb);
        let mut ba = sb;
        ba.merge(&sa);
        prop_assert_eq!(bits(&ab), bits(&ba));
        let mut ab_c = ab;
        ab_c.merge(&sc);
        let mut bc = sb;
        bc.merge(&sc);
        let mut a_bc = sa;
        a_bc.merge(&bc);
        prop_assert_eq!(bits(&ab_c), bits(&a_bc));
        // And equal to summarizing everything at once, in any order.
        let mut all: Vec<Point> = a.iter().chain(&b).chain(&c).copied().collect();
        prop_assert_eq!(bits(&summarize(&all)), bits(&ab_c));
        all.reverse();
        prop_assert_eq!(bits(&summarize(&all)), bits(&ab_c));
        prop_assert!(ab_c.validate().is_ok());
    }

    #[test]
    fn tie_rules(pts in points()) {
        let s = summarize(&pts);
        let tmin = pts.iter().map(|p| p.t).min().unwrap();
        let tmax = pts.iter().map(|p| p.t).max().unwrap();
        let vmin = pts.iter().map(|p| p.v).fold(f64::INFINITY, f64::min);
        let vmax = pts.iter().map(|p| p.v).fold(f64::NEG_INFINITY, f64::max);
        prop_assert_eq!(s.first.t, tmin);
        prop_assert_eq!(s.last.t, tmax);
        prop_assert!(s.min.v == vmin && s.max.v == vmax);
        // Earliest time among the extreme values.
        prop_assert_eq!(s.min.t, pts.iter().filter(|p| p.v == vmin).map(|p| p.t).min().unwrap());
        prop_assert_eq!(s.max.t, pts.iter().filter(|p| p.v == vmax).map(|p| p.t).min().unwrap());
        // Smallest value at the first time, largest at the last.
        let first_v = pts.iter().filter(|p| p.t == tmin).map(|p| p.v).fold(f64::INFINITY, f64::min);
        let last_v = pts.iter().filter(|p| p.t == tmax).map(|p| p.v).fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(s.first.v == first_v && s.last.v == last_v);
        prop_assert_eq!(s.count, pts.len() as u64);
    }

    #[test]
    fn bytes_roundtrip(pts in points(), sum_noise in -1e-3f64..1e-3) {
        let mut s = summarize(&pts);
        s.sum += sum_noise;
        let bytes = s.to_bytes();
        prop_assert!(bytes.len() <= 84);
        let back = M4Summary::from_bytes(&bytes).unwrap();
        prop_assert_eq!(bits(&back), bits(&s));
        for cut in 0..bytes.len() {
            prop_assert!(M4Summary::from_bytes(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(M4Summary::from_bytes(&longer).is_err());
    }
}

#[test]
fn non_finite_values_are_skipped() {
    assert!(M4Summary::new(1, f64::NAN).is_none());
    assert!(M4Summary::new(1, f64::NEG_INFINITY).is_none());
    let mut s = M4Summary::new(1, 2.0).unwrap();
    assert!(!s.push(2, f64::NAN));
    assert_eq!(s.count, 1);
    assert_eq!(s.last, Point::new(1, 2.0));
}

#[test]
fn single_point_encoding_is_compact_and_versioned() {
    let s = M4Summary::new(1_700_000_000_000_000, 3.5).unwrap();
    let bytes = s.to_bytes();
    assert_eq!(bytes.len(), 1 + 1 + 1 + 8 + 16);
    assert_eq!(bytes[0], downsample::M4_SUMMARY_FORMAT_VERSION);
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert!(M4Summary::from_bytes(&v2).is_err());
    // Invariant violations are rejected: min above max.
    let mut bad = s;
    bad.count = 2;
    bad.max = Point::new(s.first.t, 1.0);
    assert!(M4Summary::from_bytes(&bad.to_bytes()).is_err());
}
