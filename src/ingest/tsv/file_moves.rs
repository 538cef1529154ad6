//! Moving loaded files into `parsed/` or `error/` only once their transaction commits.
//!
//! A move done during the load could not be undone if the transaction later rolled back (a
//! cancel, a failed COMMIT, a caller's ROLLBACK), and the file would sit in `parsed/` with its
//! data gone. So moves are queued, dropped when the (sub)transaction that queued them aborts,
//! and done by a commit callback. A move that fails then can no longer raise an error (the
//! transaction is committed): it is reported as a WARNING and the file stays where it was.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::{ErrorKind, SensorError, SensorResult};

struct PendingMove {
    from: PathBuf,
    to: PathBuf,
    subtransaction: pg_sys::SubTransactionId,
}

thread_local! {
    static PENDING: RefCell<Vec<PendingMove>> = const { RefCell::new(Vec::new()) };
    static CALLBACKS_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Where `file` goes: `<its directory>/<folder>/<its name>`, with `.1`, `.2`, … appended when
/// that name is taken (an earlier upload of the same name is never overwritten).
pub fn destination(file: &Path, folder: &str) -> SensorResult<PathBuf> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Err(SensorError::invalid_parameter(format!(
            "cannot move \"{}\": not a file path",
            file.display()
        )));
    };
    let target_dir = dir.join(folder);
    // Made now, so that a move that cannot happen (e.g. `parsed` is a file) is known before
    // the report records where the file went. An empty folder left by a rollback is harmless.
    std::fs::create_dir_all(&target_dir)
        .map_err(|e| SensorError::file_access(&e, "create", &target_dir))?;
    let first = target_dir.join(name);
    if !first.exists() && !is_queued(&first) {
        return Ok(first);
    }
    for n in 1..10_000u32 {
        let mut candidate = name.to_os_string();
        candidate.push(format!(".{n}"));
        let candidate = target_dir.join(candidate);
        if !candidate.exists() && !is_queued(&candidate) {
            return Ok(candidate);
        }
    }
    Err(SensorError::new(
        ErrorKind::FileExists,
        format!(
            "no free name for \"{}\" in \"{}\"",
            name.to_string_lossy(),
            target_dir.display()
        ),
    ))
}

fn is_queued(path: &Path) -> bool {
    PENDING.with(|p| p.borrow().iter().any(|m| m.to == path))
}

/// Queues a move of `from` to `to`, done when the top-level transaction commits.
pub fn move_at_commit(from: PathBuf, to: PathBuf) {
    register_callbacks();
    // SAFETY: plain read of the current subtransaction id.
    let subtransaction = unsafe { pg_sys::GetCurrentSubTransactionId() };
    PENDING.with(|p| {
        p.borrow_mut().push(PendingMove {
            from,
            to,
            subtransaction,
        })
    });
}

fn register_callbacks() {
    if CALLBACKS_REGISTERED.with(Cell::get) {
        return;
    }
    // SAFETY: registering backend-lifetime callbacks once; they only touch PENDING.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_transaction_end), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subtransaction_end), std::ptr::null_mut());
    }
    CALLBACKS_REGISTERED.with(|r| r.set(true));
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_PREPARE if PENDING.with(|p| !p.borrow().is_empty()) => {
            PENDING.with(|p| p.borrow_mut().clear());
            // Raised before the prepare happens, so the transaction aborts cleanly.
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "cannot PREPARE a transaction that moves loaded files (load_tsv_dir with move_files => true)"
            );
        }
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT => {
            let moves = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
            for m in moves {
                if let Err(reason) = move_file(&m.from, &m.to) {
                    // The transaction is committed: an ERROR is no longer possible here.
                    pgrx::warning!(
                        "could not move file \"{}\" to \"{}\": {reason}; it stays where it is",
                        m.from.display(),
                        m.to.display()
                    );
                }
            }
        }
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT | XACT_EVENT_PREPARE => {
            PENDING.with(|p| p.borrow_mut().clear());
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subtransaction_end(
    event: pg_sys::SubXactEvent::Type,
    subtransaction: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        // Subtransaction ids grow within a transaction, and the ones still open after this one
        // began are its children: drop the moves queued by it and by them.
        PENDING.with(|p| p.borrow_mut().retain(|m| m.subtransaction < subtransaction));
    }
}

fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if to.exists() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, to)
}
