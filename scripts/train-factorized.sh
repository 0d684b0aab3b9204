#!/usr/bin/env bash
# Trains (or, run again, resumes) the four factorized-prior models nic shipped as its default
# until the hyperprior (commit 364f158), and copies the exported models to models/factorized.
# The quality-2 model is also where scripts/train-default.sh starts. Two stages per quality:
#   1. 16,000 steps of batch 16 on 32×32 crops (CIFAR-10 pictures whole);
#   2. 1,000 steps of batch 4 on 128×128 mosaics of 4×4 pictures, starting from stage 1:
#      trained on 32×32 alone, the transforms lean on the zero padding at image borders and
#      shift colours in the interior of full-size photographs; mosaics fix that.
# The four runs of a stage go in parallel, one thread each: on a 2-core machine that is
# ~1.8x the throughput of one 2-thread run.
#   usage: scripts/train-factorized.sh [DATA] [QUALITIES]
#   DATA: CIFAR-10 as a folder of images or the official binary release
#         (default ../shared/datasets/cifar10/train, validated on ../shared/datasets/cifar10/test)
#   QUALITIES: which of the four (default "1 2 3 4")
set -euo pipefail
data=${1:-../shared/datasets/cifar10/train}
qualities=${2:-1 2 3 4}
val=()
[ -d ../shared/datasets/cifar10/test ] && [ "$data" = ../shared/datasets/cifar10/train ] && val=(--val ../shared/datasets/cifar10/test)
cargo build --release -p nic-cli
nic=${CARGO_TARGET_DIR:-target}/release/nic
lambdas=(0.0035 0.0067 0.013 0.025)

# run OUT ARGS...: train, resuming if OUT already has a checkpoint.
run() {
  local out=$1
  shift
  local resume=()
  [ -f "$out/checkpoint.bin" ] && resume=(--resume)
  # N = 96 hidden channels, as these models have (nic train's default is the default model's 128).
  "$nic" --threads 1 train --data "$data" "${val[@]}" --out "$out" --channels 96 --quiet "${resume[@]}" "$@" > "$out.out" 2>&1
}

for q in $qualities; do
  run "runs/q$q" --hyper-channels 0 --quality "$q" --lambda "${lambdas[$((q - 1))]}" --steps 16000 --batch 16 \
    --lr 1e-3 --val-size 500 --val-every 1000 --checkpoint-minutes 3 &
done
wait
for q in $qualities; do
  run "runs/q${q}m" --init "runs/q$q" --hyper-channels 0 --quality "$q" --lambda "${lambdas[$((q - 1))]}" --steps 1000 \
    --batch 4 --crop 128 --mosaic 4 --lr 2e-4 --val-size 512 --val-every 250 --checkpoint-minutes 3 &
done
wait
for q in $qualities; do
  mkdir -p "models/factorized/q$q"
  cp "runs/q${q}m/model.json" "runs/q${q}m/weights.bpk" "models/factorized/q$q/"
  cp "runs/q$q/log.csv" "models/factorized/q$q/log-stage1.csv"
  cp "runs/q${q}m/log.csv" "models/factorized/q$q/log-stage2.csv"
done
echo "models/factorized updated; compare with: nic compare --model models/factorized ..."
