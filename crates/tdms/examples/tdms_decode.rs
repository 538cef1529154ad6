//! Decode every channel of a TDMS file and print a summary.
//!
//! `tdms_decode FILE [--mode all|channel] [--print N]`
//! - `all` (default): one pass with `read_all`, summing values as f64.
//! - `channel`: each channel separately with `read_channel`.
//! - `--print N`: print the first N values of each channel (channel mode).

use std::time::Instant;

use tdms::{ReadMode, TdmsError, TdmsFile, ValuesBlock};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: tdms_decode FILE [--mode all|channel] [--print N]")?;
    let mode = args
        .iter()
        .position(|a| a == "--mode")
        .and_then(|i| args.get(i + 1))
        .map_or("all", |s| s.as_str());
    let print: usize = args
        .iter()
        .position(|a| a == "--print")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let t0 = Instant::now();
    let mut f = TdmsFile::open(path)?;
    let t_open = t0.elapsed();
    let n = f.channels().len();
    let mut sums = vec![0f64; n];
    let mut counts = vec![0u64; n];
    let mut conv = Vec::new();
    if mode == "channel" {
        for ci in 0..n {
            let mut r = f.read_channel(ci, 0, None, 65536)?;
            let mut shown = 0;
            while let Some(b) = r.next_block()? {
                if shown < print {
                    println!("  {ci}: {:?}", first_values(&b, print - shown));
                    shown += b.len().min(print - shown);
                }
                counts[ci] += b.len() as u64;
                if b.elem_type().is_real() {
                    b.to_f64(&mut conv)?;
                    sums[ci] += conv.iter().sum::<f64>();
                }
            }
        }
    } else {
        let mut visit = |ci: usize, b: ValuesBlock<'_>| -> Result<(), TdmsError> {
            counts[ci] += b.len() as u64;
            if b.elem_type().is_real() {
                b.to_f64(&mut conv)?;
                sums[ci] += conv.iter().sum::<f64>();
            }
            Ok(())
        };
        f.read_all(ReadMode::Scaled, 65536, &mut visit)?;
    }
    let elapsed = t0.elapsed();
    for (ci, c) in f.channels().iter().enumerate() {
        println!(
            "{} {} {:?} n={} read={} sum={} unit={:?} waveform={:?}",
            c.group, c.name, c.data_type, c.n_values, counts[ci], sums[ci], c.unit, c.waveform
        );
    }
    for w in f.warnings() {
        println!("warning: {w}");
    }
    eprintln!(
        "segments={} runs={} open={:.3}s total={:.3}s",
        f.segment_count(),
        f.index_runs(),
        t_open.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

fn first_values(b: &ValuesBlock<'_>, n: usize) -> String {
    match b {
        ValuesBlock::F64(v) => format!("{:?}", &v[..n.min(v.len())]),
        ValuesBlock::F32(v) => format!("{:?}", &v[..n.min(v.len())]),
        ValuesBlock::I16(v) => format!("{:?}", &v[..n.min(v.len())]),
        ValuesBlock::I32(v) => format!("{:?}", &v[..n.min(v.len())]),
        ValuesBlock::U8(v) => format!("{:?}", &v[..n.min(v.len())]),
        other => format!("{:?}", other.elem_type()),
    }
}
