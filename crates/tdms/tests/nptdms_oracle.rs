//! Compare our decoding with npTDMS on generated and shipped TDMS files.

mod common;

use std::process::Command;

use common::{float_hex, python_with_nptdms, read_values, TempDir, V};
use serde_json::Value;
use tdms::{PropertyValue, ReadMode, Scaling, TdmsError, TdmsFile, ValuesBlock};

fn manifest_values(kind: &str, values: &Value) -> Vec<V> {
    let arr = values.as_array().cloned().unwrap_or_default();
    arr.iter()
        .map(|x| match kind {
            "bool" => V::B(x.as_i64() == Some(1)),
            "timestamp" => V::T(
                x[0].as_i64().expect("secs"),
                x[1].as_u64().expect("fractions"),
            ),
            "object" => V::S(x.as_str().expect("string").to_string()),
            k if k.starts_with("complex") => V::C(
                x[0].as_str().expect("re").into(),
                x[1].as_str().expect("im").into(),
            ),
            k if k.starts_with("float") => V::F(x.as_str().expect("hex").to_string()),
            k if k.starts_with("int") || k.starts_with("uint") => V::I(
                x.as_i64()
                    .map(i128::from)
                    .or_else(|| x.as_u64().map(i128::from))
                    .expect("int"),
            ),
            other => panic!("unexpected value kind {other}"),
        })
        .collect()
}

fn prop_matches(expected: &Value, ours: &PropertyValue) -> bool {
    if let Some(i) = expected.get("i") {
        let want = i
            .as_i64()
            .map(i128::from)
            .or_else(|| i.as_u64().map(i128::from));
        let got = match *ours {
            PropertyValue::I8(v) => Some(i128::from(v)),
            PropertyValue::I16(v) => Some(i128::from(v)),
            PropertyValue::I32(v) => Some(i128::from(v)),
            PropertyValue::I64(v) => Some(i128::from(v)),
            PropertyValue::U8(v) => Some(i128::from(v)),
            PropertyValue::U16(v) => Some(i128::from(v)),
            PropertyValue::U32(v) => Some(i128::from(v)),
            PropertyValue::U64(v) => Some(i128::from(v)),
            _ => None,
        };
        return want.is_some() && want == got;
    }
    if let Some(f) = expected.get("f") {
        return ours.as_f64().map(float_hex).as_deref() == f.as_str()
            && matches!(ours, PropertyValue::F32(_) | PropertyValue::F64(_));
    }
    if let Some(s) = expected.get("s") {
        return ours.as_str() == s.as_str();
    }
    if let Some(b) = expected.get("b") {
        return *ours == PropertyValue::Bool(b.as_bool().expect("bool"));
    }
    if let Some(t) = expected.get("t") {
        return ours.as_timestamp().map(|t| (t.seconds, t.fractions))
            == Some((t[0].as_i64().expect("s"), t[1].as_u64().expect("f")));
    }
    false
}

fn compare_props(case: &str, what: &str, expected: &Value, ours: &[(String, PropertyValue)]) {
    let exp = expected.as_array().expect("props");
    assert_eq!(
        exp.len(),
        ours.len(),
        "{case}: {what}: property count; ours {ours:?}"
    );
    for (e, (k, v)) in exp.iter().zip(ours.iter()) {
        assert_eq!(
            e[0].as_str(),
            Some(k.as_str()),
            "{case}: {what}: property order"
        );
        assert!(
            prop_matches(&e[1], v),
            "{case}: {what}: property {k}: expected {} got {v:?}",
            e[1]
        );
    }
}

fn assert_values_eq(case: &str, what: &str, expected: &[V], ours: &[V], f32_tolerance: bool) {
    assert_eq!(expected.len(), ours.len(), "{case}: {what}: value count");
    for (i, (e, o)) in expected.iter().zip(ours.iter()).enumerate() {
        if f32_tolerance {
            continue;
        }
        assert!(
            e.same(o),
            "{case}: {what}: value {i}: expected {e:?} got {o:?}"
        );
    }
}

#[test]
fn matches_nptdms_on_all_fixtures() {
    let Some(py) = python_with_nptdms("matches_nptdms_on_all_fixtures") else {
        return;
    };
    let dir = TempDir::new("tdms-oracle-");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nptdms_oracle.py");
    let out = Command::new(&py)
        .arg(script)
        .arg(&dir.0)
        .output()
        .expect("run oracle script");
    assert!(
        out.status.success(),
        "oracle script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.0.join("manifest.json")).expect("manifest"))
            .expect("json");
    let cases = manifest.as_array().expect("cases");
    assert!(
        cases.len() >= 45,
        "expected all scenarios, got {}",
        cases.len()
    );
    let mut compared_values = 0usize;
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let expect = case["expect"].as_str().expect("expect");
        assert_eq!(
            case["ok"],
            Value::Bool(true),
            "{name}: npTDMS failed: {}",
            case["error"]
        );
        let mut f = TdmsFile::open(case["file"].as_str().expect("file"))
            .unwrap_or_else(|e| panic!("{name}: open failed: {e}"));
        compare_props(name, "file", &case["properties"], f.properties());
        let groups = case["groups"].as_array().expect("groups");
        assert_eq!(groups.len(), f.groups().len(), "{name}: group count");
        for (g, ours) in groups.iter().zip(f.groups().iter()) {
            assert_eq!(
                g["name"].as_str(),
                Some(ours.name.as_str()),
                "{name}: group order"
            );
            compare_props(name, &ours.name, &g["properties"], &ours.properties);
        }
        let chans = case["channels"].as_array().expect("channels");
        assert_eq!(chans.len(), f.channels().len(), "{name}: channel count");
        for (ci, c) in chans.iter().enumerate() {
            let info = f.channels()[ci].clone();
            let what = format!("{}/{}", info.group, info.name);
            assert_eq!(
                c["group"].as_str(),
                Some(info.group.as_str()),
                "{name}: channel order"
            );
            assert_eq!(
                c["name"].as_str(),
                Some(info.name.as_str()),
                "{name}: channel order"
            );
            assert_eq!(c["path"].as_str(), Some(info.path.as_str()), "{name}: path");
            assert_eq!(
                c["data_type"].as_str(),
                info.data_type.map(|t| t.nptdms_name()),
                "{name}: {what}: data type"
            );
            assert_eq!(
                c["n_values"].as_u64(),
                Some(info.n_values),
                "{name}: {what}: n_values"
            );
            compare_props(name, &what, &c["properties"], &info.properties);

            if expect == "unsupported_scale" {
                let err = read_values(&mut f, ci, 0, None, 7, ReadMode::Scaled)
                    .expect_err("unsupported scale");
                assert!(
                    matches!(&err, TdmsError::Unsupported(m) if m.contains("RTD")),
                    "{name}: expected Unsupported naming RTD, got {err}"
                );
                assert!(matches!(info.scaling, Scaling::Unsupported { .. }));
            } else if let Some(kind) = c["scaled_kind"].as_str() {
                let expected = manifest_values(kind, &c["scaled"]);
                for block in [1usize, 3, 4096] {
                    let ours = read_values(&mut f, ci, 0, None, block, ReadMode::Scaled)
                        .unwrap_or_else(|e| panic!("{name}: {what}: read failed: {e}"));
                    let f32_scaled = expect == "f32_scaling" && kind == "float32";
                    assert_values_eq(name, &what, &expected, &ours, f32_scaled);
                    if f32_scaled {
                        // npTDMS scales float32 in float32 (NumPy weak scalars); we use f64.
                        for (e, o) in expected.iter().zip(ours.iter()) {
                            let (V::F(eh), V::F(oh)) = (e, o) else {
                                panic!("{name}: float kinds")
                            };
                            let (ev, ov) =
                                (common::parse_float_hex(eh), common::parse_float_hex(oh));
                            assert!(
                                (ev - ov).abs() <= 1e-6 * ev.abs().max(1.0),
                                "{name}: {what}: {ev} vs {ov}"
                            );
                        }
                    }
                    compared_values += ours.len();
                }
            } else {
                assert!(
                    c.get("scaled_error").is_some(),
                    "{name}: {what}: no scaled values and no error"
                );
            }
            // Raw values.
            match c["raw_kind"].as_str() {
                Some("dict") => {
                    for (id, pair) in c["raw"].as_object().expect("dict") {
                        let id: u32 = id.parse().expect("scale id");
                        let expected = manifest_values(pair[0].as_str().expect("kind"), &pair[1]);
                        let ours = read_values(&mut f, ci, 0, None, 5, ReadMode::DaqmxScaler(id))
                            .unwrap_or_else(|e| {
                                panic!("{name}: {what}: raw scaler read failed: {e}")
                            });
                        assert_values_eq(name, &what, &expected, &ours, false);
                    }
                }
                Some(kind) if !c["raw"].is_null() && kind != "void" => {
                    let expected = manifest_values(kind, &c["raw"]);
                    let ours = read_values(&mut f, ci, 0, None, 2, ReadMode::Raw)
                        .unwrap_or_else(|e| panic!("{name}: {what}: raw read failed: {e}"));
                    assert_values_eq(name, &what, &expected, &ours, false);
                }
                _ => {}
            }
            // Waveform times (npTDMS truncates to microseconds; we round).
            if let Some(times) = c.get("time_us").and_then(|t| t.as_array()) {
                let wf = info
                    .waveform
                    .unwrap_or_else(|| panic!("{name}: {what}: expected waveform"));
                for (i, t) in times.iter().enumerate() {
                    let theirs = t.as_i64().expect("time");
                    let ours = wf.time_us(i as u64).expect("time fits");
                    assert!(
                        (ours - theirs).abs() <= 2,
                        "{name}: {what}: time {i}: ours {ours} npTDMS {theirs}"
                    );
                }
            }
        }
        check_read_all_matches_channels(name, &mut f);
        check_slices(name, &mut f);
    }
    assert!(
        compared_values > 10_000,
        "compared only {compared_values} values"
    );
}

/// `read_all` gives the same values as per-channel reads.
fn check_read_all_matches_channels<R: std::io::Read + std::io::Seek>(
    name: &str,
    f: &mut TdmsFile<R>,
) {
    let n = f.channels().len();
    let mut all: Vec<Vec<V>> = vec![Vec::new(); n];
    let modes_ok = (0..n).all(|ci| read_values(f, ci, 0, None, 64, ReadMode::Scaled).is_ok());
    if !modes_ok {
        return;
    }
    let mut visitor = |ci: usize, block: ValuesBlock<'_>| -> Result<(), TdmsError> {
        common::block_values(&block, &mut all[ci]);
        Ok(())
    };
    f.read_all(ReadMode::Scaled, 3, &mut visitor)
        .unwrap_or_else(|e| panic!("{name}: read_all: {e}"));
    for (ci, got) in all.iter().enumerate() {
        let single = read_values(f, ci, 0, None, 1000, ReadMode::Scaled).expect("single read");
        assert_eq!(
            got.len(),
            single.len(),
            "{name}: read_all count for channel {ci}"
        );
        assert!(
            got.iter().zip(single.iter()).all(|(a, b)| a.same(b)),
            "{name}: read_all values, channel {ci}"
        );
    }
}

/// Offset/limit reads equal slices of the full read.
fn check_slices<R: std::io::Read + std::io::Seek>(name: &str, f: &mut TdmsFile<R>) {
    for ci in 0..f.channels().len() {
        let Ok(full) = read_values(f, ci, 0, None, 4096, ReadMode::Scaled) else {
            continue;
        };
        let n = full.len() as u64;
        let offsets = [0, 1, n / 3, n.saturating_sub(1), n, n + 5];
        for &off in &offsets {
            for limit in [None, Some(0), Some(1), Some(2), Some(n / 2 + 1)] {
                let part = read_values(f, ci, off, limit, 3, ReadMode::Scaled).expect("slice read");
                let start = off.min(n) as usize;
                let end = limit.map_or(n, |l| (off + l).min(n)) as usize;
                let end = end.max(start);
                assert_eq!(
                    part.len(),
                    end - start,
                    "{name}: channel {ci} slice {off} {limit:?}"
                );
                assert!(
                    part.iter()
                        .zip(full[start..end].iter())
                        .all(|(a, b)| a.same(b)),
                    "{name}: slice values"
                );
            }
        }
    }
}
