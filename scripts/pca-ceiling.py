#!/usr/bin/env python3
"""The linear ceiling of a transform with M latents per 16×16 pixels.

nic's analysis keeps M values for every 16×16×3 = 768 pixel values. The best *linear* block
transform that keeps M of them is the principal component analysis of 16×16 blocks: fitted on
blocks of the training photographs, it reconstructs the validation photographs with the PSNR
printed for each M. The default model's own unquantized ceiling (`nic probe`) is compared
with it in models/default/README.md.

    usage: scripts/pca-ceiling.py [PHOTOS]   (default ../shared/datasets/photos: its train/
                                              and val/ folders; needs numpy and Pillow)
"""
import glob
import sys

import numpy as np
from PIL import Image

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/photos"
B = 16
PER_TRAIN_IMAGE = 300
MS = [64, 96, 128, 160, 192, 256, 320]


def blocks(path, n=None, rng=None):
    """The picture's whole 16×16 blocks as rows of 768 values in 0..1 (n random ones)."""
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    h, w = a.shape[0] // B * B, a.shape[1] // B * B
    x = a[:h, :w].reshape(h // B, B, w // B, B, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 3 * B * B)
    if n is not None and len(x) > n:
        x = x[rng.choice(len(x), n, replace=False)]
    return x


def files(split):
    return sorted(
        p for e in ("webp", "png", "jpg") for p in glob.glob(f"{root}/{split}/**/*.{e}", recursive=True)
    )


rng = np.random.default_rng(0)
train = np.concatenate([blocks(p, PER_TRAIN_IMAGE, rng) for p in files("train")])
mean = train.mean(0)
_, vectors = np.linalg.eigh(np.cov((train - mean).T))
vectors = vectors[:, ::-1]  # largest variance first
val = files("val")
psnr = {m: [] for m in MS}
for p in val:
    x = blocks(p) - mean
    c = x @ vectors
    for m in MS:
        mse = np.mean((c[:, :m] @ vectors[:, :m].T - x) ** 2)
        psnr[m].append(10 * np.log10(1 / mse))
print(f"PCA of 16x16 blocks: {len(train)} blocks of {len(files('train'))} training pictures; "
      f"PSNR on {len(val)} validation pictures (mean over pictures)")
for m in MS:
    print(f"M = {m:3}: {np.mean(psnr[m]):.2f} dB")
