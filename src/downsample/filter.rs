//! The `filter` argument of the window functions: checked to be one SQL expression on the
//! raw parse tree, and read there to tell whether a rollup tier can answer it.

use std::ffi::CString;

use pgrx::list::old_list::PgList;
use pgrx::prelude::*;

use crate::error::{SensorError, SensorResult};

/// Rejects a filter that is not exactly one SQL expression, so that it cannot change the
/// shape of the query it is put into (close our parenthesis, add an ORDER BY or LIMIT,
/// comment out the rest, or add a statement). It still runs with the caller's privileges.
pub(crate) fn check_filter(filter: &str) -> SensorResult<()> {
    let not_an_expression = || {
        SensorError::invalid_parameter("filter must be a single SQL boolean expression")
            .with_hint("For example: filter => 'sensor_id = 7 AND quality > 0'.")
    };
    let probe = CString::new(format!("SELECT {filter}\n")).map_err(|_| not_an_expression())?;
    let parsed = PgTryBuilder::new(|| {
        // SAFETY: raw_parser only builds a parse tree in the current memory context.
        let list =
            unsafe { pg_sys::raw_parser(probe.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT) };
        Ok(unsafe { is_single_expression(list) })
    })
    .catch_others(|cause| {
        let message = match &cause {
            pg_sys::panic::CaughtError::PostgresError(report)
            | pg_sys::panic::CaughtError::ErrorReport(report) => report.message().to_string(),
            pg_sys::panic::CaughtError::RustPanic { .. } => "could not parse".to_string(),
        };
        Err(not_an_expression().with_detail(message))
    })
    .execute()?;
    if parsed {
        Ok(())
    } else {
        Err(not_an_expression())
    }
}

/// Whether `filter` (already checked by [`check_filter`]) mentions no column but `column`
/// and holds no subquery, so that a rollup tier with that column can answer it.
pub(crate) fn filter_mentions_only(filter: &str, column: &str) -> SensorResult<bool> {
    let probe = CString::new(format!("SELECT {filter}\n"))
        .map_err(|_| SensorError::invalid_parameter("filter must not contain NUL"))?;
    PgTryBuilder::new(|| {
        // SAFETY: raw_parser only builds a parse tree in the current memory context; the
        // walker reads it.
        unsafe {
            let list = pg_sys::raw_parser(probe.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
            let stmts = PgList::<pg_sys::RawStmt>::from_pg(list);
            let Some(raw) = stmts.get_ptr(0) else {
                return Ok(false);
            };
            let select = (*raw).stmt.cast::<pg_sys::SelectStmt>();
            let targets = PgList::<pg_sys::ResTarget>::from_pg((*select).targetList);
            let Some(target) = targets.get_ptr(0) else {
                return Ok(false);
            };
            let mut context = (column, true);
            let ctx = std::ptr::from_mut(&mut context).cast::<std::ffi::c_void>();
            let stopped = only_column_walker((*target).val, ctx);
            Ok(!stopped && context.1)
        }
    })
    .catch_others(|_| Ok(false))
    .execute()
}

/// Raw-tree walker of [`filter_mentions_only`]: stops (true) at a column other than the
/// context's, or at a subquery.
#[pg_guard]
unsafe extern "C-unwind" fn only_column_walker(
    node: *mut pg_sys::Node,
    ctx: *mut std::ffi::c_void,
) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: ctx is the (&str, bool) of filter_mentions_only; node a raw parse node.
    unsafe {
        let context = &mut *ctx.cast::<(&str, bool)>();
        if pgrx::is_a(node, pg_sys::NodeTag::T_SubLink) {
            context.1 = false;
            return true;
        }
        if pgrx::is_a(node, pg_sys::NodeTag::T_ColumnRef) {
            let fields =
                PgList::<pg_sys::Node>::from_pg((*node.cast::<pg_sys::ColumnRef>()).fields);
            let name = match (fields.len(), fields.get_ptr(0)) {
                (1, Some(f)) if pgrx::is_a(f, pg_sys::NodeTag::T_String) => {
                    std::ffi::CStr::from_ptr((*f.cast::<pg_sys::String>()).sval)
                        .to_str()
                        .ok()
                }
                _ => None,
            };
            if name != Some(context.0) {
                context.1 = false;
                return true;
            }
            return false;
        }
        pg_sys::raw_expression_tree_walker(node, Some(only_column_walker), ctx)
    }
}

/// Whether `list` (raw_parser output) is `SELECT <one unnamed expression>` and nothing else.
unsafe fn is_single_expression(list: *mut pg_sys::List) -> bool {
    let stmts = unsafe { PgList::<pg_sys::RawStmt>::from_pg(list) };
    if stmts.len() != 1 {
        return false;
    }
    let Some(raw) = stmts.get_ptr(0) else {
        return false;
    };
    let node = unsafe { (*raw).stmt };
    if node.is_null() || !unsafe { pgrx::is_a(node, pg_sys::NodeTag::T_SelectStmt) } {
        return false;
    }
    let s = unsafe { &*node.cast::<pg_sys::SelectStmt>() };
    let bare = s.distinctClause.is_null()
        && s.intoClause.is_null()
        && s.fromClause.is_null()
        && s.whereClause.is_null()
        && s.groupClause.is_null()
        && s.havingClause.is_null()
        && s.windowClause.is_null()
        && s.valuesLists.is_null()
        && s.sortClause.is_null()
        && s.limitOffset.is_null()
        && s.limitCount.is_null()
        && s.lockingClause.is_null()
        && s.withClause.is_null()
        && s.op == pg_sys::SetOperation::SETOP_NONE;
    if !bare {
        return false;
    }
    let targets = unsafe { PgList::<pg_sys::ResTarget>::from_pg(s.targetList) };
    if targets.len() != 1 {
        return false;
    }
    let Some(target) = targets.get_ptr(0) else {
        return false;
    };
    let target = unsafe { &*target };
    // `x AS name` or `*` would not be an expression.
    target.name.is_null()
        && target.indirection.is_null()
        && !target.val.is_null()
        && !unsafe { is_star(target.val) }
}

unsafe fn is_star(node: *mut pg_sys::Node) -> bool {
    if !unsafe { pgrx::is_a(node, pg_sys::NodeTag::T_ColumnRef) } {
        return false;
    }
    let fields =
        unsafe { PgList::<pg_sys::Node>::from_pg((*node.cast::<pg_sys::ColumnRef>()).fields) };
    (0..fields.len()).any(|i| {
        fields
            .get_ptr(i)
            .is_some_and(|f| unsafe { pgrx::is_a(f, pg_sys::NodeTag::T_A_Star) })
    })
}
