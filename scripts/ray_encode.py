#!/usr/bin/env python3
"""Encodes a collection of pictures to `.nic` files on a Ray cluster: `nic encode DIR -o OUTDIR`
spread over many machines.

    python scripts/ray_encode.py INPUT OUTPUT [--quality Q] [--model DIR] [--address auto]

The driver walks INPUT (recursively, symbolic links not followed, as the CLI does), leaves out
the files whose output exists (so a stopped run resumes; `--force` re-encodes them), and cuts
the rest into shards of `--shard` files. Each Ray actor holds one `nic.Codec` (the model is
loaded once per actor, not once per file) on `--cpus-per-worker` CPUs, and encodes its shards
from INPUT to the same relative path under OUTPUT with the extension `.nic`. The files are
byte for byte those of `nic encode` with the same model and quality; each is written
atomically, so an interrupted run leaves no partial file.

The workers read INPUT and write OUTPUT themselves: on a cluster both must be paths that every
node sees (a shared file system such as NFS, or a mounted bucket), and every node needs the
Python module (`pip install ./python`) and the model folder at the same path, or the built-in
default model. Without `--address` a local Ray instance is started on this machine.

Prints one line per shard and a summary; exits with status 1 if any file failed (each failure
is printed with its reason; the other files are still encoded).
"""

import argparse
import os
import sys
import time

import ray
from ray.util import ActorPool

import nic


def plan(src, dst, force):
    """The relative paths of the pictures under `src` still to encode, sorted, and how many
    were skipped because their output exists."""
    src, dst = os.path.abspath(src), os.path.abspath(dst)
    todo, skipped = [], 0
    for folder, dirs, files in os.walk(src):
        # Symbolic links to folders are listed in `dirs` but not entered (followlinks=False);
        # the output folder is left out if it lies inside the input.
        dirs[:] = sorted(d for d in dirs if os.path.join(folder, d) != dst)
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path) or not nic.is_image_name(name):
                continue
            rel = os.path.relpath(path, src)
            if not force and os.path.exists(output_path(dst, rel)):
                skipped += 1
            else:
                todo.append(rel)
    return sorted(todo), skipped


def output_path(dst, rel):
    return os.path.join(dst, os.path.splitext(rel)[0] + ".nic")


@ray.remote
class Encoder:
    """One worker: a codec loaded once, and the shards given to it."""

    def __init__(self, model, device, quality, effort):
        self.codec = nic.Codec(model=model, device=device, quality=quality, effort=effort)

    def encode(self, src, dst, rels, target_bpp, target_psnr):
        """(relative path, bytes in, bytes out, error or None) for each file of a shard."""
        done = []
        for rel in rels:
            source, target = os.path.join(src, rel), output_path(dst, rel)
            try:
                size_in = os.path.getsize(source)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                self.codec.encode_file(
                    source, target, target_bpp=target_bpp, target_psnr=target_psnr
                )
                done.append((rel, size_in, os.path.getsize(target), None))
            except (nic.NicError, OSError) as e:
                done.append((rel, 0, 0, f"{type(e).__name__}: {e}"))
        return done


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="folder of pictures (searched recursively)")
    p.add_argument("output", help="folder for the .nic files (the input's tree mirrored)")
    p.add_argument("--model", help="model folder (default: the built-in default model)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("-q", "--quality", type=float, help="quality (default: the model's)")
    rate.add_argument("--target-bpp", type=float, help="highest quality within this size")
    rate.add_argument("--target-psnr", type=float, help="lowest quality reaching this PSNR")
    p.add_argument("--effort", type=int, default=0, help="encoder effort, 0 to 3 (default 0)")
    p.add_argument("--device", default="cpu", help='"cpu", "gpu", "gpu:N" or "auto"')
    p.add_argument("--address", help='a Ray cluster ("auto": the one this node belongs to)')
    p.add_argument("--workers", type=int, help="actors (default: the cluster's CPUs / --cpus-per-worker)")
    p.add_argument("--cpus-per-worker", type=int, default=2,
                   help="CPUs each actor reserves and its codec computes with (default 2)")
    p.add_argument("--shard", type=int, default=8, help="files per task (default 8)")
    p.add_argument("--force", action="store_true", help="re-encode files whose output exists")
    a = p.parse_args()
    if a.cpus_per_worker < 1 or a.shard < 1 or (a.workers is not None and a.workers < 1):
        p.error("--workers, --cpus-per-worker and --shard must be at least 1")
    if not os.path.isdir(a.input):
        p.error(f"{a.input} is not a folder")
    if os.path.exists(a.output) and not os.path.isdir(a.output):
        p.error(f"{a.output} exists and is not a folder")
    src, dst = os.path.abspath(a.input), os.path.abspath(a.output)
    model = None if a.model is None else os.path.abspath(a.model)

    # The options checked here, once, rather than failing in every worker.
    try:
        nic.Codec(model=model, device="cpu", quality=a.quality, effort=a.effort)
    except nic.NicError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    todo, skipped = plan(src, dst, a.force)
    if skipped:
        print(f"{skipped} file(s) already encoded, skipped (--force re-encodes them)")
    if not todo:
        print("nothing to encode")
        return 0

    ray.init(address=a.address, log_to_driver=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    shards = [todo[i : i + a.shard] for i in range(0, len(todo), a.shard)]
    workers = min(a.workers or max(1, cpus // a.cpus_per_worker), len(shards))
    # The codec's CPU workers (a rayon pool) default to all of a node's cores: the actor is
    # limited to the CPUs it reserved, so that actors on one node do not oversubscribe it.
    env = {"env_vars": {"RAYON_NUM_THREADS": str(a.cpus_per_worker)}}
    actors = [
        Encoder.options(num_cpus=a.cpus_per_worker, runtime_env=env).remote(
            model, a.device, a.quality, a.effort
        )
        for _ in range(workers)
    ]
    print(f"{len(todo)} file(s) in {len(shards)} shard(s) on {workers} worker(s) "
          f"of {a.cpus_per_worker} CPU(s) ({cpus} CPU(s) in the cluster)")

    start, files, size_in, size_out, failed = time.monotonic(), 0, 0, 0, []
    pool = ActorPool(actors)
    work = lambda actor, rels: actor.encode.remote(src, dst, rels, a.target_bpp, a.target_psnr)
    for done in pool.map_unordered(work, shards):
        for rel, n_in, n_out, error in done:
            files += 1
            if error is None:
                size_in, size_out = size_in + n_in, size_out + n_out
            else:
                failed.append(rel)
                print(f"error: {rel}: {error}", file=sys.stderr)
        elapsed = time.monotonic() - start
        eta = elapsed / files * (len(todo) - files)
        print(f"{files}/{len(todo)} files, {elapsed:.0f} s, about {eta:.0f} s left", flush=True)

    ratio = f", {size_in / size_out:.1f}:1" if size_out else ""
    print(f"encoded {files - len(failed)} file(s): {size_in} → {size_out} bytes{ratio}, "
          f"{time.monotonic() - start:.1f} s")
    if failed:
        print(f"{len(failed)} file(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
