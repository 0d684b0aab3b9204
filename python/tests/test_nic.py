"""The Python module against the CLI: the same bytes both ways, errors as exceptions of the
CLI's kinds, and one Codec shared by threads."""

import concurrent.futures
import os
import pathlib
import subprocess

import numpy as np
import pytest

import nic

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = str(ROOT / "models" / "default")
KODIM = ROOT / "datasets" / "samples" / "kodak" / "kodim23.png"
# The CLI built by the main workspace (`cargo test --workspace --release` builds it).
NIC = os.environ.get(
    "NIC_BIN",
    str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "nic"),
)


@pytest.fixture(scope="module")
def codec():
    return nic.Codec(model=MODEL, device="cpu")


def picture(h=40, w=56):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4, y * 6, (x ^ y) * 3], axis=-1).astype(np.uint8)


def cli(*args):
    return subprocess.run([NIC, *args, "--model", MODEL, "--device", "cpu", "--quiet"],
                          check=True, capture_output=True)


def test_round_trip_of_an_array(codec):
    data = codec.encode(picture(), quality=3.5)
    assert isinstance(data, bytes)
    back = codec.decode(data)
    assert back.shape == (40, 56, 3) and back.dtype == np.uint8
    mse = np.mean((back.astype(float) - picture().astype(float)) ** 2)
    assert mse < 200
    meta = nic.info(data)
    assert (meta["width"], meta["height"], meta["quality"]) == (56, 40, 3.5)
    assert meta["crc_ok"] and not meta["grayscale"]


def test_the_same_bytes_as_the_cli_both_ways(codec, tmp_path):
    from_cli = tmp_path / "cli.nic"
    cli("encode", str(KODIM), "-o", str(from_cli), "-q", "2")
    from_py = tmp_path / "py.nic"
    codec.encode_file(KODIM, from_py, quality=2)
    assert from_py.read_bytes() == from_cli.read_bytes()
    # Pixels of a PNG through encode() give the same file as well (no metadata in it).
    png = tmp_path / "p.png"
    png.write_bytes(KODIM.read_bytes())
    decoded_cli = tmp_path / "cli.png"
    cli("decode", str(from_cli), "-o", str(decoded_cli))
    decoded_py = tmp_path / "py.png"
    codec.decode_file(from_py, decoded_py)
    assert decoded_py.read_bytes() == decoded_cli.read_bytes()


def test_targets(codec):
    data = codec.encode(picture(64, 64), target_bpp=1.0)
    assert len(data) * 8 <= 64 * 64 * 1.0 or nic.info(data)["quality"] == 1.0


def test_bad_inputs_raise_the_cli_kinds(codec, tmp_path):
    with pytest.raises(nic.InvalidFileError):
        codec.decode(b"not a nic file")
    data = bytearray(codec.encode(picture()))
    data[-6] ^= 0x40
    with pytest.raises(nic.InvalidFileError, match="CRC"):
        codec.decode(bytes(data))
    with pytest.raises(nic.UsageError):
        codec.encode(picture(), quality=99)
    with pytest.raises(nic.UsageError):
        codec.encode(np.zeros((4, 4), np.uint8))
    with pytest.raises(nic.UsageError):
        codec.encode(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(nic.InputError):
        codec.encode_file(tmp_path / "missing.png", tmp_path / "x.nic")
    with pytest.raises(nic.OutputError):
        codec.decode_file(tmp_path / "missing.nic", tmp_path / "x.heic")
    with pytest.raises(nic.ModelError):
        nic.Codec(model=str(tmp_path), device="cpu")
    with pytest.raises(nic.UsageError):
        nic.Codec(model=MODEL, device="tpu")
    small = nic.Codec(model=MODEL, device="cpu", max_pixels=100)
    with pytest.raises(nic.TooLargeError):
        small.decode(codec.encode(picture()))
    assert issubclass(nic.TooLargeError, nic.NicError)


def test_one_codec_from_many_threads(codec):
    pictures = [np.roll(picture(), i, axis=1) for i in range(6)]
    alone = [codec.encode(p) for p in pictures]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(codec.encode, pictures))
    assert together == alone
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        back = list(pool.map(codec.decode, together))
    assert all(b.shape == (40, 56, 3) for b in back)


def test_effort_refines_and_is_checked(codec):
    pic = picture(64, 64)
    plain = codec.encode(pic, quality=3)
    assert codec.encode(pic, quality=3, effort=0) == plain
    refined = codec.encode(pic, quality=3, effort=1)
    assert codec.decode(refined).shape == (64, 64, 3)
    assert nic.info(refined)["quality"] == 3
    with pytest.raises(nic.UsageError):
        codec.encode(pic, effort=9)
    with pytest.raises(nic.UsageError):
        nic.Codec(model=MODEL, device="cpu", effort=4)
