//! Transition throughput: `cargo run --release --example throughput`.

use std::time::Instant;

use availability::{AvailabilityConfig, AvailabilityState};

fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let states = ["online", "warning", "online", "offline"];
    for (label, order) in [("ascending", 0), ("descending", 1), ("blocks shuffled", 2)] {
        let times: Vec<i64> = match order {
            0 => (0..n).collect(),
            1 => (0..n).rev().collect(),
            // 1000-event blocks in a scrambled order (like heap pages).
            _ => {
                let blocks = n / 1000;
                (0..blocks)
                    .flat_map(|b| {
                        let k = (b * 7919) % blocks;
                        (k * 1000)..(k * 1000 + 1000)
                    })
                    .collect()
            }
        };
        let start = Instant::now();
        let mut s = AvailabilityState::new(AvailabilityConfig::default(), 0, n * 1_000_000, None)
            .expect("state");
        for &i in &times {
            let st = states[((i / 997) % 4) as usize];
            s.push(i * 1_000_000, st).expect("push");
        }
        let bytes = s.to_bytes();
        let el = start.elapsed();
        let sum = s.summary();
        println!(
            "{label}: {n} events in {:.3} s ({:.1} M events/s), {} runs, {} bytes, availability {:.6}, offline {} s, outages {}, approximate {}",
            el.as_secs_f64(),
            n as f64 / el.as_secs_f64() / 1e6,
            s.run_count(),
            bytes.len(),
            sum.availability.unwrap_or(f64::NAN),
            sum.time_in("offline") / 1_000_000,
            sum.outages,
            sum.approximate,
        );
    }
}
