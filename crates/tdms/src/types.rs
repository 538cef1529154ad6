//! TDMS data types, timestamps and property values.

use std::fmt;

/// What a NUL byte in a TDMS string (an object name, a property, a string value) becomes:
/// U+2400 SYMBOL FOR NULL. Text consumers such as PostgreSQL cannot hold NUL (they would cut
/// the string there, or reject it), so it stays visible instead, and names that differ after
/// a NUL stay different.
pub const NUL_REPLACEMENT: char = '\u{2400}';

/// A TDMS string's bytes as text: UTF-8, with invalid sequences as U+FFFD and NUL as
/// [`NUL_REPLACEMENT`].
pub fn decode_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.contains('\0') {
        text.replace('\0', "\u{2400}")
    } else {
        text.into_owned()
    }
}

/// Seconds between the TDMS epoch (1904-01-01 UTC) and the Unix epoch (1970-01-01 UTC).
pub const TDMS_EPOCH_TO_UNIX_SECONDS: i64 = 2_082_844_800;

/// A TDMS data type code as stored in the file (`tdsDataType`).
///
/// `Display` prints the LabVIEW name (e.g. `tdsTypeDoubleFloat`);
/// [`DataType::nptdms_name`] gives npTDMS's class name (e.g. `DoubleFloat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// 0x00, no data.
    Void,
    /// 0x01
    I8,
    /// 0x02
    I16,
    /// 0x03
    I32,
    /// 0x04
    I64,
    /// 0x05
    U8,
    /// 0x06
    U16,
    /// 0x07
    U32,
    /// 0x08
    U64,
    /// 0x09
    SingleFloat,
    /// 0x0A
    DoubleFloat,
    /// 0x0B, 128-bit extended float (not supported for reading, like npTDMS).
    ExtendedFloat,
    /// 0x19, float32 with unit (read as float32).
    SingleFloatWithUnit,
    /// 0x1A, float64 with unit (read as float64).
    DoubleFloatWithUnit,
    /// 0x1B, extended float with unit (not supported for reading).
    ExtendedFloatWithUnit,
    /// 0x20, UTF-8 string.
    String,
    /// 0x21, one byte, nonzero is true.
    Boolean,
    /// 0x44, i64 seconds since 1904-01-01 UTC plus u64 fractions of 2^-64 s.
    TimeStamp,
    /// 0x08000C, two float32 (real, imaginary).
    ComplexSingleFloat,
    /// 0x10000D, two float64 (real, imaginary).
    ComplexDoubleFloat,
    /// 0xFFFFFFFF, DAQmx raw data (values come from DAQmx scalers).
    DaqmxRawData,
}

impl DataType {
    /// Map a type code read from the file. Unknown codes give `None`
    /// (npTDMS's type table: fixed point 0x4F is not known either).
    pub fn from_code(code: u32) -> Option<DataType> {
        Some(match code {
            0 => DataType::Void,
            1 => DataType::I8,
            2 => DataType::I16,
            3 => DataType::I32,
            4 => DataType::I64,
            5 => DataType::U8,
            6 => DataType::U16,
            7 => DataType::U32,
            8 => DataType::U64,
            9 => DataType::SingleFloat,
            10 => DataType::DoubleFloat,
            11 => DataType::ExtendedFloat,
            0x19 => DataType::SingleFloatWithUnit,
            0x1A => DataType::DoubleFloatWithUnit,
            0x1B => DataType::ExtendedFloatWithUnit,
            0x20 => DataType::String,
            0x21 => DataType::Boolean,
            0x44 => DataType::TimeStamp,
            0x08_000C => DataType::ComplexSingleFloat,
            0x10_000D => DataType::ComplexDoubleFloat,
            0xFFFF_FFFF => DataType::DaqmxRawData,
            _ => return None,
        })
    }

    /// The numeric type code used in TDMS files.
    pub fn code(self) -> u32 {
        match self {
            DataType::Void => 0,
            DataType::I8 => 1,
            DataType::I16 => 2,
            DataType::I32 => 3,
            DataType::I64 => 4,
            DataType::U8 => 5,
            DataType::U16 => 6,
            DataType::U32 => 7,
            DataType::U64 => 8,
            DataType::SingleFloat => 9,
            DataType::DoubleFloat => 10,
            DataType::ExtendedFloat => 11,
            DataType::SingleFloatWithUnit => 0x19,
            DataType::DoubleFloatWithUnit => 0x1A,
            DataType::ExtendedFloatWithUnit => 0x1B,
            DataType::String => 0x20,
            DataType::Boolean => 0x21,
            DataType::TimeStamp => 0x44,
            DataType::ComplexSingleFloat => 0x08_000C,
            DataType::ComplexDoubleFloat => 0x10_000D,
            DataType::DaqmxRawData => 0xFFFF_FFFF,
        }
    }

    /// LabVIEW's name for the type, e.g. `tdsTypeDoubleFloat`.
    pub fn labview_name(self) -> &'static str {
        match self {
            DataType::Void => "tdsTypeVoid",
            DataType::I8 => "tdsTypeI8",
            DataType::I16 => "tdsTypeI16",
            DataType::I32 => "tdsTypeI32",
            DataType::I64 => "tdsTypeI64",
            DataType::U8 => "tdsTypeU8",
            DataType::U16 => "tdsTypeU16",
            DataType::U32 => "tdsTypeU32",
            DataType::U64 => "tdsTypeU64",
            DataType::SingleFloat => "tdsTypeSingleFloat",
            DataType::DoubleFloat => "tdsTypeDoubleFloat",
            DataType::ExtendedFloat => "tdsTypeExtendedFloat",
            DataType::SingleFloatWithUnit => "tdsTypeSingleFloatWithUnit",
            DataType::DoubleFloatWithUnit => "tdsTypeDoubleFloatWithUnit",
            DataType::ExtendedFloatWithUnit => "tdsTypeExtendedFloatWithUnit",
            DataType::String => "tdsTypeString",
            DataType::Boolean => "tdsTypeBoolean",
            DataType::TimeStamp => "tdsTypeTimeStamp",
            DataType::ComplexSingleFloat => "tdsTypeComplexSingleFloat",
            DataType::ComplexDoubleFloat => "tdsTypeComplexDoubleFloat",
            DataType::DaqmxRawData => "tdsTypeDAQmxRawData",
        }
    }

    /// npTDMS's class name for the type, e.g. `DoubleFloat`.
    pub fn nptdms_name(self) -> &'static str {
        match self {
            DataType::Void => "Void",
            DataType::I8 => "Int8",
            DataType::I16 => "Int16",
            DataType::I32 => "Int32",
            DataType::I64 => "Int64",
            DataType::U8 => "Uint8",
            DataType::U16 => "Uint16",
            DataType::U32 => "Uint32",
            DataType::U64 => "Uint64",
            DataType::SingleFloat => "SingleFloat",
            DataType::DoubleFloat => "DoubleFloat",
            DataType::ExtendedFloat => "ExtendedFloat",
            DataType::SingleFloatWithUnit => "SingleFloatWithUnit",
            DataType::DoubleFloatWithUnit => "DoubleFloatWithUnit",
            DataType::ExtendedFloatWithUnit => "ExtendedFloatWithUnit",
            DataType::String => "String",
            DataType::Boolean => "Boolean",
            DataType::TimeStamp => "TimeStamp",
            DataType::ComplexSingleFloat => "ComplexSingleFloat",
            DataType::ComplexDoubleFloat => "ComplexDoubleFloat",
            DataType::DaqmxRawData => "DaqMxRawData",
        }
    }

    /// How values of this type are decoded, if they can be read at all.
    pub(crate) fn elem(self) -> Option<ElemType> {
        Some(match self {
            DataType::I8 => ElemType::I8,
            DataType::I16 => ElemType::I16,
            DataType::I32 => ElemType::I32,
            DataType::I64 => ElemType::I64,
            DataType::U8 => ElemType::U8,
            DataType::U16 => ElemType::U16,
            DataType::U32 => ElemType::U32,
            DataType::U64 => ElemType::U64,
            DataType::SingleFloat | DataType::SingleFloatWithUnit => ElemType::F32,
            DataType::DoubleFloat | DataType::DoubleFloatWithUnit => ElemType::F64,
            DataType::Boolean => ElemType::Bool,
            DataType::TimeStamp => ElemType::Timestamp,
            DataType::ComplexSingleFloat => ElemType::ComplexF32,
            DataType::ComplexDoubleFloat => ElemType::ComplexF64,
            DataType::String => ElemType::String,
            DataType::Void
            | DataType::ExtendedFloat
            | DataType::ExtendedFloatWithUnit
            | DataType::DaqmxRawData => return None,
        })
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.labview_name())
    }
}

/// The in-memory element type values are decoded to (the `ValuesBlock` variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `bool`
    Bool,
    /// [`Timestamp`]
    Timestamp,
    /// [`Complex<f32>`]
    ComplexF32,
    /// [`Complex<f64>`]
    ComplexF64,
    /// `String`
    String,
}

impl ElemType {
    /// Bytes per value in the file; `None` for strings (variable length).
    pub fn size(self) -> Option<u64> {
        Some(match self {
            ElemType::I8 | ElemType::U8 | ElemType::Bool => 1,
            ElemType::I16 | ElemType::U16 => 2,
            ElemType::I32 | ElemType::U32 | ElemType::F32 => 4,
            ElemType::I64 | ElemType::U64 | ElemType::F64 | ElemType::ComplexF32 => 8,
            ElemType::Timestamp | ElemType::ComplexF64 => 16,
            ElemType::String => return None,
        })
    }

    /// Whether values convert to a single `f64` (numbers, bools, timestamps).
    pub fn is_real(self) -> bool {
        !matches!(
            self,
            ElemType::String | ElemType::ComplexF32 | ElemType::ComplexF64
        )
    }
}

/// A TDMS timestamp: whole seconds since 1904-01-01 00:00:00 UTC (signed) plus
/// a positive fraction of a second in units of 2^-64 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp {
    /// Seconds since the TDMS epoch 1904-01-01 00:00:00 UTC.
    pub seconds: i64,
    /// Fractions of a second, in units of 2^-64 s.
    pub fractions: u64,
}

impl Timestamp {
    /// Fraction of a second in microseconds, rounded to nearest (ties up): 0..=1_000_000.
    fn fraction_micros_rounded(self) -> i64 {
        let scaled = u128::from(self.fractions) * 1_000_000 + (1u128 << 63);
        // At most 1_000_000, fits in i64.
        (scaled >> 64) as i64
    }

    /// Microseconds since the Unix epoch, rounded to the nearest microsecond
    /// (ties toward +inf). `None` if it does not fit in `i64`.
    pub fn unix_micros(self) -> Option<i64> {
        self.seconds
            .checked_sub(TDMS_EPOCH_TO_UNIX_SECONDS)?
            .checked_mul(1_000_000)?
            .checked_add(self.fraction_micros_rounded())
    }

    /// Microseconds since the Unix epoch rounded down, plus the remaining
    /// sub-microsecond part in microseconds (0 <= rest < 1).
    pub(crate) fn unix_micros_floor(self) -> Option<(i64, f64)> {
        let scaled = u128::from(self.fractions) * 1_000_000;
        let whole = (scaled >> 64) as i64;
        let rest = (scaled & u128::from(u64::MAX)) as f64 / 18_446_744_073_709_551_616.0;
        let us = self
            .seconds
            .checked_sub(TDMS_EPOCH_TO_UNIX_SECONDS)?
            .checked_mul(1_000_000)?
            .checked_add(whole)?;
        Some((us, rest))
    }

    /// Seconds since the Unix epoch as `f64` (fraction included; precision limited by `f64`).
    pub fn unix_seconds_f64(self) -> f64 {
        (self.seconds as f64 - TDMS_EPOCH_TO_UNIX_SECONDS as f64)
            + self.fractions as f64 / 18_446_744_073_709_551_616.0
    }

    /// ISO-8601 UTC text with microseconds (rounded to nearest), e.g.
    /// `2012-07-09T23:58:24.593732Z`. Works for any representable timestamp.
    pub fn to_iso8601(self) -> String {
        let frac = self.fraction_micros_rounded();
        let total_us = (i128::from(self.seconds) - i128::from(TDMS_EPOCH_TO_UNIX_SECONDS))
            * 1_000_000
            + i128::from(frac);
        let secs = total_us.div_euclid(1_000_000);
        let micros = total_us.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let year = if (0..=9999).contains(&y) {
            format!("{y:04}")
        } else if y < 0 {
            format!("-{:04}", -y)
        } else {
            format!("+{y}")
        };
        format!(
            "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i128) -> (i128, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A complex number (real, imaginary) as stored in TDMS complex types.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Complex<T> {
    /// Real part.
    pub re: T,
    /// Imaginary part.
    pub im: T,
}

/// A property value. Integer and float widths are kept as in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// tdsTypeI8
    I8(i8),
    /// tdsTypeI16
    I16(i16),
    /// tdsTypeI32
    I32(i32),
    /// tdsTypeI64
    I64(i64),
    /// tdsTypeU8
    U8(u8),
    /// tdsTypeU16
    U16(u16),
    /// tdsTypeU32
    U32(u32),
    /// tdsTypeU64
    U64(u64),
    /// tdsTypeSingleFloat and tdsTypeSingleFloatWithUnit
    F32(f32),
    /// tdsTypeDoubleFloat and tdsTypeDoubleFloatWithUnit
    F64(f64),
    /// tdsTypeString (invalid UTF-8 is replaced with U+FFFD, as npTDMS does)
    String(String),
    /// tdsTypeBoolean (nonzero byte is true)
    Bool(bool),
    /// tdsTypeTimeStamp (raw; see [`Timestamp`] for conversions)
    Timestamp(Timestamp),
    /// tdsTypeComplexSingleFloat (npTDMS cannot read these as properties)
    ComplexF32(Complex<f32>),
    /// tdsTypeComplexDoubleFloat (npTDMS cannot read these as properties)
    ComplexF64(Complex<f64>),
}

impl PropertyValue {
    /// The TDMS data type of this value.
    pub fn data_type(&self) -> DataType {
        match self {
            PropertyValue::I8(_) => DataType::I8,
            PropertyValue::I16(_) => DataType::I16,
            PropertyValue::I32(_) => DataType::I32,
            PropertyValue::I64(_) => DataType::I64,
            PropertyValue::U8(_) => DataType::U8,
            PropertyValue::U16(_) => DataType::U16,
            PropertyValue::U32(_) => DataType::U32,
            PropertyValue::U64(_) => DataType::U64,
            PropertyValue::F32(_) => DataType::SingleFloat,
            PropertyValue::F64(_) => DataType::DoubleFloat,
            PropertyValue::String(_) => DataType::String,
            PropertyValue::Bool(_) => DataType::Boolean,
            PropertyValue::Timestamp(_) => DataType::TimeStamp,
            PropertyValue::ComplexF32(_) => DataType::ComplexSingleFloat,
            PropertyValue::ComplexF64(_) => DataType::ComplexDoubleFloat,
        }
    }

    /// Numeric value as `f64` (integers, floats and bools); `None` otherwise.
    pub fn as_f64(&self) -> Option<f64> {
        Some(match *self {
            PropertyValue::I8(v) => f64::from(v),
            PropertyValue::I16(v) => f64::from(v),
            PropertyValue::I32(v) => f64::from(v),
            PropertyValue::I64(v) => v as f64,
            PropertyValue::U8(v) => f64::from(v),
            PropertyValue::U16(v) => f64::from(v),
            PropertyValue::U32(v) => f64::from(v),
            PropertyValue::U64(v) => v as f64,
            PropertyValue::F32(v) => f64::from(v),
            PropertyValue::F64(v) => v,
            PropertyValue::Bool(v) => f64::from(u8::from(v)),
            _ => return None,
        })
    }

    /// Integer value (integers, bools, and floats with an exact integer value,
    /// like Python's `int()` on npTDMS values); `None` otherwise.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            PropertyValue::I8(v) => Some(i64::from(v)),
            PropertyValue::I16(v) => Some(i64::from(v)),
            PropertyValue::I32(v) => Some(i64::from(v)),
            PropertyValue::I64(v) => Some(v),
            PropertyValue::U8(v) => Some(i64::from(v)),
            PropertyValue::U16(v) => Some(i64::from(v)),
            PropertyValue::U32(v) => Some(i64::from(v)),
            PropertyValue::U64(v) => i64::try_from(v).ok(),
            PropertyValue::Bool(v) => Some(i64::from(v)),
            PropertyValue::F32(_) | PropertyValue::F64(_) => {
                let f = self.as_f64()?;
                let t = f.trunc();
                if t.is_finite() && t.abs() < 9.0e18 {
                    Some(t as i64)
                } else {
                    None
                }
            }
            PropertyValue::String(ref s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// String value, if this is a string property.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropertyValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Timestamp value, if this is a timestamp property.
    pub fn as_timestamp(&self) -> Option<Timestamp> {
        match self {
            PropertyValue::Timestamp(t) => Some(*t),
            _ => None,
        }
    }

    /// JSON rendering for jsonb: integers and finite floats as numbers,
    /// non-finite floats as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`,
    /// strings and bools as themselves, timestamps as ISO-8601 UTC strings with
    /// microseconds (`2012-07-09T23:58:24.593732Z`), complex as `{"re": .., "im": ..}`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        fn float(f: f64) -> Value {
            match serde_json::Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None if f.is_nan() => Value::String("NaN".into()),
                None if f > 0.0 => Value::String("Infinity".into()),
                None => Value::String("-Infinity".into()),
            }
        }
        match self {
            PropertyValue::I8(v) => Value::from(*v),
            PropertyValue::I16(v) => Value::from(*v),
            PropertyValue::I32(v) => Value::from(*v),
            PropertyValue::I64(v) => Value::from(*v),
            PropertyValue::U8(v) => Value::from(*v),
            PropertyValue::U16(v) => Value::from(*v),
            PropertyValue::U32(v) => Value::from(*v),
            PropertyValue::U64(v) => Value::from(*v),
            PropertyValue::F32(v) => float(f64::from(*v)),
            PropertyValue::F64(v) => float(*v),
            PropertyValue::String(s) => Value::String(s.clone()),
            PropertyValue::Bool(b) => Value::Bool(*b),
            PropertyValue::Timestamp(t) => Value::String(t.to_iso8601()),
            PropertyValue::ComplexF32(c) => {
                serde_json::json!({"re": float(f64::from(c.re)), "im": float(f64::from(c.im))})
            }
            PropertyValue::ComplexF64(c) => {
                serde_json::json!({"re": float(c.re), "im": float(c.im)})
            }
        }
    }
}

/// Render an ordered property list as a JSON object (later duplicates cannot occur:
/// the reader keeps one entry per name).
pub fn properties_to_json(properties: &[(String, PropertyValue)]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = properties
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_rounding_and_iso() {
        let t = Timestamp {
            seconds: TDMS_EPOCH_TO_UNIX_SECONDS,
            fractions: 1u64 << 63,
        };
        assert_eq!(t.unix_micros(), Some(500_000));
        assert_eq!(t.to_iso8601(), "1970-01-01T00:00:00.500000Z");
        let t = Timestamp {
            seconds: 0,
            fractions: u64::MAX,
        };
        // 1 - 2^-64 s rounds up to the next whole second.
        assert_eq!(
            t.unix_micros(),
            Some(-TDMS_EPOCH_TO_UNIX_SECONDS * 1_000_000 + 1_000_000)
        );
        assert_eq!(t.to_iso8601(), "1904-01-01T00:00:01.000000Z");
        let t = Timestamp {
            seconds: 3_424_723_104,
            fractions: 0,
        };
        assert_eq!(t.to_iso8601(), "2012-07-09T23:58:24.000000Z");
        let t = Timestamp {
            seconds: i64::MIN,
            fractions: 0,
        };
        assert_eq!(t.unix_micros(), None);
        assert!(t.to_iso8601().starts_with('-'));
    }

    #[test]
    fn data_type_codes_round_trip() {
        for code in [
            0u32,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
            11,
            0x19,
            0x1A,
            0x1B,
            0x20,
            0x21,
            0x44,
            0x08000C,
            0x10000D,
            0xFFFF_FFFF,
        ] {
            let t = DataType::from_code(code).expect("known code");
            assert_eq!(t.code(), code);
        }
        assert_eq!(DataType::from_code(0x4F), None);
        assert_eq!(DataType::DoubleFloat.to_string(), "tdsTypeDoubleFloat");
    }

    #[test]
    fn property_json() {
        assert_eq!(
            PropertyValue::F64(f64::NAN).to_json(),
            serde_json::json!("NaN")
        );
        assert_eq!(
            PropertyValue::U64(u64::MAX).to_json(),
            serde_json::json!(u64::MAX)
        );
        assert_eq!(PropertyValue::Bool(true).to_json(), serde_json::json!(true));
    }
}
