//! Plain version-1 C functions, for aggregate transitions that run once per row: reading
//! arguments straight from `fcinfo` costs a fraction of a `#[pg_extern]` wrapper's
//! conversions (energy_agg went from 1.53× to 1.19× `sum(value)` that way). Each such
//! function is `#[pg_guard] unsafe extern "C-unwind" fn(FunctionCallInfo) -> Datum` with a
//! [`crate::finfo_v1!`] record ([`crate::v1_function!`] writes both), and its `CREATE FUNCTION` written by
//! hand.

use pgrx::{pg_sys, Internal};

/// The first `n` arguments of this call.
///
/// # Safety
/// `fcinfo` is the current call's, and the function was declared with at least `n` arguments.
pub unsafe fn args<'a>(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> &'a [pg_sys::NullableDatum] {
    // SAFETY: see above; the array lives as long as the call.
    unsafe { (*fcinfo).args.as_slice(n) }
}

/// An `internal` argument (an aggregate state or NULL).
pub fn internal_arg(arg: &pg_sys::NullableDatum) -> Internal {
    Internal::from((!arg.isnull).then_some(arg.value))
}

/// An `int8`/`timestamptz` argument.
pub fn i64_arg(arg: &pg_sys::NullableDatum) -> Option<i64> {
    (!arg.isnull).then(|| arg.value.value() as i64)
}

/// An `int4` argument.
pub fn i32_arg(arg: &pg_sys::NullableDatum) -> Option<i32> {
    (!arg.isnull).then(|| arg.value.value() as i32)
}

/// A `text` or `bytea` argument's bytes, valid for the call: read in place when stored
/// inline and uncompressed (the usual case), else detoasted into the call's memory.
///
/// # Safety
/// `arg` is a `text` or `bytea` argument of the current call.
pub unsafe fn varlena_arg<'a>(arg: &pg_sys::NullableDatum) -> Option<&'a [u8]> {
    if arg.isnull {
        return None;
    }
    let raw = arg.value.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: a non-NULL varlena datum of this call; a detoasted copy lives in the call's
    // memory context, which PostgreSQL resets after the call.
    unsafe {
        let plain = if pgrx::varatt_is_4b_c(raw) || pgrx::varatt_is_1b_e(raw) {
            pg_sys::pg_detoast_datum_packed(raw)
        } else {
            raw
        };
        let data = pgrx::vardata_any(plain) as *const u8;
        Some(std::slice::from_raw_parts(
            data,
            pgrx::varsize_any_exhdr(plain),
        ))
    }
}

/// A `float8` argument.
pub fn f64_arg(arg: &pg_sys::NullableDatum) -> Option<f64> {
    (!arg.isnull).then(|| f64::from_bits(arg.value.value() as u64))
}

/// Returns an aggregate state (SQL NULL when there is none yet).
///
/// # Safety
/// `fcinfo` is the current call's.
pub unsafe fn return_internal(
    fcinfo: pg_sys::FunctionCallInfo,
    internal: Internal,
) -> pg_sys::Datum {
    // `Internal::unwrap` hands back the Option<Datum> it wraps: it cannot panic.
    match internal.unwrap() {
        Some(datum) => datum,
        None => {
            // SAFETY: see above.
            unsafe { (*fcinfo).isnull = true };
            pg_sys::Datum::from(0usize)
        }
    }
}

/// The `pg_finfo_<name>` record that marks a C function as version-1 for PostgreSQL.
#[macro_export]
macro_rules! finfo_v1 {
    ($finfo:ident) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            static V1: ::pgrx::pg_sys::Pg_finfo_record =
                ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }
    };
}

/// A version-1 C function `$name` with its `pg_finfo_` record `$finfo`: `$body` runs with
/// `$fcinfo`, the call's `FunctionCallInfo`, and returns the result `Datum`. Its `CREATE
/// FUNCTION` is written by hand (in an `extension_sql!`).
#[macro_export]
macro_rules! v1_function {
    ($(#[$doc:meta])* $name:ident, $finfo:ident, |$fcinfo:ident| $body:block) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Called by PostgreSQL's function manager with the arguments its `CREATE FUNCTION`
        /// declares.
        #[::pgrx::pg_guard]
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $name(
            fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            // A closure: the caller's body sees the caller's name for fcinfo.
            let body = |$fcinfo: ::pgrx::pg_sys::FunctionCallInfo| -> ::pgrx::pg_sys::Datum { $body };
            body(fcinfo)
        }

        $crate::finfo_v1!($finfo);
    };
}
