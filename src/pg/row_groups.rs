//! Rows grouped by a key column while the executor streams them, in any order (so a plan
//! needs no `ORDER BY`: a sequential or parallel scan will do). Integer keys are read by
//! value (no text per row); other keys as the bytes of their text; the groups themselves
//! are a [`key_groups::KeyGroups`].

pub use key_groups::GroupKey;
use key_groups::KeyGroups;
use pgrx::prelude::*;

use super::row_stream::Row;
use crate::error::{SensorError, SensorResult};

/// How a key column is read: an integer column by value, as stored (no cast, so a scan
/// whose select list is the table's own columns needs no projection), anything else as
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyColumn {
    Integer(IntWidth),
    Text,
}

/// The width of an integer key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntWidth {
    Int2,
    Int4,
    Int8,
}

impl KeyColumn {
    /// How column `column` of `relation` is read (as text when there is no such column: the
    /// query then reports it).
    pub fn of(relation: pg_sys::Oid, column: &str) -> SensorResult<KeyColumn> {
        let type_oid = crate::pg::spi::get_one_with_args::<pg_sys::Oid>(
            "SELECT (SELECT a.atttypid FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $2 \
             AND NOT a.attisdropped)",
            &[relation.into(), column.into()],
        )
        .map_err(|e| SensorError::internal_query("reading a column's type", e))?;
        Ok(match type_oid {
            Some(pg_sys::INT2OID) => KeyColumn::Integer(IntWidth::Int2),
            Some(pg_sys::INT4OID) => KeyColumn::Integer(IntWidth::Int4),
            Some(pg_sys::INT8OID) => KeyColumn::Integer(IntWidth::Int8),
            _ => KeyColumn::Text,
        })
    }

    /// The select-list expression that reads `quoted_column` this way.
    pub fn select_expr(self, quoted_column: &str) -> String {
        match self {
            KeyColumn::Integer(_) => quoted_column.to_string(),
            KeyColumn::Text => format!("CAST({quoted_column} AS pg_catalog.text)"),
        }
    }
}

/// Groups of `T` by the key in column `column` of streamed rows.
pub struct RowGroups<T> {
    kind: KeyColumn,
    column: usize,
    groups: KeyGroups<T>,
}

impl<T> RowGroups<T> {
    pub fn new(kind: KeyColumn, column: usize) -> Self {
        RowGroups {
            kind,
            column,
            groups: KeyGroups::new(),
        }
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// `row`'s group, made with `init` (given the group's key) when it is new.
    pub fn group_of(
        &mut self,
        row: &Row,
        init: impl FnOnce(&GroupKey) -> SensorResult<T>,
    ) -> SensorResult<&mut T> {
        let groups = &mut self.groups;
        match self.kind {
            KeyColumn::Integer(width) => {
                let k = match width {
                    IntWidth::Int2 => row.i16(self.column).map(i64::from),
                    IntWidth::Int4 => row.i32(self.column).map(i64::from),
                    IntWidth::Int8 => row.i64(self.column),
                };
                groups.of_int(k, init)
            }
            KeyColumn::Text => row.with_text(self.column, |bytes| groups.of_text(bytes, init)),
        }
    }

    /// Every group with its key, in key order.
    pub fn into_sorted(self) -> Vec<(GroupKey, T)> {
        self.groups.into_sorted()
    }
}
