//! Bad input, random mutations and allocation bounds (no Python needed).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::writer::{sample_file, segment, Meta, META, NEW_OBJ_LIST, RAW};
use tdms::{ReadMode, TdmsError, TdmsFile, ValuesBlock};

/// Records the largest single allocation, to check that counts read from the
/// file never drive allocations.
struct MaxAlloc;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for MaxAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: MaxAlloc = MaxAlloc;

/// Tests run one at a time so the allocation mark belongs to the test reading it.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    LARGEST.store(0, Ordering::Relaxed);
    g
}

/// Largest allocation allowed while handling a small file: the read-ahead
/// window (256 KiB) plus slack; far below anything a bogus count would ask for.
const ALLOC_LIMIT: usize = 1 << 20;

fn open(bytes: &[u8]) -> Result<TdmsFile<Cursor<Vec<u8>>>, TdmsError> {
    TdmsFile::from_reader(Cursor::new(bytes.to_vec()), bytes.len() as u64)
}

/// Open and read everything (every mode), returning the first error.
fn exercise(bytes: &[u8]) -> Result<u64, TdmsError> {
    let mut f = open(bytes)?;
    let mut total = 0u64;
    for ci in 0..f.channels().len() {
        for mode in [ReadMode::Scaled, ReadMode::Raw] {
            if let Ok(mut r) = f.read_channel_with(ci, 0, None, 17, mode) {
                while let Some(b) = r.next_block()? {
                    total += b.len() as u64;
                }
            }
        }
    }
    let mut visit = |_: usize, b: ValuesBlock<'_>| -> Result<(), TdmsError> {
        total += b.len() as u64;
        Ok(())
    };
    f.read_all(ReadMode::Scaled, 5, &mut visit)?;
    Ok(total)
}

fn assert_malformed(r: Result<TdmsFile<Cursor<Vec<u8>>>, TdmsError>, what: &str) {
    match r {
        Err(TdmsError::Malformed { .. }) => {}
        Err(e) => panic!("{what}: expected Malformed, got {e}"),
        Ok(_) => panic!("{what}: expected an error"),
    }
}

#[test]
fn sample_file_reads() {
    let _serial = serial();
    let bytes = sample_file();
    let mut f = open(&bytes).expect("open");
    assert_eq!(f.channels().len(), 3);
    assert_eq!(f.channels()[0].n_values, 4);
    let v = f
        .read_channel(0, 0, None, 10)
        .expect("reader")
        .collect_f64()
        .expect("read");
    assert_eq!(v, vec![1.0, 2.0, 1.0, 2.0]);
    let c = f.channel_index("g", "c").expect("channel c");
    let v = f
        .read_channel(c, 0, None, 10)
        .expect("reader")
        .collect_f64()
        .expect("read");
    assert_eq!(v, vec![7.0, -8.0, 9.0]);
    assert!(f.warnings().is_empty());
}

#[test]
fn bad_inputs_are_clean_errors() {
    let _serial = serial();
    assert_malformed(open(&[]), "zero-length file");
    assert_malformed(open(b"TDSm"), "short file");
    let mut wrong = sample_file();
    wrong[0..4].copy_from_slice(b"TDSh");
    assert_malformed(open(&wrong), "wrong tag");
    let mut rng = 0x1234_5678_9abc_def0u64;
    for len in [1usize, 27, 28, 100, 4096] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        assert_malformed(open(&bytes), "random bytes");
    }
    // Random bytes after a valid tag.
    let mut bytes = b"TDSm".to_vec();
    bytes.extend((0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    assert!(open(&bytes).is_err() || exercise(&bytes).is_ok());
}

#[test]
fn absurd_counts_do_not_allocate() {
    let _serial = serial();
    // Object count of 4 billion in a tiny metadata block.
    let meta = u32::MAX.to_le_bytes().to_vec();
    let f = segment(META | NEW_OBJ_LIST, &meta, &[], None);
    assert_malformed(open(&f), "absurd object count");
    // Huge path string length.
    let mut meta = 1u32.to_le_bytes().to_vec();
    meta.extend(0xFFFF_FFF0u32.to_le_bytes());
    meta.extend(b"/'g'");
    let f = segment(META | NEW_OBJ_LIST, &meta, &[], None);
    assert_malformed(open(&f), "huge string length");
    // Huge property count.
    let mut m = Meta::new(false);
    m.object_header("/", 0xFFFF_FFFF, &[]);
    let mut meta = m.finish();
    let n = meta.len();
    meta[n - 4..].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    assert_malformed(
        open(&segment(META | NEW_OBJ_LIST, &meta, &[], None)),
        "huge property count",
    );
    // Huge number of values: more than the file holds.
    let mut m = Meta::new(false);
    m.object("/'g'/'a'", 10, u64::MAX / 4, &[]);
    let f = segment(META | RAW | NEW_OBJ_LIST, &m.finish(), &[0u8; 16], None);
    let r = exercise(&f);
    assert!(
        matches!(r, Ok(0) | Err(TdmsError::Malformed { .. })),
        "huge value count: {r:?}"
    );
    // Huge string data count.
    let mut m = Meta::new(false);
    m.object("/'g'/'s'", 0x20, u64::MAX / 2, &[]);
    assert_malformed(
        open(&segment(META | RAW | NEW_OBJ_LIST, &m.finish(), &[], None)),
        "string count",
    );
    // Raw data offset past EOF in the first segment.
    let mut f = segment(
        META | RAW | NEW_OBJ_LIST,
        &Meta::new(false).finish(),
        &[],
        None,
    );
    f[20..28].copy_from_slice(&(1u64 << 40).to_le_bytes());
    f[12..20].copy_from_slice(&(1u64 << 41).to_le_bytes());
    assert_malformed(open(&f), "offset past EOF");
    assert!(
        LARGEST.load(Ordering::Relaxed) < ALLOC_LIMIT,
        "largest allocation {}",
        LARGEST.load(Ordering::Relaxed)
    );
}

#[test]
fn truncated_last_segment_keeps_valid_data() {
    let _serial = serial();
    let bytes = sample_file();
    // Cut inside the last segment's data: the file still opens, with a warning.
    let cut = &bytes[..bytes.len() - 3];
    let mut f = open(cut).expect("open truncated");
    assert!(!f.warnings().is_empty(), "expected a warning");
    let a = f.channel_index("g", "a").expect("a");
    assert_eq!(
        f.read_channel(a, 0, None, 4)
            .expect("r")
            .collect_f64()
            .expect("v"),
        vec![1.0, 2.0, 1.0, 2.0]
    );
    // Every prefix opens or fails cleanly and reads without panic.
    for n in 0..bytes.len() {
        let _ = exercise(&bytes[..n]);
    }
}

#[test]
fn zero_length_segments_do_not_loop() {
    let _serial = serial();
    let mut f = Vec::new();
    let mut m = Meta::new(false);
    m.object("/'g'/'a'", 3, 1, &[]);
    f.extend(segment(
        META | RAW | NEW_OBJ_LIST,
        &m.finish(),
        &5i32.to_le_bytes(),
        None,
    ));
    for _ in 0..1000 {
        f.extend(segment(0, &[], &[], None));
        // A segment whose next-segment offset is 0 (lead-in only).
        f.extend(segment(0, &[], &[], Some(0)));
    }
    f.extend(segment(RAW, &[], &6i32.to_le_bytes(), None));
    let mut file = open(&f).expect("open");
    assert_eq!(file.segment_count(), 2002);
    assert_eq!(
        file.read_channel(0, 0, None, 8)
            .expect("r")
            .collect_f64()
            .expect("v"),
        vec![5.0, 6.0]
    );
}

/// Thousands of byte-wise mutations and truncations of valid files: never a
/// panic, never a big allocation, always terminates.
#[test]
fn random_mutations_never_panic() {
    let _serial = serial();
    let seeds = [sample_file(), {
        let mut m = Meta::new(false);
        m.object("/'g'/'s'", 0x20, 2, &[]);
        let mut data = Vec::new();
        data.extend(1u32.to_le_bytes());
        data.extend(3u32.to_le_bytes());
        data.extend(b"abc");
        let mut meta = m.finish();
        // String index: add the data size after the value count.
        let n = meta.len();
        let tail = meta.split_off(n - 4);
        meta.extend((data.len() as u64).to_le_bytes());
        meta.extend(tail);
        let mut fixed = meta.clone();
        fixed[4 + 4 + 8..4 + 4 + 8 + 4].copy_from_slice(&28u32.to_le_bytes());
        segment(META | RAW | NEW_OBJ_LIST, &fixed, &data, None)
    }];
    let iterations: usize = std::env::var("TDMS_MUTATION_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut opened = 0;
    for i in 0..iterations {
        let seed = &seeds[i % seeds.len()];
        let mut bytes = seed.clone();
        let edits = 1 + (next() % 4) as usize;
        for _ in 0..edits {
            let at = (next() % bytes.len() as u64) as usize;
            match next() % 5 {
                0 => bytes[at] = next() as u8,
                1 => bytes[at] ^= 1 << (next() % 8),
                2 => bytes[at] = [0x00, 0xFF, 0x7F, 0x80][(next() % 4) as usize],
                3 => {
                    // Overwrite a 32-bit field with an extreme value.
                    let v = [0u32, 1, u32::MAX, 0x7FFF_FFFF, 0x1269, 0x126A, 0x20, 0x44]
                        [(next() % 8) as usize];
                    let end = (at + 4).min(bytes.len());
                    bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
                }
                _ => bytes.truncate(at.max(1)),
            }
        }
        if exercise(&bytes).is_ok() {
            opened += 1;
        }
    }
    assert!(
        opened > 0,
        "no mutated file opened at all: the seeds are not valid"
    );
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest < ALLOC_LIMIT, "largest allocation {largest} bytes");
}
