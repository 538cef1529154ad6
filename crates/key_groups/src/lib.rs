//! Values grouped by a key, in first-seen order: what the multi-series and per-equipment
//! states (downsampling, availability report shares) and the glue's streamed row groups
//! share. Integer keys are looked up by value, and the last integer group is checked before
//! the map, since rows of one group often follow each other. Keys are hashed with FxHash:
//! SipHash's flooding resistance buys nothing for the keys of one query and costs more than
//! the rest of a row's work.

#![forbid(unsafe_code)]

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

/// A group's key. The derived order (integers by value, then texts by bytes, NULL last) is
/// the order groups come out in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

    /// Appends the key's bytes: `u8` kind (0 integer, 1 NULL, 2 text), then an integer's
    /// `i64`, or a text's `u64` length and bytes; little-endian.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            GroupKey::Int(k) => {
                out.push(0);
                out.extend_from_slice(&k.to_le_bytes());
            }
            GroupKey::Null => out.push(1),
            GroupKey::Text(bytes) => {
                out.push(2);
                out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }

    /// Reads [`GroupKey::write`] at the start of `bytes`: the key and how many bytes it
    /// took, or `None` when they hold no key.
    pub fn read(bytes: &[u8]) -> Option<(GroupKey, usize)> {
        let (&kind, rest) = bytes.split_first()?;
        match kind {
            0 => {
                let (k, _) = rest.split_first_chunk::<8>()?;
                Some((GroupKey::Int(i64::from_le_bytes(*k)), 9))
            }
            1 => Some((GroupKey::Null, 1)),
            2 => {
                let (len, rest) = rest.split_first_chunk::<8>()?;
                let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
                let text = rest.get(..len)?;
                Some((GroupKey::Text(text.to_vec()), 9 + len))
            }
            _ => None,
        }
    }
}

/// A key as a row holds it, borrowed: what lookups take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRef<'a> {
    Int(i64),
    Text(&'a [u8]),
    Null,
}

impl<'a> KeyRef<'a> {
    /// An integer key (`None`: NULL).
    pub fn int(k: Option<i64>) -> Self {
        k.map_or(KeyRef::Null, KeyRef::Int)
    }

    /// A text key (`None`: NULL).
    pub fn text(bytes: Option<&'a [u8]>) -> Self {
        bytes.map_or(KeyRef::Null, KeyRef::Text)
    }
}

/// Values of type `T` by [`GroupKey`].
#[derive(Clone, Debug)]
pub struct KeyGroups<T> {
    keys: Vec<GroupKey>,
    values: Vec<T>,
    by_int: HashMap<i64, usize, FxBuildHasher>,
    by_text: HashMap<Vec<u8>, usize, FxBuildHasher>,
    null: Option<usize>,
    last_int: Option<(i64, usize)>,
    /// The group of the last text key looked up (its key is `keys[i]`): rows of one series
    /// usually come in runs, and one comparison is cheaper than hashing the text.
    last_text: Option<usize>,
}

impl<T> Default for KeyGroups<T> {
    fn default() -> Self {
        KeyGroups {
            keys: Vec::new(),
            values: Vec::new(),
            by_int: HashMap::default(),
            by_text: HashMap::default(),
            null: None,
            last_int: None,
            last_text: None,
        }
    }
}

impl<T> KeyGroups<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn add_new<E>(
        &mut self,
        key: GroupKey,
        init: impl FnOnce(&GroupKey) -> Result<T, E>,
    ) -> Result<usize, E> {
        let value = init(&key)?;
        Ok(self.add(key, value))
    }

    fn add(&mut self, key: GroupKey, value: T) -> usize {
        let i = self.values.len();
        match &key {
            GroupKey::Int(k) => {
                self.by_int.insert(*k, i);
            }
            GroupKey::Text(bytes) => {
                self.by_text.insert(bytes.clone(), i);
            }
            GroupKey::Null => self.null = Some(i),
        }
        self.keys.push(key);
        self.values.push(value);
        i
    }

    /// The group of integer key `k` (`None`: NULL), made with `init` (given the key) when it is new.
    pub fn of_int<E>(
        &mut self,
        k: Option<i64>,
        init: impl FnOnce(&GroupKey) -> Result<T, E>,
    ) -> Result<&mut T, E> {
        let Some(k) = k else {
            return self.of_null(init);
        };
        let i = match self.last_int {
            Some((last, i)) if last == k => i,
            _ => {
                let i = match self.by_int.get(&k) {
                    Some(&i) => i,
                    None => self.add_new(GroupKey::Int(k), init)?,
                };
                self.last_int = Some((k, i));
                i
            }
        };
        Ok(&mut self.values[i])
    }

    /// The group of text key `bytes` (`None`: NULL), made with `init` (given the key) when it is new.
    pub fn of_text<E>(
        &mut self,
        bytes: Option<&[u8]>,
        init: impl FnOnce(&GroupKey) -> Result<T, E>,
    ) -> Result<&mut T, E> {
        let Some(bytes) = bytes else {
            return self.of_null(init);
        };
        if let Some(i) = self.last_text {
            if matches!(&self.keys[i], GroupKey::Text(last) if last.as_slice() == bytes) {
                return Ok(&mut self.values[i]);
            }
        }
        let i = match self.by_text.get(bytes) {
            Some(&i) => i,
            None => self.add_new(GroupKey::Text(bytes.to_vec()), init)?,
        };
        self.last_text = Some(i);
        Ok(&mut self.values[i])
    }

    fn of_null<E>(&mut self, init: impl FnOnce(&GroupKey) -> Result<T, E>) -> Result<&mut T, E> {
        let i = match self.null {
            Some(i) => i,
            None => self.add_new(GroupKey::Null, init)?,
        };
        Ok(&mut self.values[i])
    }

    /// The group of `key`, made with `init` (given the key) when it is new.
    pub fn of_key<E>(
        &mut self,
        key: &GroupKey,
        init: impl FnOnce(&GroupKey) -> Result<T, E>,
    ) -> Result<&mut T, E> {
        match key {
            GroupKey::Int(k) => self.of_int(Some(*k), init),
            GroupKey::Text(bytes) => self.of_text(Some(bytes), init),
            GroupKey::Null => self.of_null(init),
        }
    }

    /// The group of a borrowed `key`, made with `init` (given the key) when it is new.
    pub fn of_ref<E>(
        &mut self,
        key: KeyRef<'_>,
        init: impl FnOnce(&GroupKey) -> Result<T, E>,
    ) -> Result<&mut T, E> {
        match key {
            KeyRef::Int(k) => self.of_int(Some(k), init),
            KeyRef::Text(bytes) => self.of_text(Some(bytes), init),
            KeyRef::Null => self.of_null(init),
        }
    }

    /// Adds a group that must be new (reading stored groups): `Err(value)` when `key` is
    /// already there.
    pub fn insert_new(&mut self, key: GroupKey, value: T) -> Result<&mut T, T> {
        if self.get_mut(&key).is_some() {
            return Err(value);
        }
        let i = self.add(key, value);
        Ok(&mut self.values[i])
    }

    /// The group of `key`, if there is one.
    pub fn get_mut(&mut self, key: &GroupKey) -> Option<&mut T> {
        let i = match key {
            GroupKey::Int(k) => self.by_int.get(k).copied(),
            GroupKey::Text(bytes) => self.by_text.get(bytes).copied(),
            GroupKey::Null => self.null,
        }?;
        self.values.get_mut(i)
    }

    /// Every group in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = (&GroupKey, &T)> + '_ {
        self.keys.iter().zip(&self.values)
    }

    /// Every value in first-seen order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.values.iter_mut()
    }

    /// Every group with its key, in key order.
    pub fn into_sorted(self) -> Vec<(GroupKey, T)> {
        let mut groups: Vec<(GroupKey, T)> = self.into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    }
}

impl<T> IntoIterator for KeyGroups<T> {
    type Item = (GroupKey, T);
    type IntoIter = std::iter::Zip<std::vec::IntoIter<GroupKey>, std::vec::IntoIter<T>>;

    /// Every group with its key, in first-seen order.
    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter().zip(self.values)
    }
}
