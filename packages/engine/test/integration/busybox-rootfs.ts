// A minimal busybox root filesystem for real-container tests, built the way
// docs/notes/lxc-host.md §1 describes (≈ 50 ms): the host's static busybox,
// one absolute symlink per applet, an inittab whose getty logs root in
// without a password, and a udhcpc script so a bridged NIC gets an address.
// Owned by host root (unshifted): the driver shifts it to the container's map.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

export const HOST_BUSYBOX = '/bin/busybox';

const INITTAB = `::sysinit:/etc/init.d/rcS
::respawn:/sbin/getty -L 115200 console vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
`;

const RCS = `#!/bin/sh
mount -t tmpfs tmpfs /run 2>/dev/null
hostname -F /etc/hostname 2>/dev/null
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  udhcpc -b -S -i eth0 -s /usr/share/udhcpc/default.script -p /run/udhcpc.eth0.pid >/dev/null 2>&1 &
fi
`;

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  renew|bound)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" \${broadcast:+broadcast $broadcast} dev "$interface"
    [ -n "\${router:-}" ] && ip route replace default via "\${router%% *}" dev "$interface"
    : > /etc/resolv.conf
    for i in \${dns:-}; do echo "nameserver $i" >> /etc/resolv.conf; done ;;
esac
exit 0
`;

let applets: string[] | undefined;

/** `busybox --list-full` once per test process (bin/sh, sbin/init, usr/bin/env, ...). */
function appletPaths(): string[] {
  applets ??= execFileSync(HOST_BUSYBOX, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'linuxrc' && !line.includes('..'));
  return applets;
}

/** Builds a busybox rootfs at `rootfs` (created; must not exist or be empty). */
export function buildBusyboxRootfs(rootfs: string, hostname = 'berth-test'): void {
  const at = (p: string) => path.join(rootfs, p);
  for (const dir of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc/init.d',
    'root',
    'home',
    'proc',
    'sys',
    'dev',
    'tmp',
    'run',
    'var/log',
    'mnt',
    'usr/share/udhcpc',
  ]) {
    mkdirSync(at(dir), { recursive: true });
  }
  chmodSync(rootfs, 0o755);
  chmodSync(at('tmp'), 0o1777);
  chmodSync(at('root'), 0o700);
  copyFileSync(HOST_BUSYBOX, at('bin/busybox'));
  chmodSync(at('bin/busybox'), 0o755);
  for (const applet of appletPaths()) {
    if (applet === 'bin/busybox' || existsSync(at(applet))) continue;
    mkdirSync(path.dirname(at(applet)), { recursive: true });
    symlinkSync('/bin/busybox', at(applet));
  }
  // Keep `x` in passwd (an empty field breaks busybox's name lookup); the empty password is in shadow.
  writeFileSync(
    at('etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeFileSync(at('etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(at('etc/shadow'), 'root::19000:0:99999:7:::\n', { mode: 0o600 });
  writeFileSync(at('etc/fstab'), '');
  writeFileSync(at('etc/hosts'), '127.0.0.1 localhost\n');
  writeFileSync(at('etc/hostname'), `${hostname}\n`);
  writeFileSync(at('etc/inittab'), INITTAB);
  writeFileSync(at('etc/init.d/rcS'), RCS, { mode: 0o755 });
  writeFileSync(at('usr/share/udhcpc/default.script'), UDHCPC_SCRIPT, { mode: 0o755 });
}
