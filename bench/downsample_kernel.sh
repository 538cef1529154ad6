#!/usr/bin/env bash
# Downsampling kernel benchmark: 10,000,000 noisy-sine points -> 2,000.
#   ours lttb        vs tsdownsample LTTBDownsampler (single-threaded)
#   ours minmax_lttb vs tsdownsample MinMaxLTTBDownsampler (both parallel)
#   plus lttbc for reference.
# Prints ratios ours/peer (< 1: ours is faster). Data is generated once with
# numpy as raw little-endian files that both sides read; only the kernels are
# timed, best of several runs. Usage: bench/downsample_kernel.sh [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target/h-downsample}
py=${SENSOR_PYTHON:-$("$here/scripts/python-env")}
data="$CARGO_TARGET_DIR/bench-downsample"
mkdir -p "$data"
if [ ! -s "$data/t.i64" ] || [ ! -s "$data/v.f64" ]; then
  "$py" "$here/bench/downsample_kernel.py" --generate "$data"
fi

# lttbc 0.3.0's binary wheel is built against numpy 1.x and does not import
# with numpy 2; build it from source in a private venv next to the data.
lttbc_py=""
if "$py" -c "import lttbc" >/dev/null 2>&1; then
  lttbc_py="$py"
else
  venv="$CARGO_TARGET_DIR/bench-lttbc-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import lttbc" >/dev/null 2>&1; then
    echo "building lttbc from source for the reference timing (numpy 2 ABI)..." >&2
    numpy_version=$("$py" -c "import numpy; print(numpy.__version__)")
    if python3 -m venv "$venv" >&2 \
      && "$venv/bin/python" -m pip install -q --disable-pip-version-check "numpy==$numpy_version" setuptools wheel >&2 \
      && "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation --no-binary lttbc "lttbc==0.3.0" >&2; then
      :
    else
      echo "NOTE: could not build lttbc; skipping its reference timing" >&2
    fi
  fi
  if "$venv/bin/python" -c "import lttbc" >/dev/null 2>&1; then
    lttbc_py="$venv/bin/python"
  fi
fi

(cd "$here/crates/downsample" && cargo build --quiet --release --features parallel --example downsample_kernel)
LTTBC_PYTHON="$lttbc_py" "$py" "$here/bench/downsample_kernel.py" "$data" \
  "$CARGO_TARGET_DIR/release/examples/downsample_kernel" "${1:-3}"
