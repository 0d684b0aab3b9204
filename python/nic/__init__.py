"""nic, a learned neural image codec, from Python.

    >>> import nic, numpy as np
    >>> codec = nic.Codec()                      # the default model, on a GPU if there is one
    >>> data = codec.encode(np.zeros((64, 96, 3), np.uint8), quality=3)
    >>> codec.decode(data).shape
    (64, 96, 3)

Files are standard `.nic` files: the CLI decodes what this module encodes and the other way
round, byte for byte the same. One `Codec` may be used from several threads; the GIL is
released while the networks and the coder run. Errors are `nic.NicError` subclasses that
mirror the CLI's exit statuses.
"""

import numpy as _np

from . import _nic
from ._nic import (
    MAX_PIXELS,
    DeviceError,
    InputError,
    InvalidFileError,
    ModelError,
    NicError,
    OutputError,
    TooLargeError,
    UsageError,
    info,
    is_image_name,
)

__all__ = [
    "Codec",
    "info",
    "is_image_name",
    "MAX_PIXELS",
    "NicError",
    "UsageError",
    "InputError",
    "InvalidFileError",
    "ModelError",
    "OutputError",
    "TooLargeError",
    "DeviceError",
]


def _pixels(picture):
    """A C-contiguous (height, width, 3) uint8 array from a numpy array or a PIL image."""
    if hasattr(picture, "convert") and hasattr(picture, "mode"):  # a PIL image
        picture = picture.convert("RGB")
    array = _np.asarray(picture)
    if array.dtype != _np.uint8:
        raise UsageError(f"pixels must be uint8, not {array.dtype}")
    return _np.ascontiguousarray(array)


class Codec:
    """An encoder and decoder for one model folder on one device.

    model: a model folder (the `--out` of `nic train`); default: the built-in default model.
    device: "auto" (a hardware GPU if there is one, else the CPU), "cpu", "gpu", "gpu:N".
    quality: the default quality of `encode` (1 to 10 for the default model; default: the
        level of about 0.5 bpp on photographs, 5 for the default model).
    max_pixels: pictures and files over this many pixels are refused (`TooLargeError`).
    effort: the default encoder effort, 0 to 3 (`nic encode --effort`): above 0 each
        picture's latents are refined, for smaller files and more encoding time.
    """

    def __init__(self, model=None, device="auto", quality=None, max_pixels=MAX_PIXELS,
                 effort=0):
        self._codec = _nic.Codec(
            None if model is None else str(model), device, quality, max_pixels, effort
        )

    def encode(self, picture, quality=None, target_bpp=None, target_psnr=None, effort=None):
        """Encodes an (height, width, 3) uint8 array or a PIL image to `.nic` bytes.

        At most one of quality (a real number in the model's range), target_bpp (the highest
        quality whose file is at most that many bits per pixel) and target_psnr (the lowest
        whose decoded picture reaches that PSNR in dB); effort (0 to 3) overrides the codec's.
        """
        return self._codec.encode(_pixels(picture), quality, target_bpp, target_psnr, effort)

    def decode(self, data):
        """Decodes `.nic` bytes to a uint8 array: (height, width, 3), or (height, width)
        for a grayscale picture."""
        pixels, height, width, channels = self._codec.decode(bytes(data))
        array = _np.frombuffer(pixels, dtype=_np.uint8)
        shape = (height, width) if channels == 1 else (height, width, 3)
        return array.reshape(shape)

    def encode_file(self, src, dst, quality=None, target_bpp=None, target_psnr=None,
                    effort=None):
        """Encodes the picture file `src` to the `.nic` file `dst`, as `nic encode` does
        (EXIF orientation applied; grayscale, EXIF and ICC profile carried)."""
        self._codec.encode_file(str(src), str(dst), quality, target_bpp, target_psnr, effort)

    def decode_file(self, src, dst):
        """Decodes the `.nic` file `src` to the picture `dst`, in the format of its
        extension (png, webp, ppm, bmp, tif, jpg), as `nic decode` does."""
        self._codec.decode_file(str(src), str(dst))
