#!/usr/bin/env bash
# Trains (or, run again, resumes) the four default models exactly as shipped in
# models/default, then copies the exported models there. The four runs go in parallel, one
# thread each: on a 2-core machine that is ~1.8x the throughput of one 2-thread run.
#   usage: scripts/train-default.sh [DATA] [STEPS]
#   DATA: CIFAR-10 as a folder of images or the official binary release
#         (default ../shared/datasets/cifar10/train, validated on ../shared/datasets/cifar10/test)
set -euo pipefail
data=${1:-../shared/datasets/cifar10/train}
steps=${2:-16000}
val=()
[ -d ../shared/datasets/cifar10/test ] && [ "$data" = ../shared/datasets/cifar10/train ] && val=(--val ../shared/datasets/cifar10/test)
cargo build --release -p nic-cli
nic=${CARGO_TARGET_DIR:-target}/release/nic
lambdas=(0.0035 0.0067 0.013 0.025)
for q in 1 2 3 4; do
  resume=()
  [ -f "runs/q$q/checkpoint.bin" ] && resume=(--resume)
  "$nic" --threads 1 train --data "$data" "${val[@]}" --val-size 500 --val-every 1000 \
    --out "runs/q$q" --quality "$q" --lambda "${lambdas[$((q - 1))]}" --steps "$steps" \
    --batch 16 --lr 1e-3 --checkpoint-minutes 3 --quiet "${resume[@]}" > "runs/q$q.out" 2>&1 &
done
wait
for q in 1 2 3 4; do
  mkdir -p "models/default/q$q"
  cp "runs/q$q/model.json" "runs/q$q/weights.bpk" "models/default/q$q/"
done
echo "models/default updated; measure with scripts/eval-default.sh"
