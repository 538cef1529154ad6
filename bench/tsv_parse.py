#!/usr/bin/env python3
"""T302 TSV parse speed: powerview (Rust) against pandas and pyarrow on the same generated file.

Usage: bench/tsv_parse.py [ROWS]   (default 1,000,000 rows x 30 channels)

Builds the powerview examples, writes /tmp/powerview_bench_<ROWS>.tsv with tsv_make_file (kept for
reuse), then times, best of 3, each parser reading every timestamp and value:
  * powerview: TsvFile::open_path + next_row over all rows (single thread), via tsv_throughput;
  * pandas: read_csv(sep='\\t', skiprows=2, engine='c') + to_datetime(format=...), the approach of
    the original PowerView loader;
  * pyarrow: csv.read_csv with a timestamp parser, use_threads=False.
Prints ours/peer time ratios (below 1 means powerview is faster).
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target" / "h-powerview"))


def best_of(n, fn):
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    subprocess.run(
        ["cargo", "build", "--release", "--manifest-path", str(ROOT / "crates/powerview/Cargo.toml"),
         "--example", "tsv_throughput", "--example", "tsv_make_file"],
        check=True, env=env)
    examples = Path(TARGET) / "release" / "examples"
    path = Path(f"/tmp/powerview_bench_{rows}.tsv")
    if not path.exists():
        subprocess.run([str(examples / "tsv_make_file"), str(path), "--rows", str(rows)], check=True)
    size_mb = path.stat().st_size / 1e6

    out = subprocess.run([str(examples / "tsv_throughput"), str(rows), str(path)],
                         check=True, capture_output=True, text=True).stdout
    print(out, end="")
    ours = float(next(l for l in out.splitlines() if l.startswith("BEST_UTC_SECONDS=")).split("=")[1])

    results = {}
    try:
        import pandas as pd

        def run_pandas():
            df = pd.read_csv(path, sep="\t", skiprows=2, header=None, engine="c")
            times = pd.to_datetime(df[0], format="%d/%m/%y %H:%M:%S", utc=True)
            assert len(times) == rows and df.shape[1] == 31

        results["pandas read_csv + to_datetime"] = best_of(3, run_pandas)
    except ImportError:
        print("SKIP: pandas not installed", file=sys.stderr)
    try:
        import pyarrow.csv as pacsv

        def run_pyarrow():
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(skip_rows=2, autogenerate_column_names=True,
                                               use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter="\t"),
                convert_options=pacsv.ConvertOptions(timestamp_parsers=["%d/%m/%y %H:%M:%S"]),
            )
            assert table.num_rows == rows and table.num_columns == 31

        results["pyarrow csv (1 thread)"] = best_of(3, run_pyarrow)
    except ImportError:
        print("SKIP: pyarrow not installed", file=sys.stderr)

    print(f"file: {path} ({size_mb:.0f} MB, {rows} rows x 30 channels)")
    print(f"powerview: {ours:.3f} s")
    for name, seconds in results.items():
        print(f"{name}: {seconds:.3f} s  ratio ours/peer = {ours / seconds:.3f}")


if __name__ == "__main__":
    main()
