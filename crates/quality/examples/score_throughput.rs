//! Scores synthetic samples (ToF + spectral + fusion) and prints samples/s.
//!
//! ```text
//! cargo run --release -p quality --example score_throughput -- [SAMPLES] [--bins N] [--json]
//! ```
//!
//! SAMPLES defaults to 1 000 000. `--bins N` adds 8×8×N histograms to every
//! ToF frame (much slower: the histogram smoothing dominates). `--json` also
//! serialises each fused report's verdict, as the SQL glue would.
//! Inputs come from a pool of 1024 pre-generated samples so the timing covers
//! scoring only.

use std::hint::black_box;
use std::time::Instant;

use quality::{
    fuse, spectral_analysis, tof_analysis, FusionSensorInput, SpectralInput, TofInput, TofParams,
    ZoneHistograms, DEFAULT_TOF_WEIGHT,
};

/// xorshift64* generator: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
}

struct Sample {
    distance: Vec<f64>,
    reflectance: Vec<f64>,
    amplitude: Vec<f64>,
    histograms: Vec<f64>,
    spectral: SpectralInput,
}

fn synthetic(rng: &mut Rng, bins: usize) -> Sample {
    let base = rng.uniform(60.0, 110.0);
    let mut distance: Vec<f64> = (0..64).map(|_| base + rng.uniform(-3.0, 3.0)).collect();
    // Occasional defects.
    if rng.next_f64() < 0.2 {
        let zone = (rng.next_f64() * 64.0) as usize % 64;
        distance[zone] += rng.uniform(-40.0, 40.0);
    }
    let reflectance = (0..64).map(|_| rng.uniform(25.0, 85.0)).collect();
    let amplitude = (0..64).map(|_| rng.uniform(5.0, 12.0)).collect();
    let mut histograms = Vec::with_capacity(64 * bins);
    for _ in 0..64 {
        let peak = rng.uniform(0.2, 0.4) * bins as f64;
        for b in 0..bins {
            let x = (b as f64 - peak) / 3.0;
            histograms.push((200.0 * (-x * x).exp() + rng.uniform(0.0, 12.0)).round());
        }
    }
    let mut count = |lo: f64, hi: f64| Some(rng.uniform(lo, hi).round());
    let spectral = SpectralInput {
        f1_violet: count(1200.0, 1700.0),
        f2_indigo: count(1900.0, 2500.0),
        f3_blue: count(1700.0, 2100.0),
        f4_cyan: count(6500.0, 8500.0),
        f5_green: count(3000.0, 3800.0),
        f6_yellow: count(2000.0, 2600.0),
        f7_orange: count(3500.0, 4500.0),
        f8_red: count(2500.0, 3100.0),
        nir: count(2000.0, 2700.0),
        clear: count(20000.0, 30000.0),
        flicker: count(0.0, 5.0),
    };
    Sample {
        distance,
        reflectance,
        amplitude,
        histograms,
        spectral,
    }
}

fn main() {
    let mut samples: usize = 1_000_000;
    let mut bins = 0usize;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bins" => bins = args.next().and_then(|v| v.parse().ok()).unwrap_or(128),
            "--json" => json = true,
            other => match other.parse() {
                Ok(n) => samples = n,
                Err(_) => {
                    eprintln!("usage: score_throughput [SAMPLES] [--bins N] [--json]");
                    std::process::exit(2);
                }
            },
        }
    }

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pool: Vec<Sample> = (0..1024).map(|_| synthetic(&mut rng, bins)).collect();
    let params = TofParams::default();

    let start = Instant::now();
    let mut checksum = 0.0;
    let mut rejects = 0usize;
    let mut json_bytes = 0usize;
    for i in 0..samples {
        let s = &pool[i % pool.len()];
        let tof = tof_analysis(
            &TofInput {
                distance: &s.distance,
                reflectance: &s.reflectance,
                amplitude: &s.amplitude,
                histograms: (bins > 0).then_some(ZoneHistograms {
                    counts: &s.histograms,
                    bins_per_zone: bins,
                }),
                sensor_height_mm: 120.0,
                zone_size_mm: 20.0,
            },
            &params,
        )
        .expect("synthetic frames are valid");
        let spectral = spectral_analysis(black_box(&s.spectral));
        let fused = fuse(
            &FusionSensorInput {
                score: tof.quality_score,
                grade: tof.grade,
                defect_count: tof.defects.len(),
            },
            Some(&FusionSensorInput {
                score: spectral.quality_score,
                grade: spectral.grade,
                defect_count: spectral.defects.len(),
            }),
            DEFAULT_TOF_WEIGHT,
        )
        .expect("scores are in range");
        if json {
            json_bytes += serde_json::to_string(&tof.defects).map_or(0, |t| t.len());
        }
        checksum += fused.final_score;
        rejects += usize::from(fused.is_rejected);
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "samples={samples} bins={bins} elapsed_s={elapsed:.3} samples_per_s={:.0} us_per_sample={:.3} rejects={rejects} checksum={checksum:.6} json_bytes={json_bytes}",
        samples as f64 / elapsed,
        elapsed * 1e6 / samples.max(1) as f64,
    );
}
