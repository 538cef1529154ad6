//! The search_path of the extension's own queries.
//!
//! Functions that run only their own SQL (loaders, channel windows, the availability report)
//! run it under `search_path = pg_catalog, pg_temp`, so that a caller's search_path cannot
//! redirect an operator, function or type to objects of another schema: a superuser calling
//! `load_tdms` with `search_path = evil, pg_catalog` runs none of `evil`'s code. The pin is
//! scoped to the computation, not declared on the function (`SET search_path` on a
//! set-returning function would save and restore the setting once per returned row).
//! Functions that run caller-written SQL (`downsample`'s filter, `arrow_export`'s query)
//! keep the caller's search_path and qualify their own operators instead.

use std::ffi::CStr;

use pgrx::pg_sys;

const PINNED: &CStr = c"pg_catalog, pg_temp";

/// Runs `f` with `search_path = pg_catalog, pg_temp`, as a function's `SET search_path`
/// clause would, and puts the caller's setting back afterwards.
pub fn pinned<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: pops the nesting level opened below (an abort that got there first
            // already popped it, which AtEOXact_GUC accepts with isCommit = false).
            unsafe { pg_sys::AtEOXact_GUC(!std::thread::panicking(), self.0) };
        }
    }
    // SAFETY: what fmgr_security_definer does for a function's SET clause. GUC_ACTION_SAVE
    // is allowed in parallel workers too.
    let level = unsafe {
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            PINNED.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            pgrx::PgLogLevel::ERROR as i32,
            false,
        );
        level
    };
    let _restore = Restore(level);
    f()
}
