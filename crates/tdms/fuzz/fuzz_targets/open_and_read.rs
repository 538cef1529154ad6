//! Open arbitrary bytes as a TDMS file and read every channel in every mode.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tdms::{ReadMode, TdmsError, TdmsFile, ValuesBlock};

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = TdmsFile::from_reader(Cursor::new(data), data.len() as u64) else {
        return;
    };
    for ci in 0..f.channels().len() {
        for mode in [ReadMode::Scaled, ReadMode::Raw] {
            if let Ok(mut r) = f.read_channel_with(ci, 0, None, 7, mode) {
                while let Ok(Some(_)) = r.next_block() {}
            }
        }
    }
    let mut visit = |_: usize, _: ValuesBlock<'_>| -> Result<(), TdmsError> { Ok(()) };
    let _ = f.read_all(ReadMode::Scaled, 5, &mut visit);
});
