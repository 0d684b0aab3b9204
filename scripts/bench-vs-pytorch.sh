#!/usr/bin/env bash
# Speed and memory of nic beside CompressAI (PyTorch), same architecture and weights, same
# thread count, each case in a fresh process, median of RUNS runs after a warm-up. The network
# is the factorized-prior one CompressAI has as `FactorizedPrior` (MODEL, default
# models/factorized: its quality-2 model).
#
#   scripts/bench-vs-pytorch.sh                 # all cases, CPU, all cores
#   THREADS=1 RUNS=9 scripts/bench-vs-pytorch.sh
#   CASES=encode,decode scripts/bench-vs-pytorch.sh
#
# Creates a Python venv ($NIC_BENCH_VENV, default ~/.cache/nic-bench-venv) with torch and
# compressai from PyPI (about 3 GB, a few minutes the first time). Results go to
# runs/bench/<date>/ (nic.json, pytorch.json, ratios.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${NIC_BENCH_VENV:-$HOME/.cache/nic-bench-venv}
THREADS=${THREADS:-$(nproc)}
RUNS=${RUNS:-5}
# Two warm-up runs: the first steps of a process fault in their memory, which on a virtual
# machine costs seconds (nic keeps what it frees afterwards; PyTorch gets the same warm-up).
WARMUP=${WARMUP:-2}
DEVICE=${DEVICE:-cpu}
CASES=${CASES:-train-64x32,train-16x64,train-8x256,encode,decode,encode-3072x2048,decode-3072x2048}
IMAGE=${IMAGE:-datasets/samples/kodak/kodim01.png}
MODEL=${MODEL:-models/factorized}
OUT=${OUT:-runs/bench/$(date +%Y%m%d-%H%M%S)}
TORCH_VERSION=${TORCH_VERSION:-2.15.0}
COMPRESSAI_VERSION=${COMPRESSAI_VERSION:-1.2.8}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet "torch==$TORCH_VERSION" "compressai==$COMPRESSAI_VERSION" pillow numpy

cargo build --release -p nic-cli
NIC="${CARGO_TARGET_DIR:-target}/release/nic"
mkdir -p "$OUT"

"$NIC" export --model "$MODEL" --out "$OUT/weights"
echo "== nic ($THREADS threads, device $DEVICE)"
"$NIC" --threads "$THREADS" bench --model "$MODEL" --device "$DEVICE" --cases "$CASES" --runs "$RUNS" \
  --warmup "$WARMUP" --image "$IMAGE" --json "$OUT/nic.json"
echo "== CompressAI $COMPRESSAI_VERSION, PyTorch $TORCH_VERSION ($THREADS threads)"
"$VENV/bin/python" scripts/bench_pytorch.py --weights "$OUT/weights" --image "$IMAGE" \
  --threads "$THREADS" --runs "$RUNS" --warmup "$WARMUP" --cases "$CASES" \
  --json "$OUT/pytorch.json" --nic "$OUT/nic.json" | tee "$OUT/ratios.txt"
{
  echo
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; threads $THREADS"
  echo "nic $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(rustc --version)"
} | tee -a "$OUT/ratios.txt"
