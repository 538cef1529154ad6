//! First-occurrence argmin/argmax of finite `f64` slices, written so that the
//! value pass vectorizes (eight independent lanes, no early exit).

const LANES: usize = 8;

/// Smallest and largest value of a non-empty slice of finite values.
#[inline]
fn min_max_values(vs: &[f64]) -> (f64, f64) {
    let mut mn = [f64::INFINITY; LANES];
    let mut mx = [f64::NEG_INFINITY; LANES];
    let chunks = vs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let x = c[l];
            mn[l] = if x < mn[l] { x } else { mn[l] };
            mx[l] = if x > mx[l] { x } else { mx[l] };
        }
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &x in mn.iter().chain(rest) {
        lo = if x < lo { x } else { lo };
    }
    for &x in mx.iter().chain(rest) {
        hi = if x > hi { x } else { hi };
    }
    (lo, hi)
}

/// First index whose value equals `target` (numerically).
#[inline]
fn first_equal(vs: &[f64], target: f64) -> usize {
    const BLOCK: usize = 64;
    let mut base = 0;
    for block in vs.chunks(BLOCK) {
        // Branch-free test of a whole block before the scalar search.
        if block.iter().fold(false, |hit, &x| hit | (x == target)) {
            return base + block.iter().position(|&x| x == target).unwrap_or(0);
        }
        base += block.len();
    }
    0
}

/// `(index of the first minimum, index of the first maximum)` of `vs`, which
/// must be non-empty and finite (`(0, 0)` for an empty slice).
pub(crate) fn first_argmin_argmax(vs: &[f64]) -> (usize, usize) {
    if vs.is_empty() {
        return (0, 0);
    }
    let (lo, hi) = min_max_values(vs);
    (first_equal(vs, lo), first_equal(vs, hi))
}
