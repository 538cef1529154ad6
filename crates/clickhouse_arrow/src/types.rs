//! The type model: PostgreSQL source types, export column types, their Arrow data types
//! and ClickHouse type names.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{ExportError, Result};

/// Largest Decimal128 precision.
pub const MAX_DECIMAL128_PRECISION: u8 = 38;

/// Precision and scale used for unconstrained `numeric` in its Decimal export.
pub const UNCONSTRAINED_NUMERIC_DECIMAL: (u8, u8) = (38, 9);

/// Time zone name written into Arrow timestamps of `timestamptz` columns.
pub const UTC: &str = "UTC";

/// A PostgreSQL column type, as the SQL glue classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgType {
    /// `int2` / `smallint`.
    Int2,
    /// `int4` / `integer`.
    Int4,
    /// `int8` / `bigint`.
    Int8,
    /// `float4` / `real`.
    Float4,
    /// `float8` / `double precision`.
    Float8,
    /// `bool`.
    Bool,
    /// `text`, `varchar`, `name`, `bpchar` (character types).
    Text,
    /// `bytea`.
    Bytea,
    /// `timestamptz`.
    Timestamptz,
    /// `timestamp` (without time zone).
    Timestamp,
    /// `date`.
    Date,
    /// `time` (without time zone).
    Time,
    /// `numeric`; `typmod` is `None` for unconstrained numeric.
    Numeric {
        /// Declared precision and scale, see [`NumericTypmod::from_pg_typmod`].
        typmod: Option<NumericTypmod>,
    },
    /// `uuid`.
    Uuid,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
    /// Any enum type (values are the labels).
    Enum,
    /// A one-dimensional array of the element type.
    Array(Box<PgType>),
    /// Any other type, exported as its output text.
    Other,
}

/// Declared precision and scale of a `numeric(p, s)` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumericTypmod {
    /// Total number of significant digits (PostgreSQL allows 1..=1000).
    pub precision: u16,
    /// Digits after the decimal point (PostgreSQL 15+ allows -1000..=1000).
    pub scale: i16,
}

impl NumericTypmod {
    /// Decodes PostgreSQL's `atttypmod` of a numeric column; `None` for unconstrained
    /// numeric (typmod below `VARHDRSZ`, usually -1).
    ///
    /// Layout (PostgreSQL 15+, compatible with earlier versions):
    /// `typmod = ((precision << 16) | (scale & 0x7ff)) + VARHDRSZ`, scale an 11-bit
    /// two's complement value.
    pub fn from_pg_typmod(typmod: i32) -> Option<NumericTypmod> {
        const VARHDRSZ: i32 = 4;
        if typmod < VARHDRSZ {
            return None;
        }
        let raw = typmod - VARHDRSZ;
        let precision = u16::try_from((raw >> 16) & 0xffff).ok()?;
        let scale = i16::try_from(((raw & 0x7ff) ^ 1024) - 1024).ok()?;
        Some(NumericTypmod { precision, scale })
    }
}

/// How unconstrained `numeric` (and `numeric(p, s)` that Decimal128 cannot hold) is
/// exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnconstrainedNumeric {
    /// Decimal128(38, 9) / `Decimal(38, 9)`: rounded half away from zero to 9 decimals;
    /// values of 30 or more integer digits fail.
    #[default]
    Decimal38_9,
    /// Float64 / `Float64`: nearest double; NaN and ±Infinity are kept.
    Float64,
    /// Utf8 / `String`: the exact numeric text.
    Text,
}

/// How a timestamp column is declared in ClickHouse DDL (the Arrow data is always
/// microsecond timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampDdl {
    /// `DateTime64(6, 'UTC')` for `timestamptz`, `DateTime64(6)` for `timestamp`.
    #[default]
    DateTime64,
    /// `DateTime` (second precision, no time zone in the DDL): ClickHouse truncates the
    /// microsecond Arrow timestamps to seconds on ingestion (verified with chdb 4.4).
    DateTime,
}

/// How `time` is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeRepresentation {
    /// Arrow Time64(µs) / ClickHouse `Time64(6)` (ClickHouse 25.6+; older servers
    /// need `enable_time_time64_type`, or have no Time64 at all).
    #[default]
    Time64,
    /// Arrow Int64 / ClickHouse `Int64`: microseconds since midnight. Time64 Arrow data
    /// cannot be used for an Int64 column: ClickHouse casts it to whole seconds.
    Int64Micros,
}

/// What to do with values that have no representation in the target type:
/// `±infinity` timestamps and dates, `NaN`/`±Infinity` numerics exported as Decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecialValues {
    /// Fail with [`ExportError::InvalidData`] naming the column.
    #[default]
    Error,
    /// Export them as NULL (the column becomes nullable).
    Null,
}

/// Per-column export choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnOptions {
    /// Character types (`PgType::Text`) as LowCardinality(String) (Arrow
    /// Dictionary(Int32, Utf8)) instead of String (default false). Also makes enums
    /// LowCardinality. Inside arrays, elements stay plain String.
    pub low_cardinality: bool,
    /// Enums as LowCardinality(String) (default true); when false (and
    /// `low_cardinality` is false) enums are String.
    pub enum_low_cardinality: bool,
    /// Export of unconstrained numeric.
    pub unconstrained_numeric: UnconstrainedNumeric,
    /// DDL type of timestamp columns.
    pub timestamp_ddl: TimestampDdl,
    /// Export of `time`.
    pub time: TimeRepresentation,
    /// Handling of ±infinity / NaN.
    pub special_values: SpecialValues,
    /// Whether array elements may be NULL (`Array(Nullable(T))`); default true since
    /// any PostgreSQL array may hold NULLs.
    pub array_elements_nullable: bool,
}

impl Default for ColumnOptions {
    fn default() -> Self {
        ColumnOptions {
            low_cardinality: false,
            enum_low_cardinality: true,
            unconstrained_numeric: UnconstrainedNumeric::default(),
            timestamp_ddl: TimestampDdl::default(),
            time: TimeRepresentation::default(),
            special_values: SpecialValues::default(),
            array_elements_nullable: true,
        }
    }
}

/// The exported type of a column: determines the Arrow data type, the ClickHouse type
/// and which push methods the column's builder accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// Arrow Int16 / `Int16`.
    Int16,
    /// Arrow Int32 / `Int32`.
    Int32,
    /// Arrow Int64 / `Int64`.
    Int64,
    /// Arrow Float32 / `Float32`.
    Float32,
    /// Arrow Float64 / `Float64`.
    Float64,
    /// Arrow Boolean / `Bool`.
    Bool,
    /// Arrow Utf8 / `String`.
    String,
    /// Arrow Dictionary(Int32, Utf8) / `LowCardinality(String)`.
    LowCardinalityString,
    /// Arrow Binary / `String`.
    Binary,
    /// Arrow Timestamp(µs, "UTC" when `utc`) / per [`TimestampDdl`].
    Timestamp {
        /// `timestamptz` (true) or `timestamp` (false).
        utc: bool,
        /// ClickHouse declaration.
        ddl: TimestampDdl,
    },
    /// Arrow Date32 / `Date32`.
    Date32,
    /// Arrow Time64(µs) / `Time64(6)`.
    Time64,
    /// Arrow Decimal128(p, s) / `Decimal(p, s)`, 1 <= p <= 38, s <= p.
    Decimal {
        /// Precision.
        precision: u8,
        /// Scale.
        scale: u8,
    },
    /// Arrow FixedSizeBinary(16) / `UUID`.
    Uuid,
    /// Arrow List / `Array(T)`; the element type is never a list or LowCardinality.
    List {
        /// Element type.
        element: Box<ColumnType>,
        /// Whether elements may be NULL.
        element_nullable: bool,
    },
}

impl ColumnType {
    /// Maps a PostgreSQL type with the given options (see the crate docs for the table).
    pub fn from_pg(pg: &PgType, options: &ColumnOptions) -> Result<ColumnType> {
        Ok(match pg {
            PgType::Int2 => ColumnType::Int16,
            PgType::Int4 => ColumnType::Int32,
            PgType::Int8 => ColumnType::Int64,
            PgType::Float4 => ColumnType::Float32,
            PgType::Float8 => ColumnType::Float64,
            PgType::Bool => ColumnType::Bool,
            PgType::Text if options.low_cardinality => ColumnType::LowCardinalityString,
            PgType::Enum if options.low_cardinality || options.enum_low_cardinality => {
                ColumnType::LowCardinalityString
            }
            PgType::Text | PgType::Enum | PgType::Json | PgType::Jsonb | PgType::Other => {
                ColumnType::String
            }
            PgType::Bytea => ColumnType::Binary,
            PgType::Timestamptz => ColumnType::Timestamp {
                utc: true,
                ddl: options.timestamp_ddl,
            },
            PgType::Timestamp => ColumnType::Timestamp {
                utc: false,
                ddl: options.timestamp_ddl,
            },
            PgType::Date => ColumnType::Date32,
            PgType::Time => match options.time {
                TimeRepresentation::Time64 => ColumnType::Time64,
                TimeRepresentation::Int64Micros => ColumnType::Int64,
            },
            PgType::Numeric { typmod } => numeric_type(*typmod, options.unconstrained_numeric),
            PgType::Uuid => ColumnType::Uuid,
            PgType::Array(element) => {
                if matches!(**element, PgType::Array(_)) {
                    return Err(ExportError::Unsupported(
                        "arrays of arrays (ClickHouse nested arrays) are not exported".into(),
                    ));
                }
                let element = match ColumnType::from_pg(element, options)? {
                    // Dictionaries nested in lists are avoided: plain String elements.
                    ColumnType::LowCardinalityString => ColumnType::String,
                    other => other,
                };
                ColumnType::List {
                    element: Box::new(element),
                    element_nullable: options.array_elements_nullable,
                }
            }
        })
    }

    /// The Arrow data type of this column type.
    pub fn arrow_type(&self) -> DataType {
        match self {
            ColumnType::Int16 => DataType::Int16,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::String => DataType::Utf8,
            ColumnType::LowCardinalityString => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
            ColumnType::Binary => DataType::Binary,
            ColumnType::Timestamp { utc, .. } => {
                DataType::Timestamp(TimeUnit::Microsecond, utc.then(|| Arc::<str>::from(UTC)))
            }
            ColumnType::Date32 => DataType::Date32,
            ColumnType::Time64 => DataType::Time64(TimeUnit::Microsecond),
            ColumnType::Decimal { precision, scale } => {
                // Scales are validated to fit i8 by `validate`.
                DataType::Decimal128(*precision, i8::try_from(*scale).unwrap_or(i8::MAX))
            }
            ColumnType::Uuid => DataType::FixedSizeBinary(16),
            ColumnType::List {
                element,
                element_nullable,
            } => DataType::List(Arc::new(Field::new(
                "item",
                element.arrow_type(),
                *element_nullable,
            ))),
        }
    }

    /// The ClickHouse type name, without `Nullable`.
    pub fn clickhouse_type(&self) -> String {
        match self {
            ColumnType::Int16 => "Int16".into(),
            ColumnType::Int32 => "Int32".into(),
            ColumnType::Int64 => "Int64".into(),
            ColumnType::Float32 => "Float32".into(),
            ColumnType::Float64 => "Float64".into(),
            ColumnType::Bool => "Bool".into(),
            ColumnType::String | ColumnType::Binary => "String".into(),
            ColumnType::LowCardinalityString => "LowCardinality(String)".into(),
            ColumnType::Timestamp { utc, ddl } => match (ddl, utc) {
                (TimestampDdl::DateTime64, true) => "DateTime64(6, 'UTC')".into(),
                (TimestampDdl::DateTime64, false) => "DateTime64(6)".into(),
                (TimestampDdl::DateTime, _) => "DateTime".into(),
            },
            ColumnType::Date32 => "Date32".into(),
            ColumnType::Time64 => "Time64(6)".into(),
            ColumnType::Decimal { precision, scale } => format!("Decimal({precision}, {scale})"),
            ColumnType::Uuid => "UUID".into(),
            ColumnType::List {
                element,
                element_nullable,
            } => format!(
                "Array({})",
                clickhouse_column_type(element, *element_nullable)
            ),
        }
    }

    /// Checks the invariants that the constructors of `ColumnType` values by hand may
    /// break: decimal precision/scale, list element types.
    pub fn validate(&self) -> Result<()> {
        match self {
            ColumnType::Decimal { precision, scale } => {
                if !(1..=MAX_DECIMAL128_PRECISION).contains(precision) || scale > precision {
                    return Err(ExportError::InvalidParameter(format!(
                        "Decimal({precision}, {scale}) needs 1 <= precision <= 38 and scale <= precision"
                    )));
                }
                Ok(())
            }
            ColumnType::List { element, .. } => match **element {
                ColumnType::List { .. } => Err(ExportError::Unsupported(
                    "lists of lists are not exported".into(),
                )),
                ColumnType::LowCardinalityString => Err(ExportError::Unsupported(
                    "LowCardinality list elements are not exported; use String".into(),
                )),
                _ => element.validate(),
            },
            _ => Ok(()),
        }
    }

    /// Whether values of this type can be `±infinity`/`NaN` that [`SpecialValues::Null`]
    /// turns into NULL.
    fn has_special_values(&self) -> bool {
        matches!(
            self,
            ColumnType::Timestamp { .. } | ColumnType::Date32 | ColumnType::Decimal { .. }
        )
    }
}

/// The ClickHouse type of a column with its nullability: `Nullable(T)`,
/// `LowCardinality(Nullable(String))` for nullable LowCardinality, and `Array(T)` for
/// lists whatever `nullable` says (ClickHouse has no `Nullable(Array(...))`; NULL arrays
/// arrive as empty arrays).
pub fn clickhouse_column_type(ty: &ColumnType, nullable: bool) -> String {
    match ty {
        ColumnType::List { .. } => ty.clickhouse_type(),
        ColumnType::LowCardinalityString if nullable => "LowCardinality(Nullable(String))".into(),
        _ if nullable => format!("Nullable({})", ty.clickhouse_type()),
        _ => ty.clickhouse_type(),
    }
}

fn numeric_type(typmod: Option<NumericTypmod>, unconstrained: UnconstrainedNumeric) -> ColumnType {
    if let Some(NumericTypmod { precision, scale }) = typmod {
        if let (Ok(precision), Ok(scale)) = (u8::try_from(precision), u8::try_from(scale)) {
            if (1..=MAX_DECIMAL128_PRECISION).contains(&precision) && scale <= precision {
                return ColumnType::Decimal { precision, scale };
            }
        }
        // numeric(p, s) that Decimal128 cannot hold: exact text (Float64/Decimal(38, 9)
        // would lose digits or overflow for values the column accepts).
        return ColumnType::String;
    }
    match unconstrained {
        UnconstrainedNumeric::Decimal38_9 => ColumnType::Decimal {
            precision: UNCONSTRAINED_NUMERIC_DECIMAL.0,
            scale: UNCONSTRAINED_NUMERIC_DECIMAL.1,
        },
        UnconstrainedNumeric::Float64 => ColumnType::Float64,
        UnconstrainedNumeric::Text => ColumnType::String,
    }
}

/// One exported column: name, type, nullability and special-value handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name (Arrow field name and ClickHouse column name).
    pub name: String,
    /// Exported type.
    pub ty: ColumnType,
    /// Whether the column may hold NULLs (Arrow field nullability, `Nullable(T)`).
    pub nullable: bool,
    /// Handling of ±infinity / NaN in timestamp, date and decimal columns.
    pub special_values: SpecialValues,
}

impl ColumnSpec {
    /// A column of the given export type with `SpecialValues::Error`.
    pub fn new(name: impl Into<String>, ty: ColumnType, nullable: bool) -> ColumnSpec {
        ColumnSpec {
            name: name.into(),
            ty,
            nullable,
            special_values: SpecialValues::Error,
        }
    }

    /// Maps a PostgreSQL column. With [`SpecialValues::Null`], timestamp, date and
    /// decimal columns become nullable whatever `nullable` says, since ±infinity/NaN
    /// turn into NULLs.
    pub fn from_pg(
        name: impl Into<String>,
        pg: &PgType,
        nullable: bool,
        options: &ColumnOptions,
    ) -> Result<ColumnSpec> {
        let ty = ColumnType::from_pg(pg, options)?;
        let forced = options.special_values == SpecialValues::Null && ty.has_special_values();
        Ok(ColumnSpec {
            name: name.into(),
            ty,
            nullable: nullable || forced,
            special_values: options.special_values,
        })
    }

    /// The Arrow field of this column.
    pub fn arrow_field(&self) -> Field {
        Field::new(self.name.clone(), self.ty.arrow_type(), self.nullable)
    }

    /// The ClickHouse type of this column, including `Nullable`.
    pub fn clickhouse_type(&self) -> String {
        clickhouse_column_type(&self.ty, self.nullable)
    }
}

/// The columns of an export with their Arrow schema.
#[derive(Debug, Clone)]
pub struct ExportSchema {
    columns: Vec<ColumnSpec>,
    arrow: SchemaRef,
}

impl ExportSchema {
    /// Validates the columns (at least one, types valid) and builds the Arrow schema.
    pub fn new(columns: Vec<ColumnSpec>) -> Result<ExportSchema> {
        if columns.is_empty() {
            return Err(ExportError::InvalidParameter(
                "an export needs at least one column".into(),
            ));
        }
        for column in &columns {
            column.ty.validate()?;
        }
        let fields: Vec<Field> = columns.iter().map(ColumnSpec::arrow_field).collect();
        Ok(ExportSchema {
            columns,
            arrow: Arc::new(Schema::new(fields)),
        })
    }

    /// The column specifications, in order.
    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// The Arrow schema.
    pub fn arrow_schema(&self) -> &SchemaRef {
        &self.arrow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pg: PgType) -> ColumnType {
        ColumnType::from_pg(&pg, &ColumnOptions::default()).unwrap_or(ColumnType::Bool)
    }

    fn check(pg: PgType, options: &ColumnOptions, arrow: DataType, clickhouse: &str) {
        let ty = ColumnType::from_pg(&pg, options);
        assert!(ty.is_ok(), "{pg:?}: {ty:?}");
        let ty = ty.unwrap_or(ColumnType::Bool);
        assert_eq!(ty.arrow_type(), arrow, "{pg:?}");
        assert_eq!(ty.clickhouse_type(), clickhouse, "{pg:?}");
        assert!(ty.validate().is_ok(), "{pg:?}");
    }

    #[test]
    fn default_mappings() {
        let o = ColumnOptions::default();
        check(PgType::Int2, &o, DataType::Int16, "Int16");
        check(PgType::Int4, &o, DataType::Int32, "Int32");
        check(PgType::Int8, &o, DataType::Int64, "Int64");
        check(PgType::Float4, &o, DataType::Float32, "Float32");
        check(PgType::Float8, &o, DataType::Float64, "Float64");
        check(PgType::Bool, &o, DataType::Boolean, "Bool");
        check(PgType::Text, &o, DataType::Utf8, "String");
        check(PgType::Bytea, &o, DataType::Binary, "String");
        check(
            PgType::Timestamptz,
            &o,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "DateTime64(6, 'UTC')",
        );
        check(
            PgType::Timestamp,
            &o,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            "DateTime64(6)",
        );
        check(PgType::Date, &o, DataType::Date32, "Date32");
        check(
            PgType::Time,
            &o,
            DataType::Time64(TimeUnit::Microsecond),
            "Time64(6)",
        );
        check(
            PgType::Numeric {
                typmod: Some(NumericTypmod {
                    precision: 10,
                    scale: 4,
                }),
            },
            &o,
            DataType::Decimal128(10, 4),
            "Decimal(10, 4)",
        );
        check(
            PgType::Numeric { typmod: None },
            &o,
            DataType::Decimal128(38, 9),
            "Decimal(38, 9)",
        );
        check(PgType::Uuid, &o, DataType::FixedSizeBinary(16), "UUID");
        check(PgType::Json, &o, DataType::Utf8, "String");
        check(PgType::Jsonb, &o, DataType::Utf8, "String");
        check(PgType::Other, &o, DataType::Utf8, "String");
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        check(PgType::Enum, &o, dict.clone(), "LowCardinality(String)");
        check(
            PgType::Array(Box::new(PgType::Int4)),
            &o,
            DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
            "Array(Nullable(Int32))",
        );
        check(
            PgType::Array(Box::new(PgType::Timestamptz)),
            &o,
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ))),
            "Array(Nullable(DateTime64(6, 'UTC')))",
        );
    }

    #[test]
    fn optional_mappings() {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let lc = ColumnOptions {
            low_cardinality: true,
            ..ColumnOptions::default()
        };
        check(PgType::Text, &lc, dict, "LowCardinality(String)");
        // Dictionaries are not nested into lists.
        check(
            PgType::Array(Box::new(PgType::Text)),
            &lc,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            "Array(Nullable(String))",
        );
        let no_enum_lc = ColumnOptions {
            enum_low_cardinality: false,
            ..ColumnOptions::default()
        };
        check(PgType::Enum, &no_enum_lc, DataType::Utf8, "String");
        let float = ColumnOptions {
            unconstrained_numeric: UnconstrainedNumeric::Float64,
            ..ColumnOptions::default()
        };
        check(
            PgType::Numeric { typmod: None },
            &float,
            DataType::Float64,
            "Float64",
        );
        let text = ColumnOptions {
            unconstrained_numeric: UnconstrainedNumeric::Text,
            ..ColumnOptions::default()
        };
        check(
            PgType::Numeric { typmod: None },
            &text,
            DataType::Utf8,
            "String",
        );
        let seconds = ColumnOptions {
            timestamp_ddl: TimestampDdl::DateTime,
            ..ColumnOptions::default()
        };
        check(
            PgType::Timestamptz,
            &seconds,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "DateTime",
        );
        check(
            PgType::Timestamp,
            &seconds,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            "DateTime",
        );
        let time_int = ColumnOptions {
            time: TimeRepresentation::Int64Micros,
            ..ColumnOptions::default()
        };
        check(PgType::Time, &time_int, DataType::Int64, "Int64");
        let non_null_elements = ColumnOptions {
            array_elements_nullable: false,
            ..ColumnOptions::default()
        };
        check(
            PgType::Array(Box::new(PgType::Float8)),
            &non_null_elements,
            DataType::List(Arc::new(Field::new("item", DataType::Float64, false))),
            "Array(Float64)",
        );
    }

    #[test]
    fn numeric_typmods_beyond_decimal128_are_text() {
        let o = ColumnOptions::default();
        for (precision, scale) in [(39, 2), (1000, 0), (10, -2), (2, 5), (0, 0)] {
            let pg = PgType::Numeric {
                typmod: Some(NumericTypmod { precision, scale }),
            };
            assert_eq!(map(pg), ColumnType::String, "numeric({precision}, {scale})");
        }
        check(
            PgType::Numeric {
                typmod: Some(NumericTypmod {
                    precision: 38,
                    scale: 38,
                }),
            },
            &o,
            DataType::Decimal128(38, 38),
            "Decimal(38, 38)",
        );
    }

    #[test]
    fn typmod_decoding() {
        // numeric(10, 4): ((10 << 16) | 4) + 4
        assert_eq!(
            NumericTypmod::from_pg_typmod((10 << 16 | 4) + 4),
            Some(NumericTypmod {
                precision: 10,
                scale: 4
            })
        );
        // numeric(5, -2) (PostgreSQL 15+): scale stored as 11-bit two's complement.
        assert_eq!(
            NumericTypmod::from_pg_typmod((5 << 16 | (-2i32 & 0x7ff)) + 4),
            Some(NumericTypmod {
                precision: 5,
                scale: -2
            })
        );
        assert_eq!(
            NumericTypmod::from_pg_typmod((1000 << 16 | 1000) + 4),
            Some(NumericTypmod {
                precision: 1000,
                scale: 1000
            })
        );
        assert_eq!(NumericTypmod::from_pg_typmod(-1), None);
        assert_eq!(NumericTypmod::from_pg_typmod(3), None);
    }

    #[test]
    fn nested_arrays_unsupported() {
        let pg = PgType::Array(Box::new(PgType::Array(Box::new(PgType::Int4))));
        assert!(matches!(
            ColumnType::from_pg(&pg, &ColumnOptions::default()),
            Err(ExportError::Unsupported(_))
        ));
        let nested = ColumnType::List {
            element: Box::new(ColumnType::List {
                element: Box::new(ColumnType::Int32),
                element_nullable: true,
            }),
            element_nullable: true,
        };
        assert!(matches!(
            nested.validate(),
            Err(ExportError::Unsupported(_))
        ));
    }

    #[test]
    fn invalid_decimals_rejected() {
        for (precision, scale) in [(0, 0), (39, 0), (5, 6)] {
            let ty = ColumnType::Decimal { precision, scale };
            assert!(
                matches!(ty.validate(), Err(ExportError::InvalidParameter(_))),
                "{ty:?}"
            );
        }
    }

    #[test]
    fn nullable_types() {
        assert_eq!(
            clickhouse_column_type(&ColumnType::Int32, true),
            "Nullable(Int32)"
        );
        assert_eq!(clickhouse_column_type(&ColumnType::Int32, false), "Int32");
        assert_eq!(
            clickhouse_column_type(&ColumnType::LowCardinalityString, true),
            "LowCardinality(Nullable(String))"
        );
        assert_eq!(
            clickhouse_column_type(&ColumnType::LowCardinalityString, false),
            "LowCardinality(String)"
        );
        let list = ColumnType::List {
            element: Box::new(ColumnType::Uuid),
            element_nullable: true,
        };
        assert_eq!(clickhouse_column_type(&list, true), "Array(Nullable(UUID))");
        assert_eq!(
            clickhouse_column_type(&list, false),
            "Array(Nullable(UUID))"
        );
    }

    #[test]
    fn special_values_null_forces_nullable() {
        let options = ColumnOptions {
            special_values: SpecialValues::Null,
            ..ColumnOptions::default()
        };
        let spec = ColumnSpec::from_pg("t", &PgType::Timestamptz, false, &options);
        assert!(spec.as_ref().is_ok_and(|s| s.nullable), "{spec:?}");
        let spec = ColumnSpec::from_pg("i", &PgType::Int4, false, &options);
        assert!(spec.as_ref().is_ok_and(|s| !s.nullable), "{spec:?}");
        let spec = ColumnSpec::from_pg("n", &PgType::Numeric { typmod: None }, false, &options);
        assert!(spec.as_ref().is_ok_and(|s| s.nullable), "{spec:?}");
    }

    #[test]
    fn export_schema_validates() {
        assert!(matches!(
            ExportSchema::new(vec![]),
            Err(ExportError::InvalidParameter(_))
        ));
        let schema = ExportSchema::new(vec![
            ColumnSpec::new("a", ColumnType::Int64, false),
            ColumnSpec::new("b", ColumnType::LowCardinalityString, true),
        ]);
        assert!(schema.is_ok());
        let schema = schema.unwrap_or_else(|_| unreachable!());
        assert_eq!(schema.arrow_schema().fields().len(), 2);
        assert!(!schema.arrow_schema().field(0).is_nullable());
        assert!(schema.arrow_schema().field(1).is_nullable());
        assert_eq!(
            schema.columns()[1].clickhouse_type(),
            "LowCardinality(Nullable(String))"
        );
    }
}
