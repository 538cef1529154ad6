//! Reductions that round like the reference's numpy / Python calls.
//!
//! Thresholds in the spec (`> 0.05·max`, `≥ 0.80`, `|dev| > T`, ...) are
//! compared on values the reference computes with numpy's pairwise summation
//! and Python's `min`/`max`; reproducing the same rounding order keeps ties
//! on the same side.

/// numpy's `pairwise_sum` over `f(start..start + n)`: plain loop below 8
/// values, 8 interleaved accumulators up to 128, halving (on a multiple of 8)
/// above.
fn pairwise_sum_range(f: &impl Fn(usize) -> f64, start: usize, n: usize) -> f64 {
    if n < 8 {
        let mut res = -0.0;
        for i in start..start + n {
            res += f(i);
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        for (j, acc) in r.iter_mut().enumerate() {
            *acc = f(start + j);
        }
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += f(start + i + j);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += f(start + i);
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum_range(f, start, n2) + pairwise_sum_range(f, start + n2, n - n2)
    }
}

/// `np.sum(values)` for a contiguous array (slice version of
/// [`pairwise_sum_range`], without per-element bounds checks).
pub(crate) fn sum(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        values.iter().fold(-0.0, |acc, &v| acc + v)
    } else if n <= 128 {
        let (blocks, rest) = values.split_at(n - n % 8);
        let mut r = [0.0f64; 8];
        let mut chunks = blocks.chunks_exact(8);
        if let Some(first) = chunks.next() {
            r.copy_from_slice(first);
        }
        for chunk in chunks {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        rest.iter().fold(res, |acc, &v| acc + v)
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let (a, b) = values.split_at(n2);
        sum(a) + sum(b)
    }
}

/// `np.sum` of `f(i)` for `i in 0..n`, without materialising the array.
pub(crate) fn sum_of(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    pairwise_sum_range(&f, 0, n)
}

/// `np.mean(values)` (NaN for an empty slice, as numpy).
pub(crate) fn mean(values: &[f64]) -> f64 {
    sum(values) / values.len() as f64
}

/// `np.std` (population, ddof = 0) of 64 values, given their mean.
pub(crate) fn std64_with_mean(values: &[f64; 64], mean: f64) -> f64 {
    let mut squares = [0.0f64; 64];
    for (sq, &v) in squares.iter_mut().zip(values) {
        let d = v - mean;
        *sq = d * d;
    }
    (sum(&squares) / 64.0).sqrt()
}

/// `np.median` of finite values, selecting in `scratch` (which is
/// overwritten; it must hold at least `values.len()` elements). Even counts
/// average the two middle values as `(a + b) / 2`. Returns NaN when empty.
pub(crate) fn median_in(values: &[f64], scratch: &mut [f64]) -> f64 {
    let n = values.len();
    let Some(work) = scratch.get_mut(..n) else {
        return f64::NAN;
    };
    if n == 0 {
        return f64::NAN;
    }
    work.copy_from_slice(values);
    let mid = n / 2;
    let (lower, upper, _) = work.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    // The other middle value is the largest of the lower half.
    let lower_max = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lower_max + upper) / 2.0
}

/// Python's `max(a, b)`: `a` unless `b > a` (so NaN in `b` keeps `a`, NaN in
/// `a` is kept).
pub(crate) fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `a` unless `b < a`.
pub(crate) fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_uses_numpy_blocking() {
        // 0.1 summed 64 times: sequential and 8-accumulator orders differ.
        let values = [0.1f64; 64];
        let mut r = [0.0f64; 8];
        for chunk in values.chunks(8) {
            for (acc, v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let blocked = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        assert_eq!(sum(&values), blocked);
        let sequential = values.iter().fold(0.0, |a, b| a + b);
        assert_ne!(
            blocked, sequential,
            "test needs orders that round differently"
        );
    }

    #[test]
    fn pairwise_sum_splits_large_arrays() {
        let values: Vec<f64> = (0..300).map(|i| (i as f64) * 0.37).collect();
        let expected = sum(&values[..144]) + sum(&values[144..]);
        assert_eq!(sum(&values), expected);
        assert!((sum(&values) - values.iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn median_even_and_odd() {
        let mut scratch = [0.0; 8];
        assert_eq!(median_in(&[3.0, 1.0, 2.0], &mut scratch), 2.0);
        assert_eq!(median_in(&[4.0, 1.0, 3.0, 2.0], &mut scratch), 2.5);
        assert!(median_in(&[], &mut scratch).is_nan());
        assert!(
            median_in(&[1.0; 9], &mut scratch).is_nan(),
            "scratch too small"
        );
    }

    #[test]
    fn python_min_max_semantics() {
        assert_eq!(py_max(1.0, f64::NAN), 1.0);
        assert!(py_max(f64::NAN, 1.0).is_nan());
        assert_eq!(py_min(1.0, f64::NAN), 1.0);
        assert_eq!(py_min(1.0, 0.5), 0.5);
    }
}
