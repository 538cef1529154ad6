//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use tdms::{ReadMode, TdmsError, TdmsFile, ValuesBlock};

/// Python with npTDMS, or `None` after printing a SKIP line (panics instead
/// when SENSOR_REQUIRE_PEERS=1).
pub fn python_with_nptdms(test: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os("SENSOR_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let p = PathBuf::from("/root/.cache/sensor_analytics/venv/bin/python");
            p.exists().then_some(p)
        });
    let reason = match &candidate {
        None => {
            "no python (set SENSOR_PYTHON or create the venv with scripts/python-env)".to_string()
        }
        Some(py) => match Command::new(py)
            .args(["-c", "import nptdms, numpy"])
            .output()
        {
            Ok(o) if o.status.success() => return candidate,
            Ok(o) => format!(
                "npTDMS not importable: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => format!("cannot run {}: {e}", py.display()),
        },
    };
    if std::env::var("SENSOR_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{test}: SENSOR_REQUIRE_PEERS=1 but {reason}");
    }
    eprintln!("SKIP: {test}: {reason}");
    None
}

/// Python's `float.hex()` of an `f64`.
pub fn float_hex(x: f64) -> String {
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let e = ((bits >> 52) & 0x7ff) as i32;
    let m = bits & ((1u64 << 52) - 1);
    if e == 0x7ff {
        return if m != 0 {
            "nan".into()
        } else if neg {
            "-inf".into()
        } else {
            "inf".into()
        };
    }
    let sign = if neg { "-" } else { "" };
    if e == 0 && m == 0 {
        return format!("{sign}0x0.0p+0");
    }
    if e == 0 {
        return format!("{sign}0x0.{m:013x}p-1022");
    }
    format!("{sign}0x1.{m:013x}p{:+}", e - 1023)
}

/// An exactly comparable decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    I(i128),
    F(String),
    B(bool),
    S(String),
    T(i64, u64),
    C(String, String),
}

impl V {
    /// Equality that treats an integer and a float with the same value as equal
    /// (npTDMS keeps integer dtypes for some scaling chains; we give f64).
    pub fn same(&self, other: &V) -> bool {
        match (self, other) {
            (V::I(a), V::F(h)) | (V::F(h), V::I(a)) => float_hex(*a as f64) == *h,
            (V::B(a), V::I(b)) | (V::I(b), V::B(a)) => i128::from(*a) == *b,
            _ => self == other,
        }
    }
}

pub fn block_values(block: &ValuesBlock<'_>, out: &mut Vec<V>) {
    match block {
        ValuesBlock::I8(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::I16(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::I32(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::I64(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::U8(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::U16(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::U32(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::U64(v) => out.extend(v.iter().map(|&x| V::I(x.into()))),
        ValuesBlock::F32(v) => out.extend(v.iter().map(|&x| V::F(float_hex(f64::from(x))))),
        ValuesBlock::F64(v) => out.extend(v.iter().map(|&x| V::F(float_hex(x)))),
        ValuesBlock::Bool(v) => out.extend(v.iter().map(|&x| V::B(x))),
        ValuesBlock::String(v) => out.extend(v.iter().map(|x| V::S(x.clone()))),
        ValuesBlock::Timestamp(v) => out.extend(v.iter().map(|t| V::T(t.seconds, t.fractions))),
        ValuesBlock::ComplexF32(v) => out.extend(
            v.iter()
                .map(|c| V::C(float_hex(f64::from(c.re)), float_hex(f64::from(c.im)))),
        ),
        ValuesBlock::ComplexF64(v) => {
            out.extend(v.iter().map(|c| V::C(float_hex(c.re), float_hex(c.im))))
        }
    }
}

/// Read a whole channel (or a slice of it) as comparable values.
pub fn read_values<R: std::io::Read + std::io::Seek>(
    f: &mut TdmsFile<R>,
    channel: usize,
    offset: u64,
    limit: Option<u64>,
    block: usize,
    mode: ReadMode,
) -> Result<Vec<V>, TdmsError> {
    let mut r = f.read_channel_with(channel, offset, limit, block, mode)?;
    let mut out = Vec::new();
    while let Some(b) = r.next_block()? {
        assert!(!b.is_empty(), "reader yielded an empty block");
        assert!(
            b.len() <= block,
            "block of {} exceeds block size {block}",
            b.len()
        );
        block_values(&b, &mut out);
    }
    Ok(out)
}

/// A unique temporary directory (removed on drop).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = tempfile::Builder::new()
            .prefix(tag)
            .tempdir()
            .expect("temp dir");
        TempDir(d.keep())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub mod writer;

/// Parse Python's `float.hex()` output.
pub fn parse_float_hex(s: &str) -> f64 {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = match body {
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            let body = body.strip_prefix("0x").expect("0x prefix");
            let (mant, exp) = body.split_once('p').expect("exponent");
            let (lead, frac) = mant.split_once('.').unwrap_or((mant, ""));
            let lead = u64::from_str_radix(lead, 16).expect("lead digit");
            let frac_bits = if frac.is_empty() {
                0
            } else {
                u64::from_str_radix(frac, 16).expect("fraction")
            };
            let m = (lead << 52) | (frac_bits << (52 - 4 * frac.len() as u32));
            let e: i32 = exp.parse().expect("exponent value");
            // Scale in steps so that 2^k itself never underflows.
            let (mut v, mut k) = (m as f64, e - 52);
            while k < -1000 {
                v *= 2f64.powi(-1000);
                k += 1000;
            }
            v * 2f64.powi(k)
        }
    };
    if neg {
        -v
    } else {
        v
    }
}

#[test]
fn float_hex_round_trips() {
    for x in [
        0.0,
        -0.0,
        1.0,
        -2.5,
        0.1,
        1e300,
        5e-324,
        2.2250738585072014e-308,
        f64::INFINITY,
    ] {
        assert_eq!(parse_float_hex(&float_hex(x)).to_bits(), x.to_bits(), "{x}");
    }
    assert_eq!(float_hex(1.0), "0x1.0000000000000p+0");
    assert_eq!(float_hex(-0.0), "-0x0.0p+0");
}
