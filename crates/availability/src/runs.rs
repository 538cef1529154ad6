//! Collapsed runs and the procedure that folds new knowledge (events or the
//! runs of another partial state) into them.
//!
//! A run `(start, last, state)` stands for one or more events of `state`:
//! the first at `start`, the last at `last`, possibly others in between at
//! unknown times — but no event of another state in between, and (with a
//! liveness interval `L`) no gap longer than `L` between consecutive events.
//! A run list is sorted, `start <= last`, `next.start > last`, and two
//! consecutive runs differ in state, are separated by more than `L`, or have
//! a hole (a range no merged state covered) or a still buffered (raw) event
//! strictly between them.

use std::collections::BTreeSet;

/// A collapsed run of identical consecutive states. Times are microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub start: i64,
    pub last: i64,
    pub state: u32,
}

impl Run {
    pub fn point(time: i64, state: u32) -> Run {
        Run {
            start: time,
            last: time,
            state,
        }
    }
}

/// Decides whether two events of the same state, with no other event known
/// between them, may collapse into one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Joiner<'a> {
    /// Heartbeat liveness interval, µs.
    pub liveness: Option<i64>,
    /// Time ranges `[start, end)` inside the window that no merged state
    /// covered (sorted, disjoint). Runs never collapse across them, so a
    /// state for that range merged later still lands between runs.
    pub holes: &'a [(i64, i64)],
    /// Events that stay buffered, uncollapsed, while others are folded in
    /// (sorted by time). Runs never collapse across them, so they still land
    /// between runs when they are folded in later.
    pub raw: &'a [(i64, u32)],
}

impl Joiner<'_> {
    pub fn connected(&self, last: i64, next: i64) -> bool {
        let live = match self.liveness {
            None => true,
            Some(l) => next.saturating_sub(last) <= l,
        };
        live && !self.hole_between(last, next) && !self.raw_between(last, next)
    }

    /// Some raw event lies strictly between `a` and `b`.
    fn raw_between(&self, a: i64, b: i64) -> bool {
        let (Some(first), Some(last)) = (self.raw.first(), self.raw.last()) else {
            return false;
        };
        // Cheap rejection: sorted input folds events below all held ones.
        if first.0 >= b || last.0 <= a {
            return false;
        }
        let i = self.raw.partition_point(|e| e.0 <= a);
        self.raw.get(i).is_some_and(|e| e.0 < b)
    }

    /// Some uncovered instant lies strictly between `a` and `b`.
    fn hole_between(&self, a: i64, b: i64) -> bool {
        let lo = a.saturating_add(1);
        let i = self.holes.partition_point(|&(_, end)| end <= lo);
        self.holes.get(i).is_some_and(|&(start, _)| start < b)
    }
}

fn rank_of(rank: &[u32], state: u32) -> u32 {
    // Ids always come from the same table as `rank`; the fallback only keeps
    // this total.
    rank.get(state as usize).copied().unwrap_or(u32::MAX)
}

/// A run's start or last event, in the sweep of [`normalize`].
#[derive(Clone, Copy)]
struct Boundary {
    time: i64,
    rank: u32,
    item: usize,
}

/// Builds a canonical run list from a multiset of runs that may overlap
/// (runs of different partial states, single events as one-point runs).
///
/// At each known event time the worst state among the events there wins
/// (lowest `rank`). Between two consecutive known event times the state of
/// the last event holds, with one exception: when a collapsed run of a
/// different state is *open* across the interval (started at or before it,
/// ends after it; the latest-starting one, ties to the worst) and the next
/// known event is of that run's state, the run's state resumes 1 µs after
/// the last event. This is the documented approximation for events that
/// land strictly inside a collapsed run of another state: consecutive such
/// events are treated as contiguous, and the enclosing state returns right
/// after the last of them. Without such nesting the result is exact.
///
/// Returns the runs and whether the approximation was needed (a run of a
/// different state was open between two known events).
pub(crate) fn normalize(items: &[Run], rank: &[u32], join: &Joiner<'_>) -> (Vec<Run>, bool) {
    let mut bounds = Vec::with_capacity(items.len().saturating_mul(2));
    for (i, it) in items.iter().enumerate() {
        let r = rank_of(rank, it.state);
        bounds.push(Boundary {
            time: it.start,
            rank: r,
            item: i,
        });
        if it.last > it.start {
            bounds.push(Boundary {
                time: it.last,
                rank: r,
                item: i,
            });
        }
    }
    bounds.sort_unstable_by_key(|b| (b.time, b.rank, b.item));

    // Open runs keyed so that the maximum is the latest start, then the worst.
    let mut open: BTreeSet<(i64, u32, usize)> = BTreeSet::new();
    let mut out: Vec<Run> = Vec::new();
    let mut cur: Option<Run> = None;
    let mut approximate = false;
    let mut i = 0;
    while let Some(first) = bounds.get(i).copied() {
        let t = first.time;
        let Some(winner) = items.get(first.item).map(|r| r.state) else {
            break;
        };
        let mut j = i;
        while let Some(b) = bounds.get(j).copied() {
            if b.time != t {
                break;
            }
            if let Some(it) = items.get(b.item) {
                let key = (it.start, u32::MAX - b.rank, b.item);
                if it.start == t && it.last > t {
                    open.insert(key);
                }
                if it.last == t && it.start < t {
                    open.remove(&key);
                }
            }
            j += 1;
        }
        extend_or_start(&mut cur, &mut out, t, winner, join);
        if let Some(next) = bounds.get(j).map(|b| b.time) {
            let open_state = open
                .last()
                .and_then(|&(_, _, item)| items.get(item))
                .map(|r| r.state);
            if let Some(s) = open_state {
                approximate |= s != winner;
                if s == winner {
                    // Covered by a run of the same state: alive through the interval.
                    if let Some(c) = cur.as_mut() {
                        c.last = c.last.max(next - 1);
                    }
                } else if t + 1 < next
                    && next_group_has_state(bounds.get(j..).unwrap_or(&[]), items, s)
                {
                    if let Some(c) = cur.take() {
                        out.push(c);
                    }
                    cur = Some(Run {
                        start: t + 1,
                        last: next - 1,
                        state: s,
                    });
                }
            }
        }
        i = j;
    }
    if let Some(c) = cur {
        out.push(c);
    }
    (out, approximate)
}

/// Whether the group of boundaries at the first time of `rest` holds an
/// event of `state`.
fn next_group_has_state(rest: &[Boundary], items: &[Run], state: u32) -> bool {
    let Some(t) = rest.first().map(|b| b.time) else {
        return false;
    };
    rest.iter()
        .take_while(|b| b.time == t)
        .any(|b| items.get(b.item).is_some_and(|r| r.state == state))
}

fn extend_or_start(
    cur: &mut Option<Run>,
    out: &mut Vec<Run>,
    t: i64,
    state: u32,
    join: &Joiner<'_>,
) {
    match cur {
        Some(c) if c.state == state && join.connected(c.last, t) => {
            c.last = c.last.max(t);
        }
        _ => {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            *cur = Some(Run::point(t, state));
        }
    }
}

/// Folds `items` (events as one-point runs, or another state's runs) into
/// the canonical run list `runs`, touching only the runs near the items'
/// time range: appending in time order costs O(items). Returns whether the
/// approximation of [`normalize`] was needed.
#[must_use]
pub(crate) fn fold_in(runs: &mut Vec<Run>, items: &[Run], rank: &[u32], join: &Joiner<'_>) -> bool {
    let (Some(t_min), Some(t_max)) = (
        items.iter().map(|r| r.start).min(),
        items.iter().map(|r| r.last).max(),
    ) else {
        return false;
    };
    // One untouched neighbour on each side keeps the joins at the splice
    // boundaries right: it does not overlap any item, so it comes out of
    // `normalize` with its start, last and state unchanged.
    let lo = runs.partition_point(|r| r.last < t_min).saturating_sub(1);
    let hi = runs
        .partition_point(|r| r.start <= t_max)
        .saturating_add(1)
        .min(runs.len());
    let lo = lo.min(hi);
    let mut region: Vec<Run> = runs.get(lo..hi).map(|s| s.to_vec()).unwrap_or_default();
    region.extend_from_slice(items);
    let (merged, approximate) = normalize(&region, rank, join);
    runs.splice(lo..hi, merged);
    approximate
}

/// Folds time-sorted events `(time, state)` into the canonical run list.
/// Events that all fall into one gap between runs (or before the first or
/// after the last run: the common case of sorted input) take a linear,
/// exact path; anything else goes through [`fold_in`]. Returns whether the
/// approximation of [`normalize`] was needed.
#[must_use]
pub(crate) fn fold_sorted_events(
    runs: &mut Vec<Run>,
    events: &[(i64, u32)],
    rank: &[u32],
    join: &Joiner<'_>,
) -> bool {
    if fold_into_gap(runs, events, rank, join) {
        return false;
    }
    let items: Vec<Run> = events.iter().map(|&(t, s)| Run::point(t, s)).collect();
    fold_in(runs, &items, rank, join)
}

/// The linear path of [`fold_sorted_events`]: the same result as
/// [`normalize`] when no event reaches into an existing run (nothing is
/// open between the events, so only the worst event of each instant and
/// the joins with the two neighbouring runs matter). Returns false, leaving
/// `runs` untouched, when some event lies inside or across a run.
fn fold_into_gap(
    runs: &mut Vec<Run>,
    events: &[(i64, u32)],
    rank: &[u32],
    join: &Joiner<'_>,
) -> bool {
    let (Some(&(t_min, _)), Some(&(t_max, _))) = (events.first(), events.last()) else {
        return true;
    };
    let k = runs.partition_point(|r| r.last < t_min);
    if runs.get(k).is_some_and(|r| r.start <= t_max) {
        return false;
    }
    let lo = k.saturating_sub(1);
    let mut cur = if k > 0 { runs.get(lo).copied() } else { None };
    let mut out = Vec::new();
    for group in events.chunk_by(|a, b| a.0 == b.0) {
        let Some(winner) = group
            .iter()
            .map(|e| e.1)
            .min_by_key(|&s| (rank_of(rank, s), s))
        else {
            continue;
        };
        let t = group.first().map_or(t_min, |e| e.0);
        extend_or_start(&mut cur, &mut out, t, winner, join);
    }
    let mut hi = k;
    if let (Some(c), Some(next)) = (cur.as_mut(), runs.get(k)) {
        if c.state == next.state && join.connected(c.last, next.start) {
            c.last = next.last;
            hi = k + 1;
        }
    }
    out.extend(cur);
    runs.splice(lo..hi, out);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ranks: state id == rank for these tests (0 worst).
    const RANK: [u32; 3] = [0, 1, 2];
    const PLAIN: Joiner<'static> = Joiner {
        liveness: None,
        holes: &[],
        raw: &[],
    };
    const LIVE10: Joiner<'static> = Joiner {
        liveness: Some(10),
        holes: &[],
        raw: &[],
    };

    #[test]
    fn sorted_points_collapse() {
        let items = [
            Run::point(0, 2),
            Run::point(5, 2),
            Run::point(10, 0),
            Run::point(20, 2),
        ];
        let (out, _) = normalize(&items, &RANK, &PLAIN);
        assert_eq!(
            out,
            vec![
                Run {
                    start: 0,
                    last: 5,
                    state: 2
                },
                Run {
                    start: 10,
                    last: 10,
                    state: 0
                },
                Run {
                    start: 20,
                    last: 20,
                    state: 2
                },
            ]
        );
    }

    #[test]
    fn duplicate_time_worst_wins() {
        let items = [Run::point(0, 2), Run::point(0, 1), Run::point(3, 2)];
        let (out, _) = normalize(&items, &RANK, &PLAIN);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], Run::point(0, 1));
        assert_eq!(out[1], Run::point(3, 2));
    }

    #[test]
    fn liveness_breaks_runs() {
        let items = [Run::point(0, 2), Run::point(5, 2), Run::point(30, 2)];
        let (out, approx) = normalize(&items, &RANK, &LIVE10);
        assert_eq!(
            out,
            vec![
                Run {
                    start: 0,
                    last: 5,
                    state: 2
                },
                Run::point(30, 2)
            ]
        );
        assert!(!approx);
    }

    #[test]
    fn nested_point_resumes_enclosing_run() {
        let items = [
            Run {
                start: 0,
                last: 100,
                state: 2,
            },
            Run::point(40, 0),
        ];
        let (out, approx) = normalize(&items, &RANK, &LIVE10);
        assert_eq!(
            out,
            vec![
                Run {
                    start: 0,
                    last: 39,
                    state: 2
                },
                Run::point(40, 0),
                Run {
                    start: 41,
                    last: 100,
                    state: 2
                },
            ]
        );
        assert!(approx);
    }

    #[test]
    fn holes_keep_runs_apart() {
        let join = Joiner {
            liveness: None,
            holes: &[(20, 30)],
            raw: &[],
        };
        let items = [Run::point(0, 2), Run::point(10, 2), Run::point(40, 2)];
        let (out, _) = normalize(&items, &RANK, &join);
        assert_eq!(
            out,
            vec![
                Run {
                    start: 0,
                    last: 10,
                    state: 2
                },
                Run::point(40, 2)
            ]
        );
        assert!(join.connected(10, 20));
        assert!(!join.connected(10, 21));
        assert!(join.connected(29, 31));
        assert!(!join.connected(28, 31));
    }

    use proptest::prelude::*;

    proptest! {
        /// The linear path gives the same runs as the general one whenever
        /// it applies (sorted events in one gap between runs).
        #[test]
        fn gap_path_equals_general_fold(
            base in prop::collection::vec((0i64..300, 0u32..3), 0..40),
            events in prop::collection::vec((0i64..300, 0u32..3), 1..30),
            liveness in prop::option::of(1i64..30),
            raw in prop::collection::vec(0i64..300, 0..3),
        ) {
            let mut raw: Vec<(i64, u32)> = raw.into_iter().map(|t| (t, 0)).collect();
            raw.sort_unstable();
            let join = Joiner { liveness, holes: &[], raw: &raw };
            let base: Vec<Run> = base.iter().map(|&(t, s)| Run::point(t, s)).collect();
            let (runs, _) = normalize(&base, &RANK, &join);
            let mut events = events;
            events.sort_unstable_by_key(|e| e.0);
            let mut fast = runs.clone();
            let applied = fold_into_gap(&mut fast, &events, &RANK, &join);
            let mut general = runs.clone();
            let items: Vec<Run> = events.iter().map(|&(t, s)| Run::point(t, s)).collect();
            let approximate = fold_in(&mut general, &items, &RANK, &join);
            if applied {
                prop_assert!(!approximate);
                prop_assert_eq!(fast, general);
            } else {
                prop_assert_eq!(fast, runs);
            }
        }
    }

    #[test]
    fn fold_in_appends_and_joins() {
        let mut runs = vec![Run {
            start: 0,
            last: 10,
            state: 2,
        }];
        assert!(!fold_in(
            &mut runs,
            &[Run::point(15, 2), Run::point(20, 0)],
            &RANK,
            &PLAIN,
        ));
        assert_eq!(
            runs,
            vec![
                Run {
                    start: 0,
                    last: 15,
                    state: 2
                },
                Run::point(20, 0)
            ]
        );
        assert!(!fold_in(&mut runs, &[Run::point(-5, 0)], &RANK, &PLAIN));
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0], Run::point(-5, 0));
    }
}
