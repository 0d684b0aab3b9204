#!/usr/bin/env bash
# Checks that two nic binaries write byte-identical .nic files and decode them to identical
# pictures: every picture of DIR (default the 24 Kodak images) at qualities 1, 4.5 and 8 with
# the default model. For refactors and speed work that must not change the codec's output.
#   usage: scripts/same-files.sh OLD_NIC NEW_NIC [DIR] [MODEL]
set -euo pipefail
old=$1 new=$2
dir=${3:-../shared/datasets/kodak}
model=${4:-models/default}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
same=0 differ=0 decoded_same=0 decoded_differ=0
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
    "$old" decode "$work/new-$name" -o "$work/old.png" --model "$model" --device cpu --quiet --force
    "$new" decode "$work/new-$name" -o "$work/new.png" --model "$model" --device cpu --quiet --force
    if cmp -s "$work/old.png" "$work/new.png"; then
      decoded_same=$((decoded_same + 1))
    else
      decoded_differ=$((decoded_differ + 1))
      echo "decodes differently: $name"
    fi
  done
done
echo "files: $same identical, $differ different; decoded: $decoded_same identical, $decoded_differ different"
[ "$differ" -eq 0 ] && [ "$decoded_differ" -eq 0 ]
