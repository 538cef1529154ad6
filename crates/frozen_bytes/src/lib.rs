//! Stored byte formats pinned for tests, one rule for every crate whose states cross
//! processes or are stored: a case is `<dir>/<name>.hex`, the bytes an encoder wrote, beside
//! a text file of what they decode to. `FROZEN_BLESS=1` writes a missing case and never
//! overwrites one: a changed encoder is a new format version with a directory of its own.
#![forbid(unsafe_code)]

use std::path::Path;

/// Whether missing cases are written (`FROZEN_BLESS` set).
pub fn bless() -> bool {
    std::env::var_os("FROZEN_BLESS").is_some()
}

/// The content of `path`, first written from `fresh` when blessing and it is missing.
///
/// # Panics
/// When the file cannot be read (a test failure).
pub fn frozen_file(path: &Path, fresh: &str) -> String {
    if bless() && !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, fresh).unwrap();
    }
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (FROZEN_BLESS=1 writes a new case)", path.display()))
}

/// The bytes of a `.hex` file (surrounding whitespace ignored).
///
/// # Panics
/// When the text is not hex.
pub fn bytes_of(hex_text: &str, path: &Path) -> Vec<u8> {
    hex::decode(hex_text.trim()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes frozen in `path` (a hex file), first written from `bytes` when blessing.
fn frozen_hex(path: &Path, bytes: &[u8]) -> Vec<u8> {
    bytes_of(&frozen_file(path, &(hex::encode(bytes) + "\n")), path)
}

fn assert_same_bytes(frozen: &[u8], bytes: &[u8], path: &Path) {
    assert_eq!(
        hex::encode(frozen),
        hex::encode(bytes),
        "{}: the encoding changed",
        path.display()
    );
}

/// The bytes frozen in `path` (a hex file), which today's encoder must still write: `bytes`.
///
/// # Panics
/// When they differ (a test failure: a changed encoder is a new format version).
pub fn check_bytes(path: &Path, bytes: &[u8]) -> Vec<u8> {
    let frozen = frozen_hex(path, bytes);
    assert_same_bytes(&frozen, bytes, path);
    frozen
}

/// Checks one case: `<dir>/<name>.hex` decodes (by `render`) to `<dir>/<name>.<text_ext>`,
/// and, while the format that wrote it is today's (`current`), today's encoder wrote exactly
/// those bytes (`bytes`). Returns the frozen bytes.
///
/// # Panics
/// When a check fails (a test failure).
pub fn check_case(
    dir: &Path,
    name: &str,
    text_ext: &str,
    bytes: &[u8],
    current: bool,
    render: impl Fn(&[u8]) -> String,
) -> Vec<u8> {
    let hex_path = dir.join(format!("{name}.hex"));
    let frozen = frozen_hex(&hex_path, bytes);
    let text = frozen_file(&dir.join(format!("{name}.{text_ext}")), &render(bytes));
    assert_eq!(
        render(&frozen),
        text,
        "{name}: the frozen bytes decode to something else"
    );
    if current {
        assert_same_bytes(&frozen, bytes, &hex_path);
    }
    frozen
}
