//! Per-zone ToF histogram analysis (spec §1 "bins_analysis").

use crate::numpy_reductions::{median_in, sum, sum_of};

/// Largest Gaussian smoothing window (taps).
const MAX_WINDOW: usize = 41;

/// Results for one zone's histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ZoneHistogramStats {
    pub multi_peak_count: usize,
    pub peak_bin: usize,
    pub surface_roughness: f64,
    pub signal_quality: f64,
    pub texture_score: f64,
    pub density_score: f64,
}

/// Normalised Gaussian window of `scipy.signal.windows.gaussian(m, std=3)`,
/// in the first `m` entries.
pub(crate) struct SmoothingWindow {
    weights: [f64; MAX_WINDOW],
    len: usize,
}

impl SmoothingWindow {
    /// Window for histograms of `bins` bins: `min(41, bins)` taps.
    pub(crate) fn for_bins(bins: usize) -> SmoothingWindow {
        let len = bins.min(MAX_WINDOW);
        let mut weights = [0.0; MAX_WINDOW];
        let centre = (len as f64 - 1.0) / 2.0;
        for (k, w) in weights.iter_mut().take(len).enumerate() {
            let offset = k as f64 - centre;
            *w = (-(offset * offset) / 18.0).exp();
        }
        let total = sum(&weights[..len]);
        for w in weights.iter_mut().take(len) {
            *w /= total;
        }
        SmoothingWindow { weights, len }
    }

    fn taps(&self) -> &[f64] {
        self.weights.get(..self.len).unwrap_or(&[])
    }
}

/// Scratch space for one zone: 5 × bins values, reused across zones.
pub(crate) struct ZoneScratch<'s> {
    positive: &'s mut [f64],
    smoothed: &'s mut [f64],
    right_min: &'s mut [f64],
    stack_value: &'s mut [f64],
    stack_min: &'s mut [f64],
}

impl<'s> ZoneScratch<'s> {
    /// Splits `buffer` (at least `5 × bins` long) into the working arrays.
    pub(crate) fn new(buffer: &'s mut [f64], bins: usize) -> Option<ZoneScratch<'s>> {
        let buffer = buffer.get_mut(..bins.checked_mul(5)?)?;
        let (positive, rest) = buffer.split_at_mut(bins);
        let (smoothed, rest) = rest.split_at_mut(bins);
        let (right_min, rest) = rest.split_at_mut(bins);
        let (stack_value, stack_min) = rest.split_at_mut(bins);
        Some(ZoneScratch {
            positive,
            smoothed,
            right_min,
            stack_value,
            stack_min,
        })
    }
}

/// Analyses one zone histogram `hist` (non-empty, finite, same length as the
/// scratch arrays).
pub(crate) fn analyse_zone(
    hist: &[f64],
    window: &SmoothingWindow,
    scratch: &mut ZoneScratch<'_>,
) -> ZoneHistogramStats {
    let n = hist.len();
    let ZoneScratch {
        positive,
        smoothed,
        right_min,
        stack_value,
        stack_min,
    } = scratch;

    // Baseline: median of the first max(1, n // 16) bins.
    let head = hist.get(..(n / 16).max(1)).unwrap_or(hist);
    let baseline = median_in(head, smoothed);
    for (p, &x) in positive.iter_mut().zip(hist) {
        // np.clip(x - baseline, 0, None)
        let d = x - baseline;
        *p = if d < 0.0 { 0.0 } else { d };
    }
    let total = sum(positive) + 1e-12;

    // Normalised entropy of the positive part.
    let norm = total + 1e-12;
    // Bins at or below the baseline all clip to q = 1e-12: one logarithm.
    let floor_term = 1e-12 * (1e-12f64).ln();
    let entropy = -sum_of(n, |i| {
        let q = positive.get(i).copied().unwrap_or(0.0) / norm;
        if q <= 1e-12 {
            floor_term
        } else {
            q * q.ln()
        }
    });
    let texture_score = entropy / ((n as f64).ln() + 1e-9);

    smooth_same(positive, window.taps(), smoothed);

    let mut mx = f64::NEG_INFINITY;
    let mut peak_bin = 0;
    for (i, &v) in smoothed.iter().enumerate() {
        if v > mx {
            mx = v;
            peak_bin = i;
        }
    }
    let mean_s = sum(smoothed) / n as f64;
    let var_s = sum_of(n, |i| {
        let d = smoothed.get(i).copied().unwrap_or(mean_s) - mean_s;
        d * d
    }) / n as f64;
    let surface_roughness = var_s.sqrt() / (mx + 1e-9);
    let signal_quality = if total > 0.0 {
        mx / (total + 1e-9)
    } else {
        0.0
    };

    // `positive` is no longer needed: it receives the left minima.
    let left_min = &mut **positive;
    minima_both_sides(smoothed, left_min, right_min, stack_value, stack_min);
    let multi_peak_count = count_peaks(smoothed, left_min, right_min, mx * 0.18, mx * 0.05);

    ZoneHistogramStats {
        multi_peak_count,
        peak_bin,
        surface_roughness,
        signal_quality,
        texture_score,
        density_score: total,
    }
}

/// `np.convolve(p, w, mode="same")` for `len(w) <= len(p)`:
/// `s[i] = Σ_k p[i + (M−1)//2 − k]·w[k]`, each output summed in input order
/// (as numpy's correlate loop) while the loop over outputs vectorises.
fn smooth_same(p: &[f64], w: &[f64], s: &mut [f64]) {
    let n = p.len().min(s.len());
    let centre = (w.len().saturating_sub(1) / 2) as isize;
    s.fill(0.0);
    // k descending = input index ascending for every output.
    for (k, &wk) in w.iter().enumerate().rev() {
        let shift = centre - k as isize;
        // Outputs i with 0 <= i + shift < n.
        let first = (-shift).max(0) as usize;
        let end = (n as isize - shift).clamp(0, n as isize) as usize;
        if first >= end {
            continue;
        }
        let src_first = (first as isize + shift) as usize;
        let (Some(out), Some(src)) = (
            s.get_mut(first..end),
            p.get(src_first..src_first + (end - first)),
        ) else {
            continue;
        };
        for (o, &x) in out.iter_mut().zip(src) {
            *o += x * wk;
        }
    }
}

/// [`bounded_minima`] of `values` walking left into `left` and walking right into
/// `right` (both indexed like `values`).
fn minima_both_sides(
    values: &[f64],
    left: &mut [f64],
    right: &mut [f64],
    stack_value: &mut [f64],
    stack_min: &mut [f64],
) {
    bounded_minima(values.iter().copied(), left, stack_value, stack_min);
    bounded_minima(values.iter().rev().copied(), right, stack_value, stack_min);
    right.reverse();
}

/// For every index `i` of `values`, the minimum over `(g, i]` where `g` is
/// the nearest earlier index holding a strictly greater value (or the start):
/// exactly the minimum scipy's `peak_prominences` finds walking outwards from
/// `i`. Linear time with a monotonic stack of `(value, segment minimum)`.
fn bounded_minima(
    values: impl Iterator<Item = f64>,
    out: &mut [f64],
    stack_value: &mut [f64],
    stack_min: &mut [f64],
) {
    let mut depth = 0usize;
    for (v, slot) in values.zip(out.iter_mut()) {
        let mut seg_min = v;
        while depth > 0 {
            let top = depth - 1;
            let (Some(&top_value), Some(&top_min)) = (stack_value.get(top), stack_min.get(top))
            else {
                break;
            };
            if top_value > v {
                break;
            }
            if top_min < seg_min {
                seg_min = top_min;
            }
            depth = top;
        }
        *slot = seg_min;
        if let (Some(sv), Some(sm)) = (stack_value.get_mut(depth), stack_min.get_mut(depth)) {
            *sv = v;
            *sm = seg_min;
            depth += 1;
        }
    }
}

/// scipy `find_peaks(s, height=h_min, prominence=p_min)` peak count: local
/// maxima (flat tops allowed, index = floor midpoint, never an end point)
/// with `s[peak] >= h_min` and prominence `>= p_min`.
fn count_peaks(s: &[f64], left_min: &[f64], right_min: &[f64], h_min: f64, p_min: f64) -> usize {
    let n = s.len();
    if n < 3 {
        return 0;
    }
    let i_max = n - 1;
    let at = |i: usize| s.get(i).copied().unwrap_or(f64::NAN);
    let mut count = 0;
    let mut i = 1;
    while i < i_max {
        if at(i - 1) < at(i) {
            let mut ahead = i + 1;
            while ahead < i_max && at(ahead) == at(i) {
                ahead += 1;
            }
            if at(ahead) < at(i) {
                let peak = (i + ahead - 1) / 2;
                let height = at(peak);
                if h_min <= height {
                    let l = left_min.get(peak).copied().unwrap_or(height);
                    let r = right_min.get(peak).copied().unwrap_or(height);
                    let prominence = height - if l > r { l } else { r };
                    if p_min <= prominence {
                        count += 1;
                    }
                }
                i = ahead;
            }
        }
        i += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Left and right [`minima_both_sides`] of `x`, with their own scratch.
    fn minima(x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = x.len();
        let (mut l, mut r, mut sv, mut sm) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        minima_both_sides(x, &mut l, &mut r, &mut sv, &mut sm);
        (l, r)
    }

    /// The reference's walk, for comparison.
    fn walk_prominence(x: &[f64], peak: usize) -> f64 {
        let mut left_min = x[peak];
        let mut i = peak as isize;
        while i >= 0 && x[i as usize] <= x[peak] {
            left_min = left_min.min(x[i as usize]);
            i -= 1;
        }
        let mut right_min = x[peak];
        let mut i = peak;
        while i < x.len() && x[i] <= x[peak] {
            right_min = right_min.min(x[i]);
            i += 1;
        }
        x[peak] - left_min.max(right_min)
    }

    #[test]
    fn stack_minima_match_walk() {
        let x = [
            1.0, 3.0, 2.0, 2.0, 5.0, 0.5, 4.0, 4.0, 1.0, 6.0, 2.0, 3.0, 0.0,
        ];
        let (l, r) = minima(&x);
        for p in 0..x.len() {
            assert_eq!(x[p] - l[p].max(r[p]), walk_prominence(&x, p), "index {p}");
        }
    }

    #[test]
    fn peaks_with_plateaus_and_edges() {
        // Peaks at 2 (plateau 2..3 -> floor midpoint 2) and 6; the rise at the
        // end (index 8) is an end point and never a peak.
        let s = [0.0, 1.0, 3.0, 3.0, 1.0, 2.0, 4.0, 0.0, 5.0];
        let (l, r) = minima(&s);
        assert_eq!(count_peaks(&s, &l, &r, 0.0, 0.0), 2);
        // Height filter drops the first peak.
        assert_eq!(count_peaks(&s, &l, &r, 3.5, 0.0), 1);
        // Prominence of the first peak is 3 - max(0, 1) = 2; of the second 4 - 1 = 3.
        assert_eq!(count_peaks(&s, &l, &r, 0.0, 2.5), 1);
        // A plateau that reaches the end is not a peak.
        let flat_end = [0.0, 1.0, 1.0];
        assert_eq!(count_peaks(&flat_end, &[0.0; 3], &[0.0; 3], 0.0, 0.0), 0);
    }

    #[test]
    fn same_convolution_matches_definition() {
        let p = [0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0];
        let w = [0.1, 0.2, 0.3, 0.4];
        let mut s = [0.0; 8];
        smooth_same(&p, &w, &mut s);
        let c = (w.len() - 1) / 2;
        for (i, &got) in s.iter().enumerate() {
            let mut expected = 0.0;
            for (k, &wk) in w.iter().enumerate() {
                let j = i as isize + c as isize - k as isize;
                if (0..p.len() as isize).contains(&j) {
                    expected += p[j as usize] * wk;
                }
            }
            assert!((got - expected).abs() < 1e-15, "i={i}: {got} vs {expected}");
        }
    }

    #[test]
    fn window_is_normalised_and_symmetric() {
        for bins in [1, 2, 16, 36, 41, 128] {
            let w = SmoothingWindow::for_bins(bins);
            let taps = w.taps();
            assert_eq!(taps.len(), bins.min(41));
            assert!((taps.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for k in 0..taps.len() {
                assert_eq!(taps[k], taps[taps.len() - 1 - k]);
            }
        }
    }
}
