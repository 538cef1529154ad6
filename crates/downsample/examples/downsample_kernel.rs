//! Timing binary for bench/downsample_kernel.sh: reads raw little-endian
//! `i64` timestamps and `f64` values, runs one batch method several times and
//! prints the best kernel time (file loading excluded).
//!
//! Usage: downsample_kernel T_FILE V_FILE METHOD N RUNS [parallel]

use std::time::Instant;

use downsample::{downsample, DownsampleOptions, Method};

fn read_raw<const W: usize>(path: &str) -> Result<Vec<[u8; W]>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.len() % W != 0 {
        return Err(format!(
            "{path}: size {} is not a multiple of {W}",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(W)
        .map(|c| {
            let mut a = [0u8; W];
            a.copy_from_slice(c);
            a
        })
        .collect())
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, t_file, v_file, method, n, runs, rest @ ..] = args.as_slice() else {
        return Err("usage: downsample_kernel T_FILE V_FILE METHOD N RUNS [parallel]".into());
    };
    let ts: Vec<i64> = read_raw::<8>(t_file)?
        .into_iter()
        .map(i64::from_le_bytes)
        .collect();
    let vs: Vec<f64> = read_raw::<8>(v_file)?
        .into_iter()
        .map(f64::from_le_bytes)
        .collect();
    let method: Method = method.parse().map_err(|e| format!("{e}"))?;
    let n: usize = n.parse().map_err(|e| format!("N: {e}"))?;
    let runs: usize = runs.parse().map_err(|e| format!("RUNS: {e}"))?;
    let options = DownsampleOptions {
        parallel: rest.iter().any(|a| a == "parallel"),
        ..DownsampleOptions::default()
    };
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        out = downsample(&ts, &vs, n, method, &options).map_err(|e| e.to_string())?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    let checksum = out
        .iter()
        .fold(0i64, |acc, p| acc.wrapping_mul(31).wrapping_add(p.t));
    println!(
        "method={method} points={} out={} best_ms={:.3} checksum={checksum}",
        ts.len(),
        out.len(),
        best * 1e3
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("downsample_kernel: {e}");
        std::process::exit(2);
    }
}
