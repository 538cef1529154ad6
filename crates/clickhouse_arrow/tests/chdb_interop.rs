//! Writes an IPC file of every exported type (NULLs included) in both formats and all
//! compressions, then checks it with pyarrow and chdb (tests/chdb_interop.py): pyarrow
//! reads back equal values, chdb ingests it into a table created from our DDL and
//! returns equal values.
//!
//! Needs a Python with pyarrow and chdb: env SENSOR_PYTHON, else the project venv. Without
//! one the test prints `SKIP: ...` and passes, unless SENSOR_REQUIRE_PEERS=1.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clickhouse_arrow::pg_values::PG_EPOCH_OFFSET_MICROS;
use clickhouse_arrow::{
    clickhouse_ddl, ArrowIpcWriter, BatchBuilder, Cell, ColumnOptions, ColumnSpec, ExportSchema,
    IpcCompression, IpcFormat, NumericTypmod, PgType, SpecialValues, TimeRepresentation,
    TimestampDdl, UnconstrainedNumeric,
};
use serde_json::{json, Value};

const VENV_PYTHON: &str = "/root/.cache/sensor_analytics/venv/bin/python";
const ROWS: usize = 8;
const ROWS_PER_BATCH: usize = 4;

/// One fixture column: how it is mapped, what pyarrow must see, the cells pushed and
/// the canonical expected values (see chdb_interop.py for the canonical forms).
struct FixtureColumn {
    spec: ColumnSpec,
    /// Canonicalisation kind for the Python side.
    kind: &'static str,
    /// pyarrow type expression the file must have.
    arrow: &'static str,
    cells: Vec<Cell<'static>>,
    expected: Vec<Value>,
}

fn float(value: f64) -> Value {
    if value.is_nan() {
        json!("nan")
    } else if value == f64::INFINITY {
        json!("inf")
    } else if value == f64::NEG_INFINITY {
        json!("-inf")
    } else {
        json!(value)
    }
}

fn unix_micros(cell: &Cell) -> Value {
    match cell {
        Cell::TimestampPg(pg) => json!(pg + PG_EPOCH_OFFSET_MICROS),
        _ => Value::Null,
    }
}

/// A `'static` element slice for `Cell::List` (test fixture only).
fn leak(cells: Vec<Cell<'static>>) -> &'static [Cell<'static>] {
    Box::leak(cells.into_boxed_slice())
}

/// Canonical expected values of the simple kinds, derived from the cells.
fn derive(kind: &str, cells: &[Cell]) -> Vec<Value> {
    cells
        .iter()
        .map(|cell| match (kind, cell) {
            (_, Cell::Null) => Value::Null,
            (_, Cell::Bool(v)) => json!(v),
            (_, Cell::Int16(v)) => json!(v),
            (_, Cell::Int32(v)) => json!(v),
            (_, Cell::Int64(v)) => json!(v),
            (_, Cell::Float32(v)) => float(f64::from(*v)),
            (_, Cell::Float64(v)) => float(*v),
            (_, Cell::Text(v)) => json!(v),
            (_, Cell::Bytes(v)) => json!(hex::encode(v)),
            (_, Cell::Uuid(v)) => json!(hex::encode(v)),
            (_, Cell::TimestampPg(_)) => unix_micros(cell),
            (_, Cell::DatePg(v)) => json!(v + 10_957),
            (_, Cell::TimeMicros(v)) => json!(v),
            (_, Cell::List(elements)) => {
                let element_kind = kind.strip_prefix("list:").unwrap_or(kind);
                Value::Array(derive(element_kind, elements))
            }
            (kind, other) => panic!("no derived value for {kind} {other:?}"),
        })
        .collect()
}

#[allow(clippy::too_many_lines)]
fn fixture() -> Vec<FixtureColumn> {
    use Cell::*;
    let plain = ColumnOptions::default();
    let lc = ColumnOptions {
        low_cardinality: true,
        ..plain
    };
    let seconds = ColumnOptions {
        timestamp_ddl: TimestampDdl::DateTime,
        ..plain
    };
    let special_null = ColumnOptions {
        special_values: SpecialValues::Null,
        ..plain
    };
    let time_int = ColumnOptions {
        time: TimeRepresentation::Int64Micros,
        ..plain
    };
    let numeric_float = ColumnOptions {
        unconstrained_numeric: UnconstrainedNumeric::Float64,
        ..plain
    };
    let strict_elements = ColumnOptions {
        array_elements_nullable: false,
        ..plain
    };
    let typmod = |precision, scale| PgType::Numeric {
        typmod: Some(NumericTypmod { precision, scale }),
    };
    let array = |pg: PgType| PgType::Array(Box::new(pg));
    // 2024-01-02 03:04:05.678901 UTC in PostgreSQL microseconds.
    let t2024 = 1_704_164_645_678_901 - PG_EPOCH_OFFSET_MICROS;
    // 1900-01-01 00:00:00 UTC.
    let t1900 = -2_208_988_800_000_000 - PG_EPOCH_OFFSET_MICROS;
    // 2299-12-31 23:59:59.999999 UTC (last DateTime64 value of older ClickHouse).
    let t2299 = 10_413_791_999_999_999 - PG_EPOCH_OFFSET_MICROS;
    let uuid_a = [
        0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56,
        0x78,
    ];
    let uuid_b = [0xff; 16];
    let long_text: &'static str = Box::leak("long ".repeat(500).into_boxed_str());
    let list_i: &'static [Cell<'static>] = &[Int32(1), Null, Int32(i32::MAX)];
    let list_t: &'static [Cell<'static>] = &[Text("a"), Null, Text("é \"q\"")];
    let list_ts: &'static [Cell<'static>] = &[TimestampPg(0), Null, TimestampPg(-1)];
    let list_dec: &'static [Cell<'static>] = &[NumericText("1.25"), Null, NumericText("-0.005")];
    let list_f: &'static [Cell<'static>] = &[Float64(f64::NAN), Float64(-1.5)];
    let list_u = leak(vec![Uuid(uuid_a), Null]);

    let mut columns = Vec::new();
    let mut add = |name: &str,
                   pg: PgType,
                   nullable: bool,
                   options: ColumnOptions,
                   kind: &'static str,
                   arrow: &'static str,
                   cells: Vec<Cell<'static>>,
                   expected: Option<Vec<Value>>| {
        let expected = expected.unwrap_or_else(|| derive(kind, &cells));
        assert_eq!(cells.len(), ROWS, "{name}");
        assert_eq!(expected.len(), ROWS, "{name}");
        columns.push(FixtureColumn {
            spec: ColumnSpec::from_pg(name, &pg, nullable, &options).unwrap(),
            kind,
            arrow,
            cells,
            expected,
        });
    };

    add(
        "row_no",
        PgType::Int4,
        false,
        plain,
        "int",
        "pa.int32()",
        (0..ROWS as i32).map(Int32).collect(),
        None,
    );
    add(
        "i16",
        PgType::Int2,
        true,
        plain,
        "int",
        "pa.int16()",
        vec![
            Int16(i16::MIN),
            Int16(-1),
            Int16(0),
            Null,
            Int16(i16::MAX),
            Int16(7),
            Int16(8),
            Null,
        ],
        None,
    );
    add(
        "i32",
        PgType::Int4,
        true,
        plain,
        "int",
        "pa.int32()",
        vec![
            Int32(i32::MIN),
            Null,
            Int32(0),
            Int32(1),
            Int32(i32::MAX),
            Int32(-7),
            Null,
            Int32(42),
        ],
        None,
    );
    add(
        "i64",
        PgType::Int8,
        true,
        plain,
        "int",
        "pa.int64()",
        vec![
            Int64(i64::MIN),
            Int64(i64::MAX),
            Null,
            Int64(0),
            Int64(-1),
            Int64(1 << 53),
            Int64(3),
            Null,
        ],
        None,
    );
    add(
        "f32",
        PgType::Float4,
        true,
        plain,
        "float",
        "pa.float32()",
        vec![
            Float32(f32::NAN),
            Float32(f32::INFINITY),
            Float32(f32::NEG_INFINITY),
            Null,
            Float32(1.5),
            Float32(-0.0),
            Float32(f32::MAX),
            Float32(f32::MIN_POSITIVE),
        ],
        None,
    );
    add(
        "f64",
        PgType::Float8,
        true,
        plain,
        "float",
        "pa.float64()",
        vec![
            Float64(f64::NAN),
            Float64(f64::NEG_INFINITY),
            Float64(1e300),
            Null,
            Float64(-0.0),
            Float64(0.1),
            Float64(5e-324),
            Float64(2.5),
        ],
        None,
    );
    add(
        "flag",
        PgType::Bool,
        true,
        plain,
        "bool",
        "pa.bool_()",
        vec![
            Bool(true),
            Bool(false),
            Null,
            Bool(true),
            Bool(false),
            Null,
            Bool(true),
            Bool(true),
        ],
        None,
    );
    add(
        "txt",
        PgType::Text,
        true,
        plain,
        "text",
        "pa.string()",
        vec![
            Text(""),
            Text("héllo wörld"),
            Text("quote ' \" \\ `"),
            Null,
            Text("tab\tnewline\n"),
            Text("🚀"),
            Text(long_text),
            Text("x"),
        ],
        None,
    );
    add(
        "lc",
        PgType::Text,
        true,
        lc,
        "text",
        "pa.dictionary(pa.int32(), pa.string())",
        vec![
            Text("alpha"),
            Text("beta"),
            Null,
            Text("alpha"),
            Text("gamma"),
            Text("beta"),
            Text("delta"),
            Null,
        ],
        None,
    );
    add(
        "mood",
        PgType::Enum,
        false,
        plain,
        "text",
        "pa.dictionary(pa.int32(), pa.string())",
        vec![
            Text("on"),
            Text("off"),
            Text("on"),
            Text("on"),
            Text("broken"),
            Text("on"),
            Text("off"),
            Text("broken"),
        ],
        None,
    );
    add(
        "bin",
        PgType::Bytea,
        true,
        plain,
        "bytes",
        "pa.binary()",
        vec![
            Bytes(&[0x00, 0xff]),
            Bytes(&[]),
            Null,
            Bytes(b"abc"),
            Bytes(&[0x80, 0x81, 0xfe]),
            Null,
            Bytes(b"\\x"),
            Bytes(&[0]),
        ],
        None,
    );
    add(
        "tstz",
        PgType::Timestamptz,
        true,
        plain,
        "ts",
        "pa.timestamp('us', tz='UTC')",
        vec![
            TimestampPg(0),
            TimestampPg(-PG_EPOCH_OFFSET_MICROS),
            TimestampPg(-1),
            Null,
            TimestampPg(t2024),
            TimestampPg(t1900),
            TimestampPg(t2299),
            TimestampPg(1),
        ],
        None,
    );
    add(
        "ts",
        PgType::Timestamp,
        true,
        plain,
        "ts",
        "pa.timestamp('us')",
        vec![
            TimestampPg(t2024),
            Null,
            TimestampPg(-1),
            TimestampPg(0),
            TimestampPg(t1900),
            TimestampPg(123_456_789),
            Null,
            TimestampPg(t2299),
        ],
        None,
    );
    add(
        "ts_sec",
        PgType::Timestamptz,
        false,
        seconds,
        "ts_seconds",
        "pa.timestamp('us', tz='UTC')",
        vec![
            TimestampPg(t2024),
            TimestampPg(0),
            TimestampPg(-1),
            TimestampPg(999_999),
            TimestampPg(t2024 + 1),
            TimestampPg(1_000_000),
            TimestampPg(-PG_EPOCH_OFFSET_MICROS),
            TimestampPg(3_000_000_000_000_000),
        ],
        None,
    );
    add(
        "ts_inf",
        PgType::Timestamptz,
        false,
        special_null,
        "ts",
        "pa.timestamp('us', tz='UTC')",
        vec![
            TimestampPg(i64::MAX),
            TimestampPg(i64::MIN),
            TimestampPg(0),
            TimestampPg(t2024),
            TimestampPg(i64::MAX),
            TimestampPg(1),
            TimestampPg(2),
            TimestampPg(i64::MIN),
        ],
        Some(vec![
            Value::Null,
            Value::Null,
            json!(PG_EPOCH_OFFSET_MICROS),
            json!(t2024 + PG_EPOCH_OFFSET_MICROS),
            Value::Null,
            json!(PG_EPOCH_OFFSET_MICROS + 1),
            json!(PG_EPOCH_OFFSET_MICROS + 2),
            Value::Null,
        ]),
    );
    add(
        "d",
        PgType::Date,
        true,
        plain,
        "date",
        "pa.date32()",
        vec![
            DatePg(0),
            DatePg(-10_957),
            Null,
            DatePg(-36_524),
            DatePg(8_766),
            DatePg(-1),
            DatePg(2_921_939),
            Null,
        ],
        None,
    );
    add(
        "d_inf",
        PgType::Date,
        true,
        special_null,
        "date",
        "pa.date32()",
        vec![
            DatePg(i32::MAX),
            DatePg(i32::MIN),
            DatePg(0),
            Null,
            DatePg(1),
            DatePg(2),
            DatePg(3),
            DatePg(4),
        ],
        Some(vec![
            Value::Null,
            Value::Null,
            json!(10_957),
            Value::Null,
            json!(10_958),
            json!(10_959),
            json!(10_960),
            json!(10_961),
        ]),
    );
    // Midnight to 24:00 (PostgreSQL's end of day), both as time64 and as an integer.
    let times_of_day = || {
        vec![
            TimeMicros(0),
            TimeMicros(3_723_000_004),
            Null,
            TimeMicros(86_399_999_999),
            TimeMicros(86_400_000_000),
            TimeMicros(1),
            Null,
            TimeMicros(43_200_000_000),
        ]
    };
    add(
        "tm",
        PgType::Time,
        true,
        plain,
        "time",
        "pa.time64('us')",
        times_of_day(),
        None,
    );
    add(
        "tm_int",
        PgType::Time,
        true,
        time_int,
        "int",
        "pa.int64()",
        times_of_day(),
        None,
    );
    add(
        "dec",
        typmod(10, 4),
        true,
        plain,
        "decimal",
        "pa.decimal128(10, 4)",
        vec![
            NumericText("-12.3400"),
            NumericText("0"),
            Null,
            NumericText("999999.9999"),
            NumericText("-999999.9999"),
            NumericText("0.0001"),
            NumericText("1.23456"),
            NumericText("5"),
        ],
        Some(vec![
            json!("-12.34"),
            json!("0"),
            Value::Null,
            json!("999999.9999"),
            json!("-999999.9999"),
            json!("0.0001"),
            json!("1.2346"),
            json!("5"),
        ]),
    );
    add(
        "dec38",
        PgType::Numeric { typmod: None },
        true,
        plain,
        "decimal",
        "pa.decimal128(38, 9)",
        vec![
            NumericText("99999999999999999999999999999.999999999"),
            NumericText("-1.0000000005"),
            Null,
            NumericText("123"),
            NumericText("-99999999999999999999999999999.999999999"),
            NumericText("0.000000001"),
            NumericText("0.0000000004"),
            NumericText("42.5"),
        ],
        Some(vec![
            json!("99999999999999999999999999999.999999999"),
            json!("-1.000000001"),
            Value::Null,
            json!("123"),
            json!("-99999999999999999999999999999.999999999"),
            json!("0.000000001"),
            json!("0"),
            json!("42.5"),
        ]),
    );
    add(
        "dec_nan",
        typmod(6, 2),
        false,
        special_null,
        "decimal",
        "pa.decimal128(6, 2)",
        vec![
            NumericText("NaN"),
            NumericText("Infinity"),
            NumericText("-Infinity"),
            NumericText("1.5"),
            NumericText("-2.25"),
            NumericText("NaN"),
            NumericText("0.00"),
            NumericText("9999.99"),
        ],
        Some(vec![
            Value::Null,
            Value::Null,
            Value::Null,
            json!("1.5"),
            json!("-2.25"),
            Value::Null,
            json!("0"),
            json!("9999.99"),
        ]),
    );
    add(
        "num_f",
        PgType::Numeric { typmod: None },
        true,
        numeric_float,
        "float",
        "pa.float64()",
        vec![
            NumericText("NaN"),
            NumericText("Infinity"),
            NumericText("-Infinity"),
            Null,
            NumericText("-12.3400"),
            NumericText("0.1"),
            NumericText("1e-5"),
            NumericText("123456789012345678901234567890"),
        ],
        Some(vec![
            float(f64::NAN),
            float(f64::INFINITY),
            float(f64::NEG_INFINITY),
            Value::Null,
            json!(-12.34),
            json!(0.1),
            json!(1e-5),
            json!(1.2345678901234568e29),
        ]),
    );
    add(
        "num_s",
        typmod(50, 2),
        true,
        plain,
        "text",
        "pa.string()",
        vec![
            NumericText("NaN"),
            NumericText("-12.34"),
            Null,
            NumericText("123456789012345678901234567890123456789012345678.00"),
            NumericText("Infinity"),
            NumericText("0.00"),
            Null,
            NumericText("1.50"),
        ],
        Some(vec![
            json!("NaN"),
            json!("-12.34"),
            Value::Null,
            json!("123456789012345678901234567890123456789012345678.00"),
            json!("Infinity"),
            json!("0.00"),
            Value::Null,
            json!("1.50"),
        ]),
    );
    add(
        "uid",
        PgType::Uuid,
        true,
        plain,
        "uuid",
        "pa.binary(16)",
        vec![
            Uuid(uuid_a),
            Null,
            Uuid(uuid_b),
            Uuid([0; 16]),
            Null,
            Uuid(uuid_a),
            Uuid(uuid_b),
            Uuid([1; 16]),
        ],
        None,
    );
    add(
        "doc",
        PgType::Jsonb,
        true,
        plain,
        "text",
        "pa.string()",
        vec![
            Text("{\"a\": [1, 2]}"),
            Null,
            Text("null"),
            Text("\"s\""),
            Text("{}"),
            Text("[]"),
            Text("1.5"),
            Null,
        ],
        None,
    );
    add(
        "arr_i",
        array(PgType::Int4),
        true,
        plain,
        "list:int",
        "pa.list_(pa.field('item', pa.int32(), True))",
        vec![
            List(list_i),
            Null,
            List(&[]),
            List(&[Int32(-5)]),
            List(list_i),
            List(&[Null]),
            Null,
            List(&[Int32(0), Int32(1)]),
        ],
        None,
    );
    add(
        "arr_txt",
        array(PgType::Text),
        true,
        lc,
        "list:text",
        "pa.list_(pa.field('item', pa.string(), True))",
        vec![
            List(list_t),
            List(&[]),
            Null,
            List(&[Text("")]),
            List(&[Text("z")]),
            Null,
            List(list_t),
            List(&[Null, Null]),
        ],
        None,
    );
    add(
        "arr_ts",
        array(PgType::Timestamptz),
        true,
        plain,
        "list:ts",
        "pa.list_(pa.field('item', pa.timestamp('us', tz='UTC'), True))",
        vec![
            List(list_ts),
            Null,
            List(&[]),
            List(leak(vec![TimestampPg(t2024)])),
            Null,
            List(list_ts),
            List(leak(vec![TimestampPg(t1900)])),
            List(&[Null]),
        ],
        None,
    );
    add(
        "arr_dec",
        array(typmod(10, 2)),
        true,
        plain,
        "list:decimal",
        "pa.list_(pa.field('item', pa.decimal128(10, 2), True))",
        vec![
            List(list_dec),
            Null,
            List(&[]),
            List(&[NumericText("-99999999.99")]),
            Null,
            List(list_dec),
            List(&[NumericText("1")]),
            List(&[Null]),
        ],
        Some(vec![
            json!(["1.25", null, "-0.01"]),
            Value::Null,
            json!([]),
            json!(["-99999999.99"]),
            Value::Null,
            json!(["1.25", null, "-0.01"]),
            json!(["1"]),
            json!([null]),
        ]),
    );
    add(
        "arr_f",
        array(PgType::Float8),
        false,
        strict_elements,
        "list:float",
        "pa.list_(pa.field('item', pa.float64(), False))",
        vec![
            List(list_f),
            List(&[]),
            List(&[Float64(1.0)]),
            List(list_f),
            List(&[]),
            List(&[Float64(f64::INFINITY)]),
            List(list_f),
            List(&[Float64(0.0)]),
        ],
        None,
    );
    add(
        "arr_uuid",
        array(PgType::Uuid),
        true,
        plain,
        "list:uuid",
        "pa.list_(pa.field('item', pa.binary(16), True))",
        vec![
            List(list_u),
            Null,
            List(&[]),
            List(leak(vec![Uuid(uuid_b)])),
            List(list_u),
            List(&[]),
            Null,
            List(&[Null]),
        ],
        None,
    );
    columns
}

const FORMATS: [(IpcFormat, &str); 2] = [(IpcFormat::File, "file"), (IpcFormat::Stream, "stream")];
const COMPRESSIONS: [(IpcCompression, &str); 3] = [
    (IpcCompression::None, "none"),
    (IpcCompression::Lz4Frame, "lz4"),
    (IpcCompression::Zstd, "zstd"),
];

fn write_files(dir: &Path, columns: &[FixtureColumn]) -> Vec<Value> {
    let schema = ExportSchema::new(columns.iter().map(|c| c.spec.clone()).collect()).unwrap();
    let mut files = Vec::new();
    for (format, format_name) in FORMATS {
        for (compression, compression_name) in COMPRESSIONS {
            let path = dir.join(format!("every_type_{format_name}_{compression_name}.arrow"));
            let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            let mut writer = ArrowIpcWriter::new(file, &schema, format, compression).unwrap();
            let mut builder = BatchBuilder::new(&schema, ROWS_PER_BATCH).unwrap();
            for row in 0..ROWS {
                for (column, fixture) in builder.columns_mut().iter_mut().zip(columns) {
                    column.push_cell(&fixture.cells[row]).unwrap();
                }
                if (row + 1) % ROWS_PER_BATCH == 0 {
                    writer.write_batch(&mut builder).unwrap();
                }
            }
            writer.finish().unwrap();
            files.push(json!({
                "path": path.to_str().unwrap(),
                "format": format_name,
                "compression": compression_name,
                "batches": ROWS / ROWS_PER_BATCH,
            }));
        }
    }
    files
}

/// The Python to use, or why there is none.
fn python_with_peers() -> Result<PathBuf, String> {
    let python = match std::env::var_os("SENSOR_PYTHON") {
        Some(path) => PathBuf::from(path),
        None if Path::new(VENV_PYTHON).exists() => PathBuf::from(VENV_PYTHON),
        None => return Err("no SENSOR_PYTHON and no project venv".into()),
    };
    let probe = Command::new(&python)
        .args(["-c", "import pyarrow, chdb"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.status.success() {
        return Err(format!("{} lacks pyarrow or chdb", python.display()));
    }
    Ok(python)
}

#[test]
fn pyarrow_and_chdb_read_every_type() {
    let python = match python_with_peers() {
        Ok(python) => python,
        Err(reason) => {
            assert!(
                std::env::var("SENSOR_REQUIRE_PEERS").as_deref() != Ok("1"),
                "SENSOR_REQUIRE_PEERS=1 but {reason}"
            );
            // Straight to stderr: the test harness captures eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: pyarrow_and_chdb_read_every_type: {reason}"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let columns = fixture();
    let files = write_files(dir.path(), &columns);
    let specs: Vec<ColumnSpec> = columns.iter().map(|c| c.spec.clone()).collect();
    let ddl = clickhouse_ddl(&specs, "every_type", "MergeTree", Some("row_no"), None).unwrap();
    let expected = json!({
        "table": "every_type",
        "ddl": ddl,
        "order_by": "row_no",
        "files": files,
        "columns": columns.iter().map(|c| json!({
            "name": c.spec.name,
            "kind": c.kind,
            "arrow": c.arrow,
            "nullable": c.spec.nullable,
            "clickhouse": c.spec.clickhouse_type(),
            "values": c.expected,
        })).collect::<Vec<_>>(),
    });
    let expected_path = dir.path().join("expected.json");
    std::fs::write(
        &expected_path,
        serde_json::to_vec_pretty(&expected).unwrap(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chdb_interop.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&expected_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(output.status.success(), "chdb_interop.py failed");
    assert!(stdout.contains("0 failed"), "no summary line: {stdout}");
}
