"""Checks clickhouse_arrow's IPC output with pyarrow and chdb.

Usage: python chdb_interop.py EXPECTED_JSON

EXPECTED_JSON (written by tests/chdb_interop.rs) lists the IPC files (format
"file" or "stream", each compression), the ClickHouse DDL made by
`clickhouse_ddl`, and per column: kind, pyarrow type, nullability and the
canonical expected values. Canonical forms: ints, bools and text as such;
floats as numbers or "nan"/"inf"/"-inf"; bytes and UUIDs as lowercase hex;
timestamps as microseconds since 1970 ("ts_seconds": ClickHouse DateTime, whose
value is the timestamp truncated to whole seconds); dates as days since 1970;
times as microseconds since midnight; decimals as decimal strings; lists as
arrays ("list:<element kind>"; a NULL list reads back from ClickHouse as []).

Checks, for every file:
1. pyarrow reads it (open_file / open_stream), the schema has the expected
   types and nullability, the batch count is right and every value equals the
   expected one.
2. chdb creates a table from our DDL and ingests the file twice: with
   `INSERT INTO t SELECT * FROM file('<path>', Arrow|ArrowStream)` (ClickHouse
   infers the Arrow schema, then casts to the table's types) and with
   `INSERT INTO t FROM INFILE '<path>' FORMAT Arrow|ArrowStream` (the Arrow
   reader converts straight to the table's types, as `clickhouse-client` does
   for `INSERT ... FORMAT Arrow`); every value read back must be equal.

chdb 4.4 (ClickHouse 26.9) sessions: `chdb.session.Session(path)` opens a
ClickHouse database stored under `path` (a temporary directory is used when
`path` is None); tables persist across `Session.query(sql, fmt)` calls of the
same session and across sessions opened on the same path. One `query()` call
may also carry several `;`-separated statements (the last one's result is
returned); here each statement gets its own call so that an error names it.
`fmt` is an output format: "CSV", "TSV", ... or "ArrowTable", which returns a
pyarrow.Table. Close the session with `close()` (or use it as a context
manager) before opening another on the same path.

Prints "N passed, M failed" and exits 1 on any failure.
"""

import decimal
import json
import math
import sys
import tempfile

import chdb
import chdb.session
import pyarrow as pa
import pyarrow.ipc as ipc

FAILURES = []
PASSED = 0


def check(condition, message):
    global PASSED
    if condition:
        PASSED += 1
    else:
        FAILURES.append(message)


def values_equal(kind, actual, expected):
    if kind.startswith("list:"):
        if expected is None or actual is None:
            return expected is None and actual is None
        element = kind[len("list:"):]
        return len(actual) == len(expected) and all(
            values_equal(element, a, e) for a, e in zip(actual, expected)
        )
    if expected is None or actual is None:
        return expected is None and actual is None
    if kind == "float":
        expected = float(expected)
        if math.isnan(expected):
            return isinstance(actual, float) and math.isnan(actual)
        return float(actual) == expected
    if kind == "decimal":
        return decimal.Decimal(str(actual)) == decimal.Decimal(expected)
    if kind in ("bytes", "uuid"):
        return str(actual).lower().replace("-", "") == expected
    if kind == "bool":
        return actual is expected or actual == expected
    return actual == expected


# ---------------------------------------------------------------- pyarrow side


def canon_arrow_chunk(kind, array):
    """Canonical Python values of one pyarrow array (not chunked)."""
    if kind.startswith("list:"):
        element = kind[len("list:"):]
        values = canon_arrow_chunk(element, array.values)
        offsets = array.offsets.to_pylist()
        valid = array.is_valid().to_pylist()
        return [
            values[offsets[i]:offsets[i + 1]] if valid[i] else None
            for i in range(len(array))
        ]
    if kind in ("ts", "ts_seconds", "date", "time"):
        target = pa.int32() if kind == "date" else pa.int64()
        return array.cast(target).to_pylist()
    if kind in ("bytes", "uuid"):
        return [None if v is None else v.hex() for v in array.to_pylist()]
    if kind == "text" and pa.types.is_dictionary(array.type):
        return array.dictionary_decode().to_pylist()
    return array.to_pylist()


def canon_arrow(kind, column):
    out = []
    for chunk in column.chunks:
        out.extend(canon_arrow_chunk(kind, chunk))
    return out


def read_with_pyarrow(entry):
    if entry["format"] == "file":
        reader = ipc.open_file(entry["path"])
        batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
    else:
        with open(entry["path"], "rb") as f:
            reader = ipc.open_stream(f.read())
            batches = list(reader)
    return reader.schema, batches, reader.stats


def check_pyarrow(spec, entry):
    label = f"pyarrow {entry['format']}/{entry['compression']}"
    schema, batches, stats = read_with_pyarrow(entry)
    check(len(batches) == entry["batches"], f"{label}: {len(batches)} batches")
    # Dictionary columns grow across batches: the later batches must carry deltas,
    # never replacements (forbidden in the file format).
    check(stats.num_replaced_dictionaries == 0, f"{label}: replaced dictionaries {stats}")
    check(stats.num_dictionary_deltas > 0, f"{label}: no delta dictionaries {stats}")
    table = pa.Table.from_batches(batches, schema=schema)
    check(len(schema) == len(spec["columns"]), f"{label}: {len(schema)} fields")
    for column in spec["columns"]:
        name = column["name"]
        field = schema.field(name)
        expected_type = eval(column["arrow"], {"pa": pa})  # test-controlled text
        check(field.type == expected_type, f"{label}: {name} type {field.type} != {expected_type}")
        check(field.nullable == column["nullable"], f"{label}: {name} nullable {field.nullable}")
        actual = canon_arrow(column["kind"], table.column(name))
        check(len(actual) == len(column["values"]), f"{label}: {name} row count {len(actual)}")
        for row, (a, e) in enumerate(zip(actual, column["values"])):
            check(values_equal(column["kind"], a, e), f"{label}: {name}[{row}] {a!r} != {e!r}")


# ---------------------------------------------------------------- chdb side


def quote(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def chdb_expr(kind, expr):
    """SQL turning a column into the canonical form."""
    if kind.startswith("list:"):
        return f"arrayMap(x -> {chdb_expr(kind[len('list:'):], 'x')}, {expr})"
    if kind == "bytes":
        return f"lower(hex({expr}))"
    if kind == "ts":
        return f"toUnixTimestamp64Micro({expr})"
    if kind == "ts_seconds":
        return f"toInt64(toUnixTimestamp({expr})) * 1000000"
    if kind == "date":
        return f"toInt32({expr})"
    if kind == "time":
        return f"toInt64(toDecimal64({expr}, 6) * 1000000)"
    if kind in ("decimal", "uuid"):
        return f"toString({expr})"
    return expr


def chdb_expected(kind, value):
    """What ClickHouse stores for an expected value."""
    if kind.startswith("list:"):
        # No Nullable(Array): a NULL list becomes [].
        return [] if value is None else value
    if kind == "ts_seconds":
        return None if value is None else (value // 1_000_000) * 1_000_000
    return value


def python_value(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list):
        return [python_value(v) for v in value]
    return value


def check_chdb(session, spec, entry):
    table = quote(spec["table"])
    fmt = "Arrow" if entry["format"] == "file" else "ArrowStream"
    path = entry["path"].replace("\\", "\\\\").replace("'", "\\'")
    ingestions = {
        "file()": f"INSERT INTO {table} SELECT * FROM file('{path}', {fmt})",
        "INFILE": f"INSERT INTO {table} FROM INFILE '{path}' FORMAT {fmt}",
    }
    for how, insert in ingestions.items():
        label = f"chdb {how} {entry['format']}/{entry['compression']}"
        try:
            session.query(f"DROP TABLE IF EXISTS {table}")
            session.query(spec["ddl"])
            session.query(insert)
        except Exception as err:  # noqa: BLE001 - report and continue
            check(False, f"{label}: {err}")
            continue
        types = session.query(
            f"SELECT name, type FROM system.columns WHERE database = currentDatabase() "
            f"AND table = '{spec['table']}' ORDER BY position",
            "ArrowTable",
        ).to_pylist()
        for column, row in zip(spec["columns"], types):
            check(
                python_value(row["type"]) == column["clickhouse"],
                f"{label}: {column['name']} has type {row['type']!r}",
            )
        exprs = ", ".join(
            f"{chdb_expr(c['kind'], quote(c['name']))} AS {quote(c['name'])}"
            for c in spec["columns"]
        )
        result = session.query(
            f"SELECT {exprs} FROM {table} ORDER BY {spec['order_by']}", "ArrowTable"
        )
        check(result.num_rows == len(spec["columns"][0]["values"]), f"{label}: {result.num_rows} rows")
        for column in spec["columns"]:
            kind = column["kind"]
            actual = [python_value(v) for v in result.column(column["name"]).to_pylist()]
            for row, (a, e) in enumerate(zip(actual, column["values"])):
                e = chdb_expected(kind, e)
                check(values_equal(kind, a, e), f"{label}: {column['name']}[{row}] {a!r} != {e!r}")


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    print(f"pyarrow {pa.__version__}, chdb {chdb.__version__}")
    for entry in spec["files"]:
        check_pyarrow(spec, entry)
    with tempfile.TemporaryDirectory() as db_path:
        session = chdb.session.Session(db_path)
        try:
            print("ClickHouse", str(session.query("SELECT version()", "CSV")).strip())
            for entry in spec["files"]:
                check_chdb(session, spec, entry)
        finally:
            session.close()
    for failure in FAILURES[:50]:
        print("FAIL:", failure)
    print(f"{PASSED} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
