//! `availability_report` in parallel plans (opt-in: `sensor_analytics.parallel_report`): the
//! aggregate `availability_report_share`,
//! whose workers each compress their share of an equipment's events to run boundaries
//! (`availability::ReportShare`), and the leader's side, which merges the shares and
//! checks that they are exact. The report takes this path only when the planner chooses a
//! parallel plan for it; a serial plan, or shares that cannot be exact (rows stored far
//! from their time), leave the report to its serial scan, so the figures are always those
//! of the serial plan.

use ::availability::{BucketSpec, BucketStates, ReportShare};
use pgrx::datum::Internal;
use pgrx::prelude::*;

use super::report::EventSource;
use crate::error::RaiseError;
use crate::error::{SensorError, SensorResult, SqlResult};
use crate::pg::row_groups::{GroupKey, KeyColumn, RowGroups};
use crate::pg::row_stream::{stream_rows_if_parallel, Row, RowSink};
use crate::pg::{aggregate, fmgr, time};

/// `sensor_analytics.parallel_report`: off by default. Measured on 2 cores the aggregate's
/// per-row call costs more than the workers save (bench/availability_report.sh); on more
/// cores the parallel plan may pay.
static PARALLEL_REPORT: pgrx::GucSetting<bool> = pgrx::GucSetting::<bool>::new(false);

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
/// processes) and the share.
#[derive(Clone)]
struct ShareState {
    spec: Option<BucketSpec>,
    share: ReportShare,
}

impl ShareState {
    fn finish(&mut self) -> SensorResult<()> {
        if let Some(spec) = &self.spec {
            self.share.finish(spec)?;
        }
        Ok(())
    }
}

crate::v1_function!(
    /// Transition function of `sensor.availability_report_share`, once per event: a plain
    /// version-1 C function ([`crate::pg::fmgr`]) of six arguments: `internal`, `oid`, `tid`,
    /// `timestamptz`, `text`, `bytea`.
    availability_report_share_trans,
    pg_finfo_availability_report_share_trans,
    |fcinfo| {
        // SAFETY: the function manager passes the 6 declared arguments.
        let args = unsafe { fmgr::args(fcinfo, 6) };
        let mut internal = fmgr::internal_arg(&args[0]);
        // SAFETY: the arguments have the declared types: a by-reference tid, a text and a
        // bytea (read only while this call runs).
        unsafe { share_step(&mut internal, args, fcinfo) }.or_raise();
        // SAFETY: fcinfo is this call's.
        unsafe { fmgr::return_internal(fcinfo, internal) }
    }
);

crate::v1_function!(
    /// The symbol 0.2.0's `CREATE FUNCTION` names (a `#[pg_extern]` wrapper then): a database
    /// not yet updated calls it.
    availability_report_share_trans_wrapper,
    pg_finfo_availability_report_share_trans_wrapper,
    |fcinfo| {
        // SAFETY: the same arguments.
        unsafe { availability_report_share_trans(fcinfo) }
    }
);

/// # Safety
/// As [`availability_report_share_trans`].
unsafe fn share_step(
    internal: &mut Internal,
    args: &[pg_sys::NullableDatum],
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<()> {
    let st = aggregate::get_or_put(internal, fcinfo, || {
        // SAFETY: a bytea argument.
        let Some(spec) = (unsafe { fmgr::varlena_arg(&args[5]) }) else {
            return Err(SensorError::invalid_parameter("spec must not be NULL"));
        };
        Ok(ShareState {
            spec: Some(BucketSpec::from_bytes(spec).map_err(SensorError::from)?),
            share: ReportShare::default(),
        })
    })?;
    let (Some(time), false, Some(spec)) = (fmgr::i64_arg(&args[3]), args[2].isnull, &st.spec)
    else {
        return Ok(());
    };
    // SAFETY: a non-NULL tid argument points to an ItemPointerData.
    let row_id = unsafe { *args[2].value.cast_mut_ptr::<pg_sys::ItemPointerData>() };
    let (block, _) = pgrx::itemptr::item_pointer_get_both(row_id);
    // Blocks of different relations (a hypertable's chunks) are never contiguous.
    let relation = if args[1].isnull {
        0
    } else {
        args[1].value.value() as u32
    };
    let block = u64::from(relation) << 32 | u64::from(block);
    // SAFETY: a text argument, in the database encoding.
    let state = match unsafe { fmgr::varlena_arg(&args[4]) } {
        // A NULL status is a status nobody knows.
        None => ::availability::UNKNOWN,
        Some(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| SensorError::invalid_input("state is not valid UTF-8"))?,
    };
    st.share
        .push(spec, time::finite_pg_micros(time, "time")?, state, block)
        .map_err(SensorError::from)?;
    Ok(())
}

#[pg_extern(immutable, parallel_safe)]
fn availability_report_share_final(mut internal: Internal) -> SqlResult<Option<Vec<u8>>> {
    let Some(st) = aggregate::get_mut::<ShareState>(&mut internal)? else {
        return Ok(None);
    };
    st.finish()?;
    Ok(Some(st.share.to_bytes()))
}

#[pg_extern(immutable, parallel_safe)]
fn availability_report_share_combine(
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
            left.share.merge(right.share).map_err(SensorError::from)
        },
    )?)
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_report_share_serialize(mut internal: Internal) -> SqlResult<Vec<u8>> {
    // Strict: PostgreSQL only serializes existing states.
    Ok(match aggregate::get_mut::<ShareState>(&mut internal)? {
        Some(st) => {
            st.finish()?;
            st.share.to_bytes()
        }
        None => Vec::new(),
    })
}

#[pg_extern(immutable, parallel_safe, strict)]
fn availability_report_share_deserialize(bytes: &[u8], _unused: Internal) -> SqlResult<Internal> {
    let share = ReportShare::from_bytes(bytes).map_err(SensorError::from)?;
    Ok(aggregate::transient(ShareState { spec: None, share }))
}

/// Each equipment's bucket states from a parallel plan, or `None` when the planner keeps
/// the query serial, the relation's rows have no stable heap position (a view, a foreign
/// table, compressed chunks), or the shares are not exact.
pub(super) fn parallel_groups(
    source: &EventSource,
    spec: &BucketSpec,
    key: KeyColumn,
) -> SensorResult<Option<Vec<(GroupKey, BucketStates)>>> {
    if !PARALLEL_REPORT.get() || !rows_have_heap_positions(source.relid)? {
        return Ok(None);
    }
    let (from, to) = source.window_literals()?;
    let spec_hex: String = spec
        .to_bytes()
        .map_err(SensorError::from)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let equipment = match &source.equipment {
        Some(e) => key.select_expr(e),
        None => "NULL::pg_catalog.text".to_string(),
    };
    // Literal window and settings: the planner sees the rows the window holds.
    let query = format!(
        "SELECT {equipment}, sensor.availability_report_share(tableoid, ctid, {t}::timestamptz, {s}::text, \
         pg_catalog.decode('{spec_hex}', 'hex')) FROM {rel} WHERE {t} >= {from} AND {t} < {to} GROUP BY 1",
        t = source.time,
        s = source.state,
        rel = source.relation,
    );
    let mut sink = ShareSink {
        groups: RowGroups::new(key, 0),
    };
    if stream_rows_if_parallel(&query, 2, &mut sink)?.is_none() {
        return Ok(None);
    }
    let mut groups = Vec::new();
    for (key, share) in sink.groups.into_sorted() {
        let Some(share) = share else { continue };
        if !share.is_exact() {
            return Ok(None);
        }
        groups.push((key, share.into_buckets()));
    }
    #[cfg(any(test, feature = "pg_test"))]
    PARALLEL_REPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(Some(groups))
}

/// Reports made from parallel shares, for tests to tell the two paths apart.
#[cfg(any(test, feature = "pg_test"))]
pub(crate) static PARALLEL_REPORTS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Whether every row of `relid` is a heap tuple with a `ctid` (a table, or a partitioned
/// table or hypertable of tables, none of its chunks compressed).
fn rows_have_heap_positions(relid: pg_sys::Oid) -> SensorResult<bool> {
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

/// Receives (equipment, share bytes) rows.
struct ShareSink {
    groups: RowGroups<Option<ReportShare>>,
}

impl RowSink for ShareSink {
    fn row(&mut self, row: &Row) -> SensorResult<()> {
        let share = row.with_text(1, |bytes| {
            bytes
                .map(|b| ReportShare::from_bytes(b).map_err(SensorError::from))
                .transpose()
        })?;
        *self.groups.group_of(row, |_| Ok(None))? = share;
        Ok(())
    }
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION sensor.availability_report_share_trans(internal internal, relation oid, row_id tid, "time" timestamptz, state text, spec bytea) RETURNS internal
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'availability_report_share_trans';
CREATE AGGREGATE sensor.availability_report_share(relation oid, row_id tid, "time" timestamptz, state text, spec bytea) (
    SFUNC = sensor.availability_report_share_trans, STYPE = internal,
    FINALFUNC = sensor.availability_report_share_final,
    COMBINEFUNC = sensor.availability_report_share_combine,
    SERIALFUNC = sensor.availability_report_share_serialize,
    DESERIALFUNC = sensor.availability_report_share_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE sensor.availability_report_share(oid, tid, timestamptz, text, bytea) IS
    'Used by availability_report in parallel plans: one equipment''s events, each parallel worker''s share compressed to run boundaries, merged by the leader. Its arguments and bytes are internal (they may change in any version); call availability_report instead.';
"#,
    name = "availability_report_share",
    requires = [
        "bootstrap",
        availability_report_share_final,
        availability_report_share_combine,
        availability_report_share_serialize,
        availability_report_share_deserialize
    ]
);
