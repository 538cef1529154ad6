"""Executes the SQL examples of docs/*.md and compares their output with the page.

A page is run top to bottom in a fresh database of its own, through psql (aligned output,
as a reader would see it). Every ```sql block runs; the ```text block right after it, if
any, is the output it must print. A block fenced ```sql timescaledb runs only when
TimescaleDB is available (and prints a SKIP line otherwise). psql variable :fixtures is a
server-readable copy of the repository's fixtures.

Usage: run_docs.py [--update] [PAGE...]   (connection from the PG* environment)
--update rewrites the expected outputs in place (review the diff before committing).
"""
import os
import pathlib
import re
import subprocess
import sys

import psycopg

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BLOCK = re.compile(r"```sql( timescaledb)?\n(.*?)```\n(?:\n?```text\n(.*?)```\n)?", re.S)


def timescaledb_available():
    with psycopg.connect(dbname="postgres", autocommit=True) as conn:
        return conn.execute("SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') "
                            "AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'").fetchone()[0]


def fresh_database(name, tsdb):
    with psycopg.connect(dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(dbname=name, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        if tsdb:
            conn.execute("CREATE EXTENSION timescaledb")
        conn.execute("CREATE EXTENSION sensor_analytics")


def run_block(database, sql, fixtures):
    """psql's output for one block: aligned, no footer, errors as psql prints them."""
    result = subprocess.run(
        ["psql", "-X", "-q", "-d", database, "-v", f"fixtures={fixtures}", "-P", "footer=off",
         "-c", "SET timezone = 'UTC'", "-c", "SET extra_float_digits = 0", "-f", "-"],
        input=sql, capture_output=True, text=True)
    out = result.stdout + re.sub(r"^psql:<stdin>:\d+: ", "", result.stderr, flags=re.M)
    return "\n".join(line.rstrip() for line in out.strip("\n").splitlines()) + "\n"


def main():
    update = "--update" in sys.argv
    pages = [a for a in sys.argv[1:] if not a.startswith("--")]
    paths = [DOCS / (p if p.endswith(".md") else p + ".md") for p in pages] or sorted(DOCS.glob("*.md"))
    fixtures = os.environ["SENSOR_DOCS_FIXTURES"]
    tsdb = timescaledb_available()
    examples = failures = skipped = 0
    for path in paths:
        text = path.read_text()
        database = "docs_" + path.stem
        fresh_database(database, False)
        if tsdb:
            fresh_database(database + "_tsdb", True)
        pieces, last = [], 0
        for m in BLOCK.finditer(text):
            tsdb_only, sql, expected = bool(m.group(1)), m.group(2), m.group(3)
            pieces.append(text[last:m.start()])
            last = m.end()
            if tsdb_only and not tsdb:
                print(f"SKIP: {path.name}: a TimescaleDB example (TimescaleDB is not installed)")
                skipped += 1
                pieces.append(m.group(0))
                continue
            got = run_block(database + ("_tsdb" if tsdb_only else ""), sql, fixtures)
            examples += 1
            fence = "```sql timescaledb\n" if tsdb_only else "```sql\n"
            if update:
                pieces.append(f"{fence}{sql}```\n\n```text\n{got}```\n" if got.strip() else f"{fence}{sql}```\n")
                continue
            pieces.append(m.group(0))
            want = expected or ""
            if got.strip() != want.strip():
                failures += 1
                print(f"FAIL: {path.name}: example {examples}:\n{sql}--- page says:\n{want}--- psql prints:\n{got}")
        pieces.append(text[last:])
        if update:
            path.write_text("".join(pieces))
    if update:
        print(f"updated {len(paths)} pages, {examples} examples")
        return 0
    if failures:
        print(f"{failures} of {examples} tests failed.")
        return 1
    print(f"All {examples} tests passed (doc examples of {len(paths)} pages; {skipped} skipped).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
