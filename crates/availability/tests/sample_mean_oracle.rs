//! The old service's figure against a Python oracle (`round(mean * 100, 2)`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use availability::sample_mean;

const DEFAULT_VENV_PYTHON: &str = "/root/.cache/sensor_analytics/venv/bin/python";

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SENSOR_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(DEFAULT_VENV_PYTHON);
    if venv.exists() {
        return Some(venv);
    }
    // The oracle needs only the standard library.
    Some(PathBuf::from("python3"))
}

fn skip_or_fail(reason: &str) {
    if std::env::var("SENSOR_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("sample_mean_matches_python: {reason}");
    }
    eprintln!("SKIP: sample_mean_matches_python: {reason}");
}

#[test]
fn sample_mean_matches_python() {
    const STATUSES: [Option<&str>; 6] = [
        Some("online"),
        Some("warning"),
        Some("offline"),
        Some("maintenance"),
        Some("Online"),
        None,
    ];
    // Deterministic pseudo-random cases, plus lengths that give ties at the
    // third decimal for some sums.
    let mut cases: Vec<Vec<Option<&str>>> = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for _ in 0..4000 {
        let len = 1 + next(900) as usize;
        // Skewed mixes so the means cover the whole range.
        let bias = next(6);
        cases.push(
            (0..len)
                .map(|_| {
                    let r = next(10);
                    STATUSES[if r < 5 {
                        bias as usize
                    } else {
                        next(6) as usize
                    }]
                })
                .collect(),
        );
    }
    for len in [8usize, 16, 40, 80, 400, 800, 1600] {
        for k in 0..len.min(64) {
            let mut v = vec![Some("online"); k];
            v.resize(len, Some("offline"));
            cases.push(v);
        }
    }
    let json = serde_json::to_vec(&cases).expect("json");

    let Some(py) = python() else {
        return skip_or_fail("no python");
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sample_mean_oracle.py");
    let child = Command::new(&py)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return skip_or_fail(&format!("cannot run {}", py.display()));
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&json)
        .expect("write");
    let out = child.wait_with_output().expect("python output");
    if !out.status.success() {
        return skip_or_fail(&format!(
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let expected: Vec<f64> = serde_json::from_slice(&out.stdout).expect("oracle json");
    assert_eq!(expected.len(), cases.len());
    let mut mismatches = 0;
    for (case, want) in cases.iter().zip(&expected) {
        let got = sample_mean(case.iter().copied()).expect("non-empty");
        if got.to_bits() != want.to_bits() {
            mismatches += 1;
            eprintln!("len {}: ours {got} python {want}", case.len());
        }
    }
    assert_eq!(mismatches, 0, "figures differing from Python");
}
