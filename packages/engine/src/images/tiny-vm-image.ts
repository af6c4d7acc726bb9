// The tiny VM image: a Debian kernel (the archive's linux-image-6.1.0-N-amd64,
// fetched with apt-get download into a cache) and a busybox initramfs whose
// init mounts proc/sys/dev, loads the virtio drivers, takes a DHCP lease on
// every ethN, mounts the root disk (/dev/vda) on /mnt when there is one,
// starts the guest agent, prints a banner and runs a shell on ttyS0. It
// boots directly (-kernel/-initrd) in seconds under TCG.
//
// The guest agent is Debian's own qemu-ga (package qemu-guest-agent, fetched
// like the kernel and unpacked with dpkg -x) with the shared libraries `ldd`
// lists for it copied from the host (a Debian 12 host has the ones the
// package was built against). It listens on the virtio-serial port
// org.qemu.guest_agent.0; without udev, rcS makes the /dev/virtio-ports/
// link qemu-ga expects from sysfs. busybox has no `shutdown`, which qemu-ga
// runs for guest-shutdown: a small script stands in.
//
// The output directory holds `boot/vmlinuz`, `boot/initrd.img`,
// `boot/cmdline` and, with `disk`, `rootfs.img` (a qcow2 disk with one ext2
// filesystem): the layout the qemu driver boots from inside a VM's volume
// (drivers/qemu/qemu-paths.ts).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';

export const TINY_VM_BANNER = 'Berth tiny VM ready';
/** What the root disk's filesystem holds at its top, read back by tests. */
export const TINY_VM_DISK_MARKER = 'berth-disk';
/** `ID` in the image's /etc/os-release (what guest-get-osinfo reports). */
export const TINY_VM_OS_ID = 'berth-tiny';

/** One entry of a newc cpio archive (what the kernel unpacks as initramfs). */
export interface CpioEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'char';
  mode: number;
  data?: Buffer;
  target?: string;
  /** For `char`. */
  major?: number;
  minor?: number;
}

const TYPE_BITS = { file: 0o100000, directory: 0o040000, symlink: 0o120000, char: 0o020000 };

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Writes a newc ("070701") cpio archive, ending with the TRAILER!!! entry. */
export function writeCpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (entry: CpioEntry) => {
    const body =
      entry.type === 'symlink'
        ? Buffer.from(entry.target ?? '')
        : entry.type === 'file'
          ? (entry.data ?? Buffer.alloc(0))
          : Buffer.alloc(0);
    const name = Buffer.from(`${entry.path}\0`);
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const header =
      '070701' +
      [
        ino++,
        TYPE_BITS[entry.type] | (entry.mode & 0o7777),
        0, // uid
        0, // gid
        entry.type === 'directory' ? 2 : 1,
        0, // mtime: reproducible
        body.length,
        0,
        0,
        entry.major ?? 0,
        entry.minor ?? 0,
        name.length,
        0,
      ]
        .map(hex)
        .join('');
    parts.push(
      Buffer.from(header, 'ascii'),
      name,
      pad4(110 + name.length),
      body,
      pad4(body.length),
    );
  };
  for (const entry of entries) push(entry);
  push({ path: 'TRAILER!!!', type: 'file', mode: 0 });
  return Buffer.concat(parts);
}

const inittab = `::sysinit:/etc/init.d/rcS
ttyS0::respawn:-/bin/sh
::shutdown:/bin/umount -a -r
`;

const AGENT_PORT = 'org.qemu.guest_agent.0';

// The ACPI power button (QMP system_powerdown) reaches busybox acpid through
// evdev; acpid runs /etc/acpi/PWRF/00000080, which powers off.
const rcS = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /var/run /var/log /mnt
mount -t devpts devpts /dev/pts
hostname berth-vm
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
acpid -c /etc/acpi -l /var/log/acpid.log -p /run/acpid.pid
ip link set lo up
for n in /sys/class/net/eth*; do
  [ -e "$n" ] && udhcpc -b -i "\${n##*/}" -s /usr/share/udhcpc/default.script >/dev/null 2>&1
done
[ -b /dev/vda ] && mount /dev/vda /mnt
# No udev: name the virtio-serial ports as udev's rules would.
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
echo "${TINY_VM_BANNER}"
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

/** The kernel modules the initramfs loads, in order (deps first: Debian builds virtio as modules). */
const MODULES = [
  'kernel/drivers/input/evdev.ko',
  'kernel/drivers/acpi/button.ko',
  'kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
  'kernel/drivers/virtio/virtio_pci.ko',
  'kernel/drivers/char/virtio_console.ko',
  'kernel/drivers/block/virtio_blk.ko',
  'kernel/net/core/failover.ko',
  'kernel/drivers/net/net_failover.ko',
  'kernel/drivers/net/virtio_net.ko',
  'kernel/lib/crc16.ko',
  // ext4 (which mounts ext2 here) asks for crc32c at every mount.
  'kernel/crypto/crc32c_generic.ko',
  'kernel/fs/mbcache.ko',
  'kernel/fs/jbd2/jbd2.ko',
  'kernel/fs/ext4/ext4.ko',
];

export interface TinyVmImageOptions {
  /** Keeps downloaded kernel and agent packages between builds. */
  cacheDir: string;
  /** Receives `boot/` (and `rootfs.img` with `disk`). */
  outDir: string;
  busybox?: string;
  /** Leave qemu-guest-agent out (a VM without an agent). Default: included. */
  agent?: boolean;
  /** Also make `rootfs.img`: a qcow2 disk of this size with an ext2 filesystem holding `/berth-disk`. */
  disk?: { sizeBytes: number };
  signal?: AbortSignal;
}

export interface TinyVmImage {
  kernelPackage: string;
  kernelVersion: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** The qcow2 root disk, with `disk`. */
  disk?: string;
}

/** The libraries in `ldd` output: `name => /path (addr)` and `/path (addr)` lines; vdso has no file. */
export function parseLdd(output: string): string[] {
  const files: string[] = [];
  for (const line of output.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line.trim());
    if (match?.[1] && !files.includes(match[1])) files.push(match[1]);
  }
  return files;
}

/** The newest `linux-image-6.1.0-N-amd64` (not -cloud, -rt) the archive offers. */
export function pickKernelPackage(aptCacheOutput: string): string | undefined {
  const names = aptCacheOutput
    .split('\n')
    .map((line) => line.split(' ')[0]?.trim() ?? '')
    .filter((name) => /^linux-image-6\.1\.0-[0-9]+-amd64$/.test(name));
  names.sort((a, b) => Number(/-(\d+)-amd64$/.exec(b)?.[1]) - Number(/-(\d+)-amd64$/.exec(a)?.[1]));
  return names[0];
}

/** The cached .deb of `name`, downloaded with apt-get download when missing. */
async function cachedDeb(name: string, cacheDir: string, signal?: AbortSignal): Promise<string> {
  const opts = { timeoutMs: 120_000, ...(signal ? { signal } : {}) };
  const find = async () =>
    (await readdir(cacheDir)).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  const cached = await find();
  if (cached) return path.join(cacheDir, cached);
  await runCommand('apt-get', ['download', name], { ...opts, cwd: cacheDir });
  const deb = await find();
  if (!deb)
    throw new EngineError('INTERNAL', `apt-get download ${name} left no .deb in ${cacheDir}`);
  return path.join(cacheDir, deb);
}

/** `<deb>.x/`: the package unpacked with dpkg -x (once; renamed into place whole). */
async function unpackedDeb(deb: string, signal?: AbortSignal): Promise<string> {
  const extracted = `${deb.slice(0, -'.deb'.length)}.x`;
  if (existsSync(path.join(extracted, '.complete'))) return extracted;
  const tmp = `${extracted}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await runCommand('dpkg', ['-x', deb, tmp], { timeoutMs: 120_000, ...(signal ? { signal } : {}) });
  await writeFile(path.join(tmp, '.complete'), '');
  await rm(extracted, { recursive: true, force: true });
  await rename(tmp, extracted);
  return extracted;
}

async function kernelPackage(cacheDir: string, signal?: AbortSignal): Promise<string> {
  const opts = { timeoutMs: 120_000, ...(signal ? { signal } : {}) };
  const search = await runCommand(
    'apt-cache',
    ['search', '--names-only', '^linux-image-6\\.1\\.0-[0-9]+-amd64$'],
    opts,
  );
  const name = pickKernelPackage(search.stdout);
  if (!name) {
    throw new EngineError(
      'NOT_FOUND',
      'No linux-image-6.1.0-*-amd64 package in the apt cache (run apt-get update)',
    );
  }
  return cachedDeb(name, cacheDir, signal);
}

/** qemu-ga and the libraries it loads, as initramfs files (libraries from the host, at the paths ldd names). */
async function agentEntries(cacheDir: string, signal?: AbortSignal): Promise<CpioEntry[]> {
  const deb = await cachedDeb('qemu-guest-agent', cacheDir, signal);
  const agent = path.join(await unpackedDeb(deb, signal), 'usr', 'sbin', 'qemu-ga');
  if (!existsSync(agent)) throw new EngineError('INTERNAL', `No usr/sbin/qemu-ga in ${deb}`);
  const ldd = await runCommand('ldd', [agent], {
    timeoutMs: 30_000,
    ...(signal ? { signal } : {}),
  });
  if (/not found/.test(ldd.stdout)) {
    throw new EngineError(
      'NOT_FOUND',
      `qemu-ga needs libraries this host lacks: ${ldd.stdout
        .split('\n')
        .filter((l) => l.includes('not found'))
        .map((l) => l.trim())
        .join(', ')}`,
    );
  }
  const entries: CpioEntry[] = [
    { path: 'usr/sbin/qemu-ga', type: 'file', mode: 0o755, data: readFileSync(agent) },
  ];
  for (const lib of parseLdd(ldd.stdout)) {
    entries.push({
      path: lib.replace(/^\/+/, ''),
      type: 'file',
      mode: 0o755,
      data: readFileSync(realpathSync(lib)),
    });
  }
  return entries;
}

/** A qcow2 disk of `sizeBytes` with one ext2 filesystem (mke2fs -d: no mount needed) holding the marker file. */
async function buildDisk(out: string, sizeBytes: number, signal?: AbortSignal): Promise<void> {
  const opts = { timeoutMs: 120_000, ...(signal ? { signal } : {}) };
  const work = await mkdtemp(path.join(os.tmpdir(), 'berth-tiny-disk-'));
  try {
    const tree = path.join(work, 'tree');
    await mkdir(tree);
    await writeFile(path.join(tree, TINY_VM_DISK_MARKER), 'the tiny VM root disk\n');
    const raw = path.join(work, 'disk.raw');
    await runCommand(
      'mke2fs',
      [
        '-q',
        '-F',
        '-t',
        'ext2',
        '-L',
        'berth-root',
        '-d',
        tree,
        raw,
        `${Math.floor(sizeBytes / 1024)}k`,
      ],
      opts,
    );
    await runCommand('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, out], opts);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Builds the image into `outDir/boot` (replacing it). */
export async function buildTinyVmImage(options: TinyVmImageOptions): Promise<TinyVmImage> {
  const busybox = options.busybox ?? '/bin/busybox';
  const opts = { timeoutMs: 120_000, ...(options.signal ? { signal: options.signal } : {}) };
  await mkdir(options.cacheDir, { recursive: true });
  const deb = await kernelPackage(options.cacheDir, options.signal);
  const extracted = await unpackedDeb(deb, options.signal);
  const kernelFile = (await readdir(path.join(extracted, 'boot'))).find((f) =>
    f.startsWith('vmlinuz-'),
  );
  if (!kernelFile) throw new EngineError('INTERNAL', `No vmlinuz in ${deb}`);
  const kernelVersion = kernelFile.slice('vmlinuz-'.length);
  const moduleDir = path.join(extracted, 'lib', 'modules', kernelVersion);

  const applets = (await runCommand(busybox, ['--list-full'], opts)).stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) => l !== '' && l !== 'linuxrc' && !l.startsWith('/') && !l.split('/').includes('..'),
    );
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string) => {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, type: 'directory', mode: 0o755 });
      }
    }
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
    'lib/modules',
    'root',
  ])
    dir(d);
  entries.push({ path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 });
  entries.push({ path: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(busybox) });
  const ownFiles = new Set(['sbin/shutdown']);
  for (const applet of applets) {
    if (applet === 'bin/busybox' || ownFiles.has(applet)) continue;
    dir(path.dirname(applet));
    const depth = applet.split('/').length - 1;
    entries.push({
      path: applet,
      type: 'symlink',
      mode: 0o777,
      target: `${'../'.repeat(depth)}bin/busybox`,
    });
  }
  entries.push({ path: 'init', type: 'symlink', mode: 0o777, target: 'bin/busybox' });
  entries.push({ path: 'etc/inittab', type: 'file', mode: 0o644, data: Buffer.from(inittab) });
  entries.push({ path: 'etc/init.d/rcS', type: 'file', mode: 0o755, data: Buffer.from(rcS) });
  entries.push({ path: 'etc/profile', type: 'file', mode: 0o644, data: Buffer.from(profile) });
  entries.push({
    path: 'etc/acpi/PWRF/00000080',
    type: 'file',
    mode: 0o755,
    data: Buffer.from('#!/bin/sh\npoweroff\n'),
  });
  entries.push({
    path: 'sbin/shutdown',
    type: 'file',
    mode: 0o755,
    data: Buffer.from(shutdownScript),
  });
  entries.push({
    path: 'usr/share/udhcpc/default.script',
    type: 'file',
    mode: 0o755,
    data: Buffer.from(udhcpcScript),
  });
  entries.push({ path: 'etc/os-release', type: 'file', mode: 0o644, data: Buffer.from(osRelease) });
  if (options.agent !== false) {
    for (const entry of await agentEntries(options.cacheDir, options.signal)) {
      dir(path.dirname(entry.path));
      entries.push(entry);
    }
  }
  for (const [i, module] of MODULES.entries()) {
    const file = path.join(moduleDir, module);
    if (!existsSync(file)) throw new EngineError('INTERNAL', `${module} is missing from ${deb}`);
    // Numbered (two digits, so the shell's glob sorts them) so rcS loads them in dependency order.
    entries.push({
      path: `lib/modules/${String(i).padStart(2, '0')}-${path.basename(module)}`,
      type: 'file',
      mode: 0o644,
      data: readFileSync(file),
    });
  }

  const boot = path.join(options.outDir, 'boot');
  await rm(boot, { recursive: true, force: true });
  await mkdir(boot, { recursive: true });
  const image: TinyVmImage = {
    kernelPackage: path.basename(deb),
    kernelVersion,
    kernel: path.join(boot, 'vmlinuz'),
    initrd: path.join(boot, 'initrd.img'),
    cmdline: 'console=ttyS0 panic=-1 quiet',
  };
  await copyFile(path.join(extracted, 'boot', kernelFile), image.kernel);
  await writeFile(image.initrd, gzipSync(writeCpioNewc(entries)));
  await writeFile(path.join(boot, 'cmdline'), `${image.cmdline}\n`);
  const disk = path.join(options.outDir, 'rootfs.img');
  await rm(disk, { force: true });
  if (options.disk) {
    await buildDisk(disk, options.disk.sizeBytes, options.signal);
    image.disk = disk;
  }
  return image;
}
