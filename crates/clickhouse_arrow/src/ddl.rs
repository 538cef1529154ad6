//! ClickHouse `CREATE TABLE` text.

use std::fmt::Write as _;

use crate::error::{ExportError, Result};
use crate::types::ColumnSpec;

/// Words that are left bare neither as table nor as column names, although ClickHouse
/// accepts many of them unquoted: quoting costs nothing and avoids any parser ambiguity.
const KEYWORDS: &[&str] = &[
    "alias",
    "all",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "codec",
    "collate",
    "column",
    "comment",
    "constraint",
    "create",
    "cross",
    "default",
    "desc",
    "distinct",
    "else",
    "end",
    "ephemeral",
    "except",
    "exists",
    "false",
    "final",
    "for",
    "from",
    "full",
    "global",
    "group",
    "having",
    "if",
    "ilike",
    "in",
    "index",
    "inner",
    "interval",
    "intersect",
    "into",
    "is",
    "join",
    "key",
    "leading",
    "left",
    "like",
    "limit",
    "materialized",
    "not",
    "null",
    "nulls",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "prewhere",
    "primary",
    "projection",
    "right",
    "sample",
    "select",
    "settings",
    "statistics",
    "table",
    "then",
    "to",
    "top",
    "trailing",
    "true",
    "ttl",
    "union",
    "using",
    "when",
    "where",
    "with",
];

/// A ClickHouse identifier: bare when it is a plain name (`[A-Za-z_][A-Za-z0-9_]*`, not
/// a keyword), otherwise in backquotes with `\` and `` ` `` escaped by a backslash.
pub fn quote_identifier(name: &str) -> String {
    let plain = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name));
    if plain {
        return name.to_owned();
    }
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('`');
    for c in name.chars() {
        if c == '`' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('`');
    quoted
}

/// `CREATE TABLE` for `columns` (ClickHouse types as in [`ColumnSpec::clickhouse_type`]),
/// on one line: `CREATE TABLE t (a Int64, b String) ENGINE = MergeTree ORDER BY tuple()`.
///
/// - `table_name` is one identifier (quoted by [`quote_identifier`]; a `db.table` name
///   is quoted as a whole, so qualify the database separately).
/// - `engine` is written verbatim after `ENGINE = ` (e.g. `MergeTree`,
///   `Join(ANY, LEFT, user_id)`); `order_by` and `partition_by` are verbatim SQL
///   expressions: pass only trusted text.
/// - Engines of the MergeTree family (name ending in `MergeTree`) get
///   `PARTITION BY <partition_by>` if given and `ORDER BY <order_by>`, `ORDER BY tuple()`
///   without one. Other engines take neither: passing one fails with
///   [`ExportError::InvalidParameter`].
/// - Fails with [`ExportError::InvalidParameter`] for no columns, an empty name,
///   engine, `order_by` or `partition_by`, and with the type errors of
///   [`ColumnType::validate`](crate::ColumnType::validate).
pub fn clickhouse_ddl(
    columns: &[ColumnSpec],
    table_name: &str,
    engine: &str,
    order_by: Option<&str>,
    partition_by: Option<&str>,
) -> Result<String> {
    let invalid = |what: &str| Err(ExportError::InvalidParameter(what.to_owned()));
    if columns.is_empty() {
        return invalid("a ClickHouse table needs at least one column");
    }
    if table_name.is_empty() {
        return invalid("the table name is empty");
    }
    let engine = engine.trim();
    let engine_name = engine.split('(').next().unwrap_or("").trim();
    if engine_name.is_empty() {
        return invalid("the engine is empty");
    }
    let order_by = order_by.map(str::trim);
    let partition_by = partition_by.map(str::trim);
    if order_by.is_some_and(str::is_empty) || partition_by.is_some_and(str::is_empty) {
        return invalid("ORDER BY / PARTITION BY expressions must not be empty");
    }
    let merge_tree = engine_name.ends_with("MergeTree");
    if !merge_tree && (order_by.is_some() || partition_by.is_some()) {
        return Err(ExportError::InvalidParameter(format!(
            "engine {engine_name} takes no ORDER BY or PARTITION BY (MergeTree family only)"
        )));
    }

    let mut ddl = format!("CREATE TABLE {} (", quote_identifier(table_name));
    for (index, column) in columns.iter().enumerate() {
        if column.name.is_empty() {
            return invalid("a column name is empty");
        }
        column.ty.validate()?;
        let separator = if index == 0 { "" } else { ", " };
        // Writing into a String cannot fail.
        let _ = write!(
            ddl,
            "{separator}{} {}",
            quote_identifier(&column.name),
            column.clickhouse_type()
        );
    }
    let _ = write!(ddl, ") ENGINE = {engine}");
    if merge_tree {
        if let Some(partition_by) = partition_by {
            let _ = write!(ddl, " PARTITION BY {}", as_one_expression(partition_by));
        }
        let _ = write!(
            ddl,
            " ORDER BY {}",
            order_by.map_or("tuple()".into(), as_one_expression)
        );
        // ClickHouse refuses a key over a Nullable column unless told otherwise; a column
        // the query's plan cannot prove NOT NULL is Nullable, so allow it whenever a key
        // names one.
        let keys = [order_by, partition_by];
        let nullable_key = columns.iter().any(|c| {
            c.nullable
                && keys
                    .iter()
                    .flatten()
                    .any(|key| mentions_identifier(key, &c.name))
        });
        if nullable_key {
            ddl.push_str(" SETTINGS allow_nullable_key = 1");
        }
    }
    Ok(ddl)
}

/// Splits `text` at its top-level commas (outside parentheses, brackets and quotes).
fn top_level_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0usize);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(q), '\\') if q != '`' => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// An ORDER BY / PARTITION BY key as one expression: `a, b` (the natural spelling, which
/// ClickHouse rejects there) becomes the tuple `(a, b)`; anything else stays as written.
fn as_one_expression(key: &str) -> String {
    if top_level_parts(key).len() > 1 {
        format!("({key})")
    } else {
        key.to_string()
    }
}

/// Whether `expression` mentions the column `name`, bare or quoted (`name`, `` `name` ``,
/// `"name"`), as a whole identifier.
fn mentions_identifier(expression: &str, name: &str) -> bool {
    let quoted = [format!("`{name}`"), format!("\"{name}\"")];
    if quoted.iter().any(|q| expression.contains(q.as_str())) {
        return true;
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    expression
        .split(|c: char| !is_ident(c))
        .any(|word| word == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ColumnOptions, ColumnType, PgType, TimestampDdl};

    fn squash(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn telemetry_columns() -> Vec<ColumnSpec> {
        let seconds = ColumnOptions {
            timestamp_ddl: TimestampDdl::DateTime,
            ..ColumnOptions::default()
        };
        let plain = ColumnOptions::default();
        [
            ("id", PgType::Int8, &plain),
            ("user_id", PgType::Int4, &plain),
            ("prosthesis_type", PgType::Text, &plain),
            ("muscle_group", PgType::Text, &plain),
            ("signal_frequency", PgType::Int4, &plain),
            ("signal_duration", PgType::Int4, &plain),
            ("signal_amplitude", PgType::Float8, &plain),
            ("event_timestamp", PgType::Timestamptz, &seconds),
            ("saved_ts", PgType::Timestamptz, &seconds),
        ]
        .into_iter()
        .map(|(name, pg, options)| ColumnSpec::from_pg(name, &pg, false, options).unwrap())
        .collect()
    }

    #[test]
    fn telemetry_events_table() {
        let ddl = clickhouse_ddl(
            &telemetry_columns(),
            "telemetry_events",
            "MergeTree",
            Some("(user_id, event_timestamp)"),
            Some("toYYYYMM(event_timestamp)"),
        )
        .unwrap();
        assert_eq!(
            ddl,
            squash(
                "CREATE TABLE telemetry_events (id Int64, user_id Int32, prosthesis_type String, \
                 muscle_group String, signal_frequency Int32, signal_duration Int32, \
                 signal_amplitude Float64, event_timestamp DateTime, saved_ts DateTime) \
                 ENGINE = MergeTree PARTITION BY toYYYYMM(event_timestamp) \
                 ORDER BY (user_id, event_timestamp)"
            )
        );
    }

    #[test]
    fn users_join_table() {
        let columns = vec![
            ColumnSpec::new("user_id", ColumnType::Int32, false),
            ColumnSpec::new("name", ColumnType::String, false),
            ColumnSpec::new("country", ColumnType::LowCardinalityString, true),
        ];
        let ddl =
            clickhouse_ddl(&columns, "users", "Join(ANY, LEFT, user_id)", None, None).unwrap();
        assert_eq!(
            ddl,
            "CREATE TABLE users (user_id Int32, name String, country LowCardinality(Nullable(String))) \
             ENGINE = Join(ANY, LEFT, user_id)"
        );
        assert!(!ddl.contains("ORDER BY"));
    }

    #[test]
    fn a_comma_list_key_becomes_a_tuple_and_nullable_keys_are_allowed() {
        let columns = vec![
            ColumnSpec::new("a", ColumnType::Int32, true),
            ColumnSpec::new("b", ColumnType::Int64, false),
            ColumnSpec::new("c", ColumnType::String, true),
        ];
        let ddl =
            clickhouse_ddl(&columns, "t", "MergeTree", Some("b, a"), Some("b % 10, c")).unwrap();
        assert!(
            ddl.ends_with(
                " PARTITION BY (b % 10, c) ORDER BY (b, a) SETTINGS allow_nullable_key = 1"
            ),
            "{ddl}"
        );
        let ddl = clickhouse_ddl(&columns, "t", "MergeTree", Some("(b)"), None).unwrap();
        assert!(ddl.ends_with(" ORDER BY (b)"), "{ddl}");
        let ddl = clickhouse_ddl(
            &columns,
            "t",
            "MergeTree",
            Some("cityHash64(b, 'x,y')"),
            None,
        )
        .unwrap();
        assert!(ddl.ends_with(" ORDER BY cityHash64(b, 'x,y')"), "{ddl}");
        let ddl = clickhouse_ddl(&columns, "t", "MergeTree", Some("`a`"), None).unwrap();
        assert!(ddl.ends_with("SETTINGS allow_nullable_key = 1"), "{ddl}");
        // `ab` is not `a`.
        assert!(!mentions_identifier("ab + 1", "a"));
        assert_eq!(
            top_level_parts("f(a, b), [1, 2], 'x,y', c"),
            vec!["f(a, b)", " [1, 2]", " 'x,y'", " c"]
        );
    }

    #[test]
    fn merge_tree_without_order_by() {
        let columns = vec![ColumnSpec::new("x", ColumnType::Int64, true)];
        let ddl = clickhouse_ddl(&columns, "t", "ReplacingMergeTree(x)", None, None).unwrap();
        assert_eq!(
            ddl,
            "CREATE TABLE t (x Nullable(Int64)) ENGINE = ReplacingMergeTree(x) ORDER BY tuple()"
        );
    }

    #[test]
    fn non_merge_tree_rejects_order_and_partition() {
        let columns = vec![ColumnSpec::new("x", ColumnType::Int64, false)];
        for (order, partition) in [(Some("x"), None), (None, Some("x"))] {
            assert!(matches!(
                clickhouse_ddl(&columns, "t", "Memory", order, partition),
                Err(ExportError::InvalidParameter(_))
            ));
        }
        assert!(clickhouse_ddl(&columns, "t", "Memory", None, None).is_ok());
    }

    #[test]
    fn invalid_arguments() {
        let columns = vec![ColumnSpec::new("x", ColumnType::Int64, false)];
        let cases: [(&[ColumnSpec], &str, &str, Option<&str>); 5] = [
            (&[], "t", "MergeTree", None),
            (&columns, "", "MergeTree", None),
            (&columns, "t", " ", None),
            (&columns, "t", "(x)", None),
            (&columns, "t", "MergeTree", Some("  ")),
        ];
        for (columns, table, engine, order) in cases {
            assert!(
                matches!(
                    clickhouse_ddl(columns, table, engine, order, None),
                    Err(ExportError::InvalidParameter(_))
                ),
                "{table:?} {engine:?} {order:?}"
            );
        }
        let unnamed = vec![ColumnSpec::new("", ColumnType::Int64, false)];
        assert!(clickhouse_ddl(&unnamed, "t", "MergeTree", None, None).is_err());
    }

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(quote_identifier("user_id"), "user_id");
        assert_eq!(quote_identifier("_x9"), "_x9");
        assert_eq!(quote_identifier("9x"), "`9x`");
        assert_eq!(quote_identifier("order"), "`order`");
        assert_eq!(quote_identifier("Select"), "`Select`");
        assert_eq!(quote_identifier("my col"), "`my col`");
        assert_eq!(quote_identifier("a`b"), "`a\\`b`");
        assert_eq!(quote_identifier("a\\b"), "`a\\\\b`");
        assert_eq!(quote_identifier("Größe"), "`Größe`");
        assert_eq!(quote_identifier("db.t"), "`db.t`");
        let columns = vec![ColumnSpec::new("weird `name`", ColumnType::Bool, false)];
        let ddl = clickhouse_ddl(&columns, "from", "MergeTree", None, None).unwrap();
        assert!(ddl.starts_with("CREATE TABLE `from` ("), "{ddl}");
        assert!(ddl.contains("`weird \\`name\\`` Bool"), "{ddl}");
    }

    #[test]
    fn every_type_in_ddl() {
        let options = ColumnOptions::default();
        let cases = [
            (PgType::Int2, "Nullable(Int16)"),
            (PgType::Bytea, "Nullable(String)"),
            (PgType::Timestamptz, "Nullable(DateTime64(6, 'UTC'))"),
            (PgType::Timestamp, "Nullable(DateTime64(6))"),
            (PgType::Date, "Nullable(Date32)"),
            (PgType::Time, "Nullable(Time64(6))"),
            (PgType::Uuid, "Nullable(UUID)"),
            (PgType::Enum, "LowCardinality(Nullable(String))"),
            (PgType::Numeric { typmod: None }, "Nullable(Decimal(38, 9))"),
            (
                PgType::Array(Box::new(PgType::Text)),
                "Array(Nullable(String))",
            ),
        ];
        let columns: Vec<ColumnSpec> = cases
            .iter()
            .enumerate()
            .map(|(i, (pg, _))| ColumnSpec::from_pg(format!("c{i}"), pg, true, &options).unwrap())
            .collect();
        let ddl = clickhouse_ddl(&columns, "t", "MergeTree", None, None).unwrap();
        for (i, (_, expected)) in cases.iter().enumerate() {
            assert!(
                ddl.contains(&format!("c{i} {expected},"))
                    || ddl.contains(&format!("c{i} {expected})")),
                "{expected}: {ddl}"
            );
        }
    }
}
