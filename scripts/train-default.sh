#!/usr/bin/env bash
# Trains (or, run again, resumes) the default model as shipped in models/default: one
# variable-rate scale-hyperprior model (8 rate levels, λ 0.0009 … 0.0932), then copies it
# there. It starts from the analysis and synthesis transforms of the factorized quality-2
# model (λ 0.0067: models/factorized/q2, or trained by scripts/train-factorized.sh if that is
# missing) and trains everything
# on 128×128 mosaics of 4×4 CIFAR-10 pictures: the side latents are 1/64 of each side, so a
# mosaic gives them 2×2 positions where a 32×32 picture would give one, mostly padding
# (models/default/README.md has the measurement).
#   usage: scripts/train-default.sh [DATA] [STEPS]
#   DATA: as for scripts/train-factorized.sh; STEPS: total steps (default 5000, as shipped;
#   raising it and running again continues the run)
set -euo pipefail
data=${1:-../shared/datasets/cifar10/train}
steps=${2:-5000}
val=()
[ -d ../shared/datasets/cifar10/test ] && [ "$data" = ../shared/datasets/cifar10/train ] && val=(--val ../shared/datasets/cifar10/test)
init=models/factorized/q2
if [ ! -f "$init/model.json" ]; then
  "$(dirname "$0")/train-factorized.sh" "$data" 2
  init=runs/q2m
fi
cargo build --release -p nic-cli
nic=${CARGO_TARGET_DIR:-target}/release/nic
resume=()
[ -f runs/hyper/checkpoint.bin ] && resume=(--resume)
"$nic" train --data "$data" "${val[@]}" --out runs/hyper --init "$init" --steps "$steps" \
  --batch 8 --crop 128 --mosaic 4 --lr 3e-4 --val-size 512 --val-every 500 \
  --checkpoint-minutes 4 --quiet "${resume[@]}" > runs/hyper.out 2>&1
mkdir -p models/default
cp runs/hyper/model.json runs/hyper/weights.bpk runs/hyper/log.csv models/default/
echo "models/default updated; measure with scripts/eval-default.sh"
