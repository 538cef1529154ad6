//! `float8[]` arguments as flat slices with their dimensions, so that shape errors can say
//! exactly which shape arrived (e.g. "got 4×16") and values are read without copying.

use std::marker::PhantomData;
use std::ptr::NonNull;

use pgrx::array::RawArray;
use pgrx::prelude::*;

use crate::error::{SensorError, SensorResult};

/// A detoasted `float8[]` without NULL elements.
pub struct Float8Array<'a> {
    pub dims: Vec<usize>,
    values: NonNull<[f64]>,
    _array: PhantomData<&'a ()>,
}

impl<'a> Float8Array<'a> {
    /// Reads `array`; a NULL element is an error naming `argument`.
    pub fn new(array: Array<'a, f64>, argument: &str) -> SensorResult<Self> {
        let ptr = array.into_array_type() as *mut pg_sys::ArrayType;
        let ptr = NonNull::new(ptr)
            .ok_or_else(|| SensorError::invalid_parameter(format!("{argument} is not an array")))?;
        // SAFETY: pgrx hands us a detoasted array of float8 that lives for this call ('a).
        let mut raw = unsafe { RawArray::from_ptr(ptr) };
        let dims = raw
            .dims()
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .collect();
        // SAFETY: as above; the null bitmap is read-only here.
        if unsafe { raw.any_nulls() } {
            return Err(SensorError::invalid_parameter(format!(
                "{argument} must not contain NULL elements"
            )));
        }
        Ok(Float8Array {
            dims,
            values: raw.data::<f64>(),
            _array: PhantomData,
        })
    }

    pub fn values(&self) -> &'a [f64] {
        // SAFETY: the array's data outlives 'a and float8 has no invalid bit patterns.
        unsafe { self.values.as_ref() }
    }

    /// The dimensions as PostgreSQL prints them in messages, e.g. "8×8" or "empty".
    pub fn shape(&self) -> String {
        if self.dims.is_empty() {
            return "an empty array".to_string();
        }
        self.dims
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("×")
    }
}
