//! Energy over a period: the trapezoidal time integral of a power series as a mergeable
//! aggregate state, for `energy_agg(time, value [, max_gap])`, its `rollup` and accessors.
//! Pure Rust; the SQL glue lives in the extension.
//!
//! Times are `i64` microseconds (PostgreSQL `timestamptz`), durations too; integrals are
//! in value × seconds (watt-seconds for values in watts).
//!
//! # Semantics
//!
//! * Rows `(time, value)` arrive in any order. Non-finite values are skipped. Rows at the
//!   same instant count as one point, the mean of their values (independent of order).
//! * Between consecutive instants `a < b` the segment contributes `(va + vb) / 2 × (b − a)`
//!   and `b − a` to the covered time, unless `b − a > max_gap`: then it is a gap, counted
//!   (number and duration) and not integrated across.
//! * `time_weighted_mean = integral / covered`; `None` when nothing is covered (one
//!   instant, or only gaps).
//!
//! # State, merging and exactness
//!
//! The state is a list of *runs*, each the summary of consecutive instants: its first and
//! last point (each with the neighbouring instant inside the run), integral, covered
//! time, gaps and rows. Two runs that do not overlap merge exactly: the segment between
//! them is added, and rows at a shared instant are averaged with the integral adjusted.
//! That is what makes a rollup of bucket states equal the direct computation over the
//! whole range, segments across bucket boundaries included.
//!
//! Rows are first kept raw in a buffer (16 bytes each) and folded into runs when it is
//! full, so a group that fits in the buffer is exact in any input order. A fold cuts runs
//! where time jumps (a step more than [`JUMP_FACTOR`] times the previous one), which is
//! where a parallel worker's share of a table leaves off and another's begins; the
//! leader's merge of the shares is then exact too. A row that lands strictly inside a
//! folded run, or runs that overlap when merged, cannot be placed exactly: the state is
//! then flagged [`Summary::approximate`] (its rows still count).

#![forbid(unsafe_code)]

mod codec;
mod run;

pub use codec::{FORMAT_VERSION, PARTIAL_RAW_ROWS};
use run::Run;

/// A fold cuts a run where the step to the next instant exceeds this many times the
/// previous step.
pub const JUMP_FACTOR: i64 = 8;

/// Runs a state keeps before merging neighbours (about 100 bytes each).
pub const MAX_RUNS: usize = 1 << 16;

/// The fewest raw rows a state buffers: enough steps to tell the typical one.
pub const MIN_BUFFER_CAPACITY: usize = 64;

/// Raw rows a state buffers before folding them into runs, unless told otherwise.
pub const DEFAULT_BUFFER_CAPACITY: usize = 1 << 16;

const MICROS_PER_SECOND: f64 = 1_000_000.0;

/// Errors of the energy kernel. The SQL glue maps them to SQLSTATEs:
/// [`EnergyError::InvalidState`] 22P02, [`EnergyError::InvalidArgument`] 22023,
/// [`EnergyError::Unsupported`] 0A000.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnergyError {
    /// Bytes that are not a serialized energy state.
    #[error("invalid energy state: {0}")]
    InvalidState(String),
    /// An invalid argument: a non-positive max_gap, states with different max_gap.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A serialized state of a newer format version.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, EnergyError>;

/// The figures of a state.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Time integral in value × seconds.
    pub integral: f64,
    /// Time actually integrated, µs.
    pub covered: i64,
    /// Segments longer than max_gap, not integrated.
    pub gaps: u64,
    /// Their total duration, µs.
    pub gap_time: i64,
    /// Rows with a finite value.
    pub rows: u64,
    /// First and last instant, µs.
    pub first_time: i64,
    pub last_time: i64,
    /// Mean value at the first and last instant.
    pub first_value: f64,
    pub last_value: f64,
    /// Some rows could not be placed exactly (see the crate docs).
    pub approximate: bool,
}

impl Summary {
    /// The integral in value × hours: watt-hours for values in watts.
    pub fn energy_wh(&self) -> f64 {
        self.integral / 3600.0
    }

    /// Integral / covered time; `None` when nothing is covered.
    pub fn time_weighted_mean(&self) -> Option<f64> {
        (self.covered > 0).then(|| self.integral / (self.covered as f64 / MICROS_PER_SECOND))
    }
}

/// The mergeable state of `energy_agg`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyState {
    max_gap: Option<i64>,
    /// Sorted by first time; disjoint (or touching at an instant) unless `approximate`.
    runs: Vec<Run>,
    /// Raw rows not folded yet.
    buffer: Vec<(i64, f64)>,
    buffer_capacity: usize,
    approximate: bool,
    /// The median step between instants of the last fold: what a jump is measured against
    /// when a run has one instant. Not serialized.
    typical_step: Option<i64>,
}

impl EnergyState {
    /// An empty state; `max_gap` (µs) must be positive.
    pub fn new(max_gap: Option<i64>) -> Result<Self> {
        if max_gap.is_some_and(|g| g <= 0) {
            return Err(EnergyError::InvalidArgument(
                "max_gap must be positive".to_string(),
            ));
        }
        Ok(EnergyState {
            max_gap,
            runs: Vec::new(),
            buffer: Vec::new(),
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            approximate: false,
            typical_step: None,
        })
    }

    /// Raw rows kept before folding (at least [`MIN_BUFFER_CAPACITY`]): the larger, the
    /// more out-of-order input stays exact.
    pub fn set_buffer_capacity(&mut self, rows: usize) {
        self.buffer_capacity = rows.max(MIN_BUFFER_CAPACITY);
    }

    pub fn max_gap(&self) -> Option<i64> {
        self.max_gap
    }

    /// Adds a row; non-finite values are skipped.
    pub fn push(&mut self, time: i64, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.buffer.push((time, value));
        if self.buffer.len() >= self.buffer_capacity {
            self.fold();
        }
    }

    /// Merges another state of the same max_gap (a parallel worker's, or another bucket's).
    pub fn merge(&mut self, other: &EnergyState) -> Result<()> {
        if self.max_gap != other.max_gap {
            return Err(EnergyError::InvalidArgument(
                "energy states with different max_gap cannot be merged".to_string(),
            ));
        }
        self.approximate |= other.approximate;
        if !other.runs.is_empty() {
            let mut runs = std::mem::take(&mut self.runs);
            runs.extend(other.runs.iter().cloned());
            self.runs = self.merge_sorted(runs);
            self.bound_runs();
        }
        for &(t, v) in &other.buffer {
            self.push(t, v);
        }
        Ok(())
    }

    /// Folds everything into one run: the figures, or `None` without rows.
    pub fn summary(&self) -> Option<Summary> {
        let mut whole = self.clone();
        whole.finish();
        let run = whole.runs.first()?;
        Some(Summary {
            integral: run.integral,
            covered: run.covered,
            gaps: run.gaps,
            gap_time: run.gap_time,
            rows: run.rows,
            first_time: run.first.t,
            last_time: run.last.t,
            first_value: run.first.v,
            last_value: run.last.v,
            approximate: whole.approximate,
        })
    }

    /// Folds the buffer and merges all runs into one: nothing more will come.
    pub fn finish(&mut self) {
        self.fold();
        let max_gap = self.max_gap;
        let mut runs = std::mem::take(&mut self.runs).into_iter();
        if let Some(first) = runs.next() {
            let whole = runs.fold(first, |acc, next| {
                let overlap = next.first.t < acc.last.t;
                self.approximate |= overlap;
                if overlap {
                    acc.overlapped_by(next)
                } else {
                    acc.append(next, max_gap)
                }
            });
            self.runs.push(whole);
        }
    }

    /// Sorts the buffered rows and places them among the runs.
    fn fold(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let mut points = std::mem::take(&mut self.buffer);
        // Total order, so that the mean at an instant does not depend on input order.
        points.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        if let Some(step) = median_step(&points) {
            self.typical_step = Some(step);
        }
        let max_gap = self.max_gap;
        let mut old = std::mem::take(&mut self.runs).into_iter().peekable();
        let mut out: Vec<Run> = Vec::new();
        let mut current: Option<Run> = None;
        // The old run the next points may land in (the first whose last time >= the point's).
        let mut landing: Option<Run> = None;
        for (t, v) in points.iter().copied() {
            // Old runs entirely before t go out, after the new run being built (which lies
            // before them).
            loop {
                if landing.is_none() {
                    landing = old.next();
                }
                match &landing {
                    Some(run) if run.last.t < t => {
                        out.extend(current.take());
                        out.extend(landing.take());
                    }
                    _ => break,
                }
            }
            match &mut landing {
                Some(run) if run.first.t <= t => {
                    out.extend(current.take());
                    if t == run.first.t {
                        *run = Run::point(t, v).append(run.clone(), max_gap);
                    } else if t == run.last.t {
                        run.push_back(t, v, max_gap);
                    } else {
                        // Strictly inside a folded run: its neighbours are gone.
                        run.rows += 1;
                        self.approximate = true;
                    }
                }
                _ => match &mut current {
                    None => current = Some(Run::point(t, v)),
                    Some(run)
                        if run.jumps_to(
                            t,
                            self.typical_step.or(out.last().and_then(Run::own_step)),
                        ) =>
                    {
                        out.push(std::mem::replace(run, Run::point(t, v)));
                    }
                    Some(run) => run.push_back(t, v, max_gap),
                },
            }
        }
        out.extend(current);
        out.extend(landing);
        out.extend(old);
        self.runs = out;
        // Keep the buffer's allocation for the next rows.
        points.clear();
        self.buffer = points;
        self.bound_runs();
    }

    /// Sorts runs by first time, merging those that overlap (approximate). Runs that only
    /// touch at an instant stay apart: another state may still bring rows of that instant.
    fn merge_sorted(&mut self, mut runs: Vec<Run>) -> Vec<Run> {
        // A run of one instant sorts before a run starting at that instant: they touch.
        runs.sort_by_key(|r| (r.first.t, r.last.t));
        let mut out: Vec<Run> = Vec::with_capacity(runs.len());
        for run in runs {
            match out.last_mut() {
                Some(prev) if run.first.t < prev.last.t => {
                    self.approximate = true;
                    *prev = prev.clone().overlapped_by(run);
                }
                _ => out.push(run),
            }
        }
        out
    }

    /// Past MAX_RUNS, merges neighbours pairwise: exact now, but rows arriving later
    /// between them can no longer be placed.
    fn bound_runs(&mut self) {
        if self.runs.len() <= MAX_RUNS {
            return;
        }
        let max_gap = self.max_gap;
        let mut pairs = std::mem::take(&mut self.runs).into_iter();
        while let Some(a) = pairs.next() {
            self.runs.push(match pairs.next() {
                Some(b) => a.append(b, max_gap),
                None => a,
            });
        }
    }
}

/// The median of the positive steps between time-sorted rows, from a sample of at most
/// 1,024 evenly spaced pairs; `None` below 16 steps, too few to tell.
fn median_step(sorted: &[(i64, f64)]) -> Option<i64> {
    let pairs = sorted.len().checked_sub(1)?;
    let stride = pairs.div_ceil(1024).max(1);
    let mut steps: Vec<i64> = (0..pairs)
        .step_by(stride)
        .map(|i| sorted[i + 1].0.saturating_sub(sorted[i].0))
        .filter(|&s| s > 0)
        .collect();
    if steps.len() < 16 {
        return None;
    }
    let mid = steps.len() / 2;
    Some(*steps.select_nth_unstable(mid).1)
}
