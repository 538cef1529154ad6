// `#[pg_test]`s of the row store.

use pgrx::prelude::*;

use super::*;

type TestRow = (Option<String>, TimestampWithTimeZone, Option<f64>);

fn test_row(i: i64) -> TestRow {
    let label = (i % 7 != 0).then(|| format!("series {}", i % 13));
    let time = TimestampWithTimeZone::try_from(i * 1_000_000).unwrap();
    (label, time, (i % 5 != 0).then_some(i as f64 / 3.0))
}

#[pg_test]
fn rows_come_back_in_order_from_memory_and_from_a_file() {
    for (work_mem, rows, spilled) in [("4MB", 1_000, false), ("64kB", 50_000, true)] {
        Spi::run(&format!("SET LOCAL work_mem = '{work_mem}'")).unwrap();
        let mut store = RowStore::<TestRow>::new();
        for i in 0..rows {
            store.push(test_row(i));
        }
        // SAFETY: the store is alive.
        let in_memory = unsafe { pg_sys::tuplestore_in_memory(store.store) };
        assert_eq!(in_memory, !spilled, "work_mem {work_mem}");
        let back: Vec<TestRow> = store.into_rows().collect();
        assert_eq!(back.len(), rows as usize);
        for (i, row) in back.into_iter().enumerate() {
            assert_eq!(row, test_row(i as i64), "row {i}");
        }
    }
}

#[pg_test]
fn an_empty_store_returns_no_rows() {
    let store = RowStore::<(Option<i64>, bool, Interval)>::new();
    assert_eq!(store.into_rows().count(), 0);
}

#[pg_test]
fn a_store_read_in_part_is_closed_without_a_leak() {
    Spi::run("SET LOCAL work_mem = '64kB'").unwrap();
    let mut store = RowStore::<TestRow>::new();
    for i in 0..50_000 {
        store.push(test_row(i));
    }
    let mut rows = store.into_rows();
    assert_eq!(rows.next(), Some(test_row(0)));
    drop(rows);
    // The store's file is closed: a second one of the same size works as the first.
    let mut again = RowStore::<TestRow>::new();
    again.push(test_row(1));
    assert_eq!(again.into_rows().collect::<Vec<_>>(), vec![test_row(1)]);
}
