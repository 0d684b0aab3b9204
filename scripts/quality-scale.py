#!/usr/bin/env python3
"""The README's quality scale: for each nic quality of a `nic compare` run, the mean bpp and
PSNR, and the libjpeg-turbo 4:2:0 quality whose mean PSNR on the same images is the same
(linear interpolation between its quality points), with that JPEG's bpp.

    usage: scripts/quality-scale.py OUT   (the --out folder of a `nic compare` run with
                                           --codecs nic,jpeg-turbo-420)
"""
import json
import sys

out = sys.argv[1]
nic = json.load(open(f"{out}/results/nic.json"))["results"]
jpeg = json.load(open(f"{out}/results/jpeg-turbo-420.json"))["results"]
points = sorted(zip(jpeg["psnr-rgb"], jpeg["quality"], jpeg["bpp"]))


def jpeg_at(psnr):
    for (p0, q0, b0), (p1, q1, b1) in zip(points, points[1:]):
        if p0 <= psnr <= p1:
            t = (psnr - p0) / (p1 - p0)
            return q0 + t * (q1 - q0), b0 + t * (b1 - b0)
    return None


print("| nic quality | bpp | PSNR dB | like libjpeg-turbo quality | its bpp |")
print("|---|---|---|---|---|")
for q, b, p in zip(nic["quality"], nic["bpp"], nic["psnr-rgb"]):
    j = jpeg_at(p)
    like = f"{j[0]:.0f} | {j[1]:.3f}" if j else "– | –"
    print(f"| {q:g} | {b:.3f} | {p:.2f} | {like} |")
