#!/usr/bin/env python3
"""sensor.load_tdms vs COPY FROM (FORMAT binary) of the same rows, and the load's memory.

Usage: tdms_load_bench.py SEED_FILE SMALL_SEED_FILE WORK_DIR [REPEATS]
Connection from the PG* environment (superuser). Run by bench/tdms_load.sh.

1. load_tdms(SEED_FILE) into sensor_data.samples (empty, with its index), timed.
2. COPY (SELECT channel_id, time, value FROM sensor_data.samples) TO a binary file: the same rows.
3. COPY bench_copy.samples FROM that file (FORMAT binary), timed; bench_copy.samples is
   CREATE TABLE (LIKE sensor_data.samples INCLUDING ALL): same columns, same index, logged.
Both targets are emptied by TRUNCATE in an earlier transaction (so neither gets the
new-relfilenode shortcuts), with a CHECKPOINT and an OS sync before each timed step. Steps 1 and 3 are
untimed once (WAL segments then exist for both), then timed REPEATS times each, in
alternating order; best and median times are compared.
Memory: the backend's RssAnon (private memory: the shared buffers are RssShmem) is sampled
every 20 ms during a load of SMALL_SEED_FILE and of SEED_FILE, each in a fresh session.
Then, when TimescaleDB is available, the same comparison with both tables made hypertables
(sensor.enable_hypertables(); create_hypertable with the same chunk interval).
"""
import os
import statistics
import sys
import threading
import time

import psycopg


def rss_anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    """Samples a backend's RssAnon in a thread; .peak is the largest value seen (KiB)."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, rss_anon_kib(pid), threading.Event()
        self.before = self.peak
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_anon_kib(self.pid))
            except OSError:
                return
            time.sleep(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def empty_tables(conn, which=("load", "copy")):
    if "load" in which:
        conn.execute("TRUNCATE sensor_data.datasets, sensor_data.channels, sensor_data.samples, sensor_data.indexed_samples")
    if "copy" in which:
        conn.execute("TRUNCATE bench_copy.samples")
    conn.execute("CHECKPOINT")
    # The clusters run with fsync off: without this, the kernel would still be writing
    # back the previous step's pages during the next one.
    os.sync()


def timed_load(seed):
    """One load_tdms in a fresh session: (seconds, samples, peak RssAnon KiB, RssAnon before KiB)."""
    with psycopg.connect(autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("SELECT 1")  # settle the session before the baseline
        with PeakRss(pid) as rss:
            t0 = time.perf_counter()
            row = conn.execute("SELECT samples FROM sensor.load_tdms(%s)", (seed,)).fetchone()
            elapsed = time.perf_counter() - t0
            rss.peak = max(rss.peak, rss_anon_kib(pid))
        return elapsed, row[0], rss.peak, rss.before


def timed_copy(conn, copy_file):
    t0 = time.perf_counter()
    conn.execute("COPY bench_copy.samples FROM '%s' (FORMAT binary)" % copy_file)
    return time.perf_counter() - t0


def compare(conn, seed, copy_file, repeats, kind):
    """Timed load_tdms and COPY into the two tables as they are; returns (loads, copies,
    samples, peak memory of the first timed load)."""
    shape = conn.execute(
        """SELECT (SELECT string_agg(format('%s %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum)
                   FROM pg_attribute WHERE attrelid = r::regclass AND attnum > 0 AND NOT attisdropped),
                  (SELECT string_agg(regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \\S+ ON \\S+', 'INDEX ON _'), '; ')
                   FROM pg_index WHERE indrelid = r::regclass),
                  (SELECT relpersistence FROM pg_class WHERE oid = r::regclass)
           FROM unnest(ARRAY['sensor_data.samples', 'bench_copy.samples']) AS r""").fetchall()
    for (cols, idx, persistence), name in zip(shape, ["sensor_data.samples", "bench_copy.samples"]):
        print("%-19s (%s) [%s] persistence=%s  (%s)" % (name, cols, idx, persistence, kind))
    if len(set(shape)) != 1:
        sys.exit("the two tables differ; the comparison would be unfair")
    # Untimed first load: makes the COPY file, and leaves recycled WAL segments so
    # that no timed step pays for creating them.
    empty_tables(conn)
    _, samples, _, _ = timed_load(seed)
    conn.execute("COPY (SELECT channel_id, time, value FROM sensor_data.samples) TO '%s' (FORMAT binary)" % copy_file)
    n = conn.execute("SELECT count(*) FROM sensor_data.samples").fetchone()[0]
    print("rows: %d loaded by load_tdms (report: %d); COPY file %.0f MB" % (n, samples, os.path.getsize(copy_file) / 1e6))
    loads, copies, mem_big = [], [], None
    for r in range(repeats):
        # Alternate which goes first, so that neither always follows the other.
        for step in (("load", "copy") if r % 2 == 0 else ("copy", "load")):
            empty_tables(conn, (step,))
            if step == "load":
                elapsed, samples, peak, before = timed_load(seed)
                loads.append(elapsed)
                mem_big = mem_big or (peak, before)
            else:
                copies.append(timed_copy(conn, copy_file))
        print("run %d: load_tdms %.2f s, COPY FROM binary %.2f s" % (r + 1, loads[-1], copies[-1]))
    same = conn.execute(
        "SELECT (SELECT count(*) FROM bench_copy.samples) = (SELECT count(*) FROM sensor_data.samples)").fetchone()[0]
    if not same:
        sys.exit("row counts differ between the two tables")
    return loads, copies, samples, mem_big


def report(kind, loads, copies, repeats):
    best_load, best_copy = min(loads), min(copies)
    print()
    print("%s:" % kind)
    print("  load_tdms           %6.2f s  (best of %d: %s)" % (best_load, repeats, ", ".join("%.2f" % x for x in loads)))
    print("  COPY FROM binary    %6.2f s  (best of %d: %s)" % (best_copy, repeats, ", ".join("%.2f" % x for x in copies)))
    print("  ratio load_tdms / COPY = %.2f best-to-best, %.2f median-to-median  (target <= 1.0)" % (
        best_load / best_copy, statistics.median(loads) / statistics.median(copies)))


def main():
    seed, small_seed, work = sys.argv[1], sys.argv[2], sys.argv[3]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    copy_file = os.path.join(work, "samples.copy")
    with psycopg.connect(autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench_copy")
        conn.execute("DROP TABLE IF EXISTS bench_copy.samples")
        conn.execute("CREATE TABLE bench_copy.samples (LIKE sensor_data.samples INCLUDING ALL)")
        loads, copies, samples, mem_big = compare(conn, seed, copy_file, repeats, "plain tables")
        empty_tables(conn)
        _, small_samples, small_peak, small_before = timed_load(small_seed)
        hyper = None
        if conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()[0]:
            # Both tables become hypertables the same way: sensor.enable_hypertables() for
            # ours, create_hypertable with the same chunk interval for COPY's.
            empty_tables(conn)
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("SELECT sensor.enable_hypertables()")
            interval = conn.execute(
                "SELECT time_interval FROM timescaledb_information.dimensions "
                "WHERE hypertable_schema = 'sensor_data' AND hypertable_name = 'samples'").fetchone()[0]
            conn.execute("SELECT create_hypertable('bench_copy.samples', 'time', chunk_time_interval => %s)", (interval,))
            hyper = compare(conn, seed, copy_file, repeats, "hypertables")
        else:
            print("SKIP: TimescaleDB is not installed: the hypertable comparison is skipped")
        empty_tables(conn)
        conn.execute("DROP SCHEMA bench_copy CASCADE")

    report("plain tables", loads, copies, repeats)
    if hyper:
        report("hypertables (sensor.enable_hypertables(), the same chunk interval for COPY's)", hyper[0], hyper[1], repeats)
    big_samples = samples
    print("backend RssAnon during load_tdms into plain tables (peak, and growth over the idle session):")
    print("  %9d samples (%d per channel): peak %6.1f MiB, growth %6.1f MiB" % (
        small_samples, small_samples // 3, small_peak / 1024, (small_peak - small_before) / 1024))
    print("  %9d samples (%d per channel): peak %6.1f MiB, growth %6.1f MiB" % (
        big_samples, big_samples // 3, mem_big[0] / 1024, (mem_big[0] - mem_big[1]) / 1024))
    print("memory ratio large/small file (peak RssAnon) = %.2f  (file is %.0fx larger; target ~1)" % (
        mem_big[0] / max(small_peak, 1), big_samples / max(small_samples, 1)))


if __name__ == "__main__":
    main()
