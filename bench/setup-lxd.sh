#!/bin/sh
# Installs, starts and initialises the real LXD 5.0.2 for the bench, and
# imports a busybox image aliased "bench-busybox". Idempotent: every step
# checks first, so the bench command may call it on each run.
#
# Kept minimal on purpose: a `dir` storage pool (the same kind of storage
# Berth uses) and a bridge with NAT and IPv6 off, so no guest ever tries to
# reach the outside world (see /work/shared/ENVIRONMENT.md).
#
# Usage: bench/setup-lxd.sh            (as root)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ALIAS=bench-busybox
LXD_LOG=/var/log/lxd/lxd.log

log() { printf 'setup-lxd: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }

# 1. Packages (Debian's archive is reachable; nothing else is).
if ! command -v lxd >/dev/null 2>&1 || ! command -v lxc >/dev/null 2>&1; then
  log "installing lxd and lxd-client"
  DEBIAN_FRONTEND=noninteractive apt-get install -y lxd lxd-client >/dev/null
fi
if ! command -v busybox >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static >/dev/null
fi

# 2. The daemon. There is no systemd here, so it is started by hand, in its
#    own session so that it outlives this script and the shell that ran it.
if ! lxd waitready --timeout 1 >/dev/null 2>&1; then
  log "starting lxd (log: $LXD_LOG)"
  mkdir -p "$(dirname "$LXD_LOG")"
  setsid lxd --group root --logfile "$LXD_LOG" </dev/null >/dev/null 2>&1 &
  lxd waitready --timeout 60
fi

# 3. Storage, network and the default profile's devices. The preseed holds
#    only what is missing: re-applying an entity that exists would overwrite
#    whatever an admin changed in it. The subnet is fixed because LXD's
#    `ipv4.address: auto` fails on this host ("Failed to automatically find
#    an unused IPv4 subnet"); override it with BENCH_LXD_SUBNET.
SUBNET=${BENCH_LXD_SUBNET:-10.231.78.1/24}
POOLS= NETWORKS= PROFILE_DEVICES=
if ! lxc storage show default >/dev/null 2>&1; then
  POOLS='
- name: default
  driver: dir'
fi
if ! lxc network show lxdbr0 >/dev/null 2>&1; then
  NETWORKS="
- name: lxdbr0
  type: bridge
  config:
    ipv4.address: $SUBNET
    ipv4.nat: \"false\"
    ipv6.address: none"
fi
if ! lxc profile device list default | grep -q "[^[:space:]]"; then
  PROFILE_DEVICES='
- name: default
  devices:
    root:
      type: disk
      path: /
      pool: default
    eth0:
      type: nic
      name: eth0
      network: lxdbr0'
fi
if [ -n "$POOLS$NETWORKS$PROFILE_DEVICES" ]; then
  log "initialising lxd (dir pool 'default', bridge 'lxdbr0' $SUBNET without NAT, default profile)"
  printf 'config: {}\nstorage_pools:%s\nnetworks:%s\nprofiles:%s\n' \
    "${POOLS:- []}" "${NETWORKS:- []}" "${PROFILE_DEVICES:- []}" | lxd init --preseed
fi

# 4. The busybox image, built from the host's static busybox by the same
#    recipe the raw-LXC subject uses. (The bench imports its own copy into a
#    throwaway project on each run; this one is for trying things by hand.)
if ! lxc image info "$ALIAS" >/dev/null 2>&1; then
  log "building and importing image '$ALIAS'"
  WORK=$(mktemp -d /tmp/bench-lxd-image.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  "$HERE/busybox-image.sh" "$WORK/busybox.tar.gz"
  lxc image import "$WORK/busybox.tar.gz" --alias "$ALIAS" >/dev/null
fi

log "ready: $(lxc image list "$ALIAS" -c f --format csv) as $ALIAS"
