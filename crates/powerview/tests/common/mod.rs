//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::PathBuf;

use powerview::{ParseOptions, ParseStats, TsvFile, TsvHeader};

/// Folder of the real PowerView sample files (`fixtures/powerview` in the repository).
pub fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/powerview");
    assert!(dir.is_dir(), "fixture folder {} is missing", dir.display());
    dir
}

/// Everything a file yields.
#[derive(Debug)]
pub struct Parsed {
    pub header: TsvHeader,
    pub outcome: powerview::Outcome,
    pub rows: Vec<(i64, Vec<Option<f64>>)>,
    pub zero_flags: Vec<bool>,
    pub stats: ParseStats,
}

pub fn collect<R: std::io::BufRead>(mut file: TsvFile<R>) -> Parsed {
    let mut rows = Vec::new();
    let mut zero_flags = Vec::new();
    while let Some(row) = file.next_row().expect("row") {
        rows.push((row.time_us, row.values.to_vec()));
        zero_flags.push(row.zero_row);
    }
    Parsed {
        header: file.header().clone(),
        outcome: file.outcome(),
        rows,
        zero_flags,
        stats: file.stats().clone(),
    }
}

impl Parsed {
    /// The header's channel ids, in file order.
    pub fn channel_ids(&self) -> Vec<&str> {
        self.header
            .channels
            .iter()
            .map(|c| c.channel_id.as_str())
            .collect()
    }
}

pub fn parse_path(path: &std::path::Path, options: &ParseOptions) -> Parsed {
    collect(TsvFile::open_path(path, options).expect("open"))
}

pub fn parse_bytes(bytes: &[u8], options: &ParseOptions) -> Parsed {
    collect(TsvFile::open_seekable(Cursor::new(bytes.to_vec()), options).expect("open"))
}

pub fn parse_str(text: &str) -> Parsed {
    parse_bytes(text.as_bytes(), &ParseOptions::default())
}

pub fn secs(us: i64) -> i64 {
    us / 1_000_000
}
