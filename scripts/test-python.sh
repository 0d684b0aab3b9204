#!/usr/bin/env bash
# Builds the Python module (python/, PyO3 + maturin, abi3 for CPython ≥ 3.11) into a venv and
# runs its tests against the CLI of the main workspace (which `cargo test --workspace
# --release` has built), and scripts/ray_encode.py on a local Ray instance. The venv (VENV,
# default ~/.cache/nic-python-venv) gets maturin, numpy, pytest and Ray from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-$HOME/.cache/nic-python-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade "maturin>=1.5,<2" numpy pytest "ray>=2.40,<3"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/nic-target}"
cargo build --release -q -p nic-cli
# `maturin develop` builds the extension in release mode and installs it into the venv.
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release -q)
"$venv/bin/python" -m pytest -q python/tests
