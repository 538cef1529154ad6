//! Strings read as text: NUL bytes in names, properties and string values become U+2400,
//! so that consumers whose text cannot hold NUL (PostgreSQL) neither cut nor confuse them.

mod common;

use std::io::Cursor;

use common::writer::{segment, Meta, META, NEW_OBJ_LIST, RAW};
use tdms::{decode_text, PropertyValue, TdmsFile, ValuesBlock, NUL_REPLACEMENT};

fn string_property(s: &str) -> Vec<u8> {
    [
        (s.len() as u32).to_le_bytes().to_vec(),
        s.as_bytes().to_vec(),
    ]
    .concat()
}

/// Two I32 channels whose names differ only after a NUL, a property with NULs, and a
/// string channel whose first value holds a NUL.
fn file_with_nuls() -> Vec<u8> {
    let mut m = Meta::new(false);
    m.object(
        "/'g'/'x\0a'",
        3,
        1,
        &[("u\0nit", 0x20, string_property("kV\0x"))],
    );
    m.object("/'g'/'x\0b'", 3, 1, &[]);
    let mut meta = m.finish();
    // The string channel: its raw data index also carries the data size (28 bytes).
    let values: [&[u8]; 2] = [b"a\0b", b"c"];
    let mut data = Vec::new();
    for v in [1i32, 2] {
        data.extend(v.to_le_bytes());
    }
    let mut end = 0u32;
    for v in values {
        end += v.len() as u32;
        data.extend(end.to_le_bytes());
    }
    for v in values {
        data.extend(v);
    }
    meta[..4].copy_from_slice(&3u32.to_le_bytes());
    let path = "/'g'/'s'";
    meta.extend((path.len() as u32).to_le_bytes());
    meta.extend(path.as_bytes());
    meta.extend(28u32.to_le_bytes());
    meta.extend(0x20u32.to_le_bytes());
    meta.extend(1u32.to_le_bytes());
    meta.extend(2u64.to_le_bytes());
    meta.extend((8 + u64::from(end)).to_le_bytes());
    meta.extend(0u32.to_le_bytes());
    segment(META | RAW | NEW_OBJ_LIST, &meta, &data, None)
}

#[test]
fn decode_text_replaces_nul_and_invalid_utf8_visibly() {
    assert_eq!(decode_text(b"plain"), "plain");
    assert_eq!(decode_text(b"x\0y"), format!("x{NUL_REPLACEMENT}y"));
    assert_eq!(decode_text(b"\0\0"), "\u{2400}\u{2400}");
    assert_eq!(decode_text(b"a\xffb"), "a\u{fffd}b");
}

#[test]
fn nul_bytes_in_names_properties_and_values_stay_visible() {
    let bytes = file_with_nuls();
    let len = bytes.len() as u64;
    let mut file = TdmsFile::from_reader(Cursor::new(bytes), len).unwrap();
    let names: Vec<&str> = file.channels().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["x\u{2400}a", "x\u{2400}b", "s"]);
    assert!(names.iter().all(|n| !n.contains('\0')));
    let props = &file.channels()[0].properties;
    assert_eq!(props.len(), 1);
    assert_eq!(props[0].0, "u\u{2400}nit");
    match &props[0].1 {
        PropertyValue::String(s) => assert_eq!(s, "kV\u{2400}x"),
        other => panic!("unexpected property {other:?}"),
    }
    let mut reader = file.read_channel(2, 0, None, 16).unwrap();
    let mut got = Vec::new();
    while let Some(block) = reader.next_block().unwrap() {
        match block {
            ValuesBlock::String(v) => got.extend(v.iter().map(|s| s.to_string())),
            other => panic!("unexpected block {:?}", other.len()),
        }
    }
    assert_eq!(got, ["a\u{2400}b", "c"]);
}
