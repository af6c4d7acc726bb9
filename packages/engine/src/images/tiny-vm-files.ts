// What the tiny VM's operating system is made of, described once: busybox
// and its applet links, inittab, rcS, the profile, os-release, the udhcpc
// hook, the shutdown stand-in, the ACPI power-button handler and qemu-ga with
// its libraries. The same description is written into the initramfs (where
// it is the whole OS, or the rescue OS behind a root disk) and into a root
// disk's filesystem (where it is the OS); the few entries that differ by
// place say so inline.
//
// Boot with a root disk: the initramfs's /init (a script instead of busybox
// init) loads the modules, mounts /dev/vda and, when it holds /sbin/init,
// hands its devtmpfs over and switch_roots into it. The modules stay loaded
// (they are the kernel's, not the initramfs's), so the disk carries none and
// its rcS does the rest of the normal boot. A disk without /sbin/init (blank,
// or the old marker-only disk) leaves the initramfs's own OS running, with the
// disk on /mnt.
import path from 'node:path';
import type { TreeEntry } from './tiny-vm-tree.ts';

export const TINY_VM_BANNER = 'Berth tiny VM ready';
/** `ID` in the image's /etc/os-release (what guest-get-osinfo reports). */
export const TINY_VM_OS_ID = 'berth-tiny';
/** What the initramfs looks for on /dev/vda before it switches root to it. */
export const TINY_VM_ROOT_INIT = 'sbin/init';

const AGENT_PORT = 'org.qemu.guest_agent.0';

/** Where the tree goes: the initramfs (with or without a root disk to switch to) or the root disk. */
export type TreePlace =
  | { place: 'initramfs'; modules: readonly KernelModule[]; switchRoot: boolean }
  | { place: 'root-disk' };

/** A kernel module file, in load order (dependencies first). */
export interface KernelModule {
  name: string;
  data: Buffer;
}

/** The parts of the OS that come from the host and the archive. */
export interface TinyVmSystem {
  /** The static busybox binary. */
  busybox: Buffer;
  /** `busybox --list-full` lines: where its applet links go. */
  applets: readonly string[];
  /** qemu-ga and its libraries (empty: a VM without an agent). */
  agent: readonly TreeEntry[];
}

// busybox init runs the shutdown action before it signals the other
// processes. In the initramfs nothing needs unmounting cleanly; on a root
// disk qemu-ga and acpid hold their logs open for writing, so / could not
// go read-only and would be left for the journal to recover: rcK stops them first.
function inittab(onRootDisk: boolean): string {
  const shutdown = onRootDisk ? '/etc/init.d/rcK' : '/bin/umount -a -r';
  return `::sysinit:/etc/init.d/rcS
ttyS0::respawn:-/bin/sh
tty1::respawn:-/bin/sh
::shutdown:${shutdown}
`;
}

// kill -1 reaches every process but init and this shell.
const rcK = `#!/bin/sh
kill -s TERM -1 2>/dev/null
sleep 1
kill -s KILL -1 2>/dev/null
usleep 200000
sync
umount -a -r
`;

// The ACPI power button (QMP system_powerdown) reaches busybox acpid through
// evdev; acpid runs /etc/acpi/PWRF/00000080, which powers off.
// On the root disk the modules are loaded already (by the initramfs, before
// switch_root), /dev is the initramfs's devtmpfs moved over, / is /dev/vda
// (so nothing goes on /mnt), and /run is a tmpfs so no pid file outlives a boot.
function rcS(onRootDisk: boolean): string {
  const lines = [
    '#!/bin/sh',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    onRootDisk
      ? "grep -q '^devtmpfs /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev"
      : 'mount -t devtmpfs devtmpfs /dev',
    'mkdir -p /dev/pts /run /tmp /var/run /var/log /mnt',
    'mount -t devpts devpts /dev/pts',
    ...(onRootDisk ? ['mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run'] : []),
    'hostname berth-vm',
    ...(onRootDisk ? [] : ['for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done']),
    'acpid -c /etc/acpi -l /var/log/acpid.log -p /run/acpid.pid',
    'ip link set lo up',
    'for n in /sys/class/net/eth*; do',
    '  [ -e "$n" ] && udhcpc -b -i "${n##*/}" -s /usr/share/udhcpc/default.script >/dev/null 2>&1',
    'done',
    ...(onRootDisk ? [] : ['[ -b /dev/vda ] && mount /dev/vda /mnt']),
    `# No udev: name the virtio-serial ports as udev's rules would.
mkdir -p /dev/virtio-ports
for i in 1 2 3 4 5 6 7 8 9 10; do
  for p in /sys/class/virtio-ports/*; do
    [ -e "$p/name" ] && ln -sf "/dev/\${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"
  done
  [ -e /dev/virtio-ports/${AGENT_PORT} ] && break
  sleep 1
done
[ -e /dev/virtio-ports/${AGENT_PORT} ] &&
  qemu-ga -d -m virtio-serial -p /dev/virtio-ports/${AGENT_PORT} -f /run/qemu-ga.pid -l /var/log/qemu-ga.log
echo "${TINY_VM_BANNER}"`,
  ];
  return `${lines.join('\n')}\n`;
}

// The initramfs's /init when a root disk may follow. switch_root must be
// pid 1 (hence exec) and deletes the initramfs's files; it does not carry
// mounts over, so /dev is moved by hand (proc and sys are simply remade).
// virtio_blk registers the disk (sysfs) as it probes; devtmpfs makes the
// node a moment later, hence the short wait. Anything short of a disk with
// /sbin/init boots the initramfs's own OS, as without a root disk.
const switchRootInit = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
i=0
while [ -e /sys/block/vda ] && [ ! -b /dev/vda ] && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
mkdir -p /newroot
if [ -b /dev/vda ] && mount -t ext4 -o rw /dev/vda /newroot 2>/dev/null; then
  if [ -x /newroot/${TINY_VM_ROOT_INIT} ]; then
    echo "berth: switching to the root disk /dev/vda"
    umount /proc /sys
    mount --move /dev /newroot/dev
    exec switch_root -c /dev/console /newroot /${TINY_VM_ROOT_INIT}
  fi
  echo "berth: /dev/vda has no /${TINY_VM_ROOT_INIT}; running from the initramfs"
  umount /newroot
fi
umount /proc /sys /dev
exec /sbin/init
`;

// udhcpc's hook: an address and a default route from the lease, nothing else.
const udhcpcScript = `#!/bin/sh
case "$1" in
  deconfig) ifconfig "$interface" 0.0.0.0 up ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "\${subnet:-255.255.255.0}" up
    [ -n "$router" ] && route add default gw "\${router%% *}" dev "$interface" 2>/dev/null
    ;;
esac
exit 0
`;

// What qemu-ga runs for guest-shutdown: /sbin/shutdown -h -P|-H|-r +0 "message".
// busybox has no `shutdown`.
const shutdownScript = `#!/bin/sh
case " $* " in
  *" -r "*) exec reboot ;;
  *" -H "*) exec halt ;;
  *) exec poweroff ;;
esac
`;

const osRelease = `NAME="Berth tiny VM"
ID=${TINY_VM_OS_ID}
VERSION_ID=1
PRETTY_NAME="Berth tiny VM 1"
`;

const profile = `export PS1='berth-vm# '
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
`;

/** Files the tree has as its own, in place of busybox's applet link of the same path. */
const OWN_FILES = new Set(['sbin/shutdown']);

/** The OS's tree for `where`, parents before children. */
export function tinyVmTree(system: TinyVmSystem, where: TreePlace): TreeEntry[] {
  const initramfs = where.place === 'initramfs' ? where : undefined;
  const entries: TreeEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string, mode = 0o755) => {
    if (p === '.') return;
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, type: 'directory', mode: i === parts.length ? mode : 0o755 });
      }
    }
  };
  const file = (p: string, mode: number, text: string) => {
    dir(path.dirname(p));
    entries.push({ path: p, type: 'file', mode, data: Buffer.from(text) });
  };

  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc/init.d',
    'etc/acpi/PWRF',
    'usr/share/udhcpc',
    'proc',
    'sys',
    'dev',
  ])
    dir(d);
  if (initramfs) dir('lib/modules');
  dir('root');
  // The kernel opens /dev/console before /init runs, so the initramfs needs the node; on the disk
  // /dev is a devtmpfs from the start.
  if (initramfs)
    entries.push({ path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 });
  entries.push({ path: 'bin/busybox', type: 'file', mode: 0o755, data: system.busybox });
  for (const applet of system.applets.map((l) => l.trim())) {
    if (applet === '' || applet === 'linuxrc' || applet.startsWith('/')) continue;
    if (applet.split('/').includes('..')) continue;
    if (applet === 'bin/busybox' || OWN_FILES.has(applet)) continue;
    dir(path.dirname(applet));
    const depth = applet.split('/').length - 1;
    // Relative, so the initramfs's test of the disk's /sbin/init resolves inside the disk.
    entries.push({
      path: applet,
      type: 'symlink',
      mode: 0o777,
      target: `${'../'.repeat(depth)}bin/busybox`,
    });
  }
  if (initramfs?.switchRoot) file('init', 0o755, switchRootInit);
  else if (initramfs)
    entries.push({ path: 'init', type: 'symlink', mode: 0o777, target: 'bin/busybox' });
  file('etc/inittab', 0o644, inittab(!initramfs));
  file('etc/init.d/rcS', 0o755, rcS(!initramfs));
  if (!initramfs) file('etc/init.d/rcK', 0o755, rcK);
  file('etc/profile', 0o644, profile);
  file('etc/acpi/PWRF/00000080', 0o755, '#!/bin/sh\npoweroff\n');
  file('sbin/shutdown', 0o755, shutdownScript);
  file('usr/share/udhcpc/default.script', 0o755, udhcpcScript);
  file('etc/os-release', 0o644, osRelease);
  for (const entry of system.agent) {
    dir(path.dirname(entry.path));
    entries.push(entry);
  }
  if (initramfs) {
    // Numbered (two digits, so the shell's glob sorts them) so they load in dependency order.
    for (const [i, module] of initramfs.modules.entries()) {
      entries.push({
        path: `lib/modules/${String(i).padStart(2, '0')}-${module.name}`,
        type: 'file',
        mode: 0o644,
        data: module.data,
      });
    }
  } else {
    // What a real root filesystem has and rcS would otherwise make at every boot.
    dir('tmp', 0o1777);
    dir('run');
    dir('mnt');
    dir('var/log');
    entries.push({ path: 'var/run', type: 'symlink', mode: 0o777, target: '../run' });
  }
  return entries;
}
