#!/usr/bin/env bash
# Checks that two nic binaries write byte-identical .nic files: every picture of DIR (default
# the 24 Kodak images) at qualities 1, 4.5 and 8 with the default model. For refactors that
# must not change the codec's output.
#   usage: scripts/same-files.sh OLD_NIC NEW_NIC [DIR] [MODEL]
set -euo pipefail
old=$1 new=$2
dir=${3:-../shared/datasets/kodak}
model=${4:-models/default}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
same=0 differ=0
for img in "$dir"/*.png; do
  for q in 1 4.5 8; do
    name=$(basename "$img" .png)-q$q.nic
    "$old" encode "$img" -o "$work/old-$name" --quality "$q" --model "$model" --device cpu --quiet
    "$new" encode "$img" -o "$work/new-$name" --quality "$q" --model "$model" --device cpu --quiet
    if cmp -s "$work/old-$name" "$work/new-$name"; then
      same=$((same + 1))
    else
      differ=$((differ + 1))
      echo "differs: $name"
    fi
  done
done
echo "$same identical, $differ different"
[ "$differ" -eq 0 ]
