//! A run: the summary of consecutive instants of a series, mergeable with the runs before
//! and after it.

use crate::{JUMP_FACTOR, MICROS_PER_SECOND};

/// One instant: the mean `v` of the `n` rows at time `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Instant {
    pub t: i64,
    pub v: f64,
    pub n: u64,
}

impl Instant {
    fn merged(self, other: Instant) -> Instant {
        let n = self.n + other.n;
        let v = (self.v * self.n as f64 + other.v * other.n as f64) / n as f64;
        Instant { t: self.t, v, n }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub first: Instant,
    /// The next instant after `first` inside the run; `None` for a run of one instant.
    pub after_first: Option<i64>,
    pub last: Instant,
    /// The instant before `last` inside the run; `None` for a run of one instant.
    pub before_last: Option<i64>,
    /// Value × seconds over the integrated segments.
    pub integral: f64,
    /// µs integrated.
    pub covered: i64,
    pub gaps: u64,
    /// µs not integrated (segments longer than max_gap).
    pub gap_time: i64,
    pub rows: u64,
}

fn is_gap(dt: i64, max_gap: Option<i64>) -> bool {
    max_gap.is_some_and(|g| dt > g)
}

impl Run {
    pub fn point(t: i64, v: f64) -> Run {
        let at = Instant { t, v, n: 1 };
        Run {
            first: at,
            after_first: None,
            last: at,
            before_last: None,
            integral: 0.0,
            covered: 0,
            gaps: 0,
            gap_time: 0,
            rows: 1,
        }
    }

    pub fn is_single_instant(&self) -> bool {
        self.after_first.is_none()
    }

    /// The step into the last instant, for a run of more than one instant.
    pub fn own_step(&self) -> Option<i64> {
        self.before_last.map(|b| self.last.t.saturating_sub(b))
    }

    /// Whether the step from the last instant to `t` is a jump that should start a new run:
    /// more than JUMP_FACTOR times the run's last step, or than `typical` for a run of
    /// one instant (a late row on its own must not bridge other rows' time).
    pub fn jumps_to(&self, t: i64, typical: Option<i64>) -> bool {
        let Some(previous) = self.own_step().or(typical) else {
            return false;
        };
        t.saturating_sub(self.last.t) > previous.saturating_mul(JUMP_FACTOR)
    }

    /// Seconds of the integrated segment next to an endpoint: the integral's derivative by
    /// that endpoint's value is half of it.
    fn half_width(endpoint: i64, neighbour: Option<i64>, max_gap: Option<i64>) -> f64 {
        match neighbour {
            Some(n) => {
                let dt = endpoint.abs_diff(n).min(i64::MAX as u64) as i64;
                if is_gap(dt, max_gap) {
                    0.0
                } else {
                    dt as f64 / MICROS_PER_SECOND / 2.0
                }
            }
            None => 0.0,
        }
    }

    /// Adds a row at or after the last instant, in place: what `append` of a run of that one
    /// row gives, without moving runs around (a fold's inner loop).
    pub fn push_back(&mut self, t: i64, v: f64, max_gap: Option<i64>) {
        debug_assert!(t >= self.last.t);
        self.rows += 1;
        if t == self.last.t {
            let shared = self.last.merged(Instant { t, v, n: 1 });
            let width = Run::half_width(self.last.t, self.before_last, max_gap);
            self.integral += (shared.v - self.last.v) * width;
            if self.is_single_instant() {
                self.first = shared;
            }
            self.last = shared;
            return;
        }
        let dt = t.saturating_sub(self.last.t);
        if is_gap(dt, max_gap) {
            self.gaps += 1;
            self.gap_time = self.gap_time.saturating_add(dt);
        } else {
            self.integral += (self.last.v + v) / 2.0 * (dt as f64 / MICROS_PER_SECOND);
            self.covered = self.covered.saturating_add(dt);
        }
        if self.after_first.is_none() {
            self.after_first = Some(t);
        }
        self.before_last = Some(self.last.t);
        self.last = Instant { t, v, n: 1 };
    }

    /// This run followed by `next`, which starts at or after this run's last instant: the
    /// segment between them is added, or the shared instant's rows averaged. Exact.
    pub fn append(self, next: Run, max_gap: Option<i64>) -> Run {
        debug_assert!(self.last.t <= next.first.t);
        let mut integral = self.integral + next.integral;
        let mut covered = self.covered.saturating_add(next.covered);
        let mut gaps = self.gaps + next.gaps;
        let mut gap_time = self.gap_time.saturating_add(next.gap_time);
        let rows = self.rows + next.rows;
        if self.last.t < next.first.t {
            let dt = next.first.t.saturating_sub(self.last.t);
            if is_gap(dt, max_gap) {
                gaps += 1;
                gap_time = gap_time.saturating_add(dt);
            } else {
                integral += (self.last.v + next.first.v) / 2.0 * (dt as f64 / MICROS_PER_SECOND);
                covered = covered.saturating_add(dt);
            }
            return Run {
                first: self.first,
                after_first: self.after_first.or(Some(next.first.t)),
                last: next.last,
                before_last: next.before_last.or(Some(self.last.t)),
                integral,
                covered,
                gaps,
                gap_time,
                rows,
            };
        }
        // The same instant ends this run and starts the next: one point, the mean of both.
        let shared = self.last.merged(next.first);
        let left = Run::half_width(self.last.t, self.before_last, max_gap);
        let right = Run::half_width(next.first.t, next.after_first, max_gap);
        integral += (shared.v - self.last.v) * left + (shared.v - next.first.v) * right;
        let (first, after_first) = if self.is_single_instant() {
            (shared, next.after_first)
        } else {
            (self.first, self.after_first)
        };
        let (last, before_last) = if next.is_single_instant() {
            (shared, self.before_last)
        } else {
            (next.last, next.before_last)
        };
        Run {
            first,
            after_first,
            last,
            before_last,
            integral,
            covered,
            gaps,
            gap_time,
            rows,
        }
    }

    /// This run and `next`, which starts inside it: their rows interleave and the
    /// segments between them are unknown. Sums the figures; approximate.
    pub fn overlapped_by(self, next: Run) -> Run {
        let (last, before_last) = if next.last.t > self.last.t {
            (next.last, next.before_last)
        } else {
            (self.last, self.before_last)
        };
        Run {
            first: self.first,
            after_first: self.after_first,
            last,
            before_last,
            integral: self.integral + next.integral,
            covered: self.covered.saturating_add(next.covered),
            gaps: self.gaps + next.gaps,
            gap_time: self.gap_time.saturating_add(next.gap_time),
            rows: self.rows + next.rows,
        }
    }
}
