//! `availability_report` in parallel plans (`sensor_analytics.parallel_report`): the
//! aggregate `availability_report_shares`, one over every equipment's events (no GROUP BY:
//! a plain Agg, no hash table per row), whose workers each compress their share of each
//! equipment's events to run boundaries (`availability::ReportShares`), and the leader's
//! side, which merges the shares and checks that they are exact. The report takes this path only when the planner chooses a
//! parallel plan for it; a serial plan, or shares that cannot be exact (rows stored far
//! from their time), leave the report to its serial scan, so the figures are always those
//! of the serial plan.

use ::availability::{BucketSpec, BucketStates, KeyRef, ReportShares};
use pgrx::datum::Internal;
use pgrx::prelude::*;

use super::report::EventSource;
use crate::error::RaiseError;
use crate::error::{SensorError, SensorResult, SqlResult};
use crate::pg::row_groups::{GroupKey, KeyColumn};
use crate::pg::row_stream::{stream_rows_if_parallel, Row, RowSink};
use crate::pg::{aggregate, fmgr, time};

/// `sensor_analytics.parallel_report`: on by default (1.05-1.25x a parallel `count(*) GROUP
/// BY` on 2 cores, bench/availability_report.sh; the serial scan costs what a serial one
/// does). Off, the report always scans serially.
static PARALLEL_REPORT: pgrx::GucSetting<bool> = pgrx::GucSetting::<bool>::new(true);

/// Registers the settings of this module (from `_PG_init`).
pub(crate) fn define_settings() {
    pgrx::GucRegistry::define_bool_guc(
        c"sensor_analytics.parallel_report",
        c"Lets availability_report use a parallel plan.",
        c"Workers compress their share of each equipment's events; the figures stay those of the serial plan (the report falls back to it when shares overlap in time).",
        &PARALLEL_REPORT,
        pgrx::GucContext::Userset,
        pgrx::GucFlags::default(),
    );
}

/// The aggregate's state: the report's settings (from the first row; not sent between
/// processes), every equipment's share, and the last event's state (its text checked once
/// per run of equal states, not per row).
#[derive(Clone, Default)]
struct ShareState {
    spec: Option<BucketSpec>,
    shares: ReportShares,
    state: String,
}

impl ShareState {
    fn finish(&mut self) -> SensorResult<()> {
        if let Some(spec) = &self.spec {
            self.shares.finish(spec)?;
        }
        Ok(())
    }
}

/// One event: the arguments after `internal`, `equipment` (read by the caller): `oid`,
/// `tid`, `timestamptz`, `text` and `bytea` (the spec). Returns the state (made from the spec
/// on the first row) and the event as (time, block); `None` for a row without time or
/// position.
///
/// # Safety
/// `args` are the current call's 7 arguments, of those types.
unsafe fn share_event<'a>(
    internal: &'a mut Internal,
    args: &[pg_sys::NullableDatum],
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<Option<(&'a mut ShareState, i64, u64)>> {
    let st = aggregate::get_or_put(internal, fcinfo, || {
        // SAFETY: a bytea argument.
        let Some(spec) = (unsafe { fmgr::varlena_arg(&args[6]) }) else {
            return Err(SensorError::invalid_parameter("spec must not be NULL"));
        };
        Ok(ShareState {
            spec: Some(BucketSpec::from_bytes(spec).map_err(SensorError::from)?),
            ..ShareState::default()
        })
    })?;
    let (Some(time), false) = (fmgr::i64_arg(&args[4]), args[3].isnull) else {
        return Ok(None);
    };
    // SAFETY: a non-NULL tid argument points to an ItemPointerData.
    let row_id = unsafe { *args[3].value.cast_mut_ptr::<pg_sys::ItemPointerData>() };
    let (block, _) = pgrx::itemptr::item_pointer_get_both(row_id);
    // Blocks of different relations (a hypertable's chunks) are never contiguous.
    let relation = if args[2].isnull {
        0
    } else {
        args[2].value.value() as u32
    };
    let block = u64::from(relation) << 32 | u64::from(block);
    // SAFETY: a text argument, in the database encoding. A NULL status is a status nobody
    // knows.
    let state = unsafe { fmgr::varlena_arg(&args[5]) };
    let state = state.unwrap_or(::availability::UNKNOWN.as_bytes());
    if st.state.as_bytes() != state {
        let text = std::str::from_utf8(state)
            .map_err(|_| SensorError::invalid_input("state is not valid UTF-8"))?;
        st.state.clear();
        st.state.push_str(text);
    }
    Ok(Some((st, time::finite_pg_micros(time, "time")?, block)))
}

/// The transition's body, given how to read the equipment argument.
///
/// # Safety
/// `fcinfo` is the current call's, with the 7 arguments of `share_event`; `equipment`
/// reads the second as its declared type.
unsafe fn share_step(
    fcinfo: pg_sys::FunctionCallInfo,
    equipment: impl FnOnce(&pg_sys::NullableDatum) -> KeyRef<'_>,
) -> pg_sys::Datum {
    // SAFETY: the function manager passes the 7 declared arguments.
    let args = unsafe { fmgr::args(fcinfo, 7) };
    let mut internal = fmgr::internal_arg(&args[0]);
    // SAFETY: the arguments have the declared types.
    let event = unsafe { share_event(&mut internal, args, fcinfo) }.or_raise();
    if let Some((
        ShareState {
            spec: Some(spec),
            shares,
            state,
        },
        t,
        block,
    )) = event
    {
        shares
            .push(equipment(&args[1]), spec, t, state, block)
            .map_err(SensorError::from)
            .or_raise();
    }
    // SAFETY: fcinfo is this call's.
    unsafe { fmgr::return_internal(fcinfo, internal) }
}

crate::v1_function!(
    /// Transition function of `sensor.availability_report_shares` by an integer equipment,
    /// once per event: a plain version-1 C function ([`crate::pg::fmgr`]) of seven arguments:
    /// `internal`, `int8` (the equipment), `oid`, `tid`, `timestamptz`, `text`, `bytea`.
    availability_report_shares_trans,
    pg_finfo_availability_report_shares_trans,
    |fcinfo| {
        // SAFETY: the second argument is an int8.
        unsafe { share_step(fcinfo, |arg| KeyRef::int(fmgr::i64_arg(arg))) }
    }
);

crate::v1_function!(
    /// Transition function of `sensor.availability_report_shares` by a text equipment: as
    /// `availability_report_shares_trans`, the equipment a `text`.
    availability_report_shares_text_trans,
    pg_finfo_availability_report_shares_text_trans,
    |fcinfo| {
        // SAFETY: the second argument is a text, read while this call runs.
        unsafe { share_step(fcinfo, |arg| KeyRef::text(fmgr::varlena_arg(arg))) }
    }
);

#[pg_extern(immutable, parallel_safe)]
fn availability_report_shares_final(mut internal: Internal) -> SqlResult<Option<Vec<u8>>> {
    let Some(st) = aggregate::get_mut::<ShareState>(&mut internal)? else {
        return Ok(None);
    };
    st.finish()?;
    Ok(Some(st.shares.to_bytes()))
}

#[pg_extern(immutable, parallel_safe)]
fn availability_report_shares_combine(
    a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SqlResult<Internal> {
    Ok(aggregate::combine(
        a,
        b,
        fcinfo,
        |left: &mut ShareState, right: &ShareState| {
            left.finish()?;
            let mut right = right.clone();
            right.finish()?;
            left.shares.merge(right.shares).map_err(SensorError::from)
        },
    )?)
}

/// Strict: PostgreSQL only serializes existing states.
#[pg_extern(immutable, parallel_safe, strict)]
fn availability_report_shares_serialize(mut internal: Internal) -> SqlResult<Vec<u8>> {
    Ok(match aggregate::get_mut::<ShareState>(&mut internal)? {
        Some(st) => {
            st.finish()?;
            st.shares.to_bytes()
        }
        None => Vec::new(),
    })
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_report_shares_deserialize(bytes: &[u8], _unused: Internal) -> SqlResult<Internal> {
    let shares = ReportShares::from_bytes(bytes).map_err(SensorError::from)?;
    Ok(aggregate::transient(ShareState {
        shares,
        ..ShareState::default()
    }))
}

/// The symbols of 0.2.0 and 0.3.0's `sensor.availability_report_share` (one equipment's
/// share, grouped by it), which 0.4.0 drops: their update scripts create functions over
/// them, so they stay, and say what happened if a database not yet updated calls them.
macro_rules! removed_share_functions {
    ($(($name:ident, $finfo:ident)),*) => {$(
        crate::v1_function!(
            /// Removed in 0.4.0 (see above).
            $name,
            $finfo,
            |_fcinfo| {
                Err::<pg_sys::Datum, _>(SensorError::not_supported(
                    "sensor.availability_report_share was replaced in version 0.4.0 of sensor_analytics: run ALTER EXTENSION sensor_analytics UPDATE",
                ))
                .or_raise()
            }
        );
    )*};
}

removed_share_functions!(
    (
        availability_report_share_trans,
        pg_finfo_availability_report_share_trans
    ),
    (
        availability_report_share_trans_wrapper,
        pg_finfo_availability_report_share_trans_wrapper
    ),
    (
        availability_report_share_final_wrapper,
        pg_finfo_availability_report_share_final_wrapper
    ),
    (
        availability_report_share_combine_wrapper,
        pg_finfo_availability_report_share_combine_wrapper
    ),
    (
        availability_report_share_serialize_wrapper,
        pg_finfo_availability_report_share_serialize_wrapper
    ),
    (
        availability_report_share_deserialize_wrapper,
        pg_finfo_availability_report_share_deserialize_wrapper
    )
);

/// Each equipment's bucket states from a parallel plan, or `None` when the planner keeps
/// the query serial or the shares are not exact. For relations whose rows have a stable
/// heap position (the report chooses: see `report_rows`).
pub(super) fn parallel_groups(
    source: &EventSource,
    spec: &BucketSpec,
    key: KeyColumn,
) -> SensorResult<Option<Vec<(GroupKey, BucketStates)>>> {
    // Before `ALTER EXTENSION ... UPDATE` to 0.4.0 the catalog has no such aggregate.
    if !crate::pg::spi::function_exists(
        "sensor.availability_report_shares(bigint, oid, tid, timestamptz, text, bytea)",
    )? {
        return Ok(None);
    }
    let (from, to) = source.window_literals()?;
    let spec_hex = spec_hex(spec)?;
    let equipment = match (&source.equipment, key) {
        (Some(e), KeyColumn::Integer(_)) => format!("CAST({e} AS pg_catalog.int8)"),
        (Some(e), KeyColumn::Text) => key.select_expr(e),
        (None, _) => "NULL::pg_catalog.int8".to_string(),
    };
    // Literal window and settings: the planner sees the rows the window holds.
    let query = format!(
        "SELECT sensor.availability_report_shares({equipment}, tableoid, ctid, {t}::timestamptz, {s}::text, \
         pg_catalog.decode('{spec_hex}', 'hex')) FROM {rel} WHERE {t} >= {from} AND {t} < {to}",
        t = source.time,
        s = source.state,
        rel = source.relation,
    );
    let mut sink = SharesSink { shares: None };
    if stream_rows_if_parallel(&query, 1, &mut sink)?.is_none() {
        return Ok(None);
    }
    let shares = sink
        .shares
        .map(ReportShares::into_sorted)
        .unwrap_or_default();
    let mut groups = Vec::with_capacity(shares.len());
    for (key, share) in shares {
        if !share.is_exact() {
            return Ok(None);
        }
        groups.push((key, share.into_buckets()));
    }
    #[cfg(any(test, feature = "pg_test"))]
    PARALLEL_REPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(Some(groups))
}

/// The report's spec ([`BucketSpec::to_bytes`]) in hex, for a query's literal.
pub(super) fn spec_hex(spec: &BucketSpec) -> SensorResult<String> {
    Ok(spec
        .to_bytes()
        .map_err(SensorError::from)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Reports made from parallel shares, for tests to tell the two paths apart.
#[cfg(any(test, feature = "pg_test"))]
pub(crate) static PARALLEL_REPORTS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Whether `sensor_analytics.parallel_report` lets the report use a parallel plan.
pub(super) fn parallel_report_enabled() -> bool {
    PARALLEL_REPORT.get()
}

/// Whether every row of `relid` is a heap tuple with a `ctid` (a table, or a partitioned
/// table or hypertable of tables, none of its chunks compressed).
pub(super) fn rows_have_heap_positions(relid: pg_sys::Oid) -> SensorResult<bool> {
    let plain = crate::pg::spi::get_one_with_args::<bool>(
        "SELECT c.relkind OPERATOR(pg_catalog.=) 'r' OR (c.relkind OPERATOR(pg_catalog.=) 'p' AND NOT EXISTS ( \
             SELECT FROM pg_catalog.pg_partition_tree(c.oid) t JOIN pg_catalog.pg_class l ON l.oid OPERATOR(pg_catalog.=) t.relid \
             WHERE t.isleaf AND l.relkind OPERATOR(pg_catalog.<>) 'r')) \
         FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
        &[relid.into()],
    )
    .map_err(|e| SensorError::internal_query("reading the relation's kind", e))?;
    if plain != Some(true) {
        return Ok(false);
    }
    if !crate::pg::timescaledb::is_hypertable(relid)? {
        return Ok(true);
    }
    let compressed = crate::pg::spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT FROM _timescaledb_catalog.hypertable h \
             JOIN _timescaledb_catalog.chunk k ON k.hypertable_id OPERATOR(pg_catalog.=) h.id \
             JOIN pg_catalog.pg_class c ON c.relname OPERATOR(pg_catalog.=) h.table_name \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace AND n.nspname OPERATOR(pg_catalog.=) h.schema_name \
             WHERE c.oid OPERATOR(pg_catalog.=) $1 AND k.compressed_chunk_id IS NOT NULL)",
        &[relid.into()],
    )
    .map_err(|e| SensorError::internal_query("reading the chunk catalog", e))?;
    Ok(compressed == Some(false))
}

/// Receives the one row of `availability_report_shares` (NULL when the window is empty).
struct SharesSink {
    shares: Option<ReportShares>,
}

impl RowSink for SharesSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        self.shares = row.with_text(0, |bytes| {
            bytes
                .map(|b| ReportShares::from_bytes(b).map_err(SensorError::from))
                .transpose()
        })?;
        Ok(())
    }
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION sensor.availability_report_shares_trans(internal internal, equipment bigint, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'availability_report_shares_trans';
CREATE FUNCTION sensor.availability_report_shares_trans(internal internal, equipment text, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'availability_report_shares_text_trans';
CREATE AGGREGATE sensor.availability_report_shares(equipment bigint, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) (
    SFUNC = sensor.availability_report_shares_trans, STYPE = internal,
    FINALFUNC = sensor.availability_report_shares_final,
    COMBINEFUNC = sensor.availability_report_shares_combine,
    SERIALFUNC = sensor.availability_report_shares_serialize,
    DESERIALFUNC = sensor.availability_report_shares_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE sensor.availability_report_shares(equipment text, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) (
    SFUNC = sensor.availability_report_shares_trans, STYPE = internal,
    FINALFUNC = sensor.availability_report_shares_final,
    COMBINEFUNC = sensor.availability_report_shares_combine,
    SERIALFUNC = sensor.availability_report_shares_serialize,
    DESERIALFUNC = sensor.availability_report_shares_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE sensor.availability_report_shares(bigint, oid, tid, timestamptz, text, bytea) IS
    'Used by availability_report in parallel plans: every equipment''s events in one aggregate (no GROUP BY), each parallel worker''s share compressed to run boundaries, merged by the leader. Its arguments and bytes are internal (they may change in any version); call availability_report instead.';
COMMENT ON AGGREGATE sensor.availability_report_shares(text, oid, tid, timestamptz, text, bytea) IS
    'sensor.availability_report_shares by a text equipment.';
"#,
    name = "availability_report_shares",
    requires = [
        "bootstrap",
        availability_report_shares_final,
        availability_report_shares_combine,
        availability_report_shares_serialize,
        availability_report_shares_deserialize
    ]
);
