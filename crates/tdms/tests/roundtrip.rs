//! Property test: files built from random channel data in random layouts
//! (contiguous/interleaved, little/big endian, repeated chunks, incremental and
//! metadata-less segments) read back exactly. No Python needed.

mod common;

use std::io::Cursor;

use common::writer::{segment, Meta, BIG, INTERLEAVED, META, NEW_OBJ_LIST, RAW};
use common::{block_values, read_values, V};
use proptest::prelude::*;
use tdms::{ReadMode, TdmsError, TdmsFile, ValuesBlock};

/// (type code, size)
const TYPES: [(u32, usize); 11] = [
    (1, 1),
    (2, 2),
    (3, 4),
    (4, 8),
    (5, 1),
    (6, 2),
    (7, 4),
    (8, 8),
    (9, 4),
    (10, 8),
    (0x21, 1),
];

fn encode(code: u32, raw: u64, big: bool) -> (Vec<u8>, V) {
    macro_rules! int {
        ($t:ty) => {{
            let v = raw as $t;
            (
                if big {
                    v.to_be_bytes().to_vec()
                } else {
                    v.to_le_bytes().to_vec()
                },
                V::I(i128::from(v)),
            )
        }};
    }
    match code {
        1 => int!(i8),
        2 => int!(i16),
        3 => int!(i32),
        4 => int!(i64),
        5 => int!(u8),
        6 => int!(u16),
        7 => int!(u32),
        8 => int!(u64),
        9 => {
            let v = (raw as i32) as f32 / 7.0;
            (
                if big {
                    v.to_be_bytes().to_vec()
                } else {
                    v.to_le_bytes().to_vec()
                },
                V::F(common::float_hex(f64::from(v))),
            )
        }
        10 => {
            let v = f64::from_bits(raw);
            (
                if big {
                    v.to_be_bytes().to_vec()
                } else {
                    v.to_le_bytes().to_vec()
                },
                V::F(common::float_hex(v)),
            )
        }
        _ => {
            let b = (raw % 3) as u8;
            (vec![b], V::B(b != 0))
        }
    }
}

#[derive(Debug, Clone)]
struct Spec {
    big: bool,
    interleaved: bool,
    types: Vec<usize>,
    /// Per segment: (chunks, rows per chunk, metadata mode 0=new list 1=reuse index 2=none, seeds)
    segments: Vec<(usize, usize, u8, Vec<u64>)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(0..TYPES.len(), 1..4),
        prop::collection::vec(
            (
                1..4usize,
                0..5usize,
                0..3u8,
                prop::collection::vec(any::<u64>(), 64),
            ),
            1..6,
        ),
    )
        .prop_map(|(big, interleaved, types, segments)| Spec {
            big,
            interleaved,
            types,
            segments,
        })
}

fn build(spec: &Spec) -> (Vec<u8>, Vec<Vec<V>>) {
    let n = spec.types.len();
    let mut expected: Vec<Vec<V>> = vec![Vec::new(); n];
    let mut file = Vec::new();
    let mut prev_rows: Option<usize> = None;
    let base_toc = if spec.big { BIG } else { 0 } | if spec.interleaved { INTERLEAVED } else { 0 };
    for (chunks, rows, mode, seeds) in &spec.segments {
        let same_layout = prev_rows == Some(*rows);
        let mode = if same_layout { *mode } else { 0 };
        let mut seed = seeds.iter().cycle();
        // values[channel][chunk * rows + r]
        let mut enc: Vec<Vec<Vec<u8>>> = vec![Vec::new(); n];
        for _ in 0..chunks * rows {
            for (ci, &t) in spec.types.iter().enumerate() {
                let (bytes, v) = encode(TYPES[t].0, *seed.next().unwrap_or(&0), spec.big);
                enc[ci].push(bytes);
                expected[ci].push(v);
            }
        }
        let mut data = Vec::new();
        for c in 0..*chunks {
            if spec.interleaved {
                for r in 0..*rows {
                    for ch in &enc {
                        data.extend(&ch[c * rows + r]);
                    }
                }
            } else {
                for ch in &enc {
                    for r in 0..*rows {
                        data.extend(&ch[c * rows + r]);
                    }
                }
            }
        }
        let mut m = Meta::new(spec.big);
        let toc = match mode {
            0 => {
                for (ci, &t) in spec.types.iter().enumerate() {
                    m.object(&format!("/'g'/'c{ci}'"), TYPES[t].0, *rows as u64, &[]);
                }
                base_toc | META | RAW | NEW_OBJ_LIST
            }
            1 => {
                for ci in 0..n {
                    m.object_header(&format!("/'g'/'c{ci}'"), 0, &[]);
                }
                base_toc | META | RAW
            }
            _ => base_toc | RAW,
        };
        let meta = if mode == 2 { Vec::new() } else { m.finish() };
        file.extend(segment(toc, &meta, &data, None));
        prev_rows = Some(*rows);
    }
    (file, expected)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_layouts_round_trip(spec in spec()) {
        let (bytes, expected) = build(&spec);
        let mut f = TdmsFile::from_reader(Cursor::new(bytes.clone()), bytes.len() as u64).expect("open");
        prop_assert_eq!(f.channels().len(), expected.len());
        prop_assert!(f.warnings().is_empty());
        for (ci, exp) in expected.iter().enumerate() {
            prop_assert_eq!(f.channels()[ci].n_values, exp.len() as u64);
            for block in [1usize, 2, 1000] {
                let got = read_values(&mut f, ci, 0, None, block, ReadMode::Raw).expect("read");
                prop_assert_eq!(&got, exp);
            }
            if exp.len() > 2 {
                let got = read_values(&mut f, ci, 1, Some(exp.len() as u64 - 2), 3, ReadMode::Raw).expect("slice");
                prop_assert_eq!(&got[..], &exp[1..exp.len() - 1]);
            }
        }
        let mut all: Vec<Vec<V>> = vec![Vec::new(); expected.len()];
        let mut visit = |ci: usize, b: ValuesBlock<'_>| -> Result<(), TdmsError> {
            block_values(&b, &mut all[ci]);
            Ok(())
        };
        f.read_all(ReadMode::Raw, 2, &mut visit).expect("read_all");
        prop_assert_eq!(all, expected);
    }
}
