#!/usr/bin/env bash
# Berth set-up on a Debian machine, as root: host packages, Node dependencies,
# database, admin user; then it serves Berth (unless --no-serve).
#
#   ./scripts/setup.sh             install everything and run Berth
#   ./scripts/setup.sh --no-serve  install everything, then stop (used by tests)
set -euo pipefail
cd "$(dirname "$0")/.."

serve=1
for arg in "$@"; do
  case "$arg" in
    --no-serve) serve=0 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

# Installed Berth keeps its state where LXD keeps its own (override with
# BERTH_DATA_DIR). Unprivileged containers must be able to traverse the path.
export BERTH_DATA_DIR="${BERTH_DATA_DIR:-/var/lib/berth}"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (Berth manages containers and VMs, like LXD's daemon)" >&2
  exit 1
fi

# Host packages: only those missing are installed. LXC runs the containers
# (attr's getfattr/setfattr shift file capabilities and ACLs of their rootfs),
# busybox-static makes the default image, debootstrap the Debian one, dnsmasq
# and nftables serve the managed bridge, uidmap provides newuidmap/newgidmap
# for unprivileged ones, socat forwards containers' proxy devices,
# qemu-system-x86 runs virtual machines and qemu-utils's qemu-img makes their
# disks (their kernel and guest agent are fetched from the
# archive when a VM image is built), ovmf is their UEFI firmware, and
# dosfstools, mtools and fdisk build the Debian VM image's EFI partition and
# GPT; squashfs-tools reads split images' squashfs; g++ (gcc) compiles the
# small C helpers (berth-pty for VM guests, berth-mount for disk hot-plug);
# Chromium runs the console's end-to-end tests, and lxd-client's `lxc` (LXD's
# own client) the REST API's; xz-utils, bzip2 and zstd read images compressed
# with them, and sqlite3 lets an operator (and the full-disk test) open the
# database.
host_packages=(ca-certificates python3 make g++ git iproute2 attr lxc busybox-static uidmap dnsmasq-base nftables debootstrap socat qemu-system-x86 qemu-utils ovmf dosfstools mtools fdisk chromium lxd-client squashfs-tools btrfs-progs lvm2 thin-provisioning-tools xz-utils bzip2 zstd sqlite3)
missing=()
for pkg in "${host_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "Installing host packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Unprivileged containers map their ids into a range of root's subordinate
# ids; give root one (as LXD's packaging does) when it has none.
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  if ! grep -q '^root:' "$f"; then
    log "Adding a subordinate id range for root to $f"
    echo "root:1000000:1000000000" >> "$f"
  fi
done

if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup: Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Node dependencies, exactly as locked. Native modules build because their
# install scripts are approved in package.json's allowScripts.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "Installing Node dependencies"
  npm ci --no-audit --no-fund
fi

log "Generating the database client"
npm run --silent generate --workspace @berth/db

log "Preparing the database and the first admin"
npx --no-install tsx packages/engine/src/cli.ts init

if [ "$serve" -eq 1 ]; then
  log "Starting Berth (web console, APIs and engine on one port)"
  exec npm start --workspace @berth/web
fi
