//! Column builders: cheap per-value appends into Arrow buffers, one builder per column.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    FixedSizeBinaryBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, StringBuilder, StringDictionaryBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, ListArray, RecordBatch};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{Field, FieldRef, SchemaRef};

use crate::error::{ExportError, Result};
use crate::pg_values::{
    parse_numeric_f64, parse_numeric_scaled, pg_date_to_unix_days, pg_timestamp_to_unix_micros,
    pow10_i128, ValueError, MICROS_PER_DAY,
};
use crate::types::{ColumnSpec, ColumnType, ExportSchema, SpecialValues, UTC};

/// Largest byte or element offset of Arrow's 32-bit offset arrays (Utf8, Binary, List).
const MAX_OFFSET: usize = i32::MAX as usize;

/// Rows reserved up front at most, whatever capacity the caller asks for.
const MAX_RESERVED_ROWS: usize = 1 << 20;

/// A value for the generic [`ColumnBuilder::push_cell`] path (used for list elements and
/// wherever a typed push is inconvenient). Units are those of the typed push methods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int2`.
    Int16(i16),
    /// `int4`.
    Int32(i32),
    /// `int8`.
    Int64(i64),
    /// `float4`.
    Float32(f32),
    /// `float8`.
    Float64(f64),
    /// Text (character types, json, enum labels, any output text).
    Text(&'a str),
    /// `bytea` bytes.
    Bytes(&'a [u8]),
    /// PostgreSQL timestamp: microseconds since 2000-01-01 (i64::MAX/MIN = ±infinity).
    TimestampPg(i64),
    /// Microseconds since 1970-01-01.
    TimestampUnixMicros(i64),
    /// PostgreSQL date: days since 2000-01-01 (i32::MAX/MIN = ±infinity).
    DatePg(i32),
    /// `time`: microseconds since midnight.
    TimeMicros(i64),
    /// `numeric` output text.
    NumericText(&'a str),
    /// Decimal already scaled to the column's scale.
    DecimalUnscaled(i128),
    /// `uuid` bytes in RFC 4122 (PostgreSQL's) order.
    Uuid([u8; 16]),
    /// A one-dimensional array's elements.
    List(&'a [Cell<'a>]),
}

/// Accumulates the values of one column for the current batch.
///
/// Every push appends exactly one row or, on error, nothing (lists: see
/// [`ColumnBuilder::push_list`]). A push whose method does not fit the column type fails
/// with [`ExportError::InvalidParameter`]; a value that cannot be represented fails with
/// [`ExportError::InvalidData`] naming the column.
#[derive(Debug)]
pub struct ColumnBuilder {
    name: Arc<str>,
    nullable: bool,
    special_values: SpecialValues,
    /// Set when a failed list push left the element builder out of step.
    poisoned: bool,
    data: ColumnData,
}

#[derive(Debug)]
enum ColumnData {
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Utf8(StringBuilder),
    Dictionary(Box<DictionaryColumn>),
    Binary(BinaryBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Date32(Date32Builder),
    Time64(Time64MicrosecondBuilder),
    Decimal(Box<DecimalColumn>),
    Uuid(FixedSizeBinaryBuilder),
    List(Box<ListColumn>),
}

/// Dictionary state kept across batches, so that every batch's dictionary extends the
/// previous one (IPC delta dictionaries, valid in both the stream and file formats).
struct DictionaryColumn {
    builder: StringDictionaryBuilder<Int32Type>,
    /// Upper bound of the dictionary's value bytes (Arrow i32 offsets).
    value_bytes: usize,
    distinct: usize,
}

impl std::fmt::Debug for DictionaryColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DictionaryColumn")
            .field("rows", &self.builder.len())
            .field("distinct", &self.distinct)
            .field("value_bytes", &self.value_bytes)
            .finish()
    }
}

#[derive(Debug)]
struct DecimalColumn {
    builder: Decimal128Builder,
    precision: u8,
    scale: u8,
    /// 10^precision: unscaled values must be strictly below in magnitude.
    limit: i128,
}

#[derive(Debug)]
struct ListColumn {
    /// End offsets of the lists pushed in this batch (the leading 0 is implicit).
    ends: Vec<i32>,
    validity: NullBufferBuilder,
    element_field: FieldRef,
    elements: ColumnBuilder,
}

/// Error for a push method that does not fit the column type.
#[cold]
fn mismatch(name: &str, data: &ColumnData, what: &str) -> ExportError {
    ExportError::InvalidParameter(format!(
        "column \"{name}\" ({}) cannot take {what}",
        data.kind()
    ))
}

#[cold]
fn value_error(name: &str, err: ValueError, what: &str) -> ExportError {
    let hint = match err {
        ValueError::Infinite | ValueError::NotANumber => {
            " (export it as NULL with SpecialValues::Null)"
        }
        _ => "",
    };
    ExportError::invalid_data(name, format!("{} in {what}{hint}", err.describe()))
}

#[cold]
fn too_large(name: &str, what: &str) -> ExportError {
    ExportError::Unsupported(format!(
        "column \"{name}\": {what} exceed Arrow's 32-bit offsets (2 GiB) in one batch; use smaller batches"
    ))
}

impl ColumnData {
    fn kind(&self) -> &'static str {
        match self {
            ColumnData::Int16(_) => "Int16",
            ColumnData::Int32(_) => "Int32",
            ColumnData::Int64(_) => "Int64",
            ColumnData::Float32(_) => "Float32",
            ColumnData::Float64(_) => "Float64",
            ColumnData::Bool(_) => "Bool",
            ColumnData::Utf8(_) => "String",
            ColumnData::Dictionary(_) => "LowCardinality(String)",
            ColumnData::Binary(_) => "binary String",
            ColumnData::Timestamp(_) => "timestamp",
            ColumnData::Date32(_) => "Date32",
            ColumnData::Time64(_) => "Time64",
            ColumnData::Decimal(_) => "Decimal",
            ColumnData::Uuid(_) => "UUID",
            ColumnData::List(_) => "Array",
        }
    }
}

/// `push_*` methods for the columns whose Arrow builder takes the value as it is: the
/// value appended to a column of that variant, any other column refused.
macro_rules! primitive_appenders {
    ($($(#[$doc:meta])* $name:ident($ty:ty) => $variant:ident, $what:literal;)*) => {
        $(
            $(#[$doc])*
            #[inline]
            pub fn $name(&mut self, value: $ty) -> Result<()> {
                match &mut self.data {
                    ColumnData::$variant(b) => {
                        b.append_value(value);
                        Ok(())
                    }
                    data => Err(mismatch(&self.name, data, $what)),
                }
            }
        )*
    };
}

impl ColumnBuilder {
    /// A builder for `spec`, reserving room for `capacity` rows (at most 2^20 are
    /// reserved; builders grow as needed).
    pub fn new(spec: &ColumnSpec, capacity: usize) -> Result<ColumnBuilder> {
        spec.ty.validate()?;
        Self::for_type(
            Arc::from(spec.name.as_str()),
            &spec.ty,
            spec.nullable,
            spec.special_values,
            capacity.min(MAX_RESERVED_ROWS),
        )
    }

    fn for_type(
        name: Arc<str>,
        ty: &ColumnType,
        nullable: bool,
        special_values: SpecialValues,
        rows: usize,
    ) -> Result<ColumnBuilder> {
        let data = match ty {
            ColumnType::Int16 => ColumnData::Int16(Int16Builder::with_capacity(rows)),
            ColumnType::Int32 => ColumnData::Int32(Int32Builder::with_capacity(rows)),
            ColumnType::Int64 => ColumnData::Int64(Int64Builder::with_capacity(rows)),
            ColumnType::Float32 => ColumnData::Float32(Float32Builder::with_capacity(rows)),
            ColumnType::Float64 => ColumnData::Float64(Float64Builder::with_capacity(rows)),
            ColumnType::Bool => ColumnData::Bool(BooleanBuilder::with_capacity(rows)),
            ColumnType::String => ColumnData::Utf8(StringBuilder::with_capacity(rows, rows * 16)),
            ColumnType::LowCardinalityString => {
                ColumnData::Dictionary(Box::new(DictionaryColumn {
                    builder: StringDictionaryBuilder::new(),
                    value_bytes: 0,
                    distinct: 0,
                }))
            }
            ColumnType::Binary => ColumnData::Binary(BinaryBuilder::with_capacity(rows, rows * 16)),
            ColumnType::Timestamp { utc, .. } => ColumnData::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows)
                    .with_timezone_opt(utc.then_some(UTC)),
            ),
            ColumnType::Date32 => ColumnData::Date32(Date32Builder::with_capacity(rows)),
            ColumnType::Time64 => ColumnData::Time64(Time64MicrosecondBuilder::with_capacity(rows)),
            ColumnType::Decimal { precision, scale } => {
                let limit = pow10_i128(u32::from(*precision)).ok_or_else(|| {
                    ExportError::InvalidParameter(format!("Decimal precision {precision}"))
                })?;
                let scale_i8 = i8::try_from(*scale)
                    .map_err(|_| ExportError::InvalidParameter(format!("Decimal scale {scale}")))?;
                ColumnData::Decimal(Box::new(DecimalColumn {
                    builder: Decimal128Builder::with_capacity(rows)
                        .with_precision_and_scale(*precision, scale_i8)?,
                    precision: *precision,
                    scale: *scale,
                    limit,
                }))
            }
            ColumnType::Uuid => ColumnData::Uuid(FixedSizeBinaryBuilder::with_capacity(rows, 16)),
            ColumnType::List {
                element,
                element_nullable,
            } => {
                let elements = Self::for_type(
                    Arc::clone(&name),
                    element,
                    *element_nullable,
                    special_values,
                    rows,
                )?;
                ColumnData::List(Box::new(ListColumn {
                    ends: Vec::with_capacity(rows),
                    validity: NullBufferBuilder::new(rows),
                    element_field: Arc::new(Field::new(
                        "item",
                        element.arrow_type(),
                        *element_nullable,
                    )),
                    elements,
                }))
            }
        };
        Ok(ColumnBuilder {
            name,
            nullable,
            special_values,
            poisoned: false,
            data,
        })
    }

    /// The column name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rows pushed since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Int16(b) => b.len(),
            ColumnData::Int32(b) => b.len(),
            ColumnData::Int64(b) => b.len(),
            ColumnData::Float32(b) => b.len(),
            ColumnData::Float64(b) => b.len(),
            ColumnData::Bool(b) => b.len(),
            ColumnData::Utf8(b) => b.len(),
            ColumnData::Dictionary(d) => d.builder.len(),
            ColumnData::Binary(b) => b.len(),
            ColumnData::Timestamp(b) => b.len(),
            ColumnData::Date32(b) => b.len(),
            ColumnData::Time64(b) => b.len(),
            ColumnData::Decimal(d) => d.builder.len(),
            ColumnData::Uuid(b) => b.len(),
            ColumnData::List(l) => l.ends.len(),
        }
    }

    /// Whether no rows were pushed since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends NULL; [`ExportError::InvalidData`] if the column is not nullable.
    pub fn push_null(&mut self) -> Result<()> {
        if !self.nullable {
            return Err(ExportError::invalid_data(
                &self.name,
                "NULL in a column declared NOT NULL",
            ));
        }
        match &mut self.data {
            ColumnData::Int16(b) => b.append_null(),
            ColumnData::Int32(b) => b.append_null(),
            ColumnData::Int64(b) => b.append_null(),
            ColumnData::Float32(b) => b.append_null(),
            ColumnData::Float64(b) => b.append_null(),
            ColumnData::Bool(b) => b.append_null(),
            ColumnData::Utf8(b) => b.append_null(),
            ColumnData::Dictionary(d) => d.builder.append_null(),
            ColumnData::Binary(b) => b.append_null(),
            ColumnData::Timestamp(b) => b.append_null(),
            ColumnData::Date32(b) => b.append_null(),
            ColumnData::Time64(b) => b.append_null(),
            ColumnData::Decimal(d) => d.builder.append_null(),
            ColumnData::Uuid(b) => b.append_null(),
            ColumnData::List(l) => {
                let end = l.ends.last().copied().unwrap_or(0);
                l.ends.push(end);
                l.validity.append_null();
            }
        }
        Ok(())
    }

    primitive_appenders! {
        /// Appends a `bool` (Bool columns).
        push_bool(bool) => Bool, "a bool";
        /// Appends an `int2` (Int16 columns).
        push_i16(i16) => Int16, "an i16";
        /// Appends an `int4` (Int32 columns).
        push_i32(i32) => Int32, "an i32";
        /// Appends an `int8` (Int64 columns).
        push_i64(i64) => Int64, "an i64";
        /// Appends a `float4` (Float32 columns); NaN and ±Infinity are kept.
        push_f32(f32) => Float32, "an f32";
        /// Appends a `float8` (Float64 columns); NaN and ±Infinity are kept.
        push_f64(f64) => Float64, "an f64";
        /// Appends microseconds since 1970-01-01 (timestamp columns).
        push_timestamp_unix_micros(i64) => Timestamp, "a timestamp";
    }

    /// Appends text (String and LowCardinality(String) columns).
    #[inline]
    pub fn push_str(&mut self, value: &str) -> Result<()> {
        match &mut self.data {
            ColumnData::Utf8(b) => {
                if b.values_slice().len() + value.len() > MAX_OFFSET {
                    return Err(too_large(&self.name, "string bytes"));
                }
                b.append_value(value);
                Ok(())
            }
            ColumnData::Dictionary(d) => {
                // Conservative: counts the bytes even if the value is already known.
                if d.value_bytes + value.len() > MAX_OFFSET {
                    return Err(too_large(&self.name, "dictionary bytes"));
                }
                let key = d.builder.append(value).map_err(|_| {
                    ExportError::Unsupported(format!(
                        "column \"{}\": more than 2^31-1 distinct LowCardinality values",
                        self.name
                    ))
                })?;
                // A new value gets the next key.
                if usize::try_from(key).is_ok_and(|k| k == d.distinct) {
                    d.distinct += 1;
                    d.value_bytes += value.len();
                }
                Ok(())
            }
            data => Err(mismatch(&self.name, data, "text")),
        }
    }

    /// Appends `bytea` bytes (binary String columns).
    #[inline]
    pub fn push_bytes(&mut self, value: &[u8]) -> Result<()> {
        match &mut self.data {
            ColumnData::Binary(b) => {
                if b.values_slice().len() + value.len() > MAX_OFFSET {
                    return Err(too_large(&self.name, "binary bytes"));
                }
                b.append_value(value);
                Ok(())
            }
            data => Err(mismatch(&self.name, data, "bytes")),
        }
    }

    /// Appends a PostgreSQL `timestamp`/`timestamptz`: microseconds since 2000-01-01
    /// (shifted to the Unix epoch). ±infinity (i64::MAX/MIN) becomes NULL with
    /// [`SpecialValues::Null`] on a nullable column and fails otherwise.
    #[inline]
    pub fn push_timestamp_pg(&mut self, pg_micros: i64) -> Result<()> {
        let ColumnData::Timestamp(b) = &mut self.data else {
            return Err(mismatch(&self.name, &self.data, "a timestamp"));
        };
        match pg_timestamp_to_unix_micros(pg_micros) {
            Ok(micros) => {
                b.append_value(micros);
                Ok(())
            }
            Err(err) => self.special_or_error(err, "a timestamp"),
        }
    }

    /// Appends a PostgreSQL `date`: days since 2000-01-01 (shifted to the Unix epoch).
    /// ±infinity (i32::MAX/MIN) is handled like timestamp infinity.
    #[inline]
    pub fn push_date_pg(&mut self, pg_days: i32) -> Result<()> {
        let ColumnData::Date32(b) = &mut self.data else {
            return Err(mismatch(&self.name, &self.data, "a date"));
        };
        match pg_date_to_unix_days(pg_days) {
            Ok(days) => {
                b.append_value(days);
                Ok(())
            }
            Err(err) => self.special_or_error(err, "a date"),
        }
    }

    /// Appends a `time`: microseconds since midnight, 0..=86 400 000 000 (Time64 columns,
    /// or Int64 columns for [`TimeRepresentation::Int64Micros`](crate::TimeRepresentation)).
    #[inline]
    pub fn push_time_us(&mut self, micros: i64) -> Result<()> {
        if !(0..=MICROS_PER_DAY).contains(&micros) {
            return Err(ExportError::invalid_data(
                &self.name,
                format!("time of day {micros} µs outside 0..=86400000000"),
            ));
        }
        match &mut self.data {
            ColumnData::Time64(b) => {
                b.append_value(micros);
                Ok(())
            }
            ColumnData::Int64(b) => {
                b.append_value(micros);
                Ok(())
            }
            data => Err(mismatch(&self.name, data, "a time")),
        }
    }

    /// Appends `numeric` output text: parsed at the column's scale for Decimal columns
    /// (rounded half away from zero; precision overflow fails; NaN/±Infinity are special
    /// values), parsed as the nearest f64 for Float64 columns (NaN/±Infinity kept), kept
    /// verbatim for String columns.
    #[inline]
    pub fn push_numeric_text(&mut self, text: &str) -> Result<()> {
        match &mut self.data {
            ColumnData::Decimal(d) => match parse_numeric_scaled(text, d.precision, d.scale) {
                Ok(unscaled) => {
                    d.builder.append_value(unscaled);
                    Ok(())
                }
                Err(err @ (ValueError::Infinite | ValueError::NotANumber)) => {
                    self.special_or_error(err, "a numeric")
                }
                Err(err) => Err(numeric_error(&self.name, err, text, d.precision, d.scale)),
            },
            ColumnData::Float64(b) => match parse_numeric_f64(text) {
                Ok(value) => {
                    b.append_value(value);
                    Ok(())
                }
                Err(err) => Err(value_error(&self.name, err, "a numeric")),
            },
            ColumnData::Utf8(_) => self.push_str(text),
            data => Err(mismatch(&self.name, data, "numeric text")),
        }
    }

    /// Appends a decimal already scaled to the column's scale (Decimal columns); fails if
    /// it has more digits than the precision.
    #[inline]
    pub fn push_decimal_unscaled(&mut self, unscaled: i128) -> Result<()> {
        match &mut self.data {
            ColumnData::Decimal(d) => {
                if unscaled.unsigned_abs() >= d.limit.unsigned_abs() {
                    return Err(ExportError::invalid_data(
                        &self.name,
                        format!(
                            "unscaled decimal {unscaled} exceeds precision {}",
                            d.precision
                        ),
                    ));
                }
                d.builder.append_value(unscaled);
                Ok(())
            }
            data => Err(mismatch(&self.name, data, "a decimal")),
        }
    }

    /// Appends a `uuid` (16 bytes in PostgreSQL's storage order, which is ClickHouse's
    /// Arrow UUID order).
    #[inline]
    pub fn push_uuid(&mut self, bytes: &[u8; 16]) -> Result<()> {
        match &mut self.data {
            ColumnData::Uuid(b) => b.append_value(bytes).map_err(ExportError::from),
            data => Err(mismatch(&self.name, data, "a uuid")),
        }
    }

    /// Appends one array value (List columns) from its elements.
    ///
    /// If an element fails, the error is returned and the builder is poisoned: the next
    /// [`finish`](Self::finish) fails, so a half-written list is never exported.
    pub fn push_list<'c, I>(&mut self, elements: I) -> Result<()>
    where
        I: IntoIterator<Item = Cell<'c>>,
    {
        let ColumnData::List(list) = &mut self.data else {
            return Err(mismatch(&self.name, &self.data, "an array"));
        };
        let mut result = Ok(());
        for element in elements {
            result = list.elements.push_cell(&element);
            if result.is_err() {
                break;
            }
        }
        let end = i32::try_from(list.elements.len());
        match (result, end) {
            (Ok(()), Ok(end)) if list.elements.len() <= MAX_OFFSET => {
                list.ends.push(end);
                list.validity.append_non_null();
                Ok(())
            }
            (Err(err), _) => {
                self.poisoned = true;
                Err(err)
            }
            _ => {
                self.poisoned = true;
                Err(too_large(&self.name, "array elements"))
            }
        }
    }

    /// Appends any value through the [`Cell`] enum, dispatching to the typed push.
    pub fn push_cell(&mut self, cell: &Cell<'_>) -> Result<()> {
        match *cell {
            Cell::Null => self.push_null(),
            Cell::Bool(v) => self.push_bool(v),
            Cell::Int16(v) => self.push_i16(v),
            Cell::Int32(v) => self.push_i32(v),
            Cell::Int64(v) => self.push_i64(v),
            Cell::Float32(v) => self.push_f32(v),
            Cell::Float64(v) => self.push_f64(v),
            Cell::Text(v) => self.push_str(v),
            Cell::Bytes(v) => self.push_bytes(v),
            Cell::TimestampPg(v) => self.push_timestamp_pg(v),
            Cell::TimestampUnixMicros(v) => self.push_timestamp_unix_micros(v),
            Cell::DatePg(v) => self.push_date_pg(v),
            Cell::TimeMicros(v) => self.push_time_us(v),
            Cell::NumericText(v) => self.push_numeric_text(v),
            Cell::DecimalUnscaled(v) => self.push_decimal_unscaled(v),
            Cell::Uuid(ref v) => self.push_uuid(v),
            Cell::List(elements) => self.push_list(elements.iter().copied()),
        }
    }

    /// NULL for a special value under [`SpecialValues::Null`] on a nullable column, else
    /// the error. Callers have checked that the column type fits.
    #[cold]
    fn special_or_error(&mut self, err: ValueError, what: &str) -> Result<()> {
        let special = matches!(err, ValueError::Infinite | ValueError::NotANumber);
        if special && self.special_values == SpecialValues::Null && self.nullable {
            return self.push_null();
        }
        Err(value_error(&self.name, err, what))
    }

    /// Builds the Arrow array of the rows pushed so far and starts the next batch.
    /// LowCardinality columns keep their dictionary (the next batch's dictionary extends
    /// this one).
    pub fn finish(&mut self) -> Result<ArrayRef> {
        if self.poisoned {
            return Err(ExportError::InvalidParameter(format!(
                "column \"{}\" was left incomplete by an earlier failed push",
                self.name
            )));
        }
        Ok(match &mut self.data {
            ColumnData::Int16(b) => Arc::new(b.finish()),
            ColumnData::Int32(b) => Arc::new(b.finish()),
            ColumnData::Int64(b) => Arc::new(b.finish()),
            ColumnData::Float32(b) => Arc::new(b.finish()),
            ColumnData::Float64(b) => Arc::new(b.finish()),
            ColumnData::Bool(b) => Arc::new(b.finish()),
            ColumnData::Utf8(b) => Arc::new(b.finish()),
            ColumnData::Dictionary(d) => Arc::new(d.builder.finish_preserve_values()),
            ColumnData::Binary(b) => Arc::new(b.finish()),
            ColumnData::Timestamp(b) => Arc::new(b.finish()),
            ColumnData::Date32(b) => Arc::new(b.finish()),
            ColumnData::Time64(b) => Arc::new(b.finish()),
            ColumnData::Decimal(d) => Arc::new(d.builder.finish()),
            ColumnData::Uuid(b) => Arc::new(b.finish()),
            ColumnData::List(list) => {
                let values = list.elements.finish()?;
                let mut offsets = Vec::with_capacity(list.ends.len() + 1);
                offsets.push(0i32);
                offsets.append(&mut list.ends);
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(ListArray::try_new(
                    Arc::clone(&list.element_field),
                    offsets,
                    values,
                    list.validity.finish(),
                )?)
            }
        })
    }
}

#[cold]
fn numeric_error(name: &str, err: ValueError, text: &str, precision: u8, scale: u8) -> ExportError {
    let shown: String = text.chars().take(64).collect();
    match err {
        ValueError::OutOfRange => ExportError::invalid_data(
            name,
            format!("numeric {shown} does not fit Decimal({precision}, {scale})"),
        ),
        _ => ExportError::invalid_data(name, format!("{}: {shown:?}", err.describe())),
    }
}

/// The column builders of one export; reuse the same `BatchBuilder` for every batch of
/// a writer (LowCardinality dictionaries continue across batches).
#[derive(Debug)]
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
}

impl BatchBuilder {
    /// Builders for every column of `schema`, reserving `capacity` rows (at most 2^20).
    pub fn new(schema: &ExportSchema, capacity: usize) -> Result<BatchBuilder> {
        let columns = schema
            .columns()
            .iter()
            .map(|spec| ColumnBuilder::new(spec, capacity))
            .collect::<Result<Vec<_>>>()?;
        Ok(BatchBuilder {
            schema: Arc::clone(schema.arrow_schema()),
            columns,
        })
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The column builders, in schema order: push one value into each per row.
    pub fn columns_mut(&mut self) -> &mut [ColumnBuilder] {
        &mut self.columns
    }

    /// The builder of column `index`.
    pub fn column_mut(&mut self, index: usize) -> Option<&mut ColumnBuilder> {
        self.columns.get_mut(index)
    }

    /// Rows pushed in the current batch (those of the first column).
    pub fn num_rows(&self) -> usize {
        self.columns.first().map_or(0, ColumnBuilder::len)
    }

    /// Builds the record batch of the rows pushed so far and starts the next batch.
    /// Fails with [`ExportError::InvalidParameter`] if the columns have different lengths.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let rows = self.num_rows();
        if let Some(column) = self.columns.iter().find(|c| c.len() != rows) {
            return Err(ExportError::InvalidParameter(format!(
                "column \"{}\" has {} values but the batch has {rows} rows",
                column.name(),
                column.len()
            )));
        }
        let arrays = self
            .columns
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), arrays)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ColumnOptions, PgType, TimestampDdl};
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Decimal128Type, Float64Type, Int64Type, Time64MicrosecondType,
        TimestampMicrosecondType,
    };
    use arrow_array::Array;

    fn builder(ty: ColumnType, nullable: bool) -> ColumnBuilder {
        ColumnBuilder::new(&ColumnSpec::new("c", ty, nullable), 4).unwrap()
    }

    fn is_invalid_data(result: Result<()>) -> bool {
        matches!(result, Err(ExportError::InvalidData { ref column, .. }) if column == "c")
    }

    #[test]
    fn timestamps_are_shifted_and_typed() {
        let mut b = builder(
            ColumnType::Timestamp {
                utc: true,
                ddl: TimestampDdl::DateTime64,
            },
            true,
        );
        b.push_timestamp_pg(0).unwrap();
        b.push_timestamp_pg(-1).unwrap();
        b.push_null().unwrap();
        b.push_timestamp_unix_micros(5).unwrap();
        let array = b.finish().unwrap();
        assert_eq!(
            array.data_type(),
            &arrow_schema::DataType::Timestamp(
                arrow_schema::TimeUnit::Microsecond,
                Some("UTC".into())
            )
        );
        let values = array.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(values.len(), 4);
        assert_eq!(values.value(0), 946_684_800_000_000);
        assert_eq!(values.value(1), 946_684_799_999_999);
        assert!(values.is_null(2));
        assert_eq!(values.value(3), 5);
        assert!(b.is_empty());
    }

    #[test]
    fn infinity_fails_or_becomes_null() {
        let ts = ColumnType::Timestamp {
            utc: false,
            ddl: TimestampDdl::DateTime64,
        };
        let mut strict = builder(ts.clone(), true);
        assert!(is_invalid_data(strict.push_timestamp_pg(i64::MAX)));
        assert!(is_invalid_data(strict.push_timestamp_pg(i64::MIN)));
        assert_eq!(strict.len(), 0);
        let err = strict.push_timestamp_pg(i64::MAX).unwrap_err().to_string();
        assert!(err.contains("\"c\"") && err.contains("infinite"), "{err}");

        let options = ColumnOptions {
            special_values: SpecialValues::Null,
            ..ColumnOptions::default()
        };
        let spec = ColumnSpec::from_pg("c", &PgType::Date, false, &options).unwrap();
        let mut lenient = ColumnBuilder::new(&spec, 0).unwrap();
        lenient.push_date_pg(i32::MAX).unwrap();
        lenient.push_date_pg(i32::MIN).unwrap();
        lenient.push_date_pg(1).unwrap();
        let array = lenient.finish().unwrap();
        let days = array.as_primitive::<Date32Type>();
        assert_eq!(days.len(), 3);
        assert!(days.is_null(0) && days.is_null(1));
        assert_eq!(days.value(2), 10_958);

        // Out-of-range (not infinity) is always an error.
        let mut lenient_ts = ColumnBuilder::new(
            &ColumnSpec::from_pg("c", &PgType::Timestamp, true, &options).unwrap(),
            0,
        )
        .unwrap();
        assert!(is_invalid_data(lenient_ts.push_timestamp_pg(i64::MAX - 1)));
        lenient_ts.push_timestamp_pg(i64::MAX).unwrap();
        assert_eq!(lenient_ts.len(), 1);
    }

    #[test]
    fn null_in_not_null_column_fails() {
        let mut b = builder(ColumnType::Int64, false);
        assert!(is_invalid_data(b.push_null()));
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn wrong_push_method_is_invalid_parameter() {
        let mut b = builder(ColumnType::Int64, true);
        assert!(matches!(
            b.push_i32(1),
            Err(ExportError::InvalidParameter(_))
        ));
        assert!(matches!(
            b.push_str("x"),
            Err(ExportError::InvalidParameter(_))
        ));
        assert!(matches!(
            b.push_timestamp_pg(i64::MAX),
            Err(ExportError::InvalidParameter(_))
        ));
        assert!(matches!(
            b.push_date_pg(i32::MAX),
            Err(ExportError::InvalidParameter(_))
        ));
        assert!(matches!(
            b.push_list([Cell::Int64(1)]),
            Err(ExportError::InvalidParameter(_))
        ));
        assert_eq!(b.len(), 0);
        let mut s = builder(ColumnType::String, true);
        assert!(matches!(
            s.push_bytes(b"x"),
            Err(ExportError::InvalidParameter(_))
        ));
    }

    #[test]
    fn decimals_from_text() {
        let mut b = builder(
            ColumnType::Decimal {
                precision: 5,
                scale: 2,
            },
            true,
        );
        b.push_numeric_text("-12.3400").unwrap();
        b.push_numeric_text("999.994").unwrap();
        b.push_decimal_unscaled(-99_999).unwrap();
        let err = b.push_numeric_text("999.995").unwrap_err().to_string();
        assert!(
            err.contains("Decimal(5, 2)") && err.contains("\"c\""),
            "{err}"
        );
        assert!(is_invalid_data(b.push_numeric_text("NaN")));
        assert!(is_invalid_data(b.push_numeric_text("-Infinity")));
        assert!(is_invalid_data(b.push_numeric_text("1,5")));
        assert!(is_invalid_data(b.push_decimal_unscaled(100_000)));
        let array = b.finish().unwrap();
        let values = array.as_primitive::<Decimal128Type>();
        assert_eq!(values.precision(), 5);
        assert_eq!(values.scale(), 2);
        assert_eq!(values.values().to_vec(), vec![-1234, 99_999, -99_999]);

        let options = ColumnOptions {
            special_values: SpecialValues::Null,
            ..ColumnOptions::default()
        };
        let spec =
            ColumnSpec::from_pg("c", &PgType::Numeric { typmod: None }, false, &options).unwrap();
        let mut lenient = ColumnBuilder::new(&spec, 0).unwrap();
        lenient.push_numeric_text("NaN").unwrap();
        lenient.push_numeric_text("Infinity").unwrap();
        lenient.push_numeric_text("1.0000000005").unwrap();
        assert!(is_invalid_data(lenient.push_numeric_text("1e30")));
        let array = lenient.finish().unwrap();
        let values = array.as_primitive::<Decimal128Type>();
        assert_eq!(values.len(), 3);
        assert_eq!(values.null_count(), 2);
        assert_eq!(values.value(2), 1_000_000_001);
    }

    #[test]
    fn numeric_as_float_and_text() {
        let mut f = builder(ColumnType::Float64, false);
        for text in ["NaN", "Infinity", "-Infinity", "-12.3400"] {
            f.push_numeric_text(text).unwrap();
        }
        assert!(is_invalid_data(f.push_numeric_text("twelve")));
        let array = f.finish().unwrap();
        let values = array.as_primitive::<Float64Type>();
        assert_eq!(values.len(), 4);
        assert!(values.value(0).is_nan());
        assert_eq!(values.value(1), f64::INFINITY);
        assert_eq!(values.value(2), f64::NEG_INFINITY);
        assert_eq!(values.value(3), -12.34);

        let mut s = builder(ColumnType::String, false);
        s.push_numeric_text("NaN").unwrap();
        s.push_numeric_text("-12.3400").unwrap();
        let array = s.finish().unwrap();
        let values = array.as_string::<i32>();
        assert_eq!(
            values.iter().collect::<Vec<_>>(),
            vec![Some("NaN"), Some("-12.3400")]
        );
    }

    #[test]
    fn time_values() {
        let mut t = builder(ColumnType::Time64, false);
        t.push_time_us(0).unwrap();
        t.push_time_us(86_400_000_000).unwrap();
        assert!(is_invalid_data(t.push_time_us(-1)));
        assert!(is_invalid_data(t.push_time_us(86_400_000_001)));
        let array = t.finish().unwrap();
        assert_eq!(
            array
                .as_primitive::<Time64MicrosecondType>()
                .values()
                .to_vec(),
            vec![0, 86_400_000_000]
        );
        let mut i = builder(ColumnType::Int64, false);
        i.push_time_us(3_723_000_004).unwrap();
        let array = i.finish().unwrap();
        assert_eq!(array.as_primitive::<Int64Type>().value(0), 3_723_000_004);
    }

    #[test]
    fn dictionary_grows_across_batches() {
        let mut b = builder(ColumnType::LowCardinalityString, true);
        b.push_str("a").unwrap();
        b.push_str("b").unwrap();
        b.push_str("a").unwrap();
        let first = b.finish().unwrap();
        b.push_str("c").unwrap();
        b.push_null().unwrap();
        b.push_str("a").unwrap();
        let second = b.finish().unwrap();
        let first = first.as_dictionary::<Int32Type>();
        let second = second.as_dictionary::<Int32Type>();
        assert_eq!(first.keys().values().to_vec(), vec![0, 1, 0]);
        assert_eq!(first.values().len(), 2);
        assert_eq!(second.values().len(), 3);
        assert_eq!(second.keys().value(0), 2);
        assert!(second.is_null(1));
        assert_eq!(second.keys().value(2), 0);
        let values = second.values().as_string::<i32>();
        assert_eq!(
            values.iter().collect::<Vec<_>>(),
            vec![Some("a"), Some("b"), Some("c")]
        );
    }

    #[test]
    fn lists_with_nulls() {
        let ty = ColumnType::List {
            element: Box::new(ColumnType::Int32),
            element_nullable: true,
        };
        let mut b = builder(ty, true);
        b.push_list([Cell::Int32(1), Cell::Null, Cell::Int32(3)])
            .unwrap();
        b.push_null().unwrap();
        b.push_cell(&Cell::List(&[])).unwrap();
        b.push_cell(&Cell::List(&[Cell::Int32(4)])).unwrap();
        assert_eq!(b.len(), 4);
        let array = b.finish().unwrap();
        let list = array.as_list::<i32>();
        assert_eq!(list.len(), 4);
        assert_eq!(list.value_offsets(), &[0, 3, 3, 3, 4]);
        assert!(list.is_null(1));
        assert!(list.is_valid(2));
        let values = list
            .values()
            .as_primitive::<arrow_array::types::Int32Type>();
        assert_eq!(values.len(), 4);
        assert!(values.is_null(1));
        assert_eq!(values.value(3), 4);
    }

    #[test]
    fn failed_list_poisons_the_builder() {
        let ty = ColumnType::List {
            element: Box::new(ColumnType::Int32),
            element_nullable: false,
        };
        let mut b = builder(ty, true);
        b.push_list([Cell::Int32(1)]).unwrap();
        assert!(matches!(
            b.push_list([Cell::Int32(2), Cell::Null]),
            Err(ExportError::InvalidData { .. })
        ));
        assert!(matches!(b.finish(), Err(ExportError::InvalidParameter(_))));
        assert!(matches!(
            b.push_list([Cell::Text("x")]),
            Err(ExportError::InvalidParameter(_))
        ));
    }

    #[test]
    fn cells_dispatch_to_typed_pushes() {
        let cases: Vec<(ColumnType, Cell<'static>)> = vec![
            (ColumnType::Bool, Cell::Bool(true)),
            (ColumnType::Int16, Cell::Int16(-3)),
            (ColumnType::Int32, Cell::Int32(7)),
            (ColumnType::Int64, Cell::Int64(1 << 40)),
            (ColumnType::Float32, Cell::Float32(f32::NAN)),
            (ColumnType::Float64, Cell::Float64(-0.5)),
            (ColumnType::String, Cell::Text("é")),
            (ColumnType::LowCardinalityString, Cell::Text("x")),
            (ColumnType::Binary, Cell::Bytes(&[0xff, 0])),
            (
                ColumnType::Timestamp {
                    utc: true,
                    ddl: TimestampDdl::DateTime,
                },
                Cell::TimestampPg(1),
            ),
            (ColumnType::Date32, Cell::DatePg(-1)),
            (ColumnType::Time64, Cell::TimeMicros(1)),
            (
                ColumnType::Decimal {
                    precision: 3,
                    scale: 1,
                },
                Cell::NumericText("1.25"),
            ),
            (ColumnType::Uuid, Cell::Uuid([7; 16])),
        ];
        for (ty, cell) in cases {
            let mut b = builder(ty.clone(), true);
            b.push_cell(&cell).unwrap();
            b.push_cell(&Cell::Null).unwrap();
            let array = b.finish().unwrap();
            assert_eq!(array.len(), 2, "{ty:?}");
            assert_eq!(array.null_count(), 1, "{ty:?}");
            assert_eq!(array.data_type(), &ty.arrow_type(), "{ty:?}");
        }
    }

    #[test]
    fn batch_builder_checks_lengths() {
        let schema = ExportSchema::new(vec![
            ColumnSpec::new("a", ColumnType::Int32, false),
            ColumnSpec::new("b", ColumnType::String, true),
        ])
        .unwrap();
        let mut batch = BatchBuilder::new(&schema, 8).unwrap();
        let columns = batch.columns_mut();
        columns[0].push_i32(1).unwrap();
        columns[1].push_str("x").unwrap();
        columns[0].push_i32(2).unwrap();
        assert!(matches!(
            batch.finish(),
            Err(ExportError::InvalidParameter(_))
        ));
        batch.column_mut(1).unwrap().push_null().unwrap();
        let record_batch = batch.finish().unwrap();
        assert_eq!(record_batch.num_rows(), 2);
        assert_eq!(batch.num_rows(), 0);
        assert!(batch.column_mut(2).is_none());
    }
}
