"""Timing part of bench/arrow_export.sh (see there). PG* environment: the bench cluster."""
import argparse
import os
import pathlib
import tempfile
import time

os.environ["TZ"] = "UTC"  # DateTime columns: UTC, as PostgreSQL's CSV says

import chdb.session  # noqa: E402
import psycopg  # noqa: E402

TABLE = "bench_telemetry"
QUERY = f"SELECT * FROM {TABLE}"
# The e2e test's generator (tests/e2e/test_export.py): three months of events.
GENERATE = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id int8 NOT NULL, user_id int4 NOT NULL, prosthesis_type text NOT NULL,
    muscle_group text NOT NULL, signal_frequency int4 NOT NULL, signal_duration int4 NOT NULL,
    signal_amplitude float8 NOT NULL, event_timestamp timestamptz NOT NULL,
    saved_ts timestamptz NOT NULL);
INSERT INTO {TABLE}
SELECT i, (i * 7919) % 1000 + 1,
       (ARRAY['myoelectric hand', 'bionic arm', 'knee', 'ankle foot'])[(i * 31) % 4 + 1],
       (ARRAY['biceps', 'triceps', 'deltoid', 'quadriceps', 'hamstring', 'calf'])[(i * 17) % 6 + 1],
       20 + (i * 13) % 480, 10 + (i * 7) % 5000, ((i * 37) % 4096) / 1024.0,
       timestamptz '2024-01-01 00:00:00+00' + (i * 7862399 / %(rows)s) * interval '1 second',
       timestamptz '2024-01-01 00:00:00+00' + (i * 7862399 / %(rows)s + i % 5) * interval '1 second'
FROM generate_series(1::int8, %(rows)s) AS i;
"""


def timed(conn, sql, params=None):
    start = time.perf_counter()
    conn.execute(sql, params)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--dir", type=pathlib.Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    copy_bin, ours, csv = args.dir / "copy.bin", args.dir / "ours.arrow", args.dir / "copy.csv"

    with psycopg.connect(autocommit=True) as pg:
        pg.execute("SET client_min_messages = warning")
        pg.execute("DROP EXTENSION IF EXISTS sensor_analytics CASCADE")
        pg.execute("CREATE EXTENSION sensor_analytics")
        have = pg.execute(f"SELECT to_regclass('{TABLE}') IS NOT NULL").fetchone()[0]
        if not have or pg.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] != args.rows:
            print(f"generating {args.rows} rows...", flush=True)
            pg.execute(GENERATE.replace("%(rows)s", str(args.rows)))
            pg.execute(f"VACUUM ANALYZE {TABLE}")
        pg.execute(f"SELECT count(*) FROM {TABLE}")  # warm the cache
        print(f"rows: {args.rows}, best of {args.repeats} after a warm-up, runs alternate")

        export = ("SELECT rows FROM sensor.arrow_export(%s, %s, overwrite => true,"
                  " datetime_columns => '{event_timestamp,saved_ts}')")
        peer_times, our_times = [], []
        for run in range(args.repeats + 1):
            peer = timed(pg, f"COPY ({QUERY}) TO '{copy_bin}' (FORMAT binary)")
            mine = timed(pg, export, [QUERY, str(ours)])
            if run > 0:
                peer_times.append(peer)
                our_times.append(mine)
        peer, mine = min(peer_times), min(our_times)
        print(f"peer  COPY (FORMAT binary)         {peer:8.3f} s  {copy_bin.stat().st_size:>13,} bytes")
        print(f"ours  arrow_export file, none      {mine:8.3f} s  {ours.stat().st_size:>13,} bytes")
        print(f"ratio arrow_export / COPY binary   {mine / peer:8.3f}   (goal <= 1)")
        copy_bin.unlink()

        csv_seconds = timed(pg, f"COPY ({QUERY}) TO '{csv}' (FORMAT csv)")
        print(f"      COPY (FORMAT csv)            {csv_seconds:8.3f} s  {csv.stat().st_size:>13,} bytes")
        ddl = pg.execute(
            "SELECT sensor.clickhouse_ddl(%s, 'telemetry_events', order_by => '(user_id, event_timestamp)',"
            " partition_by => 'toYYYYMM(event_timestamp)', datetime_columns => '{event_timestamp,saved_ts}')",
            [QUERY],
        ).fetchone()[0]

    with tempfile.TemporaryDirectory(dir="/tmp") as db_path:
        ch = chdb.session.Session(db_path)
        try:
            imports = {}
            for label, path, fmt, settings in (
                ("Arrow file", ours, "Arrow", ""),
                ("CSV", csv, "CSV", "SETTINGS date_time_input_format = 'best_effort' "),
            ):
                best = None
                for _ in range(args.repeats):
                    ch.query("DROP TABLE IF EXISTS telemetry_events")
                    ch.query(ddl)
                    start = time.perf_counter()
                    ch.query(f"INSERT INTO telemetry_events FROM INFILE '{path}' {settings}FORMAT {fmt}")
                    seconds = time.perf_counter() - start
                    best = seconds if best is None else min(best, seconds)
                count = int(str(ch.query("SELECT count() FROM telemetry_events", "CSV")).strip())
                assert count == args.rows, f"{label}: {count} rows imported"
                imports[label] = best
            print(f"chdb  import of our Arrow file     {imports['Arrow file']:8.3f} s")
            print(f"chdb  import of COPY's CSV         {imports['CSV']:8.3f} s")
            print(f"ratio chdb import Arrow / CSV      {imports['Arrow file'] / imports['CSV']:8.3f}")
        finally:
            ch.close()


if __name__ == "__main__":
    main()
