//! Transition throughput:
//! `cargo run --release --example throughput [events] [buffer capacity] [rows per state]`
//! (rows per state: how many consecutive rows share a state, default 997;
//! 1 makes every row a state change, the most runs).
//!
//! Input orders: ascending, descending, one parallel worker's share of a
//! time-ordered table (every 3rd block of 1000 rows: ascending with gaps),
//! and 1000-row blocks in scrambled order. The worker share also prints the
//! size of its partial bytes and checks that merging the three workers'
//! partial states gives the exact state.

use std::time::Instant;

use availability::{AvailabilityConfig, AvailabilityState, DEFAULT_BUFFER_CAPACITY};

const STATES: [&str; 4] = ["online", "warning", "online", "offline"];
const BLOCK: i64 = 1000;
const WORKERS: i64 = 3;

fn build(times: &[i64], n: i64, capacity: usize, period: i64) -> AvailabilityState {
    let mut s = AvailabilityState::new(AvailabilityConfig::default(), 0, n * 1_000_000, None)
        .expect("state");
    s.set_buffer_capacity(capacity);
    for &i in times {
        s.push(i * 1_000_000, STATES[((i / period) % 4) as usize])
            .expect("push");
    }
    s
}

fn worker_share(n: i64, worker: i64) -> Vec<i64> {
    (0..n).filter(|i| (i / BLOCK) % WORKERS == worker).collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: i64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let capacity: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(DEFAULT_BUFFER_CAPACITY);
    let period: i64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .filter(|&p| p > 0)
        .unwrap_or(997);
    println!("buffer capacity {capacity}, {period} rows per state");
    for label in [
        "ascending",
        "descending",
        "worker share (every 3rd block)",
        "blocks scrambled",
    ] {
        let times: Vec<i64> = match label {
            "ascending" => (0..n).collect(),
            "descending" => (0..n).rev().collect(),
            "worker share (every 3rd block)" => worker_share(n, 0),
            // 1000-event blocks in a scrambled order (like heap pages).
            _ => {
                let blocks = n / BLOCK;
                (0..blocks)
                    .flat_map(|b| {
                        let k = (b * 7919) % blocks;
                        (k * BLOCK)..(k * BLOCK + BLOCK)
                    })
                    .collect()
            }
        };
        let start = Instant::now();
        let s = build(&times, n, capacity, period);
        let pushed = start.elapsed();
        let bytes = s.to_bytes();
        let sum = s.summary();
        let el = start.elapsed();
        println!(
            "{label}: {} events pushed in {:.3} s ({:.1} M events/s), to_bytes + summary {:.3} s, {} runs, {} bytes, availability {:.6}, offline {} s, outages {}, approximate {}",
            times.len(),
            pushed.as_secs_f64(),
            times.len() as f64 / pushed.as_secs_f64() / 1e6,
            (el - pushed).as_secs_f64(),
            s.run_count(),
            bytes.len(),
            sum.availability.unwrap_or(f64::NAN),
            sum.time_in("offline") / 1_000_000,
            sum.outages,
            sum.approximate,
        );
    }

    // Parallel plan in miniature: three workers, partial bytes, merge.
    let start = Instant::now();
    let partials: Vec<Vec<u8>> = (0..WORKERS)
        .map(|w| build(&worker_share(n, w), n, capacity, period).to_partial_bytes())
        .collect();
    let built = start.elapsed();
    let mut merged: Option<AvailabilityState> = None;
    for p in &partials {
        let st = AvailabilityState::from_bytes(p).expect("partial bytes");
        match merged.as_mut() {
            None => merged = Some(st),
            Some(m) => m.merge(&st).expect("merge"),
        }
    }
    let Some(merged) = merged else {
        return;
    };
    let bytes = merged.to_bytes();
    let total = start.elapsed();
    let direct = build(&(0..n).collect::<Vec<_>>(), n, capacity, period);
    println!(
        "3 workers: partial bytes {:?} ({:.2} bytes/event), build {:.3} s, merge+final {:.3} s, approximate {}, equals direct state {}",
        partials.iter().map(Vec::len).collect::<Vec<_>>(),
        partials.iter().map(Vec::len).sum::<usize>() as f64 / n as f64,
        built.as_secs_f64(),
        (total - built).as_secs_f64(),
        merged.is_approximate(),
        bytes == direct.to_bytes(),
    );
}
