//! Writes a synthetic T302 V002 file (three-phase master + four slaves, 30 channels) and, optionally,
//! the same data as long-format CSV rows `time,channel_id,value` for a `COPY ... FROM` comparison.
//!
//! `cargo run --release -p powerview --example tsv_make_file -- OUT.tsv [--rows N] [--step SECONDS] [--csv OUT.csv]`
//!
//! The CSV is produced by parsing OUT.tsv with this crate, so it holds exactly the points a loader
//! built on it would insert: `time` as `YYYY-MM-DD HH:MM:SS+00` (UTC), values in Rust's shortest
//! round-trip form.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use powerview::synthetic::{write_synthetic_tsv, SyntheticSpec};
use powerview::{ParseOptions, TsvFile};

fn usage() -> ! {
    eprintln!("usage: tsv_make_file OUT.tsv [--rows N] [--step SECONDS] [--csv OUT.csv]");
    std::process::exit(2)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else { usage() };
    let mut rows = 1_000_000u64;
    let mut step = 10i64;
    let mut csv = None;
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--rows" => rows = value.parse()?,
            "--step" => step = value.parse()?,
            "--csv" => csv = Some(value),
            _ => usage(),
        }
    }
    let start = Instant::now();
    let mut spec = SyntheticSpec::thirty_channels(rows);
    spec.step_seconds = step;
    let mut writer = BufWriter::new(File::create(&out)?);
    write_synthetic_tsv(&mut writer, &spec)?;
    writer.flush()?;
    eprintln!(
        "{out}: {rows} rows x {} channels in {:.2} s",
        spec.channel_count(),
        start.elapsed().as_secs_f64()
    );

    if let Some(csv) = csv {
        let start = Instant::now();
        let mut file = TsvFile::open_path(&out, &ParseOptions::default())?;
        let ids: Vec<String> = file
            .channels()
            .iter()
            .map(|c| c.channel_id.clone())
            .collect();
        let mut writer = BufWriter::new(File::create(&csv)?);
        let mut points = 0u64;
        while let Some(row) = file.next_row()? {
            let secs = row.time_us.div_euclid(1_000_000);
            let time = chrono::DateTime::from_timestamp(secs, 0)
                .ok_or("time out of range")?
                .format("%Y-%m-%d %H:%M:%S+00")
                .to_string();
            for (id, value) in ids.iter().zip(row.values) {
                if let Some(v) = value {
                    writeln!(writer, "{time},{id},{v}")?;
                    points += 1;
                }
            }
        }
        writer.flush()?;
        eprintln!(
            "{csv}: {points} points in {:.2} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
