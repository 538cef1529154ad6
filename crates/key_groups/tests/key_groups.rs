//! KeyGroups against a BTreeMap model: every key lands in one group, groups come out in key
//! order, and `insert_new` refuses a key that is there.

use std::collections::BTreeMap;
use std::convert::Infallible;

use key_groups::{GroupKey, KeyGroups};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = GroupKey> {
    prop_oneof![
        (-3i64..3).prop_map(GroupKey::Int),
        prop::collection::vec(b'a'..b'd', 0..2).prop_map(GroupKey::Text),
        Just(GroupKey::Null),
    ]
}

fn add(groups: &mut KeyGroups<u32>, key: &GroupKey) {
    let init = |_: &GroupKey| Ok::<_, Infallible>(0);
    let count = match key {
        GroupKey::Int(k) => groups.of_int(Some(*k), init),
        GroupKey::Text(t) => groups.of_text(Some(t), init),
        GroupKey::Null => groups.of_int(None, init),
    }
    .unwrap();
    *count += 1;
}

proptest! {
    #[test]
    fn groups_count_like_a_map(keys in prop::collection::vec(key(), 0..60)) {
        let mut groups = KeyGroups::new();
        let mut model: BTreeMap<GroupKey, u32> = BTreeMap::new();
        for k in &keys {
            add(&mut groups, k);
            *model.entry(k.clone()).or_default() += 1;
        }
        prop_assert_eq!(groups.len(), model.len());
        let sorted = groups.into_sorted();
        prop_assert_eq!(sorted, model.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn keys_read_back_what_they_wrote(key in key(), tail in prop::collection::vec(any::<u8>(), 0..4)) {
        let mut bytes = Vec::new();
        key.write(&mut bytes);
        let written = bytes.len();
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(GroupKey::read(&bytes), Some((key, written)));
        prop_assert_eq!(GroupKey::read(&bytes[..written - 1]), None);
    }

    #[test]
    fn of_key_finds_the_group_the_typed_lookups_made(keys in prop::collection::vec(key(), 1..30)) {
        let mut groups = KeyGroups::new();
        for k in &keys {
            add(&mut groups, k);
        }
        let before = groups.len();
        for k in &keys {
            let found = groups.of_key(k, |_| Err::<u32, ()>(())).unwrap();
            prop_assert!(*found > 0);
            prop_assert!(groups.get_mut(k).is_some_and(|n| *n > 0));
            prop_assert_eq!(groups.insert_new(k.clone(), 0).err(), Some(0));
        }
        prop_assert_eq!(groups.len(), before);
    }
}

#[test]
fn first_seen_order_and_key_order() {
    let mut groups = KeyGroups::new();
    for key in [
        GroupKey::Null,
        GroupKey::Text(b"b".to_vec()),
        GroupKey::Int(9),
        GroupKey::Int(-4),
        GroupKey::Text(b"a".to_vec()),
    ] {
        add(&mut groups, &key);
    }
    let seen: Vec<GroupKey> = groups.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(seen[0], GroupKey::Null);
    assert_eq!(seen[2], GroupKey::Int(9));
    let sorted: Vec<Option<String>> = groups
        .into_sorted()
        .iter()
        .map(|(k, _)| k.label())
        .collect();
    assert_eq!(
        sorted,
        [
            Some("-4".into()),
            Some("9".into()),
            Some("a".into()),
            Some("b".into()),
            None
        ]
    );
}

#[test]
fn a_failed_init_adds_no_group() {
    let mut groups: KeyGroups<u32> = KeyGroups::new();
    assert_eq!(groups.of_int(Some(1), |_| Err("no")).err(), Some("no"));
    assert_eq!(groups.of_text(Some(b"x"), |_| Err("no")).err(), Some("no"));
    assert!(groups.is_empty());
    assert_eq!(groups.get_mut(&GroupKey::Int(1)), None);
}

#[test]
fn key_bytes_are_pinned() {
    let mut bytes = Vec::new();
    for key in [
        GroupKey::Int(-2),
        GroupKey::Null,
        GroupKey::Text(b"ab".to_vec()),
    ] {
        key.write(&mut bytes);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "00feffffffffffffff0102020000000000000061 62".replace(' ', "")
    );
    assert_eq!(GroupKey::read(&[3]), None);
    assert_eq!(
        GroupKey::read(&[2, 255, 255, 255, 255, 255, 255, 255, 255]),
        None
    );
}
