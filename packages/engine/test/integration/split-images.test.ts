// Split images (LXD's metadata tarball + rootfs file) through the whole
// engine, with a real SQLite file, real files and real LXC: a container's
// squashfs rootfs made by mksquashfs imports with LXD's fingerprint, unpacks
// with its owners and modes, launches, and exports as the same two files; a
// VM's qcow2 made by qemu-img imports as a virtual machine; hostile inputs
// (a metadata tarball holding a rootfs, a squashfs symlink climbing out, a
// qcow2 backed by a host file, truncated rootfs files) are refused by name
// with nothing left in the image directory. No timing assertions.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeBusybox, writeBusyboxRootfs } from '../../src/images/busybox-rootfs.ts';
import { errorOf, removeHostState, startTestEngine, type TestEngine } from './helpers.ts';

const project = 'default';
const tag = randomBytes(3).toString('hex');
let t: TestEngine;
let work = '';
let containerFp = '';

const metadataYaml = [
  'architecture: x86_64',
  'creation_date: 1700000000',
  'properties:',
  '  os: splittest',
  '  release: "1"',
  '  description: split busybox',
  'templates:',
  '  /etc/hostname:',
  '    when: [create, copy, rename]',
  '    template: hostname.tpl',
  '',
].join('\n');

/** A metadata tarball (xz, as distrobuilder makes them) of `files`. */
function metadataTarball(name: string, files: Record<string, string>, flags = '-cJf'): string {
  const dir = path.join(work, `meta-src-${name}`);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  const out = path.join(work, name);
  execFileSync('tar', [flags, out, '-C', dir, ...Object.keys(files)]);
  return out;
}

function squashfs(name: string, tree: string): string {
  const out = path.join(work, name);
  execFileSync('mksquashfs', [tree, out, '-quiet', '-noappend', '-no-progress']);
  return out;
}

const sha256 = (...files: string[]) => {
  const hash = createHash('sha256');
  for (const file of files) hash.update(readFileSync(file));
  return hash.digest('hex');
};

async function importSplit(
  metadata: string,
  rootfs: string,
  options: { alias?: string; type?: 'container' | 'virtual-machine'; project?: string } = {},
) {
  const op = await t.engine.images.importSplit(
    options.project ?? project,
    { metadata, rootfs, ...(options.type ? { type: options.type } : {}) },
    options.alias ? { aliases: [{ name: options.alias }] } : {},
  );
  return t.engine.operations.wait(op.id);
}

const imageDir = () => path.join(t.dataDir, 'images');
const imageFiles = () => readdirSync(imageDir()).sort();

beforeAll(async () => {
  t = await startTestEngine();
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-split-images-'));
}, 60_000);

afterAll(async () => {
  await removeHostState(t.engine);
  await t.cleanup();
  await rm(work, { recursive: true, force: true });
}, 60_000);

describe('a container split image (metadata tarball + squashfs)', () => {
  const alias = `split-${tag}`;
  let metadata = '';
  let rootfs = '';

  beforeAll(async () => {
    const tree = path.join(work, 'tree');
    await writeBusyboxRootfs(tree, '/bin/busybox', await probeBusybox('/bin/busybox'));
    writeFileSync(path.join(tree, 'etc/owned'), 'owned by 1000\n');
    chownSync(path.join(tree, 'etc/owned'), 1000, 1001);
    chmodSync(path.join(tree, 'etc/owned'), 0o640);
    mkdirSync(path.join(tree, 'srv/private'), { recursive: true });
    chownSync(path.join(tree, 'srv/private'), 1234, 1234);
    chmodSync(path.join(tree, 'srv/private'), 0o700);
    writeFileSync(path.join(tree, 'usr/bin/setuid-tool'), '#!/bin/sh\n');
    chmodSync(path.join(tree, 'usr/bin/setuid-tool'), 0o4755);
    symlinkSync('../usr/bin', path.join(tree, 'bin/relative-link'));
    execFileSync('mkfifo', [path.join(tree, 'run/fifo')]);
    metadata = metadataTarball('meta.tar.xz', {
      'metadata.yaml': metadataYaml,
      'templates/hostname.tpl': '{{ container.name }}\n',
    });
    rootfs = squashfs('rootfs.squashfs', tree);
  }, 60_000);

  it('imports with the fingerprint of both files, as a container image', async () => {
    const done = await importSplit(metadata, rootfs, { alias });
    expect(done.err).toBe('');
    expect(done.status).toBe('Success');
    containerFp = (done.metadata as { fingerprint: string }).fingerprint;
    expect(containerFp).toBe(sha256(metadata, rootfs));
    const image = await t.engine.images.get(project, containerFp);
    expect(image).toMatchObject({
      type: 'container',
      architecture: 'x86_64',
      filename: 'rootfs.squashfs',
      size: lstatSync(metadata).size + lstatSync(rootfs).size,
      properties: { os: 'splittest', description: 'split busybox' },
      aliases: [{ name: alias, description: '' }],
    });
    expect(image.created_at).toBe('2023-11-14T22:13:20Z');
  }, 120_000);

  it('unpacks the rootfs with its owners, modes, links and special files', () => {
    const root = path.join(imageDir(), `${containerFp}.rootfs`);
    const owned = lstatSync(path.join(root, 'etc/owned'));
    expect([owned.uid, owned.gid, owned.mode & 0o7777]).toEqual([1000, 1001, 0o640]);
    const privateDir = lstatSync(path.join(root, 'srv/private'));
    expect([privateDir.uid, privateDir.isDirectory(), privateDir.mode & 0o7777]).toEqual([
      1234,
      true,
      0o700,
    ]);
    expect(lstatSync(path.join(root, 'usr/bin/setuid-tool')).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(path.join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(readlinkSync(path.join(root, 'bin/relative-link'))).toBe('../usr/bin');
    expect(readlinkSync(path.join(root, 'bin/sh'))).toBe('/bin/busybox');
    expect(lstatSync(path.join(root, 'run/fifo')).isFIFO()).toBe(true);
    expect(
      readFileSync(path.join(imageDir(), `${containerFp}.templates/hostname.tpl`), 'utf8'),
    ).toBe('{{ container.name }}\n');
  });

  it('launches a container that sees the image’s files, owners and modes', async () => {
    const name = `c${tag}`;
    await t.engine.instances.createAndWait(project, {
      name,
      source: { type: 'image', alias },
      start: true,
    });
    const run = async (command: string[]) => {
      const result = await t.engine.instances.exec(project, name, { command });
      expect(result.exitCode).toBe(0);
      return result.stdout;
    };
    expect(await run(['stat', '-c', '%u:%g %a', '/etc/owned', '/srv/private'])).toBe(
      '1000:1001 640\n1234:1234 700\n',
    );
    expect(await run(['cat', '/etc/owned'])).toBe('owned by 1000\n');
    expect(await run(['ls', '-l', '/usr/bin/setuid-tool'])).toMatch(/^-rwsr-xr-x /);
    const instance = await t.engine.instances.get(project, name);
    expect(instance.config['volatile.base_image']).toBe(containerFp);
    await t.engine.instances.delete(project, name, { force: true });
  }, 120_000);

  it('exports the two files exactly as imported, named as LXD names them', async () => {
    const exported = await t.engine.images.exportTarball(project, containerFp);
    expect(exported.split).not.toBeNull();
    const split = exported.split!;
    expect(split.metadata.filename).toBe(`meta-${containerFp}.tar.xz`);
    expect(split.rootfs).toMatchObject({ filename: `${containerFp}.squashfs`, part: 'rootfs' });
    expect(readFileSync(split.metadata.path).equals(readFileSync(metadata))).toBe(true);
    expect(readFileSync(split.rootfs.path).equals(readFileSync(rootfs))).toBe(true);
    expect(split.metadata.size + split.rootfs.size).toBe(exported.size);
    const streamed: Buffer[] = [];
    for await (const chunk of split.rootfs.open()) streamed.push(chunk as Buffer);
    expect(Buffer.concat(streamed).equals(readFileSync(rootfs))).toBe(true);
  });

  it('imports the exported files again with the same fingerprint, sharing the files', async () => {
    await t.engine.projects.create({ name: `p${tag}`, config: { 'features.images': 'true' } });
    const exported = await t.engine.images.exportTarball(project, containerFp);
    const again = await importSplit(exported.split!.metadata.path, exported.split!.rootfs.path, {
      project: `p${tag}`,
    });
    expect(again.err).toBe('');
    expect((again.metadata as { fingerprint: string }).fingerprint).toBe(containerFp);
    // The same image twice in a project is refused, as LXD does.
    const twice = await importSplit(metadata, rootfs);
    expect(twice.status).toBe('Failure');
    expect(twice.err).toContain(`Image with fingerprint "${containerFp}" already exists`);
    await t.engine.images.delete(`p${tag}`, containerFp);
    expect(existsSync(path.join(imageDir(), `${containerFp}.rootfs-file`))).toBe(true);
  }, 120_000);

  it('unpacks the rootfs again from the stored squashfs when the tree is gone', async () => {
    await rm(path.join(imageDir(), `${containerFp}.rootfs`), { recursive: true, force: true });
    const root = await t.engine.images.rootfsPath(containerFp);
    const owned = lstatSync(path.join(root, 'etc/owned'));
    expect([owned.uid, owned.gid, owned.mode & 0o7777]).toEqual([1000, 1001, 0o640]);
  }, 60_000);
});

describe('a virtual machine split image (metadata tarball + qcow2)', () => {
  it('imports as a virtual machine, told by the rootfs file, and exports as rootfs.img', async () => {
    const disk = path.join(work, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
    execFileSync('qemu-io', ['-c', 'write -P 0xab 0 1M', disk]);
    const metadata = metadataTarball('vm-meta.tar.gz', { 'metadata.yaml': metadataYaml }, '-czf');
    const done = await importSplit(metadata, disk, { alias: `split-vm-${tag}` });
    expect(done.err).toBe('');
    const fp = (done.metadata as { fingerprint: string }).fingerprint;
    expect(fp).toBe(sha256(metadata, disk));
    expect(await t.engine.images.get(project, fp)).toMatchObject({
      type: 'virtual-machine',
      filename: 'disk.qcow2',
    });
    expect((await t.engine.images.getAlias(project, `split-vm-${tag}`)).type).toBe(
      'virtual-machine',
    );
    // Unpacked where a unified VM image's disk goes, as a copy of the stored file.
    const unpacked = path.join(imageDir(), `${fp}.rootfs`, 'rootfs.img');
    expect(readFileSync(unpacked).equals(readFileSync(disk))).toBe(true);
    expect(lstatSync(unpacked).ino).not.toBe(
      lstatSync(path.join(imageDir(), `${fp}.rootfs-file`)).ino,
    );
    const exported = await t.engine.images.exportTarball(project, fp);
    expect(exported.split?.rootfs).toMatchObject({ filename: `${fp}.qcow2`, part: 'rootfs.img' });
    expect(exported.split?.metadata.filename).toBe(`meta-${fp}.tar.gz`);
    expect(readFileSync(exported.split!.rootfs.path).equals(readFileSync(disk))).toBe(true);

    // Deleting the image removes all of its files.
    await t.engine.images.delete(project, fp);
    expect(imageFiles().filter((n) => n.startsWith(fp))).toEqual([]);
  }, 120_000);
});

describe('hostile split images', () => {
  let before: string[] = [];
  let goodMeta = '';
  let goodRootfs = '';

  beforeAll(() => {
    before = imageFiles();
    goodMeta = metadataTarball('good-meta.tar.xz', { 'metadata.yaml': metadataYaml });
    const tree = path.join(work, 'small-tree');
    mkdirSync(path.join(tree, 'etc'), { recursive: true });
    writeFileSync(path.join(tree, 'etc/hostname'), 'small\n');
    goodRootfs = squashfs('small.squashfs', tree);
  });

  async function refused(metadata: string, rootfs: string, type?: 'container' | 'virtual-machine') {
    const done = await importSplit(metadata, rootfs, type ? { type } : {});
    expect(done.status).toBe('Failure');
    // Nothing is kept: no image files, no work directory.
    expect(imageFiles()).toEqual(before);
    return done.err;
  }

  it('refuses a metadata tarball that holds a rootfs', async () => {
    const withRootfs = metadataTarball('meta-rootfs.tar.xz', {
      'metadata.yaml': metadataYaml,
      'rootfs/etc/passwd': 'root:x:0:0::/root:/bin/sh\n',
    });
    expect(await refused(withRootfs, goodRootfs)).toMatch(
      /^Metadata tarball entry "rootfs\/etc\/passwd": only metadata.yaml and templates\/ may be in a metadata tarball/,
    );
    const withDisk = metadataTarball(
      'meta-disk.tar.gz',
      {
        'metadata.yaml': metadataYaml,
        'rootfs.img': 'disk',
      },
      '-czf',
    );
    expect(await refused(withDisk, goodRootfs)).toContain(
      'Metadata tarball entry "rootfs.img": only metadata.yaml and templates/',
    );
    const noYaml = metadataTarball('meta-none.tar.xz', { 'templates/x.tpl': 'x' });
    expect(await refused(noYaml, goodRootfs)).toContain(
      'metadata: the metadata tarball has no metadata.yaml',
    );
  }, 60_000);

  it('refuses a squashfs with a symlink that climbs out of the rootfs', async () => {
    const tree = path.join(work, 'evil-tree');
    mkdirSync(path.join(tree, 'etc'), { recursive: true });
    symlinkSync('../../../../etc/shadow', path.join(tree, 'etc/shadow'));
    const evil = squashfs('evil.squashfs', tree);
    expect(await refused(goodMeta, evil)).toBe(
      'Squashfs rootfs entry "rootfs/etc/shadow": the symlink target "../../../../etc/shadow" escapes rootfs/',
    );
  }, 60_000);

  it('refuses a qcow2 whose backing file names a host file', async () => {
    const backed = path.join(work, 'backed.qcow2');
    execFileSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      '/etc/hostname',
      '-F',
      'raw',
      backed,
    ]);
    expect(await refused(goodMeta, backed)).toContain(
      'rootfs.img: the disk names a backing file ("/etc/hostname"); an image\'s disk must stand alone',
    );
  }, 60_000);

  it('refuses truncated rootfs files', async () => {
    const tree = path.join(work, 'big-tree');
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, 'noise'), randomBytes(3 * 1024 * 1024));
    const big = squashfs('big.squashfs', tree);
    truncateSync(big, 1024 * 1024);
    expect(await refused(goodMeta, big)).toMatch(
      /^rootfs: the squashfs is truncated: it is 1048576 bytes, its superblock says \d+$/,
    );

    const disk = path.join(work, 'truncated.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
    execFileSync('qemu-io', ['-c', 'write -P 0xcd 0 4M', disk]);
    truncateSync(disk, 300_000);
    expect(await refused(goodMeta, disk)).toMatch(
      /^rootfs.img: the qcow2 disk is corrupt or truncated \(qemu-img check found \d+ errors?\)$/,
    );
  }, 60_000);

  it('refuses a rootfs file of the wrong kind for the part it came in', async () => {
    const disk = path.join(work, 'plain.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    expect(await refused(goodMeta, disk, 'container')).toContain(
      "rootfs: a container's rootfs file must be a squashfs",
    );
    expect(await refused(goodMeta, goodRootfs, 'virtual-machine')).toContain(
      "rootfs.img: a virtual machine's rootfs.img must be a qcow2 or raw disk, not a squashfs",
    );
    const notTar = path.join(work, 'not-a-tarball');
    writeFileSync(notTar, 'metadata.yaml: no\n'.repeat(100));
    expect(await refused(notTar, goodRootfs)).toContain('metadata: not a metadata tarball');
  }, 60_000);

  it('leaves the store as it was and its errors name the field', async () => {
    const error = await errorOf(
      t.engine.images
        .importSplit(project, { metadata: path.join(work, 'missing'), rootfs: goodRootfs })
        .then((op) => t.engine.operations.wait(op.id))
        .then((done) => {
          if (done.status === 'Failure') throw new Error(done.err);
          return done;
        }),
    );
    expect(error.message).toContain('metadata: cannot read');
    expect((await t.engine.images.list(project)).map((i) => i.fingerprint)).toEqual([containerFp]);
  });
});
