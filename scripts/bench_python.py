#!/usr/bin/env python3
"""The Python module against the CLI on one picture, in one run on the same machine: the time
of the encode and of the decode themselves (the model loaded, the picture in memory), median
of ROUNDS interleaved rounds. The CLI's figure is the time it prints (measured around the same
library call); Python's is around `Codec.encode(array)` / `Codec.decode(bytes)`, so the
difference is what the module adds (argument conversion, copies, the GIL).

    python scripts/bench_python.py [PICTURE] [ROUNDS]   (default kodim01 of the samples, 7)

Needs the module installed (scripts/test-python.sh does it) and the CLI built.
"""

import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

import nic

ROOT = pathlib.Path(__file__).resolve().parents[1]
NIC = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "nic"
MODEL = str(ROOT / "models" / "default")


def cli_seconds(*args):
    """The seconds the CLI prints for its encode or decode."""
    err = subprocess.run([str(NIC), *args, "--model", MODEL, "--device", "cpu", "-f"],
                         check=True, capture_output=True, text=True).stderr
    return float(re.search(r", ([0-9.]+) s$", err.strip()).group(1))


def main():
    picture = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "datasets/samples/kodak/kodim01.png")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    codec = nic.Codec(model=MODEL, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        nic_file, png = os.path.join(tmp, "p.nic"), os.path.join(tmp, "p.png")
        codec.encode_file(picture, nic_file)
        data = pathlib.Path(nic_file).read_bytes()
        # Pixels of the picture's size to encode (its decoded copy: the time does not depend
        # on the content, and the module needs no picture library).
        pixels = codec.decode(data)
        times = {k: [] for k in ("cli encode", "python encode", "cli decode", "python decode")}
        codec.encode(pixels)  # warm-up
        for _ in range(rounds):
            times["cli encode"].append(cli_seconds("encode", picture, "-o", nic_file))
            t = time.perf_counter()
            codec.encode(pixels)
            times["python encode"].append(time.perf_counter() - t)
            times["cli decode"].append(cli_seconds("decode", nic_file, "-o", png))
            t = time.perf_counter()
            codec.decode(data)
            times["python decode"].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{picture}, median of {rounds} rounds (2 threads unless RAYON_NUM_THREADS says)")
    for what in ("encode", "decode"):
        c, p = med[f"cli {what}"], med[f"python {what}"]
        print(f"{what}: CLI {c:.3f} s, Python {p:.3f} s, Python/CLI {p / c:.3f}")


if __name__ == "__main__":
    main()
