"""Times the downsampling kernels against tsdownsample and lttbc on the same data.

Usage: downsample_kernel.py DATA_DIR OUR_BINARY [ROUNDS]

DATA_DIR holds t.i64 / v.f64 (raw little-endian; made by --generate). Our
timing binary prints its best kernel time over RUNS internal runs (file loading
excluded); the peers are timed the same way here, in interleaved rounds, and
the best of all rounds is kept for each side.
"""
import os
import subprocess
import sys
import time

import numpy as np

N_POINTS = 10_000_000
N_OUT = 2_000
RUNS = 5


def generate(data_dir):
    """Noisy sine, 1 ms spacing, fixed seed; written once."""
    rng = np.random.default_rng(42)
    i = np.arange(N_POINTS)
    t = 1_700_000_000_000_000 + i.astype(np.int64) * 1000
    v = np.sin(i / N_POINTS * 20 * np.pi) + rng.normal(0.0, 0.1, N_POINTS)
    t.astype("<i8").tofile(os.path.join(data_dir, "t.i64"))
    v.astype("<f8").tofile(os.path.join(data_dir, "v.f64"))


def best_of(fn, runs=RUNS):
    best = float("inf")
    out = None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3, out


def ours(binary, data_dir, method, parallel):
    args = [binary, os.path.join(data_dir, "t.i64"), os.path.join(data_dir, "v.f64"),
            method, str(N_OUT), str(RUNS)] + (["parallel"] if parallel else [])
    line = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
    fields = dict(kv.split("=", 1) for kv in line.split())
    if int(fields["out"]) != N_OUT:
        raise SystemExit(f"our {method} returned {fields['out']} points, expected {N_OUT}")
    return float(fields["best_ms"])


def load_lttbc():
    """lttbc, or None (the caller passes the interpreter that has it)."""
    try:
        import lttbc  # noqa: F401
        return lttbc
    except Exception as e:  # ImportError or a numpy ABI error
        print(f"NOTE: lttbc unavailable in {sys.executable}: {type(e).__name__}", file=sys.stderr)
        return None


def lttbc_only(data_dir):
    """Entry point for a separate interpreter that has lttbc: prints best ms."""
    import lttbc
    t = np.fromfile(os.path.join(data_dir, "t.i64"), dtype="<i8").astype(np.float64)
    v = np.fromfile(os.path.join(data_dir, "v.f64"), dtype="<f8")
    ms, (x, _) = best_of(lambda: lttbc.downsample(t, v, N_OUT))
    assert len(x) == N_OUT
    print(f"{ms:.3f}")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--generate":
        generate(sys.argv[2])
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--lttbc-only":
        lttbc_only(sys.argv[2])
        return
    data_dir, binary = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    lttbc_python = os.environ.get("LTTBC_PYTHON")
    from tsdownsample import LTTBDownsampler, MinMaxLTTBDownsampler

    t = np.fromfile(os.path.join(data_dir, "t.i64"), dtype="<i8")
    v = np.fromfile(os.path.join(data_dir, "v.f64"), dtype="<f8")
    assert len(t) == len(v) == N_POINTS

    best = {}

    def keep(key, ms):
        best[key] = min(best.get(key, float("inf")), ms)

    for _ in range(rounds):
        keep("ours lttb", ours(binary, data_dir, "lttb", parallel=False))
        ms, idx = best_of(lambda: LTTBDownsampler().downsample(t, v, n_out=N_OUT, parallel=False))
        assert len(idx) == N_OUT
        keep("tsdownsample LTTB (1 thread)", ms)
        keep("ours minmax_lttb", ours(binary, data_dir, "minmax_lttb", parallel=True))
        ms, idx = best_of(lambda: MinMaxLTTBDownsampler().downsample(t, v, n_out=N_OUT, parallel=True))
        assert len(idx) == N_OUT
        keep("tsdownsample MinMaxLTTB (parallel)", ms)
        if lttbc_python:
            out = subprocess.run([lttbc_python, __file__, "--lttbc-only", data_dir],
                                 check=True, capture_output=True, text=True).stdout
            keep("lttbc", float(out.strip()))

    print(f"{N_POINTS:,} points -> {N_OUT:,} (noisy sine), best of {rounds} rounds x {RUNS} runs, "
          f"cores={os.cpu_count()}")
    for key, ms in best.items():
        print(f"  {key:<36} {ms:9.2f} ms")
    lttb_ratio = best["ours lttb"] / best["tsdownsample LTTB (1 thread)"]
    mm_ratio = best["ours minmax_lttb"] / best["tsdownsample MinMaxLTTB (parallel)"]
    print(f"ratio lttb        ours/tsdownsample = {lttb_ratio:.3f}  (target <= 1)")
    print(f"ratio minmax_lttb ours/tsdownsample = {mm_ratio:.3f}  (target <= 1)")
    if "lttbc" in best:
        print(f"ratio lttb        ours/lttbc        = {best['ours lttb'] / best['lttbc']:.3f}  (reference)")
    else:
        print("lttbc: not available (reference only)")


if __name__ == "__main__":
    main()
