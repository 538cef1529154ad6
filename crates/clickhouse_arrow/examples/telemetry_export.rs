//! Timing binary for bench/arrow_writer.sh: pushes N synthetic telemetry rows (the same
//! values as the benchmark's SQL `generate_series` table) through the column builders
//! and writes Arrow IPC.
//!
//! Usage: telemetry_export ROWS OUT_PATH [file|stream] [none|lz4|zstd] [BATCH_ROWS]
//! Prints `seconds=<elapsed> bytes=<size>`.

use std::io::BufWriter;
use std::time::Instant;

use clickhouse_arrow::{
    ArrowIpcWriter, BatchBuilder, ColumnOptions, ColumnSpec, ExportSchema, IpcCompression,
    IpcFormat, PgType, TimestampDdl,
};

const PROSTHESIS: [&str; 4] = ["hand", "arm", "leg", "foot"];
const MUSCLES: [&str; 6] = [
    "biceps",
    "triceps",
    "deltoid",
    "quadriceps",
    "hamstring",
    "calf",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rows: i64 = args.get(1).map_or(Ok(10_000_000), |s| s.parse())?;
    let out = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "/tmp/telemetry.arrow".into());
    let format = match args.get(3).map(String::as_str) {
        Some("stream") => IpcFormat::Stream,
        _ => IpcFormat::File,
    };
    let compression = match args.get(4).map(String::as_str) {
        Some("lz4") => IpcCompression::Lz4Frame,
        Some("zstd") => IpcCompression::Zstd,
        _ => IpcCompression::None,
    };
    let batch_rows: i64 = args.get(5).map_or(Ok(65_536), |s| s.parse())?;

    let seconds = ColumnOptions {
        timestamp_ddl: TimestampDdl::DateTime,
        ..ColumnOptions::default()
    };
    let plain = ColumnOptions::default();
    let columns = [
        ("id", PgType::Int8, plain),
        ("user_id", PgType::Int4, plain),
        ("prosthesis_type", PgType::Text, plain),
        ("muscle_group", PgType::Text, plain),
        ("signal_frequency", PgType::Int4, plain),
        ("signal_duration", PgType::Int4, plain),
        ("signal_amplitude", PgType::Float8, plain),
        ("event_timestamp", PgType::Timestamptz, seconds),
        ("saved_ts", PgType::Timestamptz, seconds),
    ]
    .iter()
    .map(|(name, pg, options)| ColumnSpec::from_pg(*name, pg, false, options))
    .collect::<Result<Vec<_>, _>>()?;
    let schema = ExportSchema::new(columns)?;

    let start = Instant::now();
    let sink = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let mut writer = ArrowIpcWriter::new(sink, &schema, format, compression)?;
    let mut batch = BatchBuilder::new(&schema, usize::try_from(batch_rows)?)?;
    // 2024-01-01 00:00:00 UTC in PostgreSQL microseconds.
    let base_pg_micros: i64 = 757_382_400_000_000;
    for id in 1..=rows {
        let c = batch.columns_mut();
        // Same formulas as the SQL generator in bench/arrow_writer.sh.
        c[0].push_i64(id)?;
        c[1].push_i32(i32::try_from(id % 1000)?)?;
        c[2].push_str(PROSTHESIS[usize::try_from(id % 4)?])?;
        c[3].push_str(MUSCLES[usize::try_from(id % 6)?])?;
        c[4].push_i32(i32::try_from(id % 500)?)?;
        c[5].push_i32(i32::try_from(id % 1000)?)?;
        c[6].push_f64(id as f64 / 1000.0)?;
        c[7].push_timestamp_pg(base_pg_micros + id * 1_000_000)?;
        c[8].push_timestamp_pg(base_pg_micros + id * 1_000_000 + 500_000)?;
        if id % batch_rows == 0 {
            writer.write_batch(&mut batch)?;
        }
    }
    writer.write_batch(&mut batch)?;
    let bytes = writer.bytes_written();
    writer.finish()?;
    println!("seconds={:.3} bytes={bytes}", start.elapsed().as_secs_f64());
    Ok(())
}
