//! Shared helpers for the integration tests.
#![allow(dead_code)]

use downsample::Point;

/// Property-test cases: fewer in unoptimized builds so that `cargo test`
/// stays quick; release runs the full count.
pub fn cases(release: u32) -> u32 {
    if cfg!(debug_assertions) {
        (release / 8).max(16)
    } else {
        release
    }
}

/// Large-input size, scaled down the same way.
pub fn size(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release / 10
    } else {
        release
    }
}

/// The `lttb` crate's output on the same points (the oracle).
pub fn oracle_lttb(points: &[Point], n: usize) -> Vec<Point> {
    let data: Vec<lttb::DataPoint> = points
        .iter()
        .map(|p| lttb::DataPoint::new(p.t as f64, p.v))
        .collect();
    let out = lttb::lttb(data, n);
    // Map back through x (exact: |t| < 2^53 in the tests, timestamps unique).
    out.iter()
        .map(|d| {
            let p = points
                .iter()
                .find(|p| p.t as f64 == d.x && p.v.to_bits() == d.y.to_bits())
                .expect("oracle returned a point that is not in the input");
            *p
        })
        .collect()
}

/// Bitwise point equality (so -0.0 != 0.0 and lengths are compared first).
pub fn same_points(a: &[Point], b: &[Point]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
}

/// Noisy sine of `len` points, 1 ms apart, deterministic.
pub fn noisy_sine(len: usize, seed: u64) -> Vec<Point> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    (0..len)
        .map(|i| {
            let x = i as f64 / len as f64 * 20.0 * std::f64::consts::PI;
            Point::new(
                1_700_000_000_000_000 + i as i64 * 1000,
                x.sin() + 0.2 * next(),
            )
        })
        .collect()
}

pub fn split(points: &[Point]) -> (Vec<i64>, Vec<f64>) {
    (
        points.iter().map(|p| p.t).collect(),
        points.iter().map(|p| p.v).collect(),
    )
}
