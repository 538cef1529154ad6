//! Random bytes, random mutations of the real files, and random line soups never panic, and the
//! counters always agree with what was returned.

mod common;

use std::io::Cursor;
use std::sync::OnceLock;

use common::fixtures_dir;
use powerview::{Outcome, ParseOptions, TsvFile};
use proptest::prelude::*;

fn fixtures() -> &'static Vec<Vec<u8>> {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut paths = Vec::new();
        let mut stack = vec![fixtures_dir()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    paths.push(path);
                }
            }
        }
        paths.sort();
        assert_eq!(paths.len(), 7);
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

/// Parses `bytes` both ways and checks the invariants; returns the number of rows read.
fn check(bytes: &[u8], options: &ParseOptions) -> u64 {
    let mut total = 0;
    for seekable in [true, false] {
        let opened = if seekable {
            TsvFile::open_seekable(Cursor::new(bytes.to_vec()), options)
        } else {
            TsvFile::open(Cursor::new(bytes.to_vec()), options)
        };
        let Ok(mut file) = opened else {
            continue;
        };
        let outcome_at_open = file.outcome();
        let channels = file.channels().len();
        let (mut rows, mut points) = (0u64, 0u64);
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        let mut first = None;
        let mut last = None;
        loop {
            match file.next_row() {
                Ok(Some(row)) => {
                    assert_eq!(row.values.len(), channels);
                    rows += 1;
                    points += row.values.iter().filter(|v| v.is_some()).count() as u64;
                    assert!(row.values.iter().flatten().all(|v| v.is_finite()));
                    min = min.min(row.time_us);
                    max = max.max(row.time_us);
                    first.get_or_insert(row.time_us);
                    last = Some(row.time_us);
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(file.next_row().map(|r| r.is_none()).unwrap_or(false));
                    break;
                }
            }
        }
        let stats = file.stats();
        assert_eq!(stats.rows, rows);
        assert_eq!(stats.points, points);
        assert_eq!(stats.first_time_us, first);
        assert_eq!(stats.last_time_us, last);
        if rows > 0 {
            assert_eq!(outcome_at_open, Outcome::Ok);
            assert_eq!(stats.min_time_us, Some(min));
            assert_eq!(stats.max_time_us, Some(max));
        }
        if outcome_at_open != Outcome::Ok {
            assert_eq!(rows, 0);
            assert_eq!(file.outcome(), outcome_at_open);
        }
        total += rows;
    }
    total
}

fn options_strategy() -> impl Strategy<Value = ParseOptions> {
    (prop::bool::ANY, 64usize..300, 1usize..40, prop::bool::ANY).prop_map(
        |(small, max_line_len, max_columns, skip_zero_rows)| {
            let mut o = ParseOptions::with_timezone_name(Some("Europe/Paris")).unwrap();
            o.skip_zero_rows = skip_zero_rows;
            if small {
                o.max_line_len = max_line_len;
                o.max_columns = max_columns;
            }
            o
        },
    )
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b'\t', b'\n', b'\r', b'0', b'9', b'/', b':', b'.', b'-', b'e', b' ', b'{', b'"', 0u8, 0xFF,
        0xEF,
    ]);
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0usize..200).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match *mutation {
        Mutation::Flip(i, b) if len > 0 => bytes[i % len] = b,
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Delete(i, n) if len > 0 => {
            let start = i % len;
            let end = (start + n).min(len);
            bytes.drain(start..end);
        }
        Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
        Mutation::Duplicate(i, n) if len > 0 => {
            let start = i % len;
            let end = (start + n).min(len);
            let copy = bytes[start..end].to_vec();
            bytes.splice(end..end, copy);
        }
        _ => {}
    }
}

const FRAGMENTS: &[&str] = &[
    "START_HEADER",
    "END_HEADER",
    "START_DATA",
    "END_DATA",
    "{\"DataTimeSettings\":\"Local\",\"TimeZoneName\":\"Europe/Paris\",\"MasterType\":\"Tri\"}",
    "{\"DataTimeSettings\":\"UTC\",\"MasterType\":\"Mono\"}",
    "{\"DataTimeSettings\":\"Local\",\"TimeZoneName\":\"Nowhere\"}",
    "02001283\t02001283\t02001283\t04000466",
    "02001283\t02001283",
    "MV_T302_V002\tPh 1 V\tPh 2 V\tVoie1 W",
    "MV_T302_V003\tPh 1 V",
    "MV_T202_V002\tPh 1 V",
    "25/10/26 02:30:00\t1.5\t-2\t3e2",
    "29/03/26 02:30:00\t0\t0\t0",
    "01/01/20 01:00:02\t\t\tnan",
    "31/12/99 23:59:59\t1\t2\t3\t4\t5",
    "29/02/24 12:00:00\tinf",
    "",
    "\t\t",
    "garbage",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000),
                                options in options_strategy()) {
        check(&bytes, &options);
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0usize..7,
                                    mutations in prop::collection::vec(mutation_strategy(), 1..8),
                                    options in options_strategy()) {
        let mut bytes = fixtures()[which].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&bytes, &options);
    }

    #[test]
    fn line_soups_never_panic(lines in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40),
                              crlf in prop::bool::ANY,
                              options in options_strategy()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let text = lines.join(eol);
        check(text.as_bytes(), &options);
    }
}

#[test]
fn unmutated_fixtures_pass_the_invariants() {
    let rows: u64 = fixtures()
        .iter()
        .map(|bytes| check(bytes, &ParseOptions::default()))
        .sum();
    // 143 + 134 + 349 + 2464 rows, each file read twice (seekable and streaming).
    assert_eq!(rows, 2 * (143 + 134 + 349 + 2464));
}
