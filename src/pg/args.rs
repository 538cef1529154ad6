//! `regclass` and `name` arguments, and the quoted SQL text they stand for; required
//! arguments ([`required`]).
//!
//! pgrx's own `regclass` type (`PgRelation`) opens the relation while unboxing the
//! argument, which turns an OID that names no relation into an internal error; these
//! newtypes only read the datum, and the functions report a missing relation themselves.

use std::ffi::CStr;

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::FromDatum;

use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::quoting::quote_identifier;

/// A `regclass` argument: a relation's OID.
#[derive(Debug, Clone, Copy)]
pub struct RegClass(pub pg_sys::Oid);

impl FromDatum for RegClass {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then(|| RegClass(pg_sys::Oid::from(datum.value() as u32)))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for RegClass {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        // SAFETY: declared as regclass, a 32-bit OID by value; NULL is handled by Option.
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or(RegClass(pg_sys::InvalidOid))
    }
}

unsafe impl SqlTranslatable for RegClass {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(RegClass);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
        Ok(SqlMappingRef::literal("regclass"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("regclass")));
}

impl RegClass {
    /// `schema.relation`, both quoted as needed: valid under any `search_path`.
    pub fn qualified_name(self) -> SensorResult<String> {
        // SAFETY: syscache lookups by OID; both return NULL when the object is gone.
        let (schema, name) = unsafe {
            let name = pg_sys::get_rel_name(self.0);
            let schema = if name.is_null() {
                std::ptr::null_mut()
            } else {
                pg_sys::get_namespace_name(pg_sys::get_rel_namespace(self.0))
            };
            if name.is_null() || schema.is_null() {
                return Err(SensorError::new(
                    ErrorKind::UndefinedObject,
                    format!("relation with OID {} does not exist", self.0.to_u32()),
                ));
            }
            (
                CStr::from_ptr(schema).to_string_lossy().into_owned(),
                CStr::from_ptr(name).to_string_lossy().into_owned(),
            )
        };
        Ok(format!(
            "{}.{}",
            quote_identifier(&schema),
            quote_identifier(&name)
        ))
    }
}

/// A `name` argument (an identifier such as a column name), as text.
#[derive(Debug, Clone)]
pub struct SqlName(pub String);

impl FromDatum for SqlName {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null || datum.is_null() {
            return None;
        }
        // SAFETY: a `name` datum points to a NUL-terminated NameData.
        let text = unsafe { CStr::from_ptr(datum.cast_mut_ptr::<std::ffi::c_char>()) };
        Some(SqlName(text.to_string_lossy().into_owned()))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for SqlName {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        // SAFETY: declared as name; NULL is handled by Option.
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or(SqlName(String::new()))
    }
}

unsafe impl SqlTranslatable for SqlName {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(SqlName);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("name"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("name")));
}

impl SqlName {
    /// The identifier, quoted as needed.
    pub fn quoted(&self) -> String {
        quote_identifier(&self.0)
    }
}

/// A required argument's value: NULL is an error naming the argument (22023).
pub fn required<T>(value: Option<T>, argument: &str) -> SensorResult<T> {
    value.ok_or_else(|| SensorError::invalid_parameter(format!("{argument} must not be NULL")))
}
