//! Parse speed on a generated V002 file (default 1,000,000 rows × 30 channels).
//!
//! `cargo run --release -p powerview --example tsv_throughput -- [ROWS] [FILE]`
//!
//! Writes FILE (default: a temp file, removed afterwards) unless it exists, then parses it three
//! times in UTC and once with a time zone, and prints rows/s, points/s and MB/s of the best run.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

use powerview::synthetic::{write_synthetic_tsv, SyntheticSpec};
use powerview::{ParseOptions, TsvFile};

fn parse_once(
    path: &PathBuf,
    options: &ParseOptions,
) -> Result<(f64, u64, u64, f64), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut file = TsvFile::open_path(path, options)?;
    let mut checksum = 0.0;
    while let Some(row) = file.next_row()? {
        checksum += row.values.iter().flatten().sum::<f64>() + (row.time_us % 7) as f64;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok((seconds, file.stats().rows, file.stats().points, checksum))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let (path, remove) = match args.next() {
        Some(p) => (PathBuf::from(p), false),
        None => (
            std::env::temp_dir().join(format!("powerview_throughput_{}.tsv", std::process::id())),
            true,
        ),
    };
    if !path.exists() {
        let start = Instant::now();
        let spec = SyntheticSpec::thirty_channels(rows);
        write_synthetic_tsv(BufWriter::new(File::create(&path)?), &spec)?;
        eprintln!(
            "wrote {} in {:.2} s",
            path.display(),
            start.elapsed().as_secs_f64()
        );
    }
    let bytes = std::fs::metadata(&path)?.len() as f64;

    // I/O floor: split the file into lines without parsing.
    let start = Instant::now();
    let mut reader = BufReader::with_capacity(64 * 1024, File::open(&path)?);
    let mut line = Vec::new();
    let mut lines = 0u64;
    while reader.read_until(b'\n', &mut line)? > 0 {
        lines += 1;
        line.clear();
    }
    let floor = start.elapsed().as_secs_f64();
    println!(
        "line split only: {lines} lines in {floor:.3} s ({:.0} MB/s)",
        bytes / floor / 1e6
    );

    let utc = ParseOptions::default();
    let mut best = f64::INFINITY;
    let mut result = (0, 0, 0.0);
    for _ in 0..3 {
        let (seconds, rows, points, checksum) = parse_once(&path, &utc)?;
        best = best.min(seconds);
        result = (rows, points, checksum);
    }
    let (rows, points, checksum) = result;
    println!(
        "UTC:          {rows} rows, {points} points in {best:.3} s: {:.2} M rows/s, {:.1} M points/s, {:.0} MB/s (checksum {checksum:.1})",
        rows as f64 / best / 1e6,
        points as f64 / best / 1e6,
        bytes / best / 1e6
    );
    // Machine-readable line for bench/tsv_parse.py.
    println!("BEST_UTC_SECONDS={best:.6}");
    let paris = ParseOptions::with_timezone_name(Some("Europe/Paris"))?;
    let (seconds, rows, points, _) = parse_once(&path, &paris)?;
    println!(
        "Europe/Paris: {rows} rows, {points} points in {seconds:.3} s: {:.2} M rows/s, {:.1} M points/s",
        rows as f64 / seconds / 1e6,
        points as f64 / seconds / 1e6
    );
    if remove {
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
