//! Little-endian byte encoding helpers for the serialized states: fixed-width
//! integers and floats, and LEB128 unsigned varints. Every read is checked;
//! malformed bytes produce [`DownsampleError::InvalidInput`], never a panic.

use crate::error::{DownsampleError, Result};

pub(crate) fn put_u8(out: &mut Vec<u8>, x: u8) {
    out.push(x);
}

pub(crate) fn put_i64(out: &mut Vec<u8>, x: i64) {
    out.extend_from_slice(&x.to_le_bytes());
}

pub(crate) fn put_f64(out: &mut Vec<u8>, x: f64) {
    out.extend_from_slice(&x.to_le_bytes());
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn malformed(what: &str) -> DownsampleError {
    DownsampleError::InvalidInput(format!("malformed serialized state: {what}"))
}

/// A cursor over serialized bytes.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| malformed(&format!("truncated {what}")))?;
        self.bytes = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take::<2>(what)?))
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take::<4>(what)?))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take::<8>(what)?))
    }

    /// The next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(malformed(&format!("truncated {what}")));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// Whatever is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    pub(crate) fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take::<8>(what)?))
    }

    pub(crate) fn f64(&mut self, what: &str) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take::<8>(what)?))
    }

    pub(crate) fn varint(&mut self, what: &str) -> Result<u64> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            let chunk = u64::from(b & 0x7f);
            // The tenth byte may only carry the top bit of a u64.
            if shift == 63 && chunk > 1 {
                return Err(malformed(&format!("{what} overflows u64")));
            }
            x |= chunk << shift;
            if b & 0x80 == 0 {
                return Ok(x);
            }
        }
        Err(malformed(&format!("{what} varint too long")))
    }

    /// The bytes not read yet, left unread.
    pub(crate) fn peek(&self) -> &'a [u8] {
        self.bytes
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn finish(&self, what: &str) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(malformed(&format!(
                "{} trailing bytes after {what}",
                self.bytes.len()
            )))
        }
    }
}

pub(crate) fn invalid(what: &str) -> DownsampleError {
    malformed(what)
}

/// A state's format version byte `found` must be `expected`; else "unsupported `what` found".
pub(crate) fn check_version(found: u8, expected: u8, what: &str) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(invalid(&format!("unsupported {what} {found}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::{BucketedState, M4Summary, MethodBuckets, SeriesBuckets, SummaryBins};

    /// The message names the state's version, whichever state it is.
    #[test]
    fn unknown_versions_are_named() {
        let cases = [
            (
                BucketedState::from_bytes(&[9]).err(),
                "unsupported downsampling state format version 9",
            ),
            (
                M4Summary::from_bytes(&[9]).err(),
                "unsupported M4 summary format version 9",
            ),
            (
                MethodBuckets::from_bytes(&[9]).err(),
                "unsupported version 9",
            ),
            (SummaryBins::from_bytes(&[9]).err(), "unsupported version 9"),
            (
                SeriesBuckets::from_bytes(&[9]).err(),
                "unsupported version 9",
            ),
        ];
        for (err, message) in cases {
            let err = err.expect("version 9 is refused").to_string();
            assert!(err.ends_with(message), "{err}");
        }
    }
}
