"""Peak private memory (RssAnon) a query adds to a fresh backend, sampled every
millisecond from /proc while it runs. The benchmark cluster is local, so the backend's
/proc entry is readable (run as root or as the cluster's user).

Usage: backend_memory.py QUERY [WARMUP_QUERY]   (connection from the PG* environment)
Prints: `<first value of the result> <peak kB added> <work_mem>`.
"""
import sys
import threading
import time

import psycopg


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon")


def peak_memory(query, warmup=None, params=None, settings=()):
    """(first value of the result, peak kB added, work_mem) of `query` in a new backend,
    serial plans and `settings` (statements run first); `warmup` (a query or a list of
    them) runs before the baseline is read, so that caches and the library are loaded."""
    with psycopg.connect(autocommit=True) as c:
        c.execute("SET max_parallel_workers_per_gather = 0")
        for statement in settings:
            c.execute(statement)
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        for w in [warmup] if isinstance(warmup, str) else (warmup or []):
            c.execute(w, params).fetchall()
        base = rss_anon_kb(pid)
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_anon_kb(pid))
                time.sleep(0.001)

        t = threading.Thread(target=sample)
        t.start()
        try:
            value = c.execute(query, params).fetchone()[0]
        finally:
            done.set()
            t.join()
        work_mem = c.execute("SHOW work_mem").fetchone()[0]
        return value, max(peak[0], rss_anon_kb(pid)) - base, work_mem


if __name__ == "__main__":
    value, kb, work_mem = peak_memory(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    print(value, kb, work_mem)
