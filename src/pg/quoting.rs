//! Quoting for SQL text that the extension builds, using PostgreSQL's own rules
//! (reserved keywords, case, embedded quotes), so built queries are injection-safe.

use std::ffi::{CStr, CString};

use pgrx::pg_sys;

/// `quote_ident()`: quotes `ident` only when PostgreSQL would need it.
pub fn quote_identifier(ident: &str) -> String {
    // Identifiers cannot contain NUL; PostgreSQL itself would reject one.
    let Ok(c_ident) = CString::new(ident.replace('\0', "")) else {
        return String::from("\"\"");
    };
    // SAFETY: quote_identifier returns its argument or a palloc'd quoted copy; both stay
    // valid until we copy them out here.
    unsafe {
        let quoted = pg_sys::quote_identifier(c_ident.as_ptr());
        CStr::from_ptr(quoted).to_string_lossy().into_owned()
    }
}

/// `quote_literal()` for text: a standard-conforming string literal, with the E'' form
/// when a backslash is present.
pub fn quote_literal(text: &str) -> String {
    let body = text.replace('\'', "''");
    if body.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// A `timestamptz` literal of `ts` (ISO 8601 with its offset, so it reads back the same
/// instant whatever the session's TimeZone), cast with a schema-qualified type name.
pub fn timestamptz_literal(ts: pgrx::datum::TimestampWithTimeZone) -> String {
    use pgrx::datum::ToIsoString;
    format!(
        "CAST({} AS pg_catalog.timestamptz)",
        quote_literal(&ts.to_iso_string())
    )
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use pgrx::prelude::*;

    #[pg_test]
    fn quoting_matches_postgres() {
        for text in [
            "plain",
            "Mixed",
            "with space",
            "a\"b",
            "9lives",
            "_ok1",
            "select",
            "user",
            "it's",
            "back\\slash",
            "",
        ] {
            let ident =
                Spi::get_one_with_args::<String>("SELECT quote_ident($1)", &[text.into()]).unwrap();
            assert_eq!(Some(quote_identifier(text)), ident, "identifier {text:?}");
            let literal =
                Spi::get_one_with_args::<String>("SELECT quote_literal($1)", &[text.into()])
                    .unwrap();
            assert_eq!(Some(quote_literal(text)), literal, "literal {text:?}");
        }
    }
}
