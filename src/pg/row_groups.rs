//! Rows grouped by a key column while the executor streams them, in any order (so a plan
//! needs no `ORDER BY`: a sequential or parallel scan will do). Integer keys are read by
//! value (no text per row); other keys as the bytes of their text. Rows of one group often
//! follow each other, so the last integer group is checked before the map.

use std::collections::HashMap;

use pgrx::prelude::*;

use super::row_stream::Row;
use crate::error::{SensorError, SensorResult};

/// A group's key. The derived order (integers by value, then texts by bytes, NULL last) is
/// the order groups come out in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    Int(i64),
    Text(Vec<u8>),
    Null,
}

impl GroupKey {
    /// The key as text, as `CAST(key AS text)` gives it (`None` for NULL).
    pub fn label(&self) -> Option<String> {
        match self {
            GroupKey::Int(k) => Some(k.to_string()),
            GroupKey::Text(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            GroupKey::Null => None,
        }
    }
}

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

/// A multiplicative hash for integer keys: SipHash's flooding resistance buys nothing for
/// the keys of one query and costs more than the rest of a row's work.
#[derive(Default, Clone, Copy)]
pub struct IntKeyHasher;

#[derive(Default)]
pub struct IntHasher(u64);

impl std::hash::BuildHasher for IntKeyHasher {
    type Hasher = IntHasher;
    fn build_hasher(&self) -> IntHasher {
        IntHasher(0)
    }
}

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Groups of `T` by the key in column `column` of streamed rows.
pub struct RowGroups<T> {
    kind: KeyColumn,
    column: usize,
    keys: Vec<GroupKey>,
    values: Vec<T>,
    by_int: HashMap<i64, usize, IntKeyHasher>,
    by_text: HashMap<Vec<u8>, usize>,
    null: Option<usize>,
    last_int: Option<(i64, usize)>,
}

impl<T> RowGroups<T> {
    pub fn new(kind: KeyColumn, column: usize) -> Self {
        RowGroups {
            kind,
            column,
            keys: Vec::new(),
            values: Vec::new(),
            by_int: HashMap::with_hasher(IntKeyHasher),
            by_text: HashMap::new(),
            null: None,
            last_int: None,
        }
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn add(&mut self, key: GroupKey, value: T) -> usize {
        self.keys.push(key);
        self.values.push(value);
        self.values.len() - 1
    }

    /// The index of `row`'s group, made with `init` when it is new.
    fn index(
        &mut self,
        row: &Row,
        init: impl FnOnce(&GroupKey) -> SensorResult<T>,
    ) -> SensorResult<usize> {
        match self.kind {
            KeyColumn::Integer(width) => {
                let k = match width {
                    IntWidth::Int2 => row.i16(self.column).map(i64::from),
                    IntWidth::Int4 => row.i32(self.column).map(i64::from),
                    IntWidth::Int8 => row.i64(self.column),
                };
                let Some(k) = k else {
                    return match self.null {
                        Some(i) => Ok(i),
                        None => {
                            let i = self.add(GroupKey::Null, init(&GroupKey::Null)?);
                            self.null = Some(i);
                            Ok(i)
                        }
                    };
                };
                if let Some((last, i)) = self.last_int {
                    if last == k {
                        return Ok(i);
                    }
                }
                let i = match self.by_int.get(&k) {
                    Some(&i) => i,
                    None => {
                        let key = GroupKey::Int(k);
                        let value = init(&key)?;
                        let i = self.add(key, value);
                        self.by_int.insert(k, i);
                        i
                    }
                };
                self.last_int = Some((k, i));
                Ok(i)
            }
            KeyColumn::Text => {
                let found = row.with_text(self.column, |text| match text {
                    None => Err(self.null),
                    Some(bytes) => self.by_text.get(bytes).copied().ok_or(None),
                });
                match found {
                    Ok(i) => Ok(i),
                    Err(Some(i)) => Ok(i),
                    Err(None) => {
                        let key = match row.with_text(self.column, |t| t.map(<[u8]>::to_vec)) {
                            Some(bytes) => GroupKey::Text(bytes),
                            None => GroupKey::Null,
                        };
                        let value = init(&key)?;
                        Ok(match key {
                            GroupKey::Text(bytes) => {
                                let i = self.add(GroupKey::Text(bytes.clone()), value);
                                self.by_text.insert(bytes, i);
                                i
                            }
                            _ => {
                                let i = self.add(GroupKey::Null, value);
                                self.null = Some(i);
                                i
                            }
                        })
                    }
                }
            }
        }
    }

    /// `row`'s group, made with `init` (given the group's key) when it is new.
    pub fn group_of(
        &mut self,
        row: &Row,
        init: impl FnOnce(&GroupKey) -> SensorResult<T>,
    ) -> SensorResult<&mut T> {
        let i = self.index(row, init)?;
        Ok(&mut self.values[i])
    }

    /// Every group with its key, in key order.
    pub fn into_sorted(self) -> Vec<(GroupKey, T)> {
        let mut groups: Vec<(GroupKey, T)> = self.keys.into_iter().zip(self.values).collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    }
}
