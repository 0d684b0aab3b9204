#!/usr/bin/env bash
# Trains (or, run again, resumes) stage 1 of the default model (models/default/README.md,
# "Stage 1: CIFAR-10"): one variable-rate scale-hyperprior model (8 rate levels, λ 0.0009 …
# 0.0932, N = 96 hidden channels, M = 128 latents and no detail latents, as the default had
# then; passed explicitly, since nic train's defaults follow today's default) in runs/hyper. It starts from the
# analysis and synthesis transforms of the factorized quality-2 model (λ 0.0067:
# models/factorized/q2, or trained by scripts/train-factorized.sh if that is missing) and
# trains everything on 128×128 mosaics of 4×4 CIFAR-10 pictures: the side latents are 1/64 of
# each side, so a mosaic gives them 2×2 positions where a 32×32 picture would give one, mostly
# padding (the card has the measurement). The photo stages that made the shipped default
# continue from it with scripts/train-photos.sh (INIT=runs/hyper; the card lists them), so
# this script leaves models/default as it is.
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
  --channels 96 --latent-channels 128 --detail-channels 0 \
  --lambdas 0.0009,0.0018,0.0035,0.0067,0.013,0.025,0.0483,0.0932 \
  --batch 8 --crop 128 --mosaic 4 --lr 3e-4 --val-size 512 --val-every 500 \
  --checkpoint-minutes 4 --quiet "${resume[@]}" > runs/hyper.out 2>&1
echo "stage 1 in runs/hyper; measure with: nic compare --data ../shared/datasets/kodak --model runs/hyper"
