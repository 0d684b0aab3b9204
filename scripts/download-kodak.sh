#!/usr/bin/env bash
# Downloads the 24 Kodak PhotoCD images (kodim01.png … kodim24.png), the standard benchmark of
# learned image compression, from r0k.us, where they have been hosted for decades.
#   usage: scripts/download-kodak.sh [DEST_DIR]   (default: data/kodak)
set -euo pipefail
dest=${1:-data/kodak}
mkdir -p "$dest"
for i in $(seq -w 1 24); do
  f="$dest/kodim$i.png"
  [ -f "$f" ] || { curl -fL --retry 3 -o "$f.part" "https://r0k.us/graphics/kodak/kodak/kodim$i.png" && mv "$f.part" "$f"; }
done
echo "24 images in $dest; compare with: nic compare --data $dest --out report"
