//! Stored states must decode forever: `tests/frozen/v1/*.hex` were written by format
//! version 1, with the figures they decode to in `*.txt`. While version 1 is current,
//! today's encoder must write exactly these bytes. `FROZEN_BLESS=1` writes missing files
//! (never overwrites: a changed encoder is a new version).

use std::fmt::Write as _;
use std::path::PathBuf;

use energy::{EnergyState, FORMAT_VERSION};

const S: i64 = 1_000_000;

fn cases() -> Vec<(&'static str, EnergyState)> {
    let build = |max_gap: Option<i64>, rows: &[(i64, f64)], capacity: usize| {
        let mut st = EnergyState::new(max_gap).unwrap();
        st.set_buffer_capacity(capacity);
        for &(t, v) in rows {
            st.push(t, v);
        }
        st
    };
    let day = 1_700_000_000 * S;
    let ramp: Vec<_> = (0..10)
        .map(|i| (day + i * 60 * S, 100.0 * i as f64))
        .collect();
    let with_gap = [
        (day, 50.0),
        (day + 60 * S, 70.0),
        (day + 4000 * S, 70.0),
        (day + 4060 * S, 10.0),
    ];
    let mut late: Vec<_> = (0..70)
        .map(|i| (day + i * 60 * S, 100.0 * (i % 10) as f64))
        .collect();
    late.push((day + 30 * S, 1.0));
    vec![
        ("ramp.final", build(None, &ramp, 1 << 16)),
        ("gap.final", build(Some(900 * S), &with_gap, 1 << 16)),
        (
            "same_instant.final",
            build(None, &[(day, 1.0), (day, 3.0)], 1 << 16),
        ),
        // A partial state: runs cut where time jumps, one row placed approximately.
        ("partial_approximate", build(None, &late, 64)),
    ]
}

fn render(st: &EnergyState) -> String {
    let mut out = String::new();
    match st.summary() {
        None => out.push_str("empty\n"),
        Some(s) => {
            let _ = writeln!(
                out,
                "integral {:?}\ncovered {}\ngaps {}\ngap_time {}\nrows {}\nfirst {} {:?}\nlast {} {:?}\napproximate {}\nmax_gap {:?}",
                s.integral, s.covered, s.gaps, s.gap_time, s.rows, s.first_time, s.first_value,
                s.last_time, s.last_value, s.approximate, st.max_gap()
            );
        }
    }
    out
}

#[test]
fn version_1_states_decode_to_their_figures_and_today_writes_them_byte_for_byte() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/frozen/v1");
    for (name, st) in cases() {
        let bytes = if name.ends_with(".final") {
            st.to_final_bytes()
        } else {
            st.to_bytes()
        };
        frozen_bytes::check_case(&dir, name, "txt", &bytes, FORMAT_VERSION == 1, |b| {
            render(&EnergyState::from_bytes(b).unwrap())
        });
    }
}
