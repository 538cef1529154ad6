//! Building values of the extension's composite types (`sensor.tof_report`, …).
//!
//! Types are found in schema `sensor` by catalog lookup (remembered per backend, and checked
//! still to exist on every call), so the functions work under any `search_path` — including
//! a continuous-aggregate refresh — and survive the extension being dropped and recreated
//! in the same session.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;

use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::{AllocatedByRust, PgTupleDesc};

use crate::error::{ErrorKind, SensorError, SensorResult};

thread_local! {
    static TYPE_OIDS: RefCell<HashMap<&'static CStr, pg_sys::Oid>> = RefCell::new(HashMap::new());
}

/// The OID of composite type `sensor.<name>`.
pub fn sensor_type_oid(name: &'static CStr) -> SensorResult<pg_sys::Oid> {
    let cached = TYPE_OIDS.with(|oids| oids.borrow().get(name).copied());
    if let Some(oid) = cached {
        // SAFETY: a syscache probe by OID.
        let exists = unsafe {
            pg_sys::SearchSysCacheExists(
                pg_sys::SysCacheIdentifier::TYPEOID as i32,
                pg_sys::Datum::from(oid),
                pg_sys::Datum::from(0),
                pg_sys::Datum::from(0),
                pg_sys::Datum::from(0),
            )
        };
        if exists {
            return Ok(oid);
        }
    }
    let oid = lookup_sensor_type_oid(name)?;
    TYPE_OIDS.with(|oids| oids.borrow_mut().insert(name, oid));
    Ok(oid)
}

fn lookup_sensor_type_oid(name: &CStr) -> SensorResult<pg_sys::Oid> {
    // SAFETY: catalog lookups by key; both return InvalidOid when absent (missing_ok).
    let oid = unsafe {
        let namespace = pg_sys::get_namespace_oid(c"sensor".as_ptr(), true);
        pg_sys::GetSysCacheOid(
            pg_sys::SysCacheIdentifier::TYPENAMENSP as i32,
            pg_sys::Anum_pg_type_oid as pg_sys::AttrNumber,
            pg_sys::Datum::from(name.as_ptr()),
            pg_sys::Datum::from(namespace),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
        )
    };
    if oid == pg_sys::InvalidOid {
        return Err(SensorError::new(
            ErrorKind::UndefinedObject,
            format!("type sensor.{} does not exist", name.to_string_lossy()),
        )
        .with_hint("Is the sensor_analytics extension installed in this database?"));
    }
    Ok(oid)
}

/// A value of composite type `sensor.<name>` from its attribute datums, in order.
pub fn sensor_composite<const N: usize>(
    name: &'static CStr,
    datums: [Option<pg_sys::Datum>; N],
) -> SensorResult<PgHeapTuple<'static, AllocatedByRust>> {
    let oid = sensor_type_oid(name)?;
    let tupdesc = PgTupleDesc::for_composite_type_by_oid(oid).ok_or_else(|| {
        SensorError::new(
            ErrorKind::UndefinedObject,
            format!("sensor.{} is not a composite type", name.to_string_lossy()),
        )
    })?;
    // SAFETY: callers pass datums of the attribute types in the order CREATE TYPE declares
    // them (sql/*.sql); a wrong count is caught here.
    unsafe { PgHeapTuple::from_datums(tupdesc, datums) }.map_err(|e| {
        SensorError::new(
            ErrorKind::UndefinedObject,
            format!("sensor.{} does not have the attributes this build expects: {e}", name.to_string_lossy()),
        )
        .with_hint("Reinstall the extension: DROP EXTENSION sensor_analytics; CREATE EXTENSION sensor_analytics;")
    })
}
