//! The direct computation the state must match: rows grouped by instant (mean), sorted,
//! trapezoids between consecutive instants unless longer than max_gap.

#![allow(dead_code)]

use std::collections::BTreeMap;

#[derive(Debug, Default, PartialEq)]
pub struct Direct {
    pub integral: f64,
    pub covered: i64,
    pub gaps: u64,
    pub gap_time: i64,
    pub rows: u64,
}

pub fn direct(rows: &[(i64, f64)], max_gap: Option<i64>) -> Direct {
    let mut at: BTreeMap<i64, (f64, u64)> = BTreeMap::new();
    for &(t, v) in rows.iter().filter(|r| r.1.is_finite()) {
        let e = at.entry(t).or_insert((0.0, 0));
        e.0 += v;
        e.1 += 1;
    }
    let points: Vec<(i64, f64)> = at.iter().map(|(&t, &(s, n))| (t, s / n as f64)).collect();
    let mut d = Direct {
        rows: at.values().map(|e| e.1).sum(),
        ..Direct::default()
    };
    for w in points.windows(2) {
        let dt = w[1].0 - w[0].0;
        if max_gap.is_some_and(|g| dt > g) {
            d.gaps += 1;
            d.gap_time += dt;
        } else {
            d.integral += (w[0].1 + w[1].1) / 2.0 * (dt as f64 / 1e6);
            d.covered += dt;
        }
    }
    d
}

/// Relative closeness, for sums taken in another order.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
