//! Positioned bulk reads and decoding of raw bytes into typed buffers.

use std::io::{Read, Seek, SeekFrom};

use crate::error::TdmsError;
use crate::types::{Complex, ElemType, Timestamp};
use crate::values::ValuesBlock;

/// Reads below this size go through a read-ahead window.
const WINDOW: usize = 256 * 1024;

/// Positioned reader with a small read-ahead window, so that many small pieces
/// (short chunks) cost one syscall per window instead of one per piece.
pub(crate) struct Source<R> {
    pub inner: R,
    pub len: u64,
    os_pos: Option<u64>,
    win: Vec<u8>,
    win_start: u64,
    win_len: usize,
}

impl<R: Read + Seek> Source<R> {
    pub fn new(inner: R, len: u64) -> Self {
        Source {
            inner,
            len,
            os_pos: None,
            win: Vec::new(),
            win_start: 0,
            win_len: 0,
        }
    }

    fn raw_read(&mut self, pos: u64, dst: &mut [u8]) -> Result<(), TdmsError> {
        if self.os_pos != Some(pos) {
            self.inner.seek(SeekFrom::Start(pos))?;
        }
        self.os_pos = None;
        self.inner.read_exact(dst).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                TdmsError::malformed(
                    pos,
                    "file is shorter than its index says (was it truncated while open?)",
                )
            } else {
                TdmsError::Io(e)
            }
        })?;
        self.os_pos = Some(pos + dst.len() as u64);
        Ok(())
    }

    /// Fill `dst` with the bytes at `pos`.
    pub fn read_at(&mut self, pos: u64, dst: &mut [u8]) -> Result<(), TdmsError> {
        let n = dst.len() as u64;
        let end = pos
            .checked_add(n)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| TdmsError::malformed(pos, "data lies beyond the end of the file"))?;
        let win_end = self.win_start + self.win_len as u64;
        if pos >= self.win_start && end <= win_end {
            let from = (pos - self.win_start) as usize;
            if let Some(src) = self.win.get(from..from + dst.len()) {
                dst.copy_from_slice(src);
                return Ok(());
            }
        }
        if dst.len() >= WINDOW / 2 {
            return self.raw_read(pos, dst);
        }
        let fill = (self.len - pos).min(WINDOW as u64) as usize;
        let mut win = std::mem::take(&mut self.win);
        win.resize(WINDOW, 0);
        self.win_len = 0;
        let r = self.raw_read(pos, &mut win[..fill]);
        self.win = win;
        r?;
        self.win_start = pos;
        self.win_len = fill;
        if let Some(src) = self.win.get(..dst.len()) {
            dst.copy_from_slice(src);
        }
        Ok(())
    }
}

/// Fixed-size numeric values that can be read straight from bytes.
pub(crate) trait Scalar: bytemuck::Pod + Default {
    const SIZE: usize;
    fn decode(b: &[u8], big: bool) -> Self;
    fn swap(self) -> Self;
}

macro_rules! int_scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn decode(b: &[u8], big: bool) -> Self {
                let a = <[u8; std::mem::size_of::<$t>()]>::try_from(b).unwrap_or_default();
                if big { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }
            }
            #[inline]
            fn swap(self) -> Self { self.swap_bytes() }
        }
    )*};
}
int_scalar!(i8, i16, i32, i64, u8, u16, u32, u64);

/// Floats go through the integer of their bits.
macro_rules! float_scalar {
    ($($t:ty => $bits:ty),*) => {$(
        impl Scalar for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn decode(b: &[u8], big: bool) -> Self {
                <$t>::from_bits(<$bits>::decode(b, big))
            }
            #[inline]
            fn swap(self) -> Self {
                <$t>::from_bits(self.to_bits().swap_bytes())
            }
        }
    )*};
}
float_scalar!(f32 => u32, f64 => u64);

/// Reusable typed buffers; one is filled per decoded block.
#[derive(Default)]
pub(crate) struct Buffers {
    pub i8: Vec<i8>,
    pub i16: Vec<i16>,
    pub i32: Vec<i32>,
    pub i64: Vec<i64>,
    pub u8: Vec<u8>,
    pub u16: Vec<u16>,
    pub u32: Vec<u32>,
    pub u64: Vec<u64>,
    pub f32: Vec<f32>,
    pub f64: Vec<f64>,
    pub bool: Vec<bool>,
    pub ts: Vec<Timestamp>,
    pub c32: Vec<Complex<f32>>,
    pub c64: Vec<Complex<f64>>,
    pub strings: Vec<String>,
    pub scratch: Vec<u8>,
    pub offsets: Vec<u32>,
}

/// Decode `n` values whose first bytes are `stride` apart, starting at `bytes[0]`.
fn decode_strided<T: Scalar>(bytes: &[u8], stride: usize, n: usize, big: bool, out: &mut Vec<T>) {
    out.clear();
    out.reserve(n);
    if stride == T::SIZE {
        out.extend(
            bytes
                .chunks_exact(T::SIZE)
                .take(n)
                .map(|b| T::decode(b, big)),
        );
    } else {
        out.extend(
            bytes
                .chunks(stride)
                .take(n)
                .filter_map(|row| row.get(..T::SIZE))
                .map(|b| T::decode(b, big)),
        );
    }
}

fn decode_ts(b: &[u8], big: bool) -> Timestamp {
    let (x, y) = b.split_at(8.min(b.len()));
    let a = u64::decode(x, big);
    let c = u64::decode(y, big);
    if big {
        Timestamp {
            seconds: a as i64,
            fractions: c,
        }
    } else {
        Timestamp {
            seconds: c as i64,
            fractions: a,
        }
    }
}

/// Decode `n` values from the first `width` bytes of rows `stride` apart (at most as many
/// as `bytes` holds whole), for values [`decode_strided`] does not cover.
fn decode_rows<T>(
    bytes: &[u8],
    stride: usize,
    n: usize,
    width: usize,
    out: &mut Vec<T>,
    value: impl Fn(&[u8]) -> T,
) {
    out.clear();
    out.extend(
        bytes
            .chunks(stride.max(1))
            .take(n)
            .filter_map(|row| row.get(..width))
            .map(value),
    );
}

/// Real then imaginary part.
fn decode_complex<T: Scalar>(b: &[u8], big: bool) -> Complex<T> {
    let (re, im) = b.split_at(T::SIZE);
    Complex {
        re: T::decode(re, big),
        im: T::decode(im, big),
    }
}

impl Buffers {
    /// Decode `n` values of `elem` from `bytes` (value j at `j * stride`).
    pub fn decode(&mut self, elem: ElemType, bytes: &[u8], stride: usize, n: usize, big: bool) {
        match elem {
            ElemType::I8 => decode_strided(bytes, stride, n, big, &mut self.i8),
            ElemType::I16 => decode_strided(bytes, stride, n, big, &mut self.i16),
            ElemType::I32 => decode_strided(bytes, stride, n, big, &mut self.i32),
            ElemType::I64 => decode_strided(bytes, stride, n, big, &mut self.i64),
            ElemType::U8 => decode_strided(bytes, stride, n, big, &mut self.u8),
            ElemType::U16 => decode_strided(bytes, stride, n, big, &mut self.u16),
            ElemType::U32 => decode_strided(bytes, stride, n, big, &mut self.u32),
            ElemType::U64 => decode_strided(bytes, stride, n, big, &mut self.u64),
            ElemType::F32 => decode_strided(bytes, stride, n, big, &mut self.f32),
            ElemType::F64 => decode_strided(bytes, stride, n, big, &mut self.f64),
            ElemType::Bool => decode_rows(bytes, stride, n, 1, &mut self.bool, |b| b[0] != 0),
            ElemType::Timestamp => {
                decode_rows(bytes, stride, n, 16, &mut self.ts, |b| decode_ts(b, big));
            }
            ElemType::ComplexF32 => {
                decode_rows(bytes, stride, n, 8, &mut self.c32, |b| {
                    decode_complex(b, big)
                });
            }
            ElemType::ComplexF64 => {
                decode_rows(bytes, stride, n, 16, &mut self.c64, |b| {
                    decode_complex(b, big)
                });
            }
            ElemType::String => self.strings.clear(),
        }
    }

    /// Read `n` fixed-size values at `pos`, `stride` bytes apart, into the buffer for `elem`.
    pub fn read_fixed<R: Read + Seek>(
        &mut self,
        src: &mut Source<R>,
        elem: ElemType,
        pos: u64,
        stride: u64,
        n: usize,
        big: bool,
    ) -> Result<(), TdmsError> {
        let size = elem.size().unwrap_or(1);
        if stride == size {
            let swap = big != cfg!(target_endian = "big");
            match elem {
                ElemType::I8 => return read_direct(src, pos, n, swap, &mut self.i8),
                ElemType::I16 => return read_direct(src, pos, n, swap, &mut self.i16),
                ElemType::I32 => return read_direct(src, pos, n, swap, &mut self.i32),
                ElemType::I64 => return read_direct(src, pos, n, swap, &mut self.i64),
                ElemType::U8 => return read_direct(src, pos, n, swap, &mut self.u8),
                ElemType::U16 => return read_direct(src, pos, n, swap, &mut self.u16),
                ElemType::U32 => return read_direct(src, pos, n, swap, &mut self.u32),
                ElemType::U64 => return read_direct(src, pos, n, swap, &mut self.u64),
                ElemType::F32 => return read_direct(src, pos, n, swap, &mut self.f32),
                ElemType::F64 => return read_direct(src, pos, n, swap, &mut self.f64),
                _ => {}
            }
        }
        let len = span(n, stride, size)?;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(len, 0);
        let r = src.read_at(pos, &mut scratch);
        if r.is_ok() {
            self.decode(elem, &scratch, stride as usize, n, big);
        }
        self.scratch = scratch;
        r
    }

    /// Keep only bit `bit` of integer values (DAQmx digital line scaler).
    pub fn extract_bit(&mut self, elem: ElemType, bit: u8) {
        macro_rules! bits {
            ($v:expr) => {
                for x in $v.iter_mut() {
                    *x = (*x >> bit) & 1;
                }
            };
        }
        match elem {
            ElemType::I8 => bits!(self.i8),
            ElemType::I16 => bits!(self.i16),
            ElemType::I32 => bits!(self.i32),
            ElemType::I64 => bits!(self.i64),
            ElemType::U8 => bits!(self.u8),
            ElemType::U16 => bits!(self.u16),
            ElemType::U32 => bits!(self.u32),
            ElemType::U64 => bits!(self.u64),
            _ => {}
        }
    }

    /// The decoded values of `elem` as a block.
    pub fn block(&self, elem: ElemType) -> ValuesBlock<'_> {
        match elem {
            ElemType::I8 => ValuesBlock::I8(&self.i8),
            ElemType::I16 => ValuesBlock::I16(&self.i16),
            ElemType::I32 => ValuesBlock::I32(&self.i32),
            ElemType::I64 => ValuesBlock::I64(&self.i64),
            ElemType::U8 => ValuesBlock::U8(&self.u8),
            ElemType::U16 => ValuesBlock::U16(&self.u16),
            ElemType::U32 => ValuesBlock::U32(&self.u32),
            ElemType::U64 => ValuesBlock::U64(&self.u64),
            ElemType::F32 => ValuesBlock::F32(&self.f32),
            ElemType::F64 => ValuesBlock::F64(&self.f64),
            ElemType::Bool => ValuesBlock::Bool(&self.bool),
            ElemType::Timestamp => ValuesBlock::Timestamp(&self.ts),
            ElemType::ComplexF32 => ValuesBlock::ComplexF32(&self.c32),
            ElemType::ComplexF64 => ValuesBlock::ComplexF64(&self.c64),
            ElemType::String => ValuesBlock::String(&self.strings),
        }
    }

    /// Read strings `first..first + n` of a string block whose offset table is at
    /// `table_pos` (`count` entries) and whose total size is `data_size`.
    /// Returns how many strings were read (fewer than `n` when they are large).
    #[allow(clippy::too_many_arguments)]
    pub fn read_strings<R: Read + Seek>(
        &mut self,
        src: &mut Source<R>,
        table_pos: u64,
        count: u64,
        data_size: u64,
        first: u64,
        n: usize,
        big: bool,
        max_bytes: u64,
    ) -> Result<usize, TdmsError> {
        self.strings.clear();
        if n == 0 {
            return Ok(0);
        }
        // Offsets table entries first-1 ..= first+n-1 (entry -1 is an implicit 0).
        let (from, lead_zero) = if first == 0 {
            (0, true)
        } else {
            (first - 1, false)
        };
        let entries = n + usize::from(!lead_zero);
        let mut raw = std::mem::take(&mut self.scratch);
        raw.resize(entries * 4, 0);
        let r = src.read_at(table_pos + from * 4, &mut raw);
        if let Err(e) = r {
            self.scratch = raw;
            return Err(e);
        }
        self.offsets.clear();
        if lead_zero {
            self.offsets.push(0);
        }
        self.offsets
            .extend(raw.chunks_exact(4).map(|b| u32::decode(b, big)));
        self.scratch = raw;
        let strings_pos = table_pos + count * 4;
        let strings_len = data_size - count * 4;
        // How many strings fit in `max_bytes` (at least one).
        let start = u64::from(self.offsets.first().copied().unwrap_or(0));
        let mut take = 0usize;
        let mut prev = start;
        for &end in self.offsets.iter().skip(1) {
            let end = u64::from(end);
            if end < prev || end > strings_len {
                return Err(TdmsError::malformed(
                    table_pos,
                    format!("string offset {end} is out of order or beyond the string data ({strings_len} bytes)"),
                ));
            }
            if take > 0 && end - start > max_bytes {
                break;
            }
            prev = end;
            take += 1;
        }
        let total = (prev - start) as usize;
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.resize(total, 0);
        let r = src.read_at(strings_pos + start, &mut bytes);
        if r.is_ok() {
            let mut at = 0usize;
            for w in self.offsets.windows(2).take(take) {
                let len = (w[1] - w[0]) as usize;
                let s = bytes.get(at..at + len).unwrap_or(&[]);
                self.strings.push(crate::types::decode_text(s));
                at += len;
            }
        }
        self.scratch = bytes;
        r.map(|_| take)
    }
}

/// Bytes spanned by `n` values `stride` apart, each `size` bytes.
pub(crate) fn span(n: usize, stride: u64, size: u64) -> Result<usize, TdmsError> {
    if n == 0 {
        return Ok(0);
    }
    (n as u64 - 1)
        .checked_mul(stride)
        .and_then(|b| b.checked_add(size))
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| TdmsError::malformed(0, "read span overflows"))
}

fn read_direct<R: Read + Seek, T: Scalar>(
    src: &mut Source<R>,
    pos: u64,
    n: usize,
    swap: bool,
    out: &mut Vec<T>,
) -> Result<(), TdmsError> {
    out.clear();
    out.resize(n, T::default());
    src.read_at(pos, bytemuck::cast_slice_mut(out.as_mut_slice()))?;
    if swap {
        for v in out.iter_mut() {
            *v = v.swap();
        }
    }
    Ok(())
}
