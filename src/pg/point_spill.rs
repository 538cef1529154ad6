//! Points kept in `work_mem`, and beyond it in a temporary file (PostgreSQL's `BufFile`,
//! removed with the transaction whatever happens), read back in the order they came.

use std::ffi::c_void;

use ::downsample::Point;
use pgrx::pg_sys;

use crate::error::{ErrorKind, SensorError, SensorResult};

/// Bytes of one point in the file: time, then value.
const POINT_BYTES: usize = 16;
/// Points moved between memory and the file at a time.
const CHUNK_POINTS: usize = 8192;

pub struct PointSpill {
    memory: Vec<Point>,
    /// Points held in memory before they go to the file.
    budget: usize,
    file: *mut pg_sys::BufFile,
    in_file: u64,
    /// Where the file is made: the memory context and resource owner current when the
    /// spill was, not those of the query whose rows fill it (reset when that query ends).
    context: pg_sys::MemoryContext,
    owner: pg_sys::ResourceOwner,
}

impl PointSpill {
    /// A spill that keeps up to `budget_bytes` of points in memory.
    pub fn new(budget_bytes: u64) -> Self {
        let budget = usize::try_from(budget_bytes / POINT_BYTES as u64)
            .unwrap_or(usize::MAX)
            .max(CHUNK_POINTS);
        PointSpill {
            memory: Vec::new(),
            budget,
            file: std::ptr::null_mut(),
            in_file: 0,
            // SAFETY: reading the backend's current context and resource owner.
            context: unsafe { pg_sys::CurrentMemoryContext },
            owner: unsafe { pg_sys::CurrentResourceOwner },
        }
    }

    pub fn push(&mut self, point: Point) {
        self.memory.push(point);
        if self.memory.len() >= self.budget {
            self.write_memory();
        }
    }

    /// Points pushed so far.
    pub fn count(&self) -> u64 {
        self.in_file + self.memory.len() as u64
    }

    fn write_memory(&mut self) {
        if self.file.is_null() {
            /// Puts back the current context and owner, also when an error unwinds.
            struct Restore(pg_sys::MemoryContext, pg_sys::ResourceOwner);
            impl Drop for Restore {
                fn drop(&mut self) {
                    // SAFETY: the values current before the swap below.
                    unsafe {
                        pg_sys::CurrentMemoryContext = self.0;
                        pg_sys::CurrentResourceOwner = self.1;
                    }
                }
            }
            // SAFETY: a temporary file of this transaction, closed in Drop (or by the
            // transaction's cleanup when an error ends it first), made in the spill's own
            // memory context and resource owner, which outlive the query filling it.
            unsafe {
                let _restore = Restore(pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner);
                pg_sys::CurrentMemoryContext = self.context;
                pg_sys::CurrentResourceOwner = self.owner;
                self.file = pg_sys::BufFileCreateTemp(false);
            }
        }
        let mut bytes = Vec::with_capacity(CHUNK_POINTS * POINT_BYTES);
        for chunk in self.memory.chunks(CHUNK_POINTS) {
            bytes.clear();
            for p in chunk {
                bytes.extend_from_slice(&p.t.to_le_bytes());
                bytes.extend_from_slice(&p.v.to_le_bytes());
            }
            // SAFETY: `bytes` holds `len` initialized bytes; BufFileWrite copies them.
            unsafe {
                pg_sys::BufFileWrite(self.file, bytes.as_mut_ptr().cast::<c_void>(), bytes.len())
            };
        }
        self.in_file += self.memory.len() as u64;
        self.memory.clear();
    }

    /// Every point, in the order pushed. Once some are in the file, the rest join them
    /// there and the memory is given back first: what `each` keeps then has `work_mem`
    /// to itself.
    pub fn for_each(
        &mut self,
        mut each: impl FnMut(Point) -> SensorResult<()>,
    ) -> SensorResult<()> {
        if !self.file.is_null() {
            if !self.memory.is_empty() {
                self.write_memory();
            }
            self.memory = Vec::new();
            // SAFETY: the file is ours and open; reading from its start.
            // (0 is SEEK_SET.)
            if unsafe { pg_sys::BufFileSeek(self.file, 0, 0, 0) } != 0 {
                return Err(temp_file_error("could not rewind a temporary file"));
            }
            let mut bytes = vec![0u8; CHUNK_POINTS * POINT_BYTES];
            let mut left = self.in_file;
            while left > 0 {
                pgrx::check_for_interrupts!();
                let want = usize::try_from(left.min(CHUNK_POINTS as u64)).unwrap_or(CHUNK_POINTS)
                    * POINT_BYTES;
                // SAFETY: `bytes` has room for `want` bytes.
                let got = unsafe {
                    pg_sys::BufFileRead(self.file, bytes.as_mut_ptr().cast::<c_void>(), want)
                };
                if got != want {
                    return Err(temp_file_error("could not read back a temporary file"));
                }
                for p in bytes[..got].chunks_exact(POINT_BYTES) {
                    let (t, v) = p.split_at(8);
                    let t = i64::from_le_bytes(t.try_into().unwrap_or([0; 8]));
                    let v = f64::from_le_bytes(v.try_into().unwrap_or([0; 8]));
                    each(Point::new(t, v))?;
                }
                left -= (got / POINT_BYTES) as u64;
            }
        }
        for &p in &self.memory {
            each(p)?;
        }
        Ok(())
    }
}

fn temp_file_error(message: &str) -> SensorError {
    SensorError::new(ErrorKind::Io, message.to_string())
}

impl Drop for PointSpill {
    fn drop(&mut self) {
        if !self.file.is_null() {
            // SAFETY: opened by us and not closed yet.
            unsafe { pg_sys::BufFileClose(self.file) };
        }
    }
}
