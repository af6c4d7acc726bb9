// The built-in busybox image: a root filesystem made from the host's static
// busybox (Debian's busybox-static), as docs/notes/lxc-host.md §1 describes.
// The tree is written as host root (uid/gid 0), which is container root in
// the image; the lxc driver shifts it per instance.
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';

export const DEFAULT_BUSYBOX = '/bin/busybox';

export interface BusyboxInfo {
  /** `1.35.0` */
  version: string;
  /** Applet paths relative to /, e.g. `bin/sh`, `usr/bin/wget`. */
  applets: string[];
}

/** Reads the version and applet list of a busybox binary. */
export async function probeBusybox(busybox: string, signal?: AbortSignal): Promise<BusyboxInfo> {
  const [help, list] = await Promise.all([
    runCommand(busybox, ['--help'], {
      timeoutMs: 10_000,
      allowFailure: true,
      ...(signal ? { signal } : {}),
    }),
    runCommand(busybox, ['--list-full'], { timeoutMs: 10_000, ...(signal ? { signal } : {}) }),
  ]);
  const version = /BusyBox v(\d+\.\d+(?:\.\d+)?)/.exec(help.stdout + help.stderr)?.[1];
  if (!version)
    throw new EngineError(
      'DRIVER_UNAVAILABLE',
      `${busybox} does not look like busybox (no version in its --help)`,
    );
  const applets = list.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) => l !== '' && l !== 'linuxrc' && !l.startsWith('/') && !l.split('/').includes('..'),
    );
  if (!applets.includes('sbin/init') || !applets.includes('bin/sh')) {
    throw new EngineError('DRIVER_UNAVAILABLE', `${busybox} lacks the init or sh applet`);
  }
  return { version, applets };
}

const inittab = `::sysinit:/etc/init.d/rcS
::respawn:/sbin/getty -L 115200 console vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
`;

// LXC already sets the hostname (lxc.uts.name); /etc/hostname is rendered
// from the hostname template when the instance is created.
const rcS = `#!/bin/sh
mount -t tmpfs tmpfs /run 2>/dev/null
mkdir -p /run /var/run /var/log 2>/dev/null
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  udhcpc -b -S -i eth0 -s /usr/share/udhcpc/default.script -p /run/udhcpc.eth0.pid >/dev/null 2>&1 &
fi
`;

// busybox's udhcpc does nothing with a lease without a script.
const udhcpcScript = `#!/bin/sh
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

/** `templates/` files of the image and the metadata entries that use them. */
export const busyboxTemplates = {
  files: {
    'hostname.tpl': '{{ container.name }}\n',
    'hosts.tpl': '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n',
  },
  metadata: {
    '/etc/hostname': { when: ['create', 'copy', 'rename'], template: 'hostname.tpl' },
    '/etc/hosts': { when: ['create', 'copy', 'rename'], template: 'hosts.tpl' },
  },
};

/** Writes the busybox root filesystem into the empty directory `root`. */
export async function writeBusyboxRootfs(
  root: string,
  busybox: string,
  info: BusyboxInfo,
): Promise<void> {
  const dirs = [
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
    'var/run',
    'mnt',
    'usr/share/udhcpc',
  ];
  for (const d of dirs) await mkdir(path.join(root, d), { recursive: true, mode: 0o755 });
  await chmod(path.join(root, 'tmp'), 0o1777);
  await chmod(path.join(root, 'root'), 0o700);

  await copyFile(busybox, path.join(root, 'bin/busybox'));
  await chmod(path.join(root, 'bin/busybox'), 0o755);
  // Absolute links, as `busybox --install -s` makes them: resolved inside the container.
  for (const applet of info.applets) {
    if (applet === 'bin/busybox') continue;
    await mkdir(path.join(root, path.dirname(applet)), { recursive: true });
    await symlink('/bin/busybox', path.join(root, applet));
  }

  const files: [string, string, number][] = [
    // `x` in passwd, empty password in shadow: an empty passwd field breaks
    // name lookup in Debian's static busybox (notes §1).
    [
      'etc/passwd',
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
      0o644,
    ],
    ['etc/group', 'root:x:0:\nnogroup:x:65534:\n', 0o644],
    ['etc/shadow', 'root::19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o600],
    ['etc/fstab', '', 0o644],
    ['etc/hostname', 'busybox\n', 0o644],
    ['etc/hosts', '127.0.0.1 localhost\n', 0o644],
    ['etc/resolv.conf', '', 0o644],
    ['etc/inittab', inittab, 0o644],
    ['etc/init.d/rcS', rcS, 0o755],
    ['usr/share/udhcpc/default.script', udhcpcScript, 0o755],
  ];
  for (const [file, content, mode] of files) {
    await writeFile(path.join(root, file), content, { mode });
    await chmod(path.join(root, file), mode); // the umask must not decide
  }
}
