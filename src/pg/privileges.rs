//! Privilege checks for functions that touch files on the database server.
//!
//! They follow PostgreSQL's own rule for `COPY … FROM/TO 'file'`: superusers, or roles with
//! the privileges of `pg_read_server_files` (reading) or `pg_write_server_files` (writing).

use std::path::Path;

use pgrx::pg_sys;

use crate::error::{ErrorKind, SensorError, SensorResult};
use crate::pg::quoting::quote_identifier;

/// Which way a function uses a server file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFileAccess {
    Read,
    Write,
}

impl ServerFileAccess {
    /// The predefined role that grants this access.
    pub const fn role_name(self) -> &'static str {
        match self {
            ServerFileAccess::Read => "pg_read_server_files",
            ServerFileAccess::Write => "pg_write_server_files",
        }
    }

    fn role_oid(self) -> pg_sys::Oid {
        match self {
            ServerFileAccess::Read => pg_sys::Oid::from(pg_sys::ROLE_PG_READ_SERVER_FILES),
            ServerFileAccess::Write => pg_sys::Oid::from(pg_sys::ROLE_PG_WRITE_SERVER_FILES),
        }
    }

    const fn verb(self) -> &'static str {
        match self {
            ServerFileAccess::Read => "read",
            ServerFileAccess::Write => "write",
        }
    }
}

/// Whether the current role may use server files this way.
pub fn has_server_file_access(access: ServerFileAccess) -> bool {
    // SAFETY: plain catalog lookups on the current user, valid in any transaction.
    unsafe {
        pg_sys::superuser() || pg_sys::has_privs_of_role(pg_sys::GetUserId(), access.role_oid())
    }
}

/// Fails with 42501, and a hint naming the role to grant, unless the current role may use
/// `path` this way.
pub fn require_server_file_access(access: ServerFileAccess, path: &Path) -> SensorResult<()> {
    if has_server_file_access(access) {
        return Ok(());
    }
    let role = access.role_name();
    Err(SensorError::new(
        ErrorKind::InsufficientPrivilege,
        format!("permission denied to {} server file \"{}\"", access.verb(), path.display()),
    )
    .with_detail(format!(
        "Only superusers and roles with privileges of the \"{role}\" role may {} files on the database server.",
        access.verb()
    ))
    .with_hint(format!("GRANT {role} TO {};", current_role_name())))
}

fn current_role_name() -> String {
    // SAFETY: GetUserNameFromId returns a palloc'd copy, or errors for a dropped role
    // (impossible for the current user).
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), true);
        if name.is_null() {
            return "<current role>".to_string();
        }
        quote_identifier(&std::ffi::CStr::from_ptr(name).to_string_lossy())
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use crate::tests::sqlstate_of;
    use pgrx::prelude::*;

    /// Test-only: runs the check from SQL, so tests can call it under `SET ROLE`.
    #[pg_extern]
    fn check_server_file_access(mode: &str, path: &str) -> crate::error::SqlResult<bool> {
        let access = if mode == "write" {
            ServerFileAccess::Write
        } else {
            ServerFileAccess::Read
        };
        require_server_file_access(access, Path::new(path))?;
        Ok(true)
    }

    #[pg_test]
    fn superuser_may_read_and_write() {
        assert!(has_server_file_access(ServerFileAccess::Read));
        assert!(has_server_file_access(ServerFileAccess::Write));
        assert_eq!(
            sqlstate_of("SELECT tests.check_server_file_access('read', '/tmp/x')"),
            None
        );
    }

    #[pg_test]
    fn plain_role_is_refused_with_42501_and_a_hint() {
        Spi::run("CREATE ROLE sensor_plain_role NOLOGIN").unwrap();
        Spi::run("GRANT USAGE ON SCHEMA tests TO sensor_plain_role").unwrap();
        Spi::run("SET ROLE sensor_plain_role").unwrap();
        assert!(!has_server_file_access(ServerFileAccess::Read));
        assert!(!has_server_file_access(ServerFileAccess::Write));
        let read = sqlstate_of("SELECT tests.check_server_file_access('read', '/tmp/x')");
        let write = sqlstate_of("SELECT tests.check_server_file_access('write', '/tmp/x')");
        let err =
            require_server_file_access(ServerFileAccess::Read, Path::new("/tmp/x")).unwrap_err();
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(read.as_deref(), Some("42501"));
        assert_eq!(write.as_deref(), Some("42501"));
        assert_eq!(err.kind, ErrorKind::InsufficientPrivilege);
        assert_eq!(
            err.message,
            "permission denied to read server file \"/tmp/x\""
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("GRANT pg_read_server_files TO sensor_plain_role;")
        );
    }

    #[pg_test]
    fn predefined_roles_grant_exactly_their_access() {
        Spi::run("CREATE ROLE sensor_reader NOLOGIN IN ROLE pg_read_server_files").unwrap();
        Spi::run("CREATE ROLE sensor_writer NOLOGIN IN ROLE pg_write_server_files").unwrap();
        Spi::run("SET ROLE sensor_reader").unwrap();
        let reader = (
            has_server_file_access(ServerFileAccess::Read),
            has_server_file_access(ServerFileAccess::Write),
        );
        Spi::run("SET ROLE sensor_writer").unwrap();
        let writer = (
            has_server_file_access(ServerFileAccess::Read),
            has_server_file_access(ServerFileAccess::Write),
        );
        Spi::run("RESET ROLE").unwrap();
        assert_eq!(reader, (true, false));
        assert_eq!(writer, (false, true));
    }
}

/// Runs `read` with the privileges of `relation`'s owner, as a SECURITY DEFINER function
/// would: for the functions that serve a tenant a T302 channel after checking, through the
/// tenant views, that the caller may see it (tenants have no privilege on the tables).
/// `read` must only run the extension's own schema-qualified queries.
pub fn as_owner_of<T>(relation: &str, read: impl FnOnce() -> SensorResult<T>) -> SensorResult<T> {
    let owner = pgrx::Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)",
        &[relation.into()],
    )
    .map_err(|e| SensorError::internal_query(&format!("looking up {relation}"), e))?
    .ok_or_else(|| {
        SensorError::new(ErrorKind::UndefinedObject, format!("table {relation} does not exist"))
            .with_hint("sensor.create_storage() creates schema sensor_data and its tables when it is missing.")
    })?;
    /// Puts the caller's identity back, also when `read` unwinds. (An ERROR that aborts the
    /// (sub)transaction restores it too: PostgreSQL saves it at each start.)
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the values read below.
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) };
        }
    }
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: reads the current user id and security context into locals.
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    let _restore = Restore(user, context);
    // SAFETY: what fmgr_security_definer does for a SECURITY DEFINER function.
    unsafe {
        pg_sys::SetUserIdAndSecContext(owner, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32)
    };
    read()
}
