//! Aggregate states: Rust values behind `internal`, owned by a memory context that drops
//! them when it is reset.
//!
//! Every state is stored with its type's tag, so reading it back is safe: a support
//! function handed another aggregate's state (a wrong `CREATE AGGREGATE`, a hand-made call)
//! gets an error, never a wrong cast. One rule for where states live:
//! - transition and combine functions keep their state in the aggregate's memory context
//!   ([`put`]);
//! - deserialize functions return a state in the current (per-call) context
//!   ([`transient`]), as PostgreSQL calls them in a short-lived one; the combine function
//!   copies what it keeps ([`combine`]).

use std::any::TypeId;

use pgrx::{pg_sys, Internal, PgMemoryContexts};

use crate::error::{SensorError, SensorResult};

/// What `internal` points to: the type's tag first (same offset for every `T`).
#[repr(C)]
struct Tagged<T> {
    tag: TypeId,
    value: T,
}

fn foreign_state() -> SensorError {
    SensorError::invalid_parameter("this aggregate state belongs to another aggregate")
}

/// The aggregate's memory context; 0A000 when called outside an aggregate.
fn aggregate_context(fcinfo: pg_sys::FunctionCallInfo) -> SensorResult<pg_sys::MemoryContext> {
    let mut context: pg_sys::MemoryContext = std::ptr::null_mut();
    // SAFETY: fcinfo is the current call's; AggCheckCallContext only reads it.
    let in_aggregate = unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) } != 0;
    if !in_aggregate || context.is_null() {
        return Err(SensorError::not_supported(
            "this is an aggregate support function; call the aggregate instead",
        ));
    }
    Ok(context)
}

fn check_tag<T: 'static>(tag: &TypeId) -> SensorResult<()> {
    if *tag == TypeId::of::<T>() {
        Ok(())
    } else {
        Err(foreign_state())
    }
}

/// The state, if the aggregate has one yet.
pub fn get<T: 'static>(internal: &Internal) -> SensorResult<Option<&T>> {
    // SAFETY: every non-NULL `internal` of this extension's aggregates was made by `put` or
    // `transient`, so it points to a Tagged<_>, which starts with a TypeId (repr(C)).
    let Some(tag) = (unsafe { internal.get::<TypeId>() }) else {
        return Ok(None);
    };
    check_tag::<T>(tag)?;
    // SAFETY: the tag matched: it is a live Tagged<T>, owned by a memory context that
    // outlives this call.
    Ok(Some(unsafe {
        &(*std::ptr::from_ref(tag).cast::<Tagged<T>>()).value
    }))
}

/// The state, mutably, if the aggregate has one yet.
pub fn get_mut<T: 'static>(internal: &mut Internal) -> SensorResult<Option<&mut T>> {
    // SAFETY: as in `get`.
    let Some(tag) = (unsafe { internal.get_mut::<TypeId>() }) else {
        return Ok(None);
    };
    check_tag::<T>(tag)?;
    // SAFETY: as in `get`; the state is only reached through this `internal`.
    Ok(Some(unsafe {
        &mut (*std::ptr::from_mut(tag).cast::<Tagged<T>>()).value
    }))
}

fn tagged_in<T: 'static>(mut context: PgMemoryContexts, value: T) -> Internal {
    let ptr = context.leak_and_drop_on_delete(Tagged {
        tag: TypeId::of::<T>(),
        value,
    });
    Internal::from(Some(pg_sys::Datum::from(ptr)))
}

/// Makes `value` the aggregate's state, in its memory context.
pub fn put<T: 'static>(
    internal: &mut Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    value: T,
) -> SensorResult<()> {
    let context = aggregate_context(fcinfo)?;
    *internal = tagged_in(PgMemoryContexts::For(context), value);
    Ok(())
}

/// A state for a deserialize function to return: in the current (per-call) context.
pub fn transient<T: 'static>(value: T) -> Internal {
    tagged_in(PgMemoryContexts::CurrentMemoryContext, value)
}

/// Whether the aggregate's arguments from `first` (0-based, as written in the call) to its
/// last are the same for every row of the call: constants or query parameters. False when
/// not called by an `Agg` node (a window function) or for any other expression.
///
/// # Safety
/// `fcinfo` is the current call's, of an aggregate's transition function.
pub unsafe fn fixed_args_from(fcinfo: pg_sys::FunctionCallInfo, first: usize) -> bool {
    // SAFETY: see above; AggGetAggref only reads it and returns the
    // planner's Aggref (or NULL), whose `args` is a List of TargetEntry, the call's own
    // arguments first (ORDER BY entries come after them).
    unsafe {
        let aggref = pg_sys::AggGetAggref(fcinfo);
        if aggref.is_null() || (*aggref).args.is_null() {
            return false;
        }
        let args = (*aggref).args;
        // The transition function's arguments: the state, then the aggregate's.
        let count = usize::try_from((*fcinfo).nargs)
            .unwrap_or(0)
            .saturating_sub(1);
        if first >= count || usize::try_from((*args).length).unwrap_or(0) < count {
            return false;
        }
        (first..count).all(|i| {
            let entry = (*(*args).elements.add(i))
                .ptr_value
                .cast::<pg_sys::TargetEntry>();
            let expr = (*entry).expr.cast::<pg_sys::Node>();
            match (*expr).type_ {
                pg_sys::NodeTag::T_Const => true,
                pg_sys::NodeTag::T_Param => {
                    (*expr.cast::<pg_sys::Param>()).paramkind == pg_sys::ParamKind::PARAM_EXTERN
                }
                _ => false,
            }
        })
    }
}

/// The state, made by `init` if the aggregate has none yet (the first row of a group).
pub fn get_or_put<T: 'static>(
    internal: &mut Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    init: impl FnOnce() -> SensorResult<T>,
) -> SensorResult<&mut T> {
    if get::<T>(internal)?.is_none() {
        put(internal, fcinfo, init()?)?;
    }
    get_mut::<T>(internal)?.ok_or_else(foreign_state)
}

/// The combine function of every aggregate here: `b` merged into `a` (a copy of `b` in the
/// aggregate context when `a` has no state yet).
pub fn combine<T: Clone + 'static>(
    mut a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    merge: impl FnOnce(&mut T, &T) -> SensorResult<()>,
) -> SensorResult<Internal> {
    let Some(right) = get::<T>(&b)? else {
        return Ok(a);
    };
    match get_mut::<T>(&mut a)? {
        Some(left) => merge(left, right)?,
        None => put(&mut a, fcinfo, right.clone())?,
    }
    Ok(a)
}

/// A state with a byte form that merges with others of its kind: what the parallel support
/// functions and a rollup over stored states need. Implemented beside each feature's glue for
/// its crate's state; the functions below are then the same for all of them.
pub trait BytesState: Clone + Sized + 'static {
    /// Reads a stored or serialized state.
    fn decode(bytes: &[u8]) -> SensorResult<Self>;
    /// Merges `other` into `self`.
    fn merge_from(&mut self, other: &Self) -> SensorResult<()>;
    /// What a serialize function sends from a worker to the leader.
    fn partial_bytes(&self) -> Vec<u8>;
}

/// A combine function: `b` merged into `a`.
pub fn combine_states<T: BytesState>(
    a: Internal,
    b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<Internal> {
    combine(a, b, fcinfo, |left: &mut T, right| left.merge_from(right))
}

/// A (strict) serialize function.
pub fn serialize_state<T: BytesState>(internal: &Internal) -> SensorResult<Vec<u8>> {
    Ok(get::<T>(internal)?
        .map(T::partial_bytes)
        .unwrap_or_default())
}

/// A deserialize function.
pub fn deserialize_state<T: BytesState>(bytes: &[u8]) -> SensorResult<Internal> {
    Ok(transient(T::decode(bytes)?))
}

/// What a state's merge returns: nothing, or a result whose error becomes a [`SensorError`].
pub trait MergeOutcome {
    fn into_result(self) -> SensorResult<()>;
}

impl MergeOutcome for () {
    fn into_result(self) -> SensorResult<()> {
        Ok(())
    }
}

impl<E: Into<SensorError>> MergeOutcome for Result<(), E> {
    fn into_result(self) -> SensorResult<()> {
        self.map_err(Into::into)
    }
}

/// A state's [`BytesState`] (from its decode, merge and byte functions) and its aggregates'
/// combine, serialize and deserialize functions. The caller names those and their arguments
/// (both are part of the installed SQL) and has `Internal` and `pg_sys` in scope:
///
/// ```text
/// aggregate::parallel_support_functions! {
///     EnergyState: decode_energy, EnergyState::merge, EnergyState::to_bytes;
///     energy_combine, energy_serialize(internal), energy_deserialize(bytes, _unused)
/// }
/// ```
macro_rules! parallel_support_functions {
    ($state:ty: $decode:expr, $merge:expr, $bytes:expr;
     $combine:ident, $serialize:ident($internal:ident), $deserialize:ident($raw:ident, $unused:ident)) => {
        impl $crate::pg::aggregate::BytesState for $state {
            // `?` converts each crate's error; for some `$decode` it is already ours.
            #[allow(clippy::needless_question_mark)]
            fn decode(bytes: &[u8]) -> $crate::error::SensorResult<Self> {
                Ok($decode(bytes)?)
            }
            fn merge_from(&mut self, other: &Self) -> $crate::error::SensorResult<()> {
                $crate::pg::aggregate::MergeOutcome::into_result($merge(self, other))
            }
            fn partial_bytes(&self) -> Vec<u8> {
                $bytes(self)
            }
        }

        #[pgrx::pg_extern(immutable, parallel_safe)]
        fn $combine(
            a: Internal,
            b: Internal,
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> $crate::error::SqlResult<Internal> {
            Ok($crate::pg::aggregate::combine_states::<$state>(
                a, b, fcinfo,
            )?)
        }

        /// Strict: PostgreSQL only serializes existing states.
        #[pgrx::pg_extern(immutable, parallel_safe, strict)]
        fn $serialize($internal: Internal) -> $crate::error::SqlResult<Vec<u8>> {
            Ok($crate::pg::aggregate::serialize_state::<$state>(
                &$internal,
            )?)
        }

        #[pgrx::pg_extern(immutable, parallel_safe, strict)]
        fn $deserialize($raw: &[u8], $unused: Internal) -> $crate::error::SqlResult<Internal> {
            Ok($crate::pg::aggregate::deserialize_state::<$state>($raw)?)
        }
    };
}
pub(crate) use parallel_support_functions;

/// A rollup's transition: a stored state merged into the group's (NULL skipped).
pub fn rollup_step<T: BytesState>(
    internal: &mut Internal,
    bytes: Option<&[u8]>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> SensorResult<()> {
    let Some(bytes) = bytes else {
        return Ok(());
    };
    let incoming = T::decode(bytes)?;
    match get_mut::<T>(internal)? {
        Some(state) => state.merge_from(&incoming),
        None => put(internal, fcinfo, incoming),
    }
}

/// A stored state's final function (the group's state as the domain's bytes) and its
/// `rollup(state)` transition (stored states merged). Their SQL is given, to name the
/// domain; the caller has `Internal` and `pg_sys` in scope.
macro_rules! stored_state_functions {
    ($state:ty: $final_bytes:expr;
     $final:ident: $final_sql:literal,
     $rollup_trans:ident: $rollup_sql:literal) => {
        #[pgrx::pg_extern(immutable, parallel_safe, sql = $final_sql)]
        fn $final(internal: Internal) -> $crate::error::SqlResult<Option<Vec<u8>>> {
            Ok($crate::pg::aggregate::get::<$state>(&internal)?.map($final_bytes))
        }

        #[pgrx::pg_extern(immutable, parallel_safe, sql = $rollup_sql)]
        fn $rollup_trans(
            mut internal: Internal,
            value: Option<&[u8]>,
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> $crate::error::SqlResult<Internal> {
            $crate::pg::aggregate::rollup_step::<$state>(&mut internal, value, fcinfo)?;
            Ok(internal)
        }
    };
}
pub(crate) use stored_state_functions;

/// An accessor of a stored state (a domain over bytea): `$summary(state)` reads the state's
/// figures (`None`: no rows, a NULL result), `|$s| $body` picks one. Its SQL is given (to
/// name the domain), with its `COMMENT ON`; the function is immutable, strict and parallel
/// safe.
macro_rules! state_accessor {
    ($name:ident, $sql:literal, $ret:ty, $summary:expr, |$s:ident| $body:expr) => {
        #[pgrx::pg_extern(immutable, parallel_safe, strict, sql = $sql)]
        fn $name(state: &[u8]) -> $crate::error::SqlResult<Option<$ret>> {
            let Some($s) = $summary(state)? else {
                return Ok(None);
            };
            Ok($body)
        }
    };
}
pub(crate) use state_accessor;
