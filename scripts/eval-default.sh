#!/usr/bin/env bash
# The figures of models/default/README.md: every quality on the 24 Kodak images and on 1000
# CIFAR-10 test images (evenly spread over the 10,000), and the encode/decode time of kodim01.
#   usage: scripts/eval-default.sh [KODAK_DIR] [CIFAR_TEST_DIR]
set -euo pipefail
kodak=${1:-../shared/datasets/kodak}
cifar=${2:-../shared/datasets/cifar10/test}
cargo build --release -p nic-cli
nic=${CARGO_TARGET_DIR:-target}/release/nic
mkdir -p runs/eval
"$nic" eval --data "$kodak" --json runs/eval/kodak.json --quiet
"$nic" eval --data "$cifar" --limit 1000 --json runs/eval/cifar10-test.json --quiet
for q in 1 2 3 4; do
  "$nic" encode "$kodak/kodim01.png" -o runs/eval/kodim01-q$q.nic --quality "$q" --force
  "$nic" decode runs/eval/kodim01-q$q.nic -o runs/eval/kodim01-q$q.png --force
done
