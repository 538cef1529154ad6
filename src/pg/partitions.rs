//! How many parts a window read in parallel partitions is cut into, and where: shared by
//! `downsample`'s and `availability_report`'s partitions (a `Gather` over a `Parallel
//! Append` of one function call per part).

use crate::error::{SensorError, SensorResult};

/// Four times the processes a parallel plan may have (the leader and its workers): a
/// `Parallel Append` hands each process the next part, so the faster ones take more and
/// the last one to finish waits less (measured: 12 parts rather than 6 on 2 cores), while
/// each part's own start (planning, a function call) stays a small share.
pub fn partition_count() -> SensorResult<usize> {
    let workers = crate::pg::spi::get_one::<String>(
        "SELECT pg_catalog.current_setting('max_parallel_workers_per_gather')",
    )
    .map_err(|e| SensorError::internal_query("reading max_parallel_workers_per_gather", e))?
    .and_then(|w| w.parse::<usize>().ok())
    .unwrap_or(2);
    Ok(4 * (workers.min(15) + 1))
}

/// `[from, to)` cut at up to `count - 1` of `cuts` (ascending), chosen evenly among those
/// strictly inside: the bounds of at most `count` parts, `from` and `to` included.
pub fn bounds(from: i64, to: i64, cuts: &[i64], count: usize) -> Vec<i64> {
    let inside: Vec<i64> = cuts
        .iter()
        .copied()
        .filter(|&c| from < c && c < to)
        .collect();
    let groups = count.min(inside.len() + 1).max(1);
    let mut bounds = vec![from];
    for g in 1..groups {
        bounds.push(inside[g * inside.len() / groups]);
    }
    bounds.push(to);
    bounds.dedup();
    bounds
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn bounds_pick_cuts_evenly_and_cover_the_window() {
        let b = bounds(0, 100, &[-10, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 4);
        assert_eq!(b.len(), 5);
        assert_eq!((b[0], b[4]), (0, 100));
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        // No cut inside: one part; more parts asked than cuts: every cut.
        assert_eq!(bounds(0, 100, &[0, 100], 4), vec![0, 100]);
        assert_eq!(bounds(0, 100, &[50], 8), vec![0, 50, 100]);
    }
}
