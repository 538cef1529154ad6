//! Writes batches with the IPC writer and reads them back with arrow-ipc's readers.

use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::{FileReader, StreamReader};
use clickhouse_arrow::{
    ArrowIpcWriter, BatchBuilder, Cell, ColumnSpec, ColumnType, ExportError, ExportSchema,
    IpcCompression, IpcFormat, TimestampDdl,
};

const FORMATS: [IpcFormat; 2] = [IpcFormat::File, IpcFormat::Stream];
const COMPRESSIONS: [IpcCompression; 3] = [
    IpcCompression::None,
    IpcCompression::Lz4Frame,
    IpcCompression::Zstd,
];

fn schema() -> ExportSchema {
    ExportSchema::new(vec![
        ColumnSpec::new("id", ColumnType::Int64, false),
        ColumnSpec::new("name", ColumnType::String, true),
        ColumnSpec::new("kind", ColumnType::LowCardinalityString, true),
        ColumnSpec::new(
            "ts",
            ColumnType::Timestamp {
                utc: true,
                ddl: TimestampDdl::DateTime64,
            },
            false,
        ),
        ColumnSpec::new(
            "amounts",
            ColumnType::List {
                element: Box::new(ColumnType::Decimal {
                    precision: 10,
                    scale: 2,
                }),
                element_nullable: true,
            },
            true,
        ),
    ])
    .unwrap()
}

/// Three batches; the LowCardinality column gets new values in every batch.
fn batches(schema: &ExportSchema) -> Vec<RecordBatch> {
    let mut builder = BatchBuilder::new(schema, 16).unwrap();
    let mut out = Vec::new();
    for batch in 0..3i64 {
        for row in 0..5i64 {
            let id = batch * 100 + row;
            let columns = builder.columns_mut();
            columns[0].push_i64(id).unwrap();
            if row == 2 {
                columns[1].push_null().unwrap();
                columns[2].push_null().unwrap();
                columns[4].push_null().unwrap();
            } else {
                columns[1].push_str(&format!("name {id}")).unwrap();
                columns[2]
                    .push_str(&format!("kind {}", batch + row % 2))
                    .unwrap();
                columns[4]
                    .push_list([
                        Cell::NumericText("1.25"),
                        Cell::Null,
                        Cell::NumericText("-3"),
                    ])
                    .unwrap();
            }
            columns[3].push_timestamp_pg(id * 1_000_000).unwrap();
        }
        out.push(builder.finish().unwrap());
    }
    out
}

fn write(format: IpcFormat, compression: IpcCompression, batches: &[RecordBatch]) -> Vec<u8> {
    let schema = schema();
    let mut writer = ArrowIpcWriter::new(Vec::new(), &schema, format, compression).unwrap();
    let mut last = writer.bytes_written();
    for batch in batches {
        let written = writer.write_record_batch(batch).unwrap();
        assert!(written > last);
        last = written;
    }
    assert_eq!(writer.rows_written(), 15);
    let bytes = writer.finish().unwrap();
    assert!(bytes.len() as u64 > last);
    bytes
}

fn read(format: IpcFormat, bytes: Vec<u8>) -> Vec<RecordBatch> {
    match format {
        IpcFormat::File => FileReader::try_new(Cursor::new(bytes), None)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap(),
        IpcFormat::Stream => StreamReader::try_new(Cursor::new(bytes), None)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap(),
    }
}

#[test]
fn every_format_and_compression_round_trips() {
    let schema = schema();
    let expected = batches(&schema);
    for format in FORMATS {
        for compression in COMPRESSIONS {
            let bytes = write(format, compression, &expected);
            let magic = bytes.starts_with(b"ARROW1");
            assert_eq!(magic, format == IpcFormat::File, "{format:?}");
            let actual = read(format, bytes);
            assert_eq!(actual.len(), expected.len(), "{format:?} {compression:?}");
            for (a, e) in actual.iter().zip(&expected) {
                assert_eq!(a, e, "{format:?} {compression:?}");
            }
        }
    }
}

#[test]
fn compression_shrinks_repetitive_data() {
    let schema = schema();
    let expected = batches(&schema);
    let plain = write(IpcFormat::Stream, IpcCompression::None, &expected).len();
    for compression in [IpcCompression::Lz4Frame, IpcCompression::Zstd] {
        let compressed = write(IpcFormat::Stream, compression, &expected).len();
        assert_ne!(compressed, plain, "{compression:?}");
    }
}

#[test]
fn drained_chunks_concatenate_to_the_whole_output() {
    let schema = schema();
    for format in FORMATS {
        let mut builder = BatchBuilder::new(&schema, 4).unwrap();
        let mut writer =
            ArrowIpcWriter::new(Vec::new(), &schema, format, IpcCompression::Zstd).unwrap();
        let mut chunks = vec![writer.take_bytes()];
        assert!(!chunks[0].is_empty(), "schema message is written at once");
        for batch in 0..4i64 {
            for row in 0..3i64 {
                let columns = builder.columns_mut();
                columns[0].push_i64(batch * 10 + row).unwrap();
                columns[1].push_str("n").unwrap();
                columns[2].push_str(&format!("k{batch}")).unwrap();
                columns[3].push_timestamp_pg(row).unwrap();
                columns[4].push_list([]).unwrap();
            }
            let total = writer.write_batch(&mut builder).unwrap();
            chunks.push(writer.take_bytes());
            let drained: usize = chunks.iter().map(Vec::len).sum();
            assert_eq!(drained as u64, total);
        }
        // An empty batch writes nothing.
        let before = writer.bytes_written();
        assert_eq!(writer.write_batch(&mut builder).unwrap(), before);
        let total = writer.bytes_written();
        chunks.push(writer.finish().unwrap());
        let whole: Vec<u8> = chunks.concat();
        assert!(whole.len() as u64 > total);
        let batches = read(format, whole);
        assert_eq!(batches.len(), 4, "{format:?}");
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 12);
    }
}

#[test]
fn empty_results_are_valid_ipc() {
    let schema = schema();
    for format in FORMATS {
        let mut builder = BatchBuilder::new(&schema, 0).unwrap();
        let mut writer =
            ArrowIpcWriter::new(Vec::new(), &schema, format, IpcCompression::Lz4Frame).unwrap();
        writer.write_batch(&mut builder).unwrap();
        assert_eq!(writer.rows_written(), 0);
        let bytes = writer.finish().unwrap();
        assert!(read(format, bytes).is_empty(), "{format:?}");
    }
}

#[test]
fn foreign_schema_is_rejected() {
    let schema = schema();
    let other = ExportSchema::new(vec![ColumnSpec::new("x", ColumnType::Int32, false)]).unwrap();
    let mut writer =
        ArrowIpcWriter::new(Vec::new(), &schema, IpcFormat::Stream, IpcCompression::None).unwrap();
    let mut builder = BatchBuilder::new(&other, 1).unwrap();
    builder.columns_mut()[0].push_i32(1).unwrap();
    assert!(matches!(
        writer.write_batch(&mut builder),
        Err(ExportError::InvalidParameter(_))
    ));
    let batch = builder.finish().unwrap();
    assert!(matches!(
        writer.write_record_batch(&batch),
        Err(ExportError::InvalidParameter(_))
    ));
}

/// A sink that fails keeps the io::Error kind.
struct FailingSink;

impl std::io::Write for FailingSink {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn io_errors_keep_their_kind() {
    let result = ArrowIpcWriter::new(
        FailingSink,
        &schema(),
        IpcFormat::File,
        IpcCompression::None,
    );
    match result {
        Err(ExportError::Io(err)) => assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

mod properties {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};
    use proptest::prelude::*;

    fn dictionary_schema() -> ExportSchema {
        ExportSchema::new(vec![
            ColumnSpec::new("n", ColumnType::Int64, true),
            ColumnSpec::new("k", ColumnType::LowCardinalityString, true),
        ])
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the values and batch sizes, both formats read back exactly what was
        /// pushed, with dictionaries growing across batches.
        #[test]
        fn values_survive_any_batching(
            rows in proptest::collection::vec(
                (proptest::option::of(any::<i64>()), proptest::option::of("[a-e]{0,3}")),
                0..200,
            ),
            batch_rows in 1usize..50,
            stream in any::<bool>(),
            compression in 0usize..3,
        ) {
            let schema = dictionary_schema();
            let format = if stream { IpcFormat::Stream } else { IpcFormat::File };
            let mut writer =
                ArrowIpcWriter::new(Vec::new(), &schema, format, COMPRESSIONS[compression]).unwrap();
            let mut builder = BatchBuilder::new(&schema, batch_rows).unwrap();
            for (index, (number, key)) in rows.iter().enumerate() {
                let columns = builder.columns_mut();
                match number {
                    Some(n) => columns[0].push_i64(*n).unwrap(),
                    None => columns[0].push_null().unwrap(),
                }
                match key {
                    Some(k) => columns[1].push_str(k).unwrap(),
                    None => columns[1].push_null().unwrap(),
                }
                if (index + 1) % batch_rows == 0 {
                    writer.write_batch(&mut builder).unwrap();
                }
            }
            writer.write_batch(&mut builder).unwrap();
            let batches = read(format, writer.finish().unwrap());
            prop_assert_eq!(batches.len(), rows.len().div_ceil(batch_rows));
            let mut numbers = Vec::new();
            let mut keys = Vec::new();
            for batch in &batches {
                let n = batch.column(0).as_primitive::<Int64Type>();
                numbers.extend(n.iter());
                let k = batch.column(1).as_dictionary::<Int32Type>();
                let values = k.values().as_string::<i32>();
                for i in 0..k.len() {
                    keys.push(k.key(i).map(|key| values.value(key).to_owned()));
                }
            }
            let expected_numbers: Vec<Option<i64>> = rows.iter().map(|r| r.0).collect();
            let expected_keys: Vec<Option<String>> = rows.iter().map(|r| r.1.clone()).collect();
            prop_assert_eq!(numbers, expected_numbers);
            prop_assert_eq!(keys, expected_keys);
        }
    }
}
