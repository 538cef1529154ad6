//! Frozen bytes of every availability state format that has shipped.
//!
//! States live for years in continuous aggregates and materialized views
//! (`sensor.availability_state`), so every version of the encoding must still decode.
//! `tests/frozen/v<N>/<case>.hex` holds bytes written by format version N (checked in when
//! that version shipped, never rewritten); `<case>.summary.json` holds the figures they
//! decode to. Each case is also rebuilt from its events: while N is the current version,
//! today's encoder must write exactly the frozen bytes.
//!
//! Adding a case: write its builder below, run `FROZEN_BLESS=1 cargo test -p availability
//! --test frozen_formats` once, review and commit the new files. Existing files are never
//! overwritten.

use std::path::PathBuf;

use availability::{
    AvailabilityConfig, AvailabilityState, GapPolicy, SampleMean, Weights, WindowedRollup,
};

/// The format version today's encoder writes (first byte after the "AV" magic).
const CURRENT_VERSION: u8 = 1;

const HOUR: i64 = 3_600_000_000;
/// 2026-01-01 00:00 UTC in µs since the Unix epoch.
const DAY: i64 = 1_767_225_600_000_000;

fn frozen_dir(version: u8) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/frozen")
        .join(format!("v{version}"))
}

fn default_config() -> AvailabilityConfig {
    AvailabilityConfig::new(Weights::new(), None, GapPolicy::Down).unwrap()
}

/// The cases: name and the state, built from events.
fn cases() -> Vec<(&'static str, AvailabilityState)> {
    let day = |events: &[(i64, &'static str)], config: AvailabilityConfig, carry: Option<&str>| {
        AvailabilityState::from_events(
            config,
            DAY,
            DAY + 24 * HOUR,
            carry,
            events.iter().map(|&(h, s)| (DAY + h * HOUR / 4, s)),
        )
        .unwrap()
    };
    let heartbeat = AvailabilityConfig::new(
        Weights::from_json_str(r#"{"maintenance": 1, "degraded": 0.25}"#).unwrap(),
        Some(HOUR),
        GapPolicy::Unknown,
    )
    .unwrap();
    let mut carried = day(&[(8, "offline"), (40, "online")], default_config(), None);
    // An event before the window: the state in force at `from`.
    carried.push(DAY - HOUR, "warning").unwrap();
    vec![
        (
            "online_offline",
            day(
                &[
                    (0, "online"),
                    (24, "offline"),
                    (36, "online"),
                    (92, "offline"),
                ],
                default_config(),
                None,
            ),
        ),
        ("empty_window", day(&[], default_config(), None)),
        (
            "carry_in_parameter",
            day(&[(20, "offline")], default_config(), Some("online")),
        ),
        ("carry_in_event", carried),
        (
            "heartbeats_weights_unknown_gaps",
            day(
                &[
                    (0, "online"),
                    (1, "online"),
                    (2, "degraded"),
                    (30, "maintenance"),
                    (31, "online"),
                    (80, "offline"),
                ],
                heartbeat,
                None,
            ),
        ),
    ]
}

fn summary_json(state: &AvailabilityState) -> String {
    serde_json::to_string_pretty(&state.summary()).unwrap() + "\n"
}

#[test]
fn current_encoder_writes_the_frozen_bytes() {
    for (name, state) in cases() {
        for (suffix, bytes) in [
            ("", state.to_bytes()),
            (".partial", state.to_partial_bytes()),
        ] {
            assert_eq!(bytes[2], CURRENT_VERSION, "{name}{suffix}");
            let path = frozen_dir(CURRENT_VERSION).join(format!("{name}{suffix}.hex"));
            frozen_bytes::check_bytes(&path, &bytes);
        }
        let path = frozen_dir(CURRENT_VERSION).join(format!("{name}.summary.json"));
        frozen_bytes::frozen_file(&path, &summary_json(&state));
    }
}

#[test]
fn every_frozen_state_still_decodes_to_its_figures() {
    let mut checked = 0;
    for version in 1..=CURRENT_VERSION {
        let dir = frozen_dir(version);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "hex"))
            .collect();
        names.sort();
        for path in names {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let case = stem.trim_end_matches(".partial");
            let bytes = frozen_bytes::bytes_of(&std::fs::read_to_string(&path).unwrap(), &path);
            let state = AvailabilityState::from_bytes(&bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let expected =
                std::fs::read_to_string(dir.join(format!("{case}.summary.json"))).unwrap();
            assert_eq!(summary_json(&state), expected, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} frozen states found");
}

#[test]
fn sample_mean_bytes_are_frozen_too() {
    let mut mean = SampleMean::new();
    for s in ["online", "online", "warning", "offline", "nonsense"] {
        mean.push(Some(s));
    }
    mean.push(None);
    let bytes = mean.to_bytes();
    // Not an availability state: .txt keeps it apart from the states decoded above.
    let path = frozen_dir(CURRENT_VERSION).join("sample_mean.txt");
    let decoded = SampleMean::from_bytes(&frozen_bytes::check_bytes(&path, &bytes)).unwrap();
    assert_eq!(decoded.count(), mean.count());
    assert_eq!(decoded.value(), mean.value());
}

#[test]
fn windowed_rollup_bytes_are_frozen_too() {
    let states = cases();
    let mut rollup = WindowedRollup::new(DAY - 24 * HOUR, DAY + 48 * HOUR).unwrap();
    let empty = rollup.to_bytes();
    for (_, state) in states.iter().take(2) {
        rollup.merge(state).unwrap();
    }
    for (name, bytes) in [("rollup_empty", empty), ("rollup", rollup.to_bytes())] {
        // .txt: not a plain availability state, so not in the decode loop above.
        let path = frozen_dir(CURRENT_VERSION).join(format!("{name}.txt"));
        let frozen = frozen_bytes::check_bytes(&path, &bytes);
        let decoded = WindowedRollup::from_bytes(&frozen).unwrap();
        assert_eq!(decoded.to_bytes(), bytes, "{name}");
    }
    let finished = WindowedRollup::from_bytes(&rollup.to_bytes())
        .unwrap()
        .finish()
        .unwrap()
        .unwrap();
    let path = frozen_dir(CURRENT_VERSION).join("rollup.summary.json");
    let expected = frozen_bytes::frozen_file(&path, &summary_json(&finished));
    assert_eq!(summary_json(&finished), expected);
}
