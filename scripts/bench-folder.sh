#!/usr/bin/env bash
# Folder encoding against the single-file command run once per picture, in one go on the same
# machine (the speed ratio is what this reports; absolute times move with the machine):
#   usage: scripts/bench-folder.sh DIR [JOBS...]   (default JOBS: 1 2 4)
# Prints the wall time of `nic encode FILE` for every picture one after another, then of
# `nic encode DIR -o OUT --jobs N` for each N, and each one's speed-up over the first.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/bench-folder.sh DIR [JOBS...]}
shift
jobs=(1 2 4)
[ $# -gt 0 ] && jobs=("$@")
cargo build --release -q -p nic-cli
nic=${CARGO_TARGET_DIR:-target}/release/nic
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t files < <(find "$dir" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' \) | sort)
now() { date +%s.%N; }
t0=$(now)
for f in "${files[@]}"; do
  "$nic" encode "$f" -o "$tmp/one-$(basename "$f").nic" --device cpu --quiet
done
single=$(awk "BEGIN {print $(now) - $t0}")
printf '%d pictures of %s\none file at a time: %.1f s\n' "${#files[@]}" "$dir" "$single"
for n in "${jobs[@]}"; do
  rm -rf "$tmp/out"
  t0=$(now)
  "$nic" encode "$dir" -o "$tmp/out" --jobs "$n" --device cpu --quiet
  t=$(awk "BEGIN {print $(now) - $t0}")
  printf 'folder, --jobs %d: %.1f s, %.2fx\n' "$n" "$t" "$(awk "BEGIN {print $single / $t}")"
done
