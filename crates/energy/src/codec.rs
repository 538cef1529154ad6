//! The byte format of an energy state (`sensor.energy_state`, stored in continuous
//! aggregates, so it is versioned and pinned by `tests/frozen`).
//!
//! Version 1, little-endian:
//!
//! ```text
//! magic    b'E'
//! version  u8 = 1
//! flags    u8: bit0 approximate, bit1 max_gap present (other bits 0)
//! max_gap  i64 µs (only with bit1)
//! runs     u32, then per run, sorted by first time:
//!          first (t i64, v f64, n u64), after_first i64 (i64::MIN: none),
//!          last (t i64, v f64, n u64), before_last i64 (i64::MIN: none),
//!          integral f64, covered i64, gaps u64, gap_time i64, rows u64
//! rows     u32, then per raw row not folded yet: t i64, v f64
//! ```
//!
//! A partial state (a parallel worker's) keeps its raw rows, so that the leader places them
//! exactly; a final state (what `energy_agg` returns) has none.

use crate::run::{Instant, Run};
use crate::{EnergyError, EnergyState, Result, DEFAULT_BUFFER_CAPACITY};

/// Raw rows a serialized partial state keeps rather than folds.
pub const PARTIAL_RAW_ROWS: usize = 4096;

/// The version this build writes; every earlier version stays readable.
pub const FORMAT_VERSION: u8 = 1;
const MAGIC: u8 = b'E';
const FLAG_APPROXIMATE: u8 = 1;
const FLAG_MAX_GAP: u8 = 2;
const NONE_TIME: i64 = i64::MIN;
const RUN_BYTES: usize = 104;

fn invalid(what: &str) -> EnergyError {
    EnergyError::InvalidState(what.to_string())
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| invalid("truncated"))?;
        self.bytes = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64> {
        let v = f64::from_le_bytes(self.take()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(invalid("non-finite number"))
        }
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn optional_time(&mut self) -> Result<Option<i64>> {
        let t = self.i64()?;
        Ok((t != NONE_TIME).then_some(t))
    }
    fn instant(&mut self) -> Result<Instant> {
        let (t, v, n) = (self.i64()?, self.f64()?, self.u64()?);
        if n == 0 {
            return Err(invalid("an instant without rows"));
        }
        Ok(Instant { t, v, n })
    }
    fn run(&mut self) -> Result<Run> {
        let first = self.instant()?;
        let after_first = self.optional_time()?;
        let last = self.instant()?;
        let before_last = self.optional_time()?;
        let run = Run {
            first,
            after_first,
            last,
            before_last,
            integral: self.f64()?,
            covered: self.i64()?,
            gaps: self.u64()?,
            gap_time: self.i64()?,
            rows: self.u64()?,
        };
        check_run(&run)?;
        Ok(run)
    }
}

fn check_run(run: &Run) -> Result<()> {
    let single = run.after_first.is_none();
    let consistent = if single {
        run.before_last.is_none() && run.first == run.last
    } else {
        matches!((run.after_first, run.before_last), (Some(a), Some(b))
            if run.first.t < a && a <= run.last.t && run.first.t <= b && b < run.last.t)
    };
    let endpoint_rows = if single {
        run.first.n
    } else {
        run.first.n + run.last.n
    };
    if !consistent || run.covered < 0 || run.gap_time < 0 || run.rows < endpoint_rows {
        return Err(invalid("inconsistent run"));
    }
    Ok(())
}

impl EnergyState {
    /// The state's bytes (format [`FORMAT_VERSION`]): a partial state, raw rows included up
    /// to [`PARTIAL_RAW_ROWS`] (so the leader places them exactly), folded beyond (a
    /// parallel plan may serialize one state per chunk and group: megabytes of raw rows each
    /// would cost more than the scan).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.buffer.len() <= PARTIAL_RAW_ROWS {
            return self.write();
        }
        let mut folded = self.clone();
        folded.fold();
        folded.write()
    }

    /// The state with all runs merged into one: what `energy_agg` returns.
    pub fn to_final_bytes(&self) -> Vec<u8> {
        let mut whole = self.clone();
        whole.finish();
        whole.write()
    }

    fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.runs.len() * RUN_BYTES + self.buffer.len() * 16);
        let mut flags = 0;
        if self.approximate {
            flags |= FLAG_APPROXIMATE;
        }
        if self.max_gap.is_some() {
            flags |= FLAG_MAX_GAP;
        }
        out.extend([MAGIC, FORMAT_VERSION, flags]);
        if let Some(g) = self.max_gap {
            out.extend(g.to_le_bytes());
        }
        let count = u32::try_from(self.runs.len()).unwrap_or(u32::MAX);
        out.extend(count.to_le_bytes());
        let time = |t: Option<i64>| t.unwrap_or(NONE_TIME).to_le_bytes();
        for r in self.runs.iter().take(count as usize) {
            for (instant, inner) in [(&r.first, r.after_first), (&r.last, r.before_last)] {
                out.extend(instant.t.to_le_bytes());
                out.extend(instant.v.to_le_bytes());
                out.extend(instant.n.to_le_bytes());
                out.extend(time(inner));
            }
            out.extend(r.integral.to_le_bytes());
            out.extend(r.covered.to_le_bytes());
            out.extend(r.gaps.to_le_bytes());
            out.extend(r.gap_time.to_le_bytes());
            out.extend(r.rows.to_le_bytes());
        }
        let rows = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
        out.extend(rows.to_le_bytes());
        for (t, v) in self.buffer.iter().take(rows as usize) {
            out.extend(t.to_le_bytes());
            out.extend(v.to_le_bytes());
        }
        out
    }

    /// Reads a state written by any version up to [`FORMAT_VERSION`].
    pub fn from_bytes(bytes: &[u8]) -> Result<EnergyState> {
        let mut r = Reader { bytes };
        if r.u8()? != MAGIC {
            return Err(invalid("not an energy state (see sensor.energy_agg)"));
        }
        let version = r.u8()?;
        if version > FORMAT_VERSION {
            return Err(EnergyError::Unsupported(format!(
                "energy state format version {version} is newer than this build's {FORMAT_VERSION}"
            )));
        }
        if version == 0 {
            return Err(invalid("format version 0"));
        }
        let flags = r.u8()?;
        if flags & !(FLAG_APPROXIMATE | FLAG_MAX_GAP) != 0 {
            return Err(invalid("unknown flags"));
        }
        let max_gap = if flags & FLAG_MAX_GAP != 0 {
            let g = r.i64()?;
            if g <= 0 {
                return Err(invalid("non-positive max_gap"));
            }
            Some(g)
        } else {
            None
        };
        let count = r.u32()? as usize;
        // Checked against the bytes present, so a corrupt count cannot reserve memory.
        if r.bytes.len() < count.saturating_mul(RUN_BYTES).saturating_add(4) {
            return Err(invalid("length does not match the run count"));
        }
        let mut runs = Vec::with_capacity(count);
        for _ in 0..count {
            let run = r.run()?;
            if runs.last().is_some_and(|p: &Run| p.first.t > run.first.t) {
                return Err(invalid("runs out of order"));
            }
            runs.push(run);
        }
        let rows = r.u32()? as usize;
        if r.bytes.len() != rows.saturating_mul(16) {
            return Err(invalid("length does not match the row count"));
        }
        let mut buffer = Vec::with_capacity(rows);
        for _ in 0..rows {
            buffer.push((r.i64()?, r.f64()?));
        }
        Ok(EnergyState {
            max_gap,
            runs,
            buffer,
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            approximate: flags & FLAG_APPROXIMATE != 0,
            typical_step: None,
        })
    }
}
