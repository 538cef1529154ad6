//! The columns of a query result: their PostgreSQL types classified by OID, their
//! nullability traced to table columns, and the conversion of each datum into the Arrow
//! column builders (by type, without a text round trip for the mapped types).

use std::collections::HashMap;
use std::ffi::{c_char, CStr};

use clickhouse_arrow::{
    Cell, ColumnBuilder, ColumnSpec, ColumnType, ExportError, NumericTypmod, PgType,
};
use pgrx::list::PgList;
use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::varlena::{varatt_is_1b_e, varatt_is_4b_c, vardata_any, varsize_any_exhdr};

use crate::error::{ErrorKind, SensorError, SensorResult};

/// One column of a query result, as the planner describes it.
#[derive(Debug, Clone)]
pub struct ResultColumn {
    pub name: String,
    pub type_oid: Oid,
    pub typmod: i32,
    /// The column is a table column declared NOT NULL, reached through nothing that can
    /// add NULLs (see [`not_null_columns`]).
    pub not_null: bool,
}

/// How a datum of a scalar type is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// A text varlena in the server encoding: text, varchar, bpchar, json.
    Text,
    /// `name`: a fixed 64-byte C string.
    Name,
    Bytea,
    Timestamp,
    Date,
    Time,
    /// Through `numeric_out` (exact text, parsed by the crate at the column's scale).
    Numeric,
    Uuid,
    /// An enum OID, read as its label.
    Enum,
    /// Anything else (jsonb included): the type's output function.
    Output,
}

/// What an array's elements look like in memory, for `deconstruct_array`.
#[derive(Debug, Clone, Copy)]
struct ArrayLayout {
    element_oid: Oid,
    len: i16,
    by_val: bool,
    align: c_char,
}

/// A result column's type, classified for the export.
#[derive(Debug, Clone)]
pub struct SourceType {
    /// The crate's view of the type (decides the Arrow and ClickHouse types).
    pub pg: PgType,
    scalar: Scalar,
    /// The (domain-resolved) type of the scalar or of the array's elements.
    scalar_oid: Oid,
    array: Option<ArrayLayout>,
}

impl SourceType {
    /// Classifies `type_oid` (domains resolve to their base type; arrays by element).
    pub fn of(type_oid: Oid, typmod: i32) -> SourceType {
        let (base, typmod) = base_type(type_oid, typmod);
        // SAFETY: catalog lookups by OID; InvalidOid when the type is not an array.
        let element = unsafe { pg_sys::get_element_type(base) };
        if element != pg_sys::InvalidOid {
            let (element_base, element_typmod) = base_type(element, typmod);
            let (scalar, pg) = scalar_type(element_base, element_typmod);
            let mut len = 0i16;
            let mut by_val = false;
            let mut align: c_char = 0;
            // SAFETY: plain catalog lookup into local out-parameters.
            unsafe { pg_sys::get_typlenbyvalalign(element, &mut len, &mut by_val, &mut align) };
            return SourceType {
                pg: PgType::Array(Box::new(pg)),
                scalar,
                scalar_oid: element_base,
                array: Some(ArrayLayout {
                    element_oid: element,
                    len,
                    by_val,
                    align,
                }),
            };
        }
        let (scalar, pg) = scalar_type(base, typmod);
        SourceType {
            pg,
            scalar,
            scalar_oid: base,
            array: None,
        }
    }

    /// Whether the type is a timestamp, or an array of timestamps.
    pub fn is_timestamp(&self) -> bool {
        self.scalar == Scalar::Timestamp
    }

    /// Whether the type is a timestamp, timestamptz or date (not an array).
    pub fn is_time_column(&self) -> bool {
        self.array.is_none() && matches!(self.scalar, Scalar::Timestamp | Scalar::Date)
    }

    /// Whether `low_cardinality` applies: character types and enums (not arrays).
    pub fn is_text_like(&self) -> bool {
        self.array.is_none() && matches!(self.pg, PgType::Text | PgType::Enum)
    }
}

fn base_type(type_oid: Oid, typmod: i32) -> (Oid, i32) {
    let mut typmod = typmod;
    // SAFETY: resolves domains by catalog lookup; leaves non-domains as they are.
    let base = unsafe { pg_sys::getBaseTypeAndTypmod(type_oid, &mut typmod) };
    (base, typmod)
}

fn scalar_type(oid: Oid, typmod: i32) -> (Scalar, PgType) {
    match oid {
        pg_sys::BOOLOID => (Scalar::Bool, PgType::Bool),
        pg_sys::INT2OID => (Scalar::Int2, PgType::Int2),
        pg_sys::INT4OID => (Scalar::Int4, PgType::Int4),
        pg_sys::INT8OID => (Scalar::Int8, PgType::Int8),
        pg_sys::FLOAT4OID => (Scalar::Float4, PgType::Float4),
        pg_sys::FLOAT8OID => (Scalar::Float8, PgType::Float8),
        pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => (Scalar::Text, PgType::Text),
        pg_sys::NAMEOID => (Scalar::Name, PgType::Text),
        pg_sys::JSONOID => (Scalar::Text, PgType::Json),
        pg_sys::JSONBOID => (Scalar::Output, PgType::Jsonb),
        pg_sys::BYTEAOID => (Scalar::Bytea, PgType::Bytea),
        pg_sys::TIMESTAMPTZOID => (Scalar::Timestamp, PgType::Timestamptz),
        pg_sys::TIMESTAMPOID => (Scalar::Timestamp, PgType::Timestamp),
        pg_sys::DATEOID => (Scalar::Date, PgType::Date),
        pg_sys::TIMEOID => (Scalar::Time, PgType::Time),
        pg_sys::NUMERICOID => (
            Scalar::Numeric,
            PgType::Numeric {
                typmod: NumericTypmod::from_pg_typmod(typmod),
            },
        ),
        pg_sys::UUIDOID => (Scalar::Uuid, PgType::Uuid),
        // SAFETY: catalog lookup by OID.
        _ if unsafe { pg_sys::type_is_enum(oid) } => (Scalar::Enum, PgType::Enum),
        _ => (Scalar::Output, PgType::Other),
    }
}

/// For each result column of the statement `plansource` plans: whether it is certainly
/// never NULL. That holds for a column that the parser traced to a table column
/// (`resorigtbl`/`resorigcol`, through subqueries and CTEs) declared NOT NULL, when no
/// outer join or grouping set anywhere in the query can put NULLs into it. Anything else
/// (expressions, views, set operations, functions) is nullable.
///
/// # Safety
/// `plansource` must be a valid, completed plan source of the current SPI connection.
pub unsafe fn not_null_columns(
    plansource: *mut pg_sys::CachedPlanSource,
    natts: usize,
) -> Vec<bool> {
    let mut not_null = vec![false; natts];
    let queries = PgList::<pg_sys::Query>::from_pg((*plansource).query_list);
    let Some(query) = queries.iter_ptr().find(|q| !q.is_null() && (**q).canSetTag) else {
        return not_null;
    };
    if (*query).commandType != pg_sys::CmdType::CMD_SELECT || may_add_nulls(query, 0) {
        return not_null;
    }
    let targets = PgList::<pg_sys::TargetEntry>::from_pg((*query).targetList);
    let visible = targets
        .iter_ptr()
        .filter(|t| !t.is_null() && !(**t).resjunk);
    for (slot, target) in not_null.iter_mut().zip(visible) {
        let (table, column) = ((*target).resorigtbl, (*target).resorigcol);
        if table != pg_sys::InvalidOid && column > 0 {
            *slot = attnotnull(table, column);
        }
    }
    not_null
}

/// Whether `query`, its subqueries or its CTEs have an outer join or grouping sets.
unsafe fn may_add_nulls(query: *mut pg_sys::Query, depth: usize) -> bool {
    // Deeper nesting than this is not worth tracing: nullable.
    if query.is_null() || depth > 64 {
        return true;
    }
    if !(*query).groupingSets.is_null() {
        return true;
    }
    let rtable = PgList::<pg_sys::RangeTblEntry>::from_pg((*query).rtable);
    for rte in rtable.iter_ptr() {
        match (*rte).rtekind {
            pg_sys::RTEKind::RTE_JOIN if (*rte).jointype != pg_sys::JoinType::JOIN_INNER => {
                return true
            }
            pg_sys::RTEKind::RTE_SUBQUERY if may_add_nulls((*rte).subquery, depth + 1) => {
                return true
            }
            _ => {}
        }
    }
    let ctes = PgList::<pg_sys::CommonTableExpr>::from_pg((*query).cteList);
    for cte in ctes.iter_ptr() {
        let inner = (*cte).ctequery;
        if !inner.is_null()
            && (*inner).type_ == pg_sys::NodeTag::T_Query
            && may_add_nulls(inner.cast(), depth + 1)
        {
            return true;
        }
    }
    false
}

/// `pg_attribute.attnotnull` of a live column.
fn attnotnull(table: Oid, column: i16) -> bool {
    // SAFETY: syscache lookup by key; the tuple is released before returning.
    unsafe {
        let tuple = pg_sys::SearchSysCache2(
            pg_sys::SysCacheIdentifier::ATTNUM as i32,
            Datum::from(table),
            Datum::from(column),
        );
        if tuple.is_null() {
            return false;
        }
        let attribute = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_attribute>(tuple);
        let not_null = (*attribute).attnotnull && !(*attribute).attisdropped;
        pg_sys::ReleaseSysCache(tuple);
        not_null
    }
}

/// A type's output function, looked up once.
#[derive(Debug)]
struct OutputFunction {
    /// palloc'd in a context that outlives the reader (the function may cache in it).
    finfo: *mut pg_sys::FmgrInfo,
}

impl OutputFunction {
    /// # Safety
    /// `context` must outlive every call.
    unsafe fn new(type_oid: Oid, context: pg_sys::MemoryContext) -> OutputFunction {
        let mut function = pg_sys::InvalidOid;
        let mut is_varlena = false;
        pg_sys::getTypeOutputInfo(type_oid, &mut function, &mut is_varlena);
        let finfo =
            pg_sys::MemoryContextAllocZero(context, std::mem::size_of::<pg_sys::FmgrInfo>())
                .cast::<pg_sys::FmgrInfo>();
        pg_sys::fmgr_info_cxt(function, finfo, context);
        OutputFunction { finfo }
    }

    /// The output text (palloc'd in the current memory context).
    ///
    /// # Safety
    /// `datum` must be a non-NULL value of the type.
    unsafe fn call<'a>(&self, datum: Datum) -> &'a [u8] {
        CStr::from_ptr(pg_sys::OutputFunctionCall(self.finfo, datum)).to_bytes()
    }
}

/// Reads one result column's datums into its Arrow column builder.
#[derive(Debug)]
pub struct ColumnReader {
    spec: ColumnSpec,
    scalar: Scalar,
    output: Option<OutputFunction>,
    array: Option<ArrayLayout>,
    /// Enum labels by OID, looked up once each.
    labels: HashMap<u32, Box<str>>,
    utf8: bool,
}

impl ColumnReader {
    /// A reader for a column of `source` type exported as `spec`. Output functions are
    /// looked up in `context`, which must outlive the reader.
    ///
    /// # Safety
    /// `context` must be a valid memory context that outlives the reader.
    pub unsafe fn new(
        spec: ColumnSpec,
        source: &SourceType,
        context: pg_sys::MemoryContext,
    ) -> ColumnReader {
        let output = matches!(
            source.scalar,
            Scalar::Numeric | Scalar::Enum | Scalar::Output
        )
        .then(|| OutputFunction::new(source.scalar_oid, context));
        ColumnReader {
            spec,
            scalar: source.scalar,
            output,
            array: source.array,
            labels: HashMap::new(),
            utf8: pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32,
        }
    }

    /// Appends SQL NULL.
    #[inline]
    pub fn push_null(&self, out: &mut ColumnBuilder) -> SensorResult<()> {
        out.push_null().map_err(|e| self.failure(e))
    }

    /// Appends one non-NULL datum.
    ///
    /// # Safety
    /// `datum` must be a non-NULL value of the column's type, and the current memory
    /// context one that is reset soon (detoasted copies and output text go there).
    #[inline]
    pub unsafe fn push(&mut self, out: &mut ColumnBuilder, datum: Datum) -> SensorResult<()> {
        if self.array.is_some() {
            return self.push_array(out, datum);
        }
        let pushed = match self.scalar {
            Scalar::Bool => out.push_bool(datum.value() != 0),
            Scalar::Int2 => out.push_i16(datum.value() as i16),
            Scalar::Int4 => out.push_i32(datum.value() as i32),
            Scalar::Int8 => out.push_i64(datum.value() as i64),
            Scalar::Float4 => out.push_f32(f32::from_bits(datum.value() as u32)),
            Scalar::Float8 => out.push_f64(f64::from_bits(datum.value() as u64)),
            Scalar::Text => {
                let text = server_text(varlena_bytes(datum), self.utf8, &self.spec.name)?;
                out.push_str(text)
            }
            Scalar::Name => {
                let text = server_text(name_bytes(datum), self.utf8, &self.spec.name)?;
                out.push_str(text)
            }
            Scalar::Bytea => out.push_bytes(varlena_bytes(datum)),
            Scalar::Timestamp => out.push_timestamp_pg(datum.value() as i64),
            Scalar::Date => out.push_date_pg(datum.value() as i32),
            Scalar::Time => out.push_time_us(datum.value() as i64),
            Scalar::Uuid => out.push_uuid(&*datum.cast_mut_ptr::<[u8; 16]>()),
            Scalar::Numeric => {
                let text = self.output_text(datum)?;
                out.push_numeric_text(text)
            }
            Scalar::Output => {
                let text = self.output_text(datum)?;
                out.push_str(text)
            }
            Scalar::Enum => {
                let oid = datum.value() as u32;
                if !self.labels.contains_key(&oid) {
                    let label = self.output_text(datum)?.into();
                    self.labels.insert(oid, label);
                }
                match self.labels.get(&oid) {
                    Some(label) => out.push_str(label),
                    None => Ok(()),
                }
            }
        };
        pushed.map_err(|e| self.failure(e))
    }

    unsafe fn output_text<'a>(&self, datum: Datum) -> SensorResult<&'a str> {
        let Some(output) = &self.output else {
            return Err(SensorError::new(
                ErrorKind::FeatureNotSupported,
                format!("column \"{}\" has no output function", self.spec.name),
            ));
        };
        server_text(output.call(datum), self.utf8, &self.spec.name)
    }

    /// One array value, element by element.
    #[cold]
    unsafe fn push_array(&mut self, out: &mut ColumnBuilder, datum: Datum) -> SensorResult<()> {
        let Some(layout) = self.array else {
            return Ok(());
        };
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::ArrayType>();
        if (*array).ndim > 1 {
            return Err(SensorError::not_supported(format!(
                "cannot export column \"{}\": a {}-dimensional array (only one-dimensional arrays become ClickHouse arrays)",
                self.spec.name,
                (*array).ndim
            ))
            .with_hint("Flatten it in the query, e.g. ARRAY(SELECT unnest(column)), or export it as text with column::text."));
        }
        let mut values: *mut Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut count: i32 = 0;
        pg_sys::deconstruct_array(
            array,
            layout.element_oid,
            i32::from(layout.len),
            layout.by_val,
            layout.align,
            &mut values,
            &mut nulls,
            &mut count,
        );
        let count = usize::try_from(count).unwrap_or(0);
        let mut cells = Vec::with_capacity(count);
        for i in 0..count {
            if !nulls.is_null() && *nulls.add(i) {
                cells.push(Cell::Null);
            } else {
                cells.push(self.element_cell(*values.add(i))?);
            }
        }
        out.push_list(cells).map_err(|e| self.failure(e))
    }

    unsafe fn element_cell<'a>(&self, datum: Datum) -> SensorResult<Cell<'a>> {
        let name = &self.spec.name;
        Ok(match self.scalar {
            Scalar::Bool => Cell::Bool(datum.value() != 0),
            Scalar::Int2 => Cell::Int16(datum.value() as i16),
            Scalar::Int4 => Cell::Int32(datum.value() as i32),
            Scalar::Int8 => Cell::Int64(datum.value() as i64),
            Scalar::Float4 => Cell::Float32(f32::from_bits(datum.value() as u32)),
            Scalar::Float8 => Cell::Float64(f64::from_bits(datum.value() as u64)),
            Scalar::Text => Cell::Text(server_text(varlena_bytes(datum), self.utf8, name)?),
            Scalar::Name => Cell::Text(server_text(name_bytes(datum), self.utf8, name)?),
            Scalar::Bytea => Cell::Bytes(varlena_bytes(datum)),
            Scalar::Timestamp => Cell::TimestampPg(datum.value() as i64),
            Scalar::Date => Cell::DatePg(datum.value() as i32),
            Scalar::Time => Cell::TimeMicros(datum.value() as i64),
            Scalar::Uuid => Cell::Uuid(*datum.cast_mut_ptr::<[u8; 16]>()),
            Scalar::Numeric => Cell::NumericText(self.output_text(datum)?),
            Scalar::Enum | Scalar::Output => Cell::Text(self.output_text(datum)?),
        })
    }

    /// A value the crate refused, as an error with a deliberate SQLSTATE naming the column.
    #[cold]
    fn failure(&self, err: ExportError) -> SensorError {
        value_failure(&self.spec, err)
    }
}

/// The crate's hint for ±infinity/NaN speaks Rust; ours speaks SQL.
const CRATE_SPECIAL_HINT: &str = " (export it as NULL with SpecialValues::Null)";

/// Maps an error of a push into column `spec` to a SQLSTATE: time values that Arrow
/// cannot hold are 22008, numerics that the Decimal cannot hold 22003, other bad values
/// 22P02, sizes beyond Arrow's limits 0A000.
pub fn value_failure(spec: &ColumnSpec, err: ExportError) -> SensorError {
    let ExportError::InvalidData { column, detail } = err else {
        let err = SensorError::from(err);
        return match err.kind {
            ErrorKind::FeatureNotSupported => err.with_hint(
                "Use a smaller batch_rows, or fewer distinct values in LowCardinality columns.",
            ),
            _ => err,
        };
    };
    let element = match &spec.ty {
        ColumnType::List { element, .. } => element.as_ref(),
        other => other,
    };
    let kind = match element {
        ColumnType::Timestamp { .. } | ColumnType::Date32 => ErrorKind::DatetimeOutOfRange,
        ColumnType::Decimal { .. } => ErrorKind::NumericOutOfRange,
        _ => ErrorKind::InvalidInput,
    };
    let (detail, special) = match detail.strip_suffix(CRATE_SPECIAL_HINT) {
        Some(detail) => (detail.to_string(), true),
        None => (detail, false),
    };
    let error = SensorError::new(kind, format!("cannot export column \"{column}\": {detail}"));
    if special {
        error.with_hint("Pass special_values => 'null' to export ±infinity and NaN as NULL, or filter them out in the query.")
    } else if let ColumnType::Decimal { precision, scale } = element {
        error.with_hint(format!(
            "The column is exported as Decimal({precision}, {scale}); pass numeric_mode => 'text' or 'float64' for unconstrained numeric, or cast it in the query."
        ))
    } else {
        error
    }
}

/// The bytes of a text/bytea varlena, detoasted (into the current memory context) when
/// compressed or stored out of line.
#[inline]
unsafe fn varlena_bytes<'a>(datum: Datum) -> &'a [u8] {
    let mut ptr = datum.cast_mut_ptr::<pg_sys::varlena>();
    if varatt_is_4b_c(ptr) || varatt_is_1b_e(ptr) {
        ptr = pg_sys::pg_detoast_datum_packed(ptr);
    }
    std::slice::from_raw_parts(vardata_any(ptr).cast::<u8>(), varsize_any_exhdr(ptr))
}

#[inline]
unsafe fn name_bytes<'a>(datum: Datum) -> &'a [u8] {
    CStr::from_ptr(datum.cast_mut_ptr::<c_char>()).to_bytes()
}

/// Text in the server encoding as UTF-8 (Arrow strings are UTF-8). A UTF-8 database's
/// text is valid already; other encodings are converted (into the current memory context).
#[inline]
unsafe fn server_text<'a>(bytes: &'a [u8], utf8: bool, column: &str) -> SensorResult<&'a str> {
    if utf8 {
        // SAFETY: PostgreSQL validates text input against the database encoding.
        return Ok(std::str::from_utf8_unchecked(bytes));
    }
    converted_text(bytes, column)
}

#[cold]
unsafe fn converted_text<'a>(bytes: &'a [u8], column: &str) -> SensorResult<&'a str> {
    let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    let converted =
        pg_sys::pg_server_to_any(bytes.as_ptr().cast(), len, pg_sys::pg_enc::PG_UTF8 as i32);
    let out: &'a [u8] = if std::ptr::eq(converted.cast::<u8>(), bytes.as_ptr()) {
        bytes
    } else {
        CStr::from_ptr(converted).to_bytes()
    };
    std::str::from_utf8(out).map_err(|_| {
        SensorError::invalid_input(format!(
            "cannot export column \"{column}\": its text is not valid UTF-8"
        ))
    })
}
