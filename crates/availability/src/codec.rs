//! Compact versioned binary format of [`AvailabilityState`] (serialize /
//! deserialize functions of the aggregate, continuous-aggregate storage).
//!
//! Two forms share one layout:
//!
//! * **canonical** ([`AvailabilityState::to_bytes`]): buffered events folded
//!   in, runs only; equal states give equal bytes. For stored values and
//!   final results.
//! * **partial** ([`AvailabilityState::to_partial_bytes`], flag bit5): the
//!   runs as they are plus the raw, not yet collapsed buffered events and
//!   the buffer capacity, so that a state merged after deserializing still
//!   meets them as single events. For the aggregate's serialize function
//!   (parallel workers → leader). Not canonical (the split between runs and
//!   buffer depends on history).
//!
//! Layout (all integers are LEB128 varints unless noted; "zz" = zigzag):
//!
//! ```text
//! "AV"                     2 bytes magic
//! version                  1 byte, = 1
//! flags                    1 byte: bit0 liveness, bit1 gap policy unknown,
//!                          bit2 carry-in parameter, bit3 carry-in event,
//!                          bit4 approximate, bit5 partial (buffer section
//!                          follows the runs); other bits 0
//! from                     zz varint, µs
//! span                     varint, to - from (>= 1)
//! [liveness]               varint, µs (>= 1)                    if bit0
//! weights: count           varint
//!   per entry              name (varint length + UTF-8), tag byte
//!                          (0 = excluded, 1 = weighted + f64 LE 8 bytes),
//!                          names strictly ascending
//! names: count             varint
//!   per name               varint length + UTF-8, strictly ascending
//! [param]                  varint name index                    if bit2
//! [event]                  varint from - time (>= 1), varint name index  if bit3
//! holes: count             varint; ranges [start, end) of the hull that no
//!                          merged window covered (out-of-order rollups)
//!   per hole               varint start - cursor, varint end - start - 1;
//!                          cursor = from + 1 first, previous end + 1 after;
//!                          the last hole ends before to
//! runs: count              varint
//!   per run                varint start - cursor, varint last - start,
//!                          varint name index; cursor = from for the first
//!                          run, previous last + 1 afterwards
//! [buffer section]                                              if bit5
//!   capacity               varint, 1 ..= MAX_BUFFER_CAPACITY
//!   events: count          varint, <= 4 × capacity
//!   per event              varint time - cursor, varint name index;
//!                          cursor = from for the first event, the previous
//!                          event's time afterwards; events strictly
//!                          ascending by (time, name index), time < to
//! ```
//!
//! A buffered event takes 2 bytes plus its time delta (3 bytes for 1 s
//! sampling). The canonical writer folds buffered events in first; both
//! write only referenced names in sorted order, and the partial writer
//! sorts and deduplicates the buffer. The reader checks every bound before
//! allocating and every invariant of the run list and the buffer, and
//! rejects trailing bytes. Version 1 readers without the buffer section
//! reject partial bytes (unknown flag bit); partial bytes only travel
//! between the processes of one query.

use crate::error::{AvailabilityError, Result};
use crate::runs::{Joiner, Run, RunList};
use crate::state::{
    AvailabilityConfig, AvailabilityState, GapPolicy, NameTable, BUFFER_LIMIT_FACTOR,
    MAX_BUFFER_CAPACITY,
};
use crate::weights::Weights;

const MAGIC: [u8; 2] = *b"AV";
const VERSION: u8 = 1;

const FLAG_LIVENESS: u8 = 1;
const FLAG_GAP_UNKNOWN: u8 = 2;
const FLAG_PARAM: u8 = 4;
const FLAG_EVENT: u8 = 8;
const FLAG_APPROXIMATE: u8 = 16;
const FLAG_PARTIAL: u8 = 32;
const KNOWN_FLAGS: u8 =
    FLAG_LIVENESS | FLAG_GAP_UNKNOWN | FLAG_PARAM | FLAG_EVENT | FLAG_APPROXIMATE | FLAG_PARTIAL;

/// The raw buffer of a partial state: capacity and events (time, state id).
struct PartialBuffer {
    capacity: usize,
    events: Vec<(i64, u32)>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Non-negative difference of two i64 as u64 (callers guarantee b >= a).
fn diff(a: i64, b: i64) -> u64 {
    (i128::from(b) - i128::from(a)).clamp(0, i128::from(u64::MAX)) as u64
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// The names a serialization references (runs, carry-ins, buffer), sorted,
/// and each state id's index among them.
struct NameOrder<'a> {
    sorted: Vec<(&'a str, u32)>,
    new_index: Vec<u64>,
}

impl<'a> NameOrder<'a> {
    fn new(state: &'a AvailabilityState, runs: &[Run], buffer: Option<&PartialBuffer>) -> Self {
        let mut used: Vec<u32> = runs.iter().map(|r| r.state).collect();
        used.extend(state.carry_in_param);
        used.extend(state.carry_in_event.map(|(_, s)| s));
        if let Some(b) = buffer {
            used.extend(b.events.iter().map(|e| e.1));
        }
        used.sort_unstable();
        used.dedup();
        let mut sorted: Vec<(&str, u32)> =
            used.iter().map(|&id| (state.names.name(id), id)).collect();
        sorted.sort_unstable();
        let mut new_index = vec![0u64; state.names.names().len()];
        for (pos, (_, id)) in sorted.iter().enumerate() {
            if let Some(slot) = new_index.get_mut(*id as usize) {
                *slot = pos as u64;
            }
        }
        NameOrder { sorted, new_index }
    }

    /// The index written for state id `id`.
    fn index(&self, id: u32) -> u64 {
        self.new_index.get(id as usize).copied().unwrap_or(0)
    }
}

impl AvailabilityState {
    /// Serializes the state in its canonical form: buffered events folded
    /// in, runs only, equal bytes for equal states (see the module
    /// documentation for the layout). For stored values and final results.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (runs, approximate) = self.snapshot();
        self.write(&runs, approximate, None)
    }

    /// Serializes the state without collapsing its buffer: the runs as they
    /// are, plus the raw buffered events and the buffer capacity (flag
    /// bit5 of the format). For the aggregate's serialize function: a
    /// parallel worker's partial state, deserialized by the leader with
    /// [`AvailabilityState::from_bytes`], still holds its events as single
    /// events, so merging the partial states of interleaved subsets (heap
    /// blocks handed out to workers in turns) is exact whenever every
    /// worker's share fitted in its buffer. About 2 bytes per buffered event
    /// plus its time delta; summary, timeline and [`Self::to_bytes`] of the
    /// restored state equal those of this state.
    pub fn to_partial_bytes(&self) -> Vec<u8> {
        let buffer = PartialBuffer {
            capacity: self.buffer_capacity,
            events: self.buffer.clone(),
        };
        self.write(&self.runs.to_vec(), self.approximate, Some(&buffer))
    }

    fn write(&self, runs: &[Run], approximate: bool, buffer: Option<&PartialBuffer>) -> Vec<u8> {
        let names = NameOrder::new(self, runs, buffer);
        let idx = |id: u32| names.index(id);
        let buffered = buffer.map_or(0, |b| b.events.len());
        let mut out = Vec::with_capacity(32 + runs.len() * 6 + buffered * 4);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.flags(approximate, buffer.is_some()));
        put_varint(&mut out, zigzag(self.from));
        put_varint(&mut out, diff(self.from, self.to));
        if let Some(l) = self.config.liveness_us() {
            put_varint(&mut out, l as u64);
        }
        self.put_weights(&mut out);
        put_varint(&mut out, names.sorted.len() as u64);
        for (name, _) in &names.sorted {
            put_str(&mut out, name);
        }
        if let Some(p) = self.carry_in_param {
            put_varint(&mut out, idx(p));
        }
        if let Some((t, s)) = self.carry_in_event {
            put_varint(&mut out, diff(t, self.from));
            put_varint(&mut out, idx(s));
        }
        self.put_holes(&mut out);
        put_varint(&mut out, runs.len() as u64);
        let mut cursor = self.from;
        for r in runs.iter() {
            put_varint(&mut out, diff(cursor, r.start));
            put_varint(&mut out, diff(r.start, r.last));
            put_varint(&mut out, idx(r.state));
            cursor = r.last.saturating_add(1);
        }
        if let Some(b) = buffer {
            self.put_buffer(&mut out, b, &names);
        }
        out
    }

    /// The flags byte of [`Self::write`].
    fn flags(&self, approximate: bool, partial: bool) -> u8 {
        let mut flags = 0u8;
        if self.config.liveness_us().is_some() {
            flags |= FLAG_LIVENESS;
        }
        if self.config.gap_policy() == GapPolicy::Unknown {
            flags |= FLAG_GAP_UNKNOWN;
        }
        if self.carry_in_param.is_some() {
            flags |= FLAG_PARAM;
        }
        if self.carry_in_event.is_some() {
            flags |= FLAG_EVENT;
        }
        if approximate {
            flags |= FLAG_APPROXIMATE;
        }
        if partial {
            flags |= FLAG_PARTIAL;
        }
        flags
    }

    /// The weights section: count, then name and tag (and weight) each.
    fn put_weights(&self, out: &mut Vec<u8>) {
        let entries: Vec<(&str, Option<f64>)> = self.config.weights().entries().collect();
        put_varint(out, entries.len() as u64);
        for (name, w) in entries {
            put_str(out, name);
            match w {
                None => out.push(0),
                Some(w) => {
                    out.push(1);
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
        }
    }

    /// The holes section: count, then each hole relative to the cursor.
    fn put_holes(&self, out: &mut Vec<u8>) {
        put_varint(out, self.holes.len() as u64);
        let mut cursor = self.from.saturating_add(1);
        for &(a, b) in &self.holes {
            put_varint(out, diff(cursor, a));
            put_varint(out, diff(a, b).saturating_sub(1));
            cursor = b.saturating_add(1);
        }
    }

    /// The buffer section of a partial state: capacity, then the events
    /// sorted and deduplicated by (time, name index).
    fn put_buffer(&self, out: &mut Vec<u8>, b: &PartialBuffer, names: &NameOrder<'_>) {
        put_varint(out, b.capacity as u64);
        // Identical events are redundant (the worst event of an instant
        // wins; duplicates of it change nothing).
        let mut events: Vec<(i64, u64)> =
            b.events.iter().map(|&(t, s)| (t, names.index(s))).collect();
        events.sort_unstable();
        events.dedup();
        put_varint(out, events.len() as u64);
        let mut cursor = self.from;
        for (t, i) in events {
            put_varint(out, diff(cursor, t));
            put_varint(out, i);
            cursor = t;
        }
    }

    /// Deserializes and validates a state, canonical or partial (a partial
    /// state gets back its raw buffer and buffer capacity; a canonical one
    /// has an empty buffer and [`crate::DEFAULT_BUFFER_CAPACITY`]).
    /// Malformed bytes give `InvalidState`, a newer format version gives
    /// `Unsupported`; never panics, and allocations are bounded by the
    /// input length.
    pub fn from_bytes(bytes: &[u8]) -> Result<AvailabilityState> {
        let mut r = Reader { bytes, pos: 0 };
        let Header { flags, from, to } = r.header()?;
        let liveness = if flags & FLAG_LIVENESS != 0 {
            let l = i64::try_from(r.varint()?).map_err(|_| invalid("liveness out of range"))?;
            if l <= 0 {
                return Err(invalid("liveness must be positive"));
            }
            Some(l)
        } else {
            None
        };
        let gap_policy = if flags & FLAG_GAP_UNKNOWN != 0 {
            GapPolicy::Unknown
        } else {
            GapPolicy::Down
        };
        let config = AvailabilityConfig::new(r.weights()?, liveness, gap_policy)
            .map_err(|e| invalid(&e.to_string()))?;
        let names = r.names()?;
        let index = StateIndex(names.names().len() as u64);
        let carry_in_param = if flags & FLAG_PARAM != 0 {
            Some(index.read(&mut r)?)
        } else {
            None
        };
        let carry_in_event = if flags & FLAG_EVENT != 0 {
            let back = i64::try_from(r.varint()?).map_err(|_| invalid("carry-in time"))?;
            if back == 0 {
                return Err(invalid("carry-in event not before the window"));
            }
            let t = from
                .checked_sub(back)
                .ok_or_else(|| invalid("carry-in time out of range"))?;
            Some((t, index.read(&mut r)?))
        } else {
            None
        };
        let holes = r.holes(from, to)?;
        let runs = r.runs(from, to, index)?;
        let buffer = if flags & FLAG_PARTIAL != 0 {
            Some(r.buffer(from, to, index)?)
        } else {
            None
        };
        // Runs are collapsed except across holes, liveness gaps and raw
        // buffered events.
        let join = Joiner {
            liveness,
            holes: &holes,
            raw: buffer.as_ref().map_or(&[], |b| &b.events),
        };
        for pair in runs.windows(2) {
            if let [p, n] = pair {
                if p.state == n.state && join.connected(p.last, n.start) {
                    return Err(invalid("consecutive runs not collapsed"));
                }
            }
        }
        if r.pos != bytes.len() {
            return Err(invalid("trailing bytes"));
        }
        let mut state =
            AvailabilityState::new(config, from, to, None).map_err(|e| invalid(&e.to_string()))?;
        state.names = names;
        state.carry_in_param = carry_in_param;
        state.carry_in_event = carry_in_event;
        state.runs = RunList::from_sorted(runs);
        state.holes = holes;
        state.approximate = flags & FLAG_APPROXIMATE != 0;
        if let Some(b) = buffer {
            state.restore_buffer(b.capacity, b.events);
        }
        Ok(state)
    }
}

fn invalid(msg: &str) -> AvailabilityError {
    AvailabilityError::InvalidState(msg.to_string())
}

fn add(base: i64, delta: u64) -> Result<i64> {
    i64::try_from(delta)
        .ok()
        .and_then(|d| base.checked_add(d))
        .ok_or_else(|| invalid("time out of range"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| invalid("truncated"))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| invalid("truncated"))?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        self.take(1)?
            .first()
            .copied()
            .ok_or_else(|| invalid("truncated"))
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10u32 {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if i == 9 && part > 1 {
                return Err(invalid("varint overflow"));
            }
            v |= part << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(invalid("overlong varint"));
                }
                return Ok(v);
            }
        }
        Err(invalid("varint too long"))
    }

    /// A count of items that each take at least `min_bytes`: rejected when
    /// the remaining input cannot hold them, which bounds allocations.
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.varint()?;
        let remaining = self.bytes.len().saturating_sub(self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > remaining {
            return Err(invalid("count larger than the input"));
        }
        usize::try_from(n).map_err(|_| invalid("count out of range"))
    }

    fn str(&mut self) -> Result<&'a str> {
        let len = self.count(1)?;
        let raw = self.take(len)?;
        std::str::from_utf8(raw).map_err(|_| invalid("state name is not UTF-8"))
    }

    /// The next name of a strictly sorted list: it must sort after `prev`, which it then
    /// becomes; `unsorted` is the error otherwise.
    fn sorted_str(&mut self, prev: &mut Option<&'a str>, unsorted: &str) -> Result<&'a str> {
        let name = self.str()?;
        if prev.is_some_and(|p| p >= name) {
            return Err(invalid(unsorted));
        }
        *prev = Some(name);
        Ok(name)
    }
}

/// The fixed start of the bytes: magic, version, flags and window.
struct Header {
    flags: u8,
    from: i64,
    to: i64,
}

/// Reads a state name's index into a name table of `.0` names.
#[derive(Clone, Copy)]
struct StateIndex(u64);

impl StateIndex {
    fn read(self, r: &mut Reader) -> Result<u32> {
        let i = r.varint()?;
        if i >= self.0 {
            return Err(invalid("state index out of range"));
        }
        u32::try_from(i).map_err(|_| invalid("state index out of range"))
    }
}

/// The sections of a state's bytes, in the order [`AvailabilityState::from_bytes`] reads
/// them; each validates what it reads.
impl Reader<'_> {
    fn header(&mut self) -> Result<Header> {
        if self.take(2)? != MAGIC {
            return Err(invalid("bad magic"));
        }
        let version = self.byte()?;
        if version == 0 {
            return Err(invalid("bad version 0"));
        }
        if version > VERSION {
            return Err(AvailabilityError::Unsupported(format!(
                "availability state format version {version} (this build reads up to {VERSION})"
            )));
        }
        let flags = self.byte()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(invalid("unknown flag bits"));
        }
        let from = unzigzag(self.varint()?);
        let span = self.varint()?;
        if span == 0 {
            return Err(invalid("empty window"));
        }
        let to = i64::try_from(span)
            .ok()
            .and_then(|s| from.checked_add(s))
            .ok_or_else(|| invalid("window end out of range"))?;
        Ok(Header { flags, from, to })
    }

    /// Weights by state name, names strictly sorted.
    fn weights(&mut self) -> Result<Weights> {
        let n_weights = self.count(2)?;
        let mut weights = Weights::empty();
        let mut prev = None;
        for _ in 0..n_weights {
            let name = self.sorted_str(&mut prev, "weights not strictly sorted")?;
            let w = match self.byte()? {
                0 => None,
                1 => {
                    let raw: [u8; 8] = self
                        .take(8)?
                        .try_into()
                        .map_err(|_| invalid("truncated weight"))?;
                    Some(f64::from_le_bytes(raw))
                }
                _ => return Err(invalid("bad weight tag")),
            };
            weights
                .set(name, w)
                .map_err(|_| invalid("weight outside [0, 1]"))?;
        }
        Ok(weights)
    }

    /// The state names the runs refer to, strictly sorted.
    fn names(&mut self) -> Result<NameTable> {
        let n_names = self.count(1)?;
        let mut names = NameTable::default();
        let mut prev = None;
        for _ in 0..n_names {
            let name = self.sorted_str(&mut prev, "state names not strictly sorted")?;
            names.intern(name).map_err(|_| invalid("too many names"))?;
        }
        Ok(names)
    }

    /// Holes (time not covered), disjoint and in order, inside the window.
    fn holes(&mut self, from: i64, to: i64) -> Result<Vec<(i64, i64)>> {
        let n_holes = self.count(2)?;
        let mut holes: Vec<(i64, i64)> = Vec::with_capacity(n_holes);
        let mut cursor = from
            .checked_add(1)
            .ok_or_else(|| invalid("hole out of range"))?;
        for _ in 0..n_holes {
            let a = add(cursor, self.varint()?)?;
            let b = add(a, self.varint()?)?
                .checked_add(1)
                .ok_or_else(|| invalid("hole out of range"))?;
            if b >= to {
                return Err(invalid("hole reaches the window end"));
            }
            holes.push((a, b));
            cursor = b
                .checked_add(1)
                .ok_or_else(|| invalid("hole out of range"))?;
        }
        Ok(holes)
    }

    /// Runs, disjoint and in order, inside the window.
    fn runs(&mut self, from: i64, to: i64, index: StateIndex) -> Result<Vec<Run>> {
        let n_runs = self.count(3)?;
        let mut runs: Vec<Run> = Vec::with_capacity(n_runs);
        let mut cursor = from;
        for _ in 0..n_runs {
            let start = add(cursor, self.varint()?)?;
            let last = add(start, self.varint()?)?;
            let state = index.read(self)?;
            if last >= to {
                return Err(invalid("run beyond the window end"));
            }
            runs.push(Run { start, last, state });
            cursor = last
                .checked_add(1)
                .ok_or_else(|| invalid("run time out of range"))?;
        }
        Ok(runs)
    }

    /// A partial state's raw events, strictly sorted, within its buffer's limit.
    fn buffer(&mut self, from: i64, to: i64, index: StateIndex) -> Result<PartialBuffer> {
        let capacity = usize::try_from(self.varint()?)
            .ok()
            .filter(|c| (1..=MAX_BUFFER_CAPACITY).contains(c))
            .ok_or_else(|| invalid("buffer capacity out of range"))?;
        let n_events = self.count(2)?;
        if n_events > capacity.saturating_mul(BUFFER_LIMIT_FACTOR) {
            return Err(invalid("more buffered events than the buffer limit"));
        }
        let mut events: Vec<(i64, u32)> = Vec::with_capacity(n_events);
        let mut cursor = from;
        for _ in 0..n_events {
            let t = add(cursor, self.varint()?)?;
            let s = index.read(self)?;
            if t >= to {
                return Err(invalid("buffered event beyond the window end"));
            }
            if let Some(&(pt, ps)) = events.last() {
                if pt == t && ps >= s {
                    return Err(invalid("buffered events not strictly sorted"));
                }
            }
            events.push((t, s));
            cursor = t;
        }
        Ok(PartialBuffer { capacity, events })
    }
}
