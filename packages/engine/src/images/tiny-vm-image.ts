// The tiny VM image: a Debian kernel (the archive's linux-image-6.1.0-N-amd64,
// fetched with apt-get download into a cache) and a busybox initramfs whose
// init mounts proc/sys/dev, prints a banner and runs a shell on ttyS0. It
// boots directly (-kernel/-initrd) in ~7 s under TCG. The output directory
// holds `boot/vmlinuz`, `boot/initrd.img` and `boot/cmdline`: the layout the
// qemu driver boots from inside a VM's volume (drivers/qemu/qemu-paths.ts).
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';

export const TINY_VM_BANNER = 'Berth tiny VM ready';

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

// The ACPI power button (QMP system_powerdown) reaches busybox acpid through
// evdev; acpid runs /etc/acpi/PWRF/00000080, which powers off.
const rcS = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /var/run /var/log
mount -t devpts devpts /dev/pts
hostname berth-vm
for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
acpid -c /etc/acpi -l /var/log/acpid.log -p /run/acpid.pid
echo "${TINY_VM_BANNER}"
`;

const profile = `export PS1='berth-vm# '
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
`;

/** The kernel modules the initramfs loads, in order (deps first). */
const MODULES = ['kernel/drivers/input/evdev.ko', 'kernel/drivers/acpi/button.ko'];

export interface TinyVmImageOptions {
  /** Keeps downloaded kernel packages between builds. */
  cacheDir: string;
  /** Receives `boot/`. */
  outDir: string;
  busybox?: string;
  signal?: AbortSignal;
}

export interface TinyVmImage {
  kernelPackage: string;
  kernelVersion: string;
  kernel: string;
  initrd: string;
  cmdline: string;
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
  const cached = (await readdir(cacheDir)).find(
    (f) => f.startsWith(`${name}_`) && f.endsWith('.deb'),
  );
  if (cached) return path.join(cacheDir, cached);
  await runCommand('apt-get', ['download', name], { ...opts, cwd: cacheDir });
  const deb = (await readdir(cacheDir)).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  if (!deb)
    throw new EngineError('INTERNAL', `apt-get download ${name} left no .deb in ${cacheDir}`);
  return path.join(cacheDir, deb);
}

/** Builds the image into `outDir/boot` (replacing it). */
export async function buildTinyVmImage(options: TinyVmImageOptions): Promise<TinyVmImage> {
  const busybox = options.busybox ?? '/bin/busybox';
  const opts = { timeoutMs: 120_000, ...(options.signal ? { signal: options.signal } : {}) };
  await mkdir(options.cacheDir, { recursive: true });
  const deb = await kernelPackage(options.cacheDir, options.signal);
  const extracted = `${deb.slice(0, -'.deb'.length)}.x`;
  if (!existsSync(path.join(extracted, 'boot'))) {
    const tmp = `${extracted}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await runCommand('dpkg', ['-x', deb, tmp], opts);
    await rm(extracted, { recursive: true, force: true });
    await rename(tmp, extracted);
  }
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
    'proc',
    'sys',
    'dev',
    'lib/modules',
    'root',
  ])
    dir(d);
  entries.push({ path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 });
  entries.push({ path: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(busybox) });
  for (const applet of applets) {
    if (applet === 'bin/busybox') continue;
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
  for (const [i, module] of MODULES.entries()) {
    const file = path.join(moduleDir, module);
    if (!existsSync(file)) throw new EngineError('INTERNAL', `${module} is missing from ${deb}`);
    // Numbered so rcS loads them in dependency order.
    entries.push({
      path: `lib/modules/${i}-${path.basename(module)}`,
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
  return image;
}
