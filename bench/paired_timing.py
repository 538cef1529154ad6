"""Paired timing for the benchmarks: our query right after the peer's, each round, so the
ratio of a pair cancels the drift of a shared machine; a ratio is the median of the pairs.
"""

# On compressed chunks TimescaleDB answers count() per segment from batch metadata and
# vectorizes other aggregates, without making a row; this setting makes the baseline read
# the same rows through the executor, as a function of ours must.
ROW_AT_A_TIME = (("timescaledb.enable_vectorized_aggregation", "off"),)
import os
import time


def cpu_seconds(pid):
    """User + system CPU seconds of a local process (a backend)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(conn, sql, pid, params=None):
    """(wall seconds, backend CPU seconds, rows) of one run of `sql`."""
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    # Never a prepared statement: psycopg prepares a query run 5 times, and its generic plan
    # would skip what the planner does with the values (chunk exclusion, vectorized
    # aggregation), while our functions plan their own queries afresh on every call.
    rows = conn.execute(sql, params, prepare=False).fetchall()
    return time.perf_counter() - start, cpu_seconds(pid) - cpu, rows


def paired(conn, base, ours, rounds, parallel, params=None, settings=()):
    """Runs `base` then `ours` `rounds` times, JIT off, serial plans or up to 2 parallel
    workers, and `settings` (name, value) on both sides. Returns ((best base s, best ours
    s), median wall ratio, median backend-CPU ratio, rows of the last `ours`)."""
    conn.execute(f"SET max_parallel_workers_per_gather = {2 if parallel else 0}")
    conn.execute("SET jit = off")
    for name, value in settings:
        conn.execute(f"SET {name} = {value}")
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    walls, cpus, best = [], [], [float("inf"), float("inf")]
    rows = None
    for _ in range(rounds):
        bw, bc, _ = timed(conn, base, pid, params)
        ow, oc, rows = timed(conn, ours, pid, params)
        best = [min(best[0], bw), min(best[1], ow)]
        walls.append(ow / bw)
        cpus.append(oc / bc if bc else float("nan"))
    conn.execute("RESET max_parallel_workers_per_gather; RESET jit")
    for name, _ in settings:
        conn.execute(f"RESET {name}")
    med = lambda v: sorted(v)[len(v) // 2]
    return best, med(walls), med(cpus), rows
