#!/usr/bin/env bash
# The photo training campaign of the default model (a run that spans sessions): fine-tunes
# models/default, as a mean-scale hyperprior (--means: a scale-hyperprior default grows into
# one, its means starting at zero), on random 256×256 crops (with flips) of
# ../shared/datasets/photos/train, validating on photos/val, and resumes when its checkpoint
# is there. The run lives outside the work tree (RUN, default ~/nic-runs/context, the run
# since session 19: ~/nic-runs/levels10's export at step 2,534 with a checkerboard context
# added (CONTEXT, default 128 hidden channels, passed as --context-channels; 0 for none);
# ~/nic-runs/levels10 was the run of sessions 17–19: ~/nic-runs/detail256's model at step 754
# with a level added below its bottom one and one above its top one, whose export at step
# 2,228 is models/default since session 18; ~/nic-runs/detail256 was the default of session
# 16 with 64 more detail latents, ~/nic-runs/detail192 that default's own run (64 detail
# latents), ~/nic-runs/photo-n128 the M = 128 default's; ~/nic-runs/photo-m320 was the
# M = 320 probe of session 12, ~/nic-runs/photo-means the N = 96 run, ~/nic-runs/photo the
# scale hyperprior's) so that a checkout can be replaced under it; a run that is lost
# restarts from INIT (default models/default, the same architecture and levels: it goes on
# from that export with a fresh optimizer; a model without a context gets one whose
# corrections start at zero, one with fewer latents is widened, one with fewer levels grown,
# but not two of these at once).
#   usage: scripts/train-photos.sh [MINUTES]   (default 95: a time budget that ends it cleanly)
#   STEPS (default 20000) is the total the learning-rate schedule counts towards: keep it the
#   same across sessions, so the rate stays LR (default 1e-4) until the last 10 %. An annealed
#   fork of a checkpoint: RUN=~/nic-runs/anneal INIT=CHECKPOINT_COPY STEPS=1000 LR=1e-5; or
#   the run itself resumed with LR=1e-5 (Adam's moments kept: the rate is not in the key).
#   LAMBDAS (comma-separated, default the ten below) sets the levels: those of --init as a run
#   inside them, new ones below and above it (the default model has these ten).
#   CHANNELS (default 128, the model's) widens the hidden layers, e.g. CHANNELS=192 with its
#   own RUN. LATENT (default 256) is the number of latents, of which DETAIL (default 128) are
#   detail latents (linear in each 16×16 block of the transforms' residue): more than --init
#   has, and the new ones are fitted to what it leaves out at the start (the default model has
#   256 and 128; RUN=~/nic-runs/detail192 LATENT=192 DETAIL=64 started from the M = 128 model).
#   Pass the same LAMBDAS, CHANNELS, LATENT and DETAIL when such a run resumes. The new
#   latents' rate enters the loss over the first WARMUP steps (default 500; kept in the
#   checkpoint).
#   BALANCE (default 1) passes --balance-levels: each level's loss divided by its running
#   mean, so the low levels count as much as the high ones (since session 18); BALANCE=0 off.
#   EMA (default 0.999) is the decay of the weights' moving average, which the run exports
#   and validates as `val` (the weights themselves as `val-raw`); EMA=none exports the weights.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-95}
run=${RUN:-$HOME/nic-runs/context}
lambdas=${LAMBDAS:-0.00047,0.0009,0.0018,0.0035,0.0067,0.013,0.025,0.0483,0.0932,0.18}
data=${DATA:-../shared/datasets/photos}
cargo build --release -p nic-cli
nic=${CARGO_TARGET_DIR:-target}/release/nic
# A copy, so that rebuilding the work tree does not replace the binary under a running job
# (and moved into place, since another run may be executing the last copy).
mkdir -p "$(dirname "$run")"
cp "$nic" "$(dirname "$run")/nic.new"
mv -f "$(dirname "$run")/nic.new" "$(dirname "$run")/nic"
resume=(--init "${INIT:-models/default}")
flags=(--lambdas "$lambdas")
[ -n "${CHANNELS:-}" ] && flags+=(--channels "$CHANNELS")
flags+=(--latent-channels "${LATENT:-256}" --latent-warmup "${WARMUP:-500}")
flags+=(--detail-channels "${DETAIL:-128}")
[ "${EMA:-0.999}" != none ] && flags+=(--ema "${EMA:-0.999}")
[ "${BALANCE:-1}" != 0 ] && flags+=(--balance-levels)
[ "${CONTEXT:-128}" != 0 ] && flags+=(--context-channels "${CONTEXT:-128}")
[ -f "$run/checkpoint.bin" ] && resume=(--resume)
nice -n 19 "$(dirname "$run")/nic" train --data "$data/train" --val "$data/val" --out "$run" \
  "${resume[@]}" "${flags[@]}" --means --steps "${STEPS:-20000}" --batch 8 --crop 256 --lr "${LR:-1e-4}" --val-every 250 \
  --val-size 20 --checkpoint-minutes 5 --session-minutes "$minutes" --quiet --device "${DEVICE:-cpu}"
echo "evaluate with: nic compare --data ../shared/datasets/kodak --codecs nic,jpeg-turbo-420 --model $run --out runs/compare/photo"
