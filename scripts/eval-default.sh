#!/usr/bin/env bash
# The comparison figures of README.md, docs/results.md and models/default/README.md: nic's default model against
# JPEG (two encoders), WebP and the lossless compressors on the 24 Kodak images and on the
# 10,000 CIFAR-10 test images, and the encode/decode time of kodim01.
#   usage: scripts/eval-default.sh [KODAK_DIR] [CIFAR_TEST_DIR]
# Writes runs/compare/{kodak,cifar10-test}/ (report.html, summary.json, results/, plots) and
# the printed tables next to them. Kodak takes about 4 minutes on 2 cores, CIFAR-10 about 20.
set -euo pipefail
kodak=${1:-../shared/datasets/kodak}
cifar=${2:-../shared/datasets/cifar10/test}
cargo build --release -p nic-cli
nic=${CARGO_TARGET_DIR:-target}/release/nic
mkdir -p runs/compare
"$nic" compare --data "$kodak" --out runs/compare/kodak --quiet | tee runs/compare/kodak.txt
"$nic" compare --data "$cifar" --out runs/compare/cifar10-test --crops 6 --quiet \
  | tee runs/compare/cifar10-test.txt
for q in 1 2 3 4 5 6 7 8 9 10; do
  "$nic" encode "$kodak/kodim01.png" -o runs/compare/kodim01-q$q.nic --quality "$q" --force
  "$nic" decode runs/compare/kodim01-q$q.nic -o runs/compare/kodim01-q$q.png --force
done
