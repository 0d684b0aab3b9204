"""scripts/ray_encode.py on a local Ray instance: the same files as `nic encode DIR -o OUTDIR`,
a failure reported while the rest are encoded, symbolic links not followed, and a second run
that skips what is done."""

import os
import pathlib
import shutil
import subprocess
import sys

from test_nic import KODIM, MODEL, NIC, ROOT

SCRIPT = ROOT / "scripts" / "ray_encode.py"
SAMPLES = KODIM.parent


def ray_encode(src, dst, *args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(src), str(dst), "--model", MODEL, "-q", "2",
         "--workers", "2", "--cpus-per-worker", "1", "--shard", "1", *args],
        capture_output=True, text=True, timeout=600,
    )


def test_a_collection_on_local_ray_is_the_clis(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(SAMPLES / "kodim01.png", src / "kodim01.png")
    shutil.copy(SAMPLES / "kodim07.png", src / "sub" / "kodim07.png")
    (src / "broken.png").write_bytes(b"\x89PNG not a picture")
    (src / "notes.txt").write_text("not a picture")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SAMPLES / "kodim23.png", outside / "kodim23.png")
    os.symlink(outside, src / "link")
    os.symlink(outside / "kodim23.png", src / "kodim23.png")

    run = ray_encode(src, tmp_path / "ray")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "broken.png" in run.stderr and "1 file(s) failed" in run.stderr
    assert "encoded 2 file(s)" in run.stdout

    subprocess.run([NIC, "encode", str(src), "-o", str(tmp_path / "cli"), "--model", MODEL,
                    "-q", "2", "--device", "cpu", "--quiet"], capture_output=True)
    written = lambda d: sorted(p.relative_to(d) for p in d.rglob("*") if p.is_file())
    assert written(tmp_path / "ray") == [pathlib.Path("kodim01.nic"), pathlib.Path("sub/kodim07.nic")]
    assert written(tmp_path / "ray") == written(tmp_path / "cli")
    for rel in written(tmp_path / "cli"):
        assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "cli" / rel).read_bytes()

    (src / "broken.png").unlink()
    again = ray_encode(src, tmp_path / "ray")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 file(s) already encoded" in again.stdout and "nothing to encode" in again.stdout
