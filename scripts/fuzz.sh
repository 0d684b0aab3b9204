#!/usr/bin/env bash
# Coverage-guided fuzzing of the decoder (libFuzzer through cargo-fuzz, on the stable toolchain:
# `--sanitizer none`; Rust's own checks catch out-of-bounds access and overflow as panics, which
# libFuzzer reports as crashes).
#   usage: scripts/fuzz.sh [RUNS] [TARGET...]     default: 1000000 runs of parse, entropy, decode
#   FUZZ_SECONDS=60 scripts/fuzz.sh               time-boxed instead (what CI runs)
# Targets (fuzz/fuzz_targets/): parse (the .nic container), entropy (the range decoder with the
# bundled tables), decode (the codec behind the container: shape checks, entropy decoding,
# synthesis, with a tiny model). Seeds are in fuzz/seeds/; the growing corpus and any crash
# inputs go to fuzz/corpus/ and fuzz/artifacts/ (not committed). A crash becomes a regression
# test: copy the artifact into the crate's tests and assert the error it must give.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse entropy decode)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_TARGET_DIR="${NIC_FUZZ_TARGET_DIR:-$HOME/.cache/nic-fuzz-target}"
# One network thread per execution: faster for tiny inputs, and leaves the other cores free.
export RAYON_NUM_THREADS=1
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  if [ -n "${FUZZ_SECONDS:-}" ]; then
    limit=(-max_total_time="$FUZZ_SECONDS")
  else
    limit=(-runs="$runs")
  fi
  echo "== $t"
  log=$(mktemp)
  if ! cargo fuzz run --sanitizer none -O "$t" "corpus/$t" "seeds/$t" -- "${limit[@]}" \
      -max_len=4096 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $t found a crash: the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E "^#[0-9]+ +DONE|^Done" "$log"
  rm -f "$log"
done
