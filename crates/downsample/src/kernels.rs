//! Hot loops, compiled three times on x86-64 (baseline, AVX2, AVX-512) and
//! picked at run time: the validity checks that decide whether a batch input is already
//! canonical, and the per-bin extrema pass of MinMax preselection. The code
//! is the same; the features only change instruction selection (no FMA contraction,
//! so floating-point results are identical).

use crate::bins::TimeBins;

const LANES: usize = 8;
const CHECK_CHUNK: usize = 2048;

/// Runs `$body` (an `#[inline(always)]` fn) with AVX2 enabled when the CPU
/// has it.
macro_rules! dispatch_impl {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => $body:ident) => {
        // The crate denies unsafe code but for these two feature-checked calls.
        #[allow(unsafe_code)]
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
                fn with_avx512($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn with_avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU supports these features, checked just above.
                    return unsafe { with_avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { with_avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use dispatch_impl as dispatch;

/// `ts` strictly increasing and every `vs` finite (branch-free per chunk so
/// it vectorizes, early exit between chunks).
#[inline(always)]
pub(crate) fn canonical_body(ts: &[i64], vs: &[f64]) -> bool {
    let (Some(head), Some(tail)) = (ts.get(..ts.len().saturating_sub(1)), ts.get(1..)) else {
        return true;
    };
    let sorted = head
        .chunks(CHECK_CHUNK)
        .zip(tail.chunks(CHECK_CHUNK))
        .all(|(a, b)| a.iter().zip(b).fold(true, |ok, (p, q)| ok & (p < q)));
    sorted
        && vs
            .chunks(CHECK_CHUNK)
            .all(|c| c.iter().fold(true, |ok, &v| ok & v.is_finite()))
}

dispatch_impl!(pub(crate) fn is_canonical(ts: &[i64], vs: &[f64]) -> bool => canonical_body);

/// One non-empty bin found by [`scan_bins`]: `ts[lo..hi]`, and with
/// extrema the absolute indices of its first minimum and first maximum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BinRange {
    pub(crate) j: u64,
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    pub(crate) imin: usize,
    pub(crate) imax: usize,
}

/// Bins `j0..j1` of a series, whose points are `ts[lo..hi]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sweep {
    pub(crate) j0: u64,
    pub(crate) j1: u64,
    pub(crate) lo: usize,
    pub(crate) hi: usize,
}

/// Splits `ts[lo..hi]` (the points of bins `j0..j1` of `bins`) into its
/// bins by one sequential sweep, checking on the way that the timestamps
/// are strictly increasing (also across `lo`); with `extrema`, also finds
/// each bin's first min and max value and checks the values are finite.
/// `None` when a check fails (the input is not canonical).
#[inline(always)]
fn scan_bins_body(
    ts: &[i64],
    vs: &[f64],
    bins: &TimeBins,
    sweep: Sweep,
    extrema: bool,
) -> Option<Vec<BinRange>> {
    let Sweep { j0, j1, lo, hi } = sweep;
    let ts = ts.get(..hi)?;
    let vs = vs.get(..hi)?;
    let mut out = Vec::new();
    let mut ok = true;
    // Time before the sweep, if any.
    let mut prev = lo.checked_sub(1).and_then(|i| ts.get(i)).copied();
    let mut i = lo;
    for j in j0..j1 {
        let start = i;
        let end = if j + 1 == j1 {
            hi
        } else {
            scan_below(ts, i, bins.start(j + 1), &mut prev, &mut ok)
        };
        if j + 1 == j1 {
            // The last bin runs to `hi`; just validate it.
            let part = ts.get(start..end)?;
            if let Some(&first) = part.first() {
                ok &= prev.is_none_or(|p| p < first);
                ok &= increasing(part);
                prev = part.last().copied();
            }
        }
        i = end;
        if end > start {
            let (imin, imax) = if extrema {
                let part = vs.get(start..end)?;
                let (lo_v, hi_v, finite) = min_max_finite(part);
                ok &= finite;
                (
                    start + first_equal(part, lo_v),
                    start + first_equal(part, hi_v),
                )
            } else {
                (start, start)
            };
            out.push(BinRange {
                j,
                lo: start,
                hi: end,
                imin,
                imax,
            });
        }
        if !ok {
            return None;
        }
    }
    ok.then_some(out)
}

dispatch_impl!(pub(crate) fn scan_bins(ts: &[i64], vs: &[f64], bins: &TimeBins, sweep: Sweep, extrema: bool) -> Option<Vec<BinRange>> => scan_bins_body);

/// Advances from `i` over the timestamps below `bound` (in chunks, so the
/// compares vectorize), checking they increase strictly from `prev`.
#[inline(always)]
fn scan_below(
    ts: &[i64],
    mut i: usize,
    bound: i64,
    prev: &mut Option<i64>,
    ok: &mut bool,
) -> usize {
    const W: usize = 8;
    while let Some(c) = ts.get(i..).and_then(|r| r.first_chunk::<W>()) {
        let mut above = false;
        let mut disorder = false;
        for &t in c {
            above |= t >= bound;
        }
        for k in 1..W {
            disorder |= c[k - 1] >= c[k];
        }
        if above {
            break;
        }
        *ok &= !disorder & prev.is_none_or(|p| p < c[0]);
        *prev = Some(c[W - 1]);
        i += W;
    }
    while let Some(&t) = ts.get(i) {
        if t >= bound {
            break;
        }
        *ok &= prev.is_none_or(|p| p < t);
        *prev = Some(t);
        i += 1;
    }
    i
}

#[inline(always)]
fn increasing(ts: &[i64]) -> bool {
    ts.iter()
        .zip(ts.iter().skip(1))
        .fold(true, |acc, (p, q)| acc & (p < q))
}

/// Smallest and largest value and whether all are finite (lane-wise, so it
/// vectorizes).
#[inline(always)]
fn min_max_finite(vs: &[f64]) -> (f64, f64, bool) {
    let mut mn = [f64::INFINITY; LANES];
    let mut mx = [f64::NEG_INFINITY; LANES];
    let mut finite = [true; LANES];
    let chunks = vs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let x = c[l];
            mn[l] = if x < mn[l] { x } else { mn[l] };
            mx[l] = if x > mx[l] { x } else { mx[l] };
            finite[l] &= x.is_finite();
        }
    }
    let ok = finite.iter().all(|&f| f) && rest.iter().all(|x| x.is_finite());
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &x in mn.iter().chain(rest) {
        lo = if x < lo { x } else { lo };
    }
    for &x in mx.iter().chain(rest) {
        hi = if x > hi { x } else { hi };
    }
    (lo, hi, ok)
}

/// First index whose value equals `target` (numerically); 0 if none.
#[inline(always)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_scan_matches_baseline() {
        let ts: Vec<i64> = (0..5000).map(|i| i * 10 + (i % 7)).collect();
        let vs: Vec<f64> = (0..5000)
            .map(|i| ((i * 7919) % 1013) as f64 - 500.0)
            .collect();
        let bins = TimeBins::new(0, 50_000, 37).unwrap_or_else(|_| unreachable!());
        let sweep = Sweep {
            j0: 0,
            j1: 37,
            lo: 0,
            hi: ts.len(),
        };
        let key = |r: Option<Vec<BinRange>>| {
            r.map(|v| {
                v.iter()
                    .map(|b| (b.j, b.lo, b.hi, b.imin, b.imax))
                    .collect::<Vec<_>>()
            })
        };
        let base = key(scan_bins_body(&ts, &vs, &bins, sweep, true));
        assert!(base.as_ref().is_some_and(|v| v.len() == 37));
        assert_eq!(key(scan_bins(&ts, &vs, &bins, sweep, true)), base);
        assert_eq!(is_canonical(&ts, &vs), canonical_body(&ts, &vs));
        let mut bad = ts.clone();
        bad[2500] = bad[2499];
        assert!(scan_bins(&bad, &vs, &bins, sweep, true).is_none());
        assert!(!is_canonical(&bad, &vs));
    }
}
