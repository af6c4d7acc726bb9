#!/bin/sh
# Packs the bench's busybox root filesystem (busybox-rootfs.sh) as a unified
# LXD image tarball (metadata.yaml + rootfs/), the file `lxc image import`
# takes. One recipe, so LXD, Berth and raw LXC all boot the same tree.
#
# Usage: bench/busybox-image.sh OUT.tar.gz
set -eu

OUT=${1:?usage: busybox-image.sh OUT.tar.gz}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/bench-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$HERE/busybox-rootfs.sh" "$WORK/rootfs" busybox
VERSION=$(busybox | head -1 | awk '{print $2}')
cat > "$WORK/metadata.yaml" <<META
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  architecture: $(uname -m)
  description: busybox $VERSION (bench)
  os: busybox
  release: "$VERSION"
templates: {}
META
tar --numeric-owner -C "$WORK" -czf "$OUT" metadata.yaml rootfs
