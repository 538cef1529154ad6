//! Index size for many segments (no Python needed).

mod common;

use std::io::Cursor;

use common::writer::{segment, Meta, INTERLEAVED, META, NEW_OBJ_LIST, RAW};
use tdms::{TdmsError, TdmsFile};

fn open(bytes: &[u8]) -> Result<TdmsFile<Cursor<Vec<u8>>>, TdmsError> {
    TdmsFile::from_reader(Cursor::new(bytes.to_vec()), bytes.len() as u64)
}

#[test]
fn ten_thousand_regular_segments_index_in_one_run() {
    let mut m = Meta::new(false);
    m.object("/'g'/'a'", 3, 2, &[]);
    m.object("/'g'/'b'", 9, 2, &[]);
    let mut f = Vec::new();
    let row = |k: i32| {
        let mut d = Vec::new();
        d.extend(k.to_le_bytes());
        d.extend((k as f32).to_le_bytes());
        d.extend((k + 1).to_le_bytes());
        d.extend((k as f32 + 0.5).to_le_bytes());
        d
    };
    f.extend(segment(
        META | RAW | NEW_OBJ_LIST | INTERLEAVED,
        &m.finish(),
        &row(0),
        None,
    ));
    for k in 1..10_000 {
        f.extend(segment(RAW | INTERLEAVED, &[], &row(2 * k), None));
    }
    let mut file = open(&f).expect("open");
    assert_eq!(file.segment_count(), 10_000);
    assert_eq!(
        file.index_runs(),
        1,
        "regular segments should collapse into one run"
    );
    let a = file
        .read_channel(0, 0, None, 1000)
        .expect("r")
        .collect_f64()
        .expect("v");
    assert_eq!(a.len(), 20_000);
    assert!(a.iter().enumerate().all(|(i, &v)| v == i as f64));
    let b = file
        .read_channel(1, 19_998, None, 1000)
        .expect("r")
        .collect_f64()
        .expect("v");
    assert_eq!(b, vec![19_998.0, 19_998.5]);
}

#[test]
fn writer_style_segments_with_repeated_metadata_collapse() {
    // Each segment repeats the full metadata (as npTDMS TdmsWriter does).
    let mut m = Meta::new(false);
    m.object(
        "/'g'/'a'",
        10,
        3,
        &[("wf_increment", 10, 0.5f64.to_le_bytes().to_vec())],
    );
    let meta = m.finish();
    let mut f = Vec::new();
    for k in 0..5000u32 {
        let data: Vec<u8> = (0..3)
            .flat_map(|j| f64::from(k * 3 + j).to_le_bytes())
            .collect();
        f.extend(segment(META | RAW | NEW_OBJ_LIST, &meta, &data, None));
    }
    let mut file = open(&f).expect("open");
    assert_eq!(file.index_runs(), 1);
    let v = file
        .read_channel(0, 14_990, None, 4)
        .expect("r")
        .collect_f64()
        .expect("v");
    assert_eq!(v, (14_990..15_000).map(f64::from).collect::<Vec<_>>());
}
