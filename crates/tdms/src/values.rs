//! Blocks of decoded channel values.

use crate::error::TdmsError;
use crate::types::{Complex, ElemType, Timestamp};

/// A block of consecutive values of one channel, borrowed from the reader's
/// reusable buffers (valid until the next read call).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValuesBlock<'a> {
    /// tdsTypeI8
    I8(&'a [i8]),
    /// tdsTypeI16
    I16(&'a [i16]),
    /// tdsTypeI32
    I32(&'a [i32]),
    /// tdsTypeI64
    I64(&'a [i64]),
    /// tdsTypeU8
    U8(&'a [u8]),
    /// tdsTypeU16
    U16(&'a [u16]),
    /// tdsTypeU32
    U32(&'a [u32]),
    /// tdsTypeU64
    U64(&'a [u64]),
    /// tdsTypeSingleFloat(WithUnit)
    F32(&'a [f32]),
    /// tdsTypeDoubleFloat(WithUnit), and all scaled values
    F64(&'a [f64]),
    /// tdsTypeBoolean
    Bool(&'a [bool]),
    /// tdsTypeString
    String(&'a [String]),
    /// tdsTypeTimeStamp (raw)
    Timestamp(&'a [Timestamp]),
    /// tdsTypeComplexSingleFloat
    ComplexF32(&'a [Complex<f32>]),
    /// tdsTypeComplexDoubleFloat
    ComplexF64(&'a [Complex<f64>]),
}

impl ValuesBlock<'_> {
    /// Number of values in the block.
    pub fn len(&self) -> usize {
        match self {
            ValuesBlock::I8(v) => v.len(),
            ValuesBlock::I16(v) => v.len(),
            ValuesBlock::I32(v) => v.len(),
            ValuesBlock::I64(v) => v.len(),
            ValuesBlock::U8(v) => v.len(),
            ValuesBlock::U16(v) => v.len(),
            ValuesBlock::U32(v) => v.len(),
            ValuesBlock::U64(v) => v.len(),
            ValuesBlock::F32(v) => v.len(),
            ValuesBlock::F64(v) => v.len(),
            ValuesBlock::Bool(v) => v.len(),
            ValuesBlock::String(v) => v.len(),
            ValuesBlock::Timestamp(v) => v.len(),
            ValuesBlock::ComplexF32(v) => v.len(),
            ValuesBlock::ComplexF64(v) => v.len(),
        }
    }

    /// Whether the block is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type of the block.
    pub fn elem_type(&self) -> ElemType {
        match self {
            ValuesBlock::I8(_) => ElemType::I8,
            ValuesBlock::I16(_) => ElemType::I16,
            ValuesBlock::I32(_) => ElemType::I32,
            ValuesBlock::I64(_) => ElemType::I64,
            ValuesBlock::U8(_) => ElemType::U8,
            ValuesBlock::U16(_) => ElemType::U16,
            ValuesBlock::U32(_) => ElemType::U32,
            ValuesBlock::U64(_) => ElemType::U64,
            ValuesBlock::F32(_) => ElemType::F32,
            ValuesBlock::F64(_) => ElemType::F64,
            ValuesBlock::Bool(_) => ElemType::Bool,
            ValuesBlock::String(_) => ElemType::String,
            ValuesBlock::Timestamp(_) => ElemType::Timestamp,
            ValuesBlock::ComplexF32(_) => ElemType::ComplexF32,
            ValuesBlock::ComplexF64(_) => ElemType::ComplexF64,
        }
    }

    /// Convert to `f64` into `out` (cleared first): numbers as `as f64`
    /// (64-bit integers beyond 2^53 round), bools as 0/1, timestamps as seconds
    /// since the Unix epoch. Strings and complex values give
    /// [`TdmsError::Unsupported`] (read them through the typed block instead).
    pub fn to_f64(&self, out: &mut Vec<f64>) -> Result<(), TdmsError> {
        out.clear();
        out.reserve(self.len());
        match self {
            ValuesBlock::I8(v) => out.extend(v.iter().map(|&x| f64::from(x))),
            ValuesBlock::I16(v) => out.extend(v.iter().map(|&x| f64::from(x))),
            ValuesBlock::I32(v) => out.extend(v.iter().map(|&x| f64::from(x))),
            ValuesBlock::I64(v) => out.extend(v.iter().map(|&x| x as f64)),
            ValuesBlock::U8(v) => out.extend(v.iter().map(|&x| f64::from(x))),
            ValuesBlock::U16(v) => out.extend(v.iter().map(|&x| f64::from(x))),
            ValuesBlock::U32(v) => out.extend(v.iter().map(|&x| f64::from(x))),
            ValuesBlock::U64(v) => out.extend(v.iter().map(|&x| x as f64)),
            ValuesBlock::F32(v) => out.extend(v.iter().map(|&x| f64::from(x))),
            ValuesBlock::F64(v) => out.extend_from_slice(v),
            ValuesBlock::Bool(v) => out.extend(v.iter().map(|&x| f64::from(u8::from(x)))),
            ValuesBlock::Timestamp(v) => out.extend(v.iter().map(|t| t.unix_seconds_f64())),
            ValuesBlock::String(_) => {
                return Err(TdmsError::Unsupported(
                    "string values cannot be converted to float8".into(),
                ))
            }
            ValuesBlock::ComplexF32(_) | ValuesBlock::ComplexF64(_) => {
                return Err(TdmsError::Unsupported(
                    "complex values cannot be converted to a single float8".into(),
                ))
            }
        }
        Ok(())
    }
}
