#!/usr/bin/env bash
# Downloads the official CIFAR-10 binary release (162 MB) from the University of Toronto and
# checks its MD5. `nic train --data` reads the .tar.gz directly; no need to extract it.
#   usage: scripts/download-cifar10.sh [DEST_DIR]   (default: data/)
set -euo pipefail
dest=${1:-data}
url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
md5=c32a1d4ab5d03f1284b67883e8d87530
mkdir -p "$dest"
file="$dest/cifar-10-binary.tar.gz"
if [ ! -f "$file" ]; then
  curl -fL --retry 3 -o "$file.part" "$url"
  mv "$file.part" "$file"
fi
echo "$md5  $file" | md5sum -c -
echo "train with: nic train --data $file --out runs/q1 --lambda 0.0035 --quality 1"
