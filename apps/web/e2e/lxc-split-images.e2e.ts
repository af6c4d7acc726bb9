// Split images (LXD's metadata tarball + rootfs file) through Debian's real
// `lxc` client (lxd-client 5.0.2) on the real server's unix socket:
// `lxc image import meta.tar.xz rootfs.squashfs` sends them as multipart
// (parts `metadata` and `rootfs`), the image lists, exports as the same two
// files, and launches a real busybox container (LXC); a qcow2 rootfs goes as
// `rootfs.img` and lists as VIRTUAL-MACHINE; a metadata tarball that holds
// a rootfs is refused with the reason shown to the user.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lxcCli, writeLxdTestImage, type LxcCli } from './helpers/lxc-cli.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

const suffix = randomBytes(3).toString('hex');
const C1 = `split-${suffix}`;

let server: RunningServer;
let lxc: LxcCli;
let work: string;
let meta: string;
let squashfs: string;
let fingerprint = '';

const sha256 = (...files: string[]) => {
  const hash = createHash('sha256');
  for (const file of files) hash.update(readFileSync(file));
  return hash.digest('hex');
};

function run(cmd: string, args: string[]): void {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr}`);
}

beforeAll(async () => {
  server = await startServer();
  lxc = await lxcCli(server.dataDir);
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-lxc-split-'));
  // LXD's test image, split as distrobuilder splits one: metadata.yaml and
  // templates/ in an xz tarball, the rootfs as a squashfs.
  const image = path.join(work, 'image');
  await mkdir(image);
  await writeLxdTestImage(image);
  await writeFile(path.join(image, 'rootfs/etc/split-marker'), 'from the squashfs\n');
  meta = path.join(work, 'meta.tar.xz');
  run('tar', ['-cJf', meta, '-C', image, 'metadata.yaml', 'templates']);
  squashfs = path.join(work, 'rootfs.squashfs');
  run('mksquashfs', [path.join(image, 'rootfs'), squashfs, '-quiet', '-noappend', '-no-progress']);
}, 300_000);

afterAll(async () => {
  if (lxc) {
    await lxc.run(['delete', '--force', C1]).catch(() => undefined);
    await lxc.close();
  }
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('split images with the lxc client', () => {
  it('imports a metadata tarball and a squashfs with LXD’s fingerprint, and lists it', async () => {
    const out = await lxc.ok(['image', 'import', meta, squashfs, '--alias', 's1']);
    fingerprint = /fingerprint: ([0-9a-f]{64})/.exec(out)?.[1] ?? '';
    expect(fingerprint, out).toBe(sha256(meta, squashfs));
    expect(await lxc.csv(['image', 'list', '-c', 'lft'])).toEqual([
      ['s1', fingerprint.slice(0, 12), 'CONTAINER'],
    ]);
    const shown = await lxc.ok(['image', 'show', 's1']);
    expect(shown).toMatch(/^ {2}os: Busybox$/m);
    const info = await lxc.ok(['image', 'info', 's1']);
    expect(info).toContain(`Fingerprint: ${fingerprint}\n`);
    expect(info).toMatch(/^Type: container$/m);
  });

  it('exports the image as the same two files, named as LXD names them', async () => {
    const out = path.join(work, 'export');
    await mkdir(out);
    await lxc.ok(['image', 'export', 's1', out]);
    expect(readdirSync(out).sort()).toEqual(
      [`${fingerprint}.squashfs`, `meta-${fingerprint}.tar.xz`].sort(),
    );
    expect(
      readFileSync(path.join(out, `meta-${fingerprint}.tar.xz`)).equals(readFileSync(meta)),
    ).toBe(true);
    expect(
      readFileSync(path.join(out, `${fingerprint}.squashfs`)).equals(readFileSync(squashfs)),
    ).toBe(true);
  });

  it('launches a container from it that runs the squashfs’s busybox', async () => {
    const launch = await lxc.run(['launch', 's1', C1]);
    expect(launch.status, launch.stderr).toBe(0);
    expect(await lxc.csv(['list', C1, '-c', 'ns'])).toEqual([[C1, 'RUNNING']]);
    expect(await lxc.ok(['exec', C1, '--', 'cat', '/etc/split-marker'])).toBe(
      'from the squashfs\n',
    );
    expect(await lxc.ok(['exec', C1, '--', 'sh', '-c', 'echo $((6*7))'])).toBe('42\n');
    await lxc.ok(['delete', '--force', C1]);
  });

  it('imports a metadata tarball and a qcow2 as a virtual machine image', async () => {
    const disk = path.join(work, 'disk.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
    const vmMeta = path.join(work, 'vm-meta.tar.xz');
    const dir = path.join(work, 'vm-meta');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'metadata.yaml'),
      `architecture: ${os.arch() === 'x64' ? 'x86_64' : os.arch()}\ncreation_date: 1700000000\nproperties:\n  os: split-vm\n`,
    );
    run('tar', ['-cJf', vmMeta, '-C', dir, 'metadata.yaml']);
    const out = await lxc.ok(['image', 'import', vmMeta, disk, '--alias', 'svm']);
    const vmFingerprint = /fingerprint: ([0-9a-f]{64})/.exec(out)?.[1] ?? '';
    expect(vmFingerprint, out).toBe(sha256(vmMeta, disk));
    const rows = await lxc.csv(['image', 'list', '-c', 'lt']);
    expect(rows).toContainEqual(['svm', 'VIRTUAL-MACHINE']);
    expect(rows).toContainEqual(['s1', 'CONTAINER']);

    // Its export gives back the disk byte for byte, under LXD's names.
    const exportDir = path.join(work, 'vm-export');
    await mkdir(exportDir);
    await lxc.ok(['image', 'export', 'svm', exportDir]);
    expect(readdirSync(exportDir).sort()).toEqual(
      [`${vmFingerprint}.qcow2`, `meta-${vmFingerprint}.tar.xz`].sort(),
    );
    expect(
      readFileSync(path.join(exportDir, `${vmFingerprint}.qcow2`)).equals(readFileSync(disk)),
    ).toBe(true);
  });

  it('refuses a metadata tarball that holds a rootfs, saying why', async () => {
    const dir = path.join(work, 'evil-meta');
    await mkdir(path.join(dir, 'rootfs/etc'), { recursive: true });
    await writeFile(path.join(dir, 'metadata.yaml'), 'architecture: x86_64\ncreation_date: 1\n');
    await writeFile(path.join(dir, 'rootfs/etc/passwd'), 'root::0:0::/:/bin/sh\n');
    const evil = path.join(work, 'evil-meta.tar.xz');
    run('tar', ['-cJf', evil, '-C', dir, 'metadata.yaml', 'rootfs']);
    const result = await lxc.run(['image', 'import', evil, squashfs, '--alias', 'evil']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'Metadata tarball entry "rootfs/": only metadata.yaml and templates/ may be in a metadata tarball',
    );
    expect((await lxc.csv(['image', 'list', '-c', 'l'])).flat().sort()).toEqual(['s1', 'svm']);
  });
});
