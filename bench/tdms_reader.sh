#!/usr/bin/env bash
# TDMS reader benchmark: our release decoder vs npTDMS on the same files.
#   (a) seed file: 3 x N float32 channels at 10 kHz (TdmsWriter), target ratio <= 1
#   (b) 10,000-segment interleaved file (LabVIEW streaming layout), target ratio < 0.3
# Env: TDMS_SEED_SAMPLES (default 10000000), TDMS_BENCH_DIR (default target/tdms-bench),
#      TDMS_BENCH_REPEATS (default 5), SENSOR_PYTHON (default: the project venv).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${SENSOR_PYTHON:-/root/.cache/sensor_analytics/venv/bin/python}
OUT=${TDMS_BENCH_DIR:-$ROOT/target/tdms-bench}
SAMPLES=${TDMS_SEED_SAMPLES:-10000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/h-tdms}
mkdir -p "$OUT"

SEED="$OUT/seed_${SAMPLES}.tdms"
INTERLEAVED="$OUT/interleaved_10000.tdms"
[ -s "$SEED" ] || "$PY" "$ROOT/bench/tdms_make_seed.py" "$SEED" "$SAMPLES"
[ -s "$INTERLEAVED" ] || "$PY" "$ROOT/bench/tdms_make_interleaved.py" "$INTERLEAVED" 10000 100

(cd "$ROOT/crates/tdms" && cargo build --release -q -p tdms --example tdms_decode)
BIN="$CARGO_TARGET_DIR/release/examples/tdms_decode"

"$PY" "$ROOT/bench/tdms_reader_bench.py" "$BIN" \
    "seed_3x${SAMPLES}_f32=$SEED:1.0" \
    "interleaved_10k_segs=$INTERLEAVED:0.3"
