// The image store against a real SQLite file and the real filesystem, as root.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, openDatabase, type Database } from '@berth/db';
// The lead exports ImageStore from @berth/db; until then the test reaches it directly.
import { createPrismaClient } from '../../../db/src/client.ts';
import { ImageStore } from '@berth/db';
import { EventBus } from '../../src/events/event-bus.ts';
import { ImageService } from '../../src/images/images.ts';
import { OperationService } from '../../src/operations/operations.ts';
import { Image } from '../../src/schemas/image.ts';
import type { Event, Operation } from '../../src/schemas/index.ts';
import { fileEntry, header } from './tar-blocks.ts';

let dataDir: string;
let db: Database;
let prisma: ReturnType<typeof createPrismaClient>;
let operations: OperationService;
let images: ImageService;
const events: Event[] = [];
const progressStages = new Set<string>();
const timings: Record<string, number> = {};

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-images-test-'));
  const url = `file:${dataDir}/berth.db`;
  await applyMigrations({ url });
  db = await openDatabase({ url, migrate: false });
  for (const name of ['default', 'other', 'third']) await db.projects.create({ name });
  prisma = createPrismaClient(url);
  const bus = new EventBus();
  bus.subscribe({ types: ['lifecycle'] }, (e) => events.push(e));
  bus.subscribe({ types: ['operation'] }, (e) => {
    const stage = (e.metadata as { metadata?: { progress?: { stage?: string } } }).metadata
      ?.progress?.stage;
    if (stage) progressStages.add(stage);
  });
  operations = new OperationService(db, bus);
  images = new ImageService({ dataDir, store: new ImageStore(prisma), events: bus, operations });
});

afterAll(async () => {
  console.log('image timings (ms):', timings);
  await prisma?.$disconnect();
  await db?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function finish(op: Promise<Operation>): Promise<Operation> {
  return operations.wait((await op).id);
}

async function fingerprintOf(op: Promise<Operation>, label?: string): Promise<string> {
  const started = performance.now();
  const done = await finish(op);
  if (label) timings[label] = Math.round(performance.now() - started);
  expect(done.err).toBe('');
  expect(done.status).toBe('Success');
  return (done.metadata as { fingerprint: string }).fingerprint;
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
const lifecycle = (action: string) =>
  events.filter((e) => (e.metadata as { action: string }).action === action);

let fp = '';

describe('busybox image', () => {
  it('builds, imports and names the image', async () => {
    fp = await fingerprintOf(images.buildBusybox('default', { alias: 'busybox' }), 'buildBusybox');
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(await sha256(images.files.tarball(fp))).toBe(fp);
    expect(await images.resolveAlias('default', 'busybox')).toBe(fp);

    const image = await images.get('default', fp.slice(0, 12));
    expect(Image.parse(image)).toEqual(image);
    expect(image).toMatchObject({
      fingerprint: fp,
      filename: 'busybox.tar.gz',
      architecture: 'x86_64',
      type: 'container',
      public: false,
      aliases: [{ name: 'busybox', description: '' }],
      properties: {
        os: 'busybox',
        architecture: 'x86_64',
        description: expect.stringMatching(/^BusyBox v1\.\d+\.\d+$/),
        release: expect.stringMatching(/^1\.\d+$/),
      },
      last_used_at: '0001-01-01T00:00:00Z',
      expires_at: '1970-01-01T00:00:00Z',
    });
    expect(image.size).toBe((await stat(images.files.tarball(fp))).size);
    expect((await images.list('default')).map((i) => i.fingerprint)).toEqual([fp]);
    expect(lifecycle('image-created').at(-1)?.metadata).toMatchObject({
      source: `/1.0/images/${fp}`,
    });
    expect(lifecycle('image-alias-created').at(-1)?.metadata).toMatchObject({
      source: '/1.0/images/aliases/busybox',
      context: { target: fp },
    });

    // The operation reported progress while it ran.
    expect([...progressStages]).toEqual(
      expect.arrayContaining([
        'Building rootfs',
        'Packing image',
        'Reading image',
        'Unpacking image',
        'Storing image',
      ]),
    );
    const ops = await operations.list('default');
    expect(ops.find((o) => o.description === 'Building busybox image')?.metadata).toEqual({
      fingerprint: fp,
      size: image.size,
    });
  });

  it('unpacks a rootfs owned and moded as in the tarball, with symlinks', async () => {
    const rootfs = await images.rootfsPath(fp);
    expect(rootfs).toBe(path.join(dataDir, 'images', `${fp}.rootfs`));
    const busybox = await lstat(path.join(rootfs, 'bin/busybox'));
    expect(busybox.isFile()).toBe(true);
    expect(busybox.mode & 0o7777).toBe(0o755);
    expect(busybox.uid).toBe(0);
    expect(await readlink(path.join(rootfs, 'bin/sh'))).toBe('/bin/busybox');
    expect(await readlink(path.join(rootfs, 'sbin/init'))).toBe('/bin/busybox');
    expect((await lstat(path.join(rootfs, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect((await lstat(path.join(rootfs, 'etc/shadow'))).mode & 0o7777).toBe(0o600);
    expect(await readFile(path.join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    expect(await readFile(path.join(rootfs, 'etc/shadow'), 'utf8')).toMatch(/^root::/);
    expect(await readFile(path.join(rootfs, 'etc/inittab'), 'utf8')).toContain(
      '::sysinit:/etc/init.d/rcS',
    );
    expect((await lstat(path.join(rootfs, 'usr/share/udhcpc/default.script'))).mode & 0o777).toBe(
      0o755,
    );
    expect(existsSync(path.join(rootfs, 'linuxrc'))).toBe(false);
    expect(await readFile(images.files.metadata(fp), 'utf8')).toContain('os: busybox');
    expect(await readFile(path.join(images.files.templates(fp), 'hostname.tpl'), 'utf8')).toContain(
      'container.name',
    );
    expect((await images.metadata(fp)).templates['/etc/hostname']).toMatchObject({
      template: 'hostname.tpl',
    });

    // The busybox binary in the image runs.
    expect(execFileSync(path.join(rootfs, 'bin/busybox'), ['true']).toString()).toBe('');

    // A missing cache is unpacked again from the tarball.
    await rm(rootfs, { recursive: true });
    const started = performance.now();
    expect(await images.rootfsPath(fp)).toBe(rootfs);
    timings['rootfsPath (unpack busybox)'] = Math.round(performance.now() - started);
    expect(await readlink(path.join(rootfs, 'bin/sh'))).toBe('/bin/busybox');
  });

  it('exports, and the export imports elsewhere with the same fingerprint (file and stream)', async () => {
    const exported = await images.exportTarball('default', fp.slice(0, 10));
    expect(exported).toMatchObject({
      fingerprint: fp,
      path: images.files.tarball(fp),
      filename: 'busybox.tar.gz',
    });
    const copy = path.join(dataDir, 'export.tar.gz');
    execFileSync('cp', [exported.path, copy]);

    const again = await fingerprintOf(
      images.importTarball('other', copy, { aliases: [{ name: 'bb', description: 'copy' }] }),
      'importTarball (file, shared files)',
    );
    expect(again).toBe(fp);
    expect(await images.resolveAlias('other', 'bb')).toBe(fp);
    expect((await images.get('other', fp)).aliases).toEqual([{ name: 'bb', description: 'copy' }]);
    expect((await images.list('other')).map((i) => i.fingerprint)).toEqual([fp]);

    // Same image again in the same project: refused.
    const dup = await finish(images.importTarball('other', copy));
    expect(dup).toMatchObject({ status: 'Failure' });
    expect(dup.err).toMatch(/already exists/);

    // A stream, as an HTTP upload gives it.
    expect(
      await fingerprintOf(
        images.importTarball('third', exported.open(), { filename: 'up.tar.gz' }),
        'importTarball (stream)',
      ),
    ).toBe(fp);
    expect((await images.get('third', fp)).filename).toBe('up.tar.gz');
  });

  it('imports xz, and plain tar, with a fresh unpack', async () => {
    const plain = path.join(dataDir, 'image.tar');
    execFileSync('sh', [
      '-c',
      `gzip -dc "$1" > "$2" && xz -k -T1 "$2"`,
      'sh',
      images.files.tarball(fp),
      plain,
    ]);
    const xzFp = await fingerprintOf(
      images.importTarball('third', `${plain}.xz`),
      'importTarball (xz, unpack)',
    );
    expect(xzFp).toBe(await sha256(`${plain}.xz`));
    expect(await readlink(path.join(await images.rootfsPath(xzFp), 'bin/sh'))).toBe('/bin/busybox');
    const plainFp = await fingerprintOf(
      images.importTarball('third', plain),
      'importTarball (plain tar, unpack)',
    );
    expect(plainFp).toBe(await sha256(plain));
    await images.delete('third', xzFp);
    await images.delete('third', plainFp);
    expect(existsSync(images.files.tarball(xzFp))).toBe(false);
  });

  it('manages aliases', async () => {
    await expect(
      images.createAlias('default', { name: 'busybox', target: fp }),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    // "/" is fine inside a name, as in LXD's `debian/12`, but not empty parts or dots.
    for (const bad of ['/b', 'a/', 'a//b', 'a/../b', '']) {
      await expect(
        images.createAlias('default', { name: bad, target: fp }),
        bad,
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
    await images.createAlias('default', { name: 'distro/1.0', target: fp });
    expect(await images.resolveAlias('default', 'distro/1.0')).toBe(fp);
    await images.deleteAlias('default', 'distro/1.0');
    await expect(
      images.createAlias('default', { name: 'x', target: 'ffff' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(
      await images.createAlias('default', {
        name: 'tiny',
        target: fp.slice(0, 8),
        description: 'small',
      }),
    ).toEqual({ name: 'tiny', description: 'small', target: fp, type: 'container' });
    await images.renameAlias('default', 'tiny', 'small');
    expect(lifecycle('image-alias-renamed').at(-1)?.metadata).toMatchObject({
      source: '/1.0/images/aliases/small',
      context: { old_name: 'tiny' },
    });
    expect((await images.listAliases('default')).map((a) => a.name)).toEqual(['busybox', 'small']);
    await images.deleteAlias('default', 'small');
    await expect(images.resolveAlias('default', 'small')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(images.deleteAlias('default', 'small')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(
      lifecycle('image-alias-deleted').map((e) => (e.metadata as { source: string }).source),
    ).toEqual(['/1.0/images/aliases/distro%2F1.0', '/1.0/images/aliases/small']);
  });
});

describe("LXD's test image", () => {
  it('imports a tarball whose metadata.yaml is written in JSON form (valid YAML)', async () => {
    // What lxd/test/deps/import-busybox makes: json.dumps(metadata) as metadata.yaml.
    const dir = await mkdtemp(path.join(dataDir, 'lxd-test-image-'));
    await mkdir(path.join(dir, 'rootfs/bin'), { recursive: true });
    await mkdir(path.join(dir, 'templates'));
    execFileSync('cp', ['/bin/busybox', path.join(dir, 'rootfs/bin/busybox')]);
    execFileSync('ln', ['-s', 'busybox', path.join(dir, 'rootfs/bin/sh')]);
    await writeFile(path.join(dir, 'templates/template.tpl'), 'name: {{ container.name }}\n');
    const metadata = {
      architecture: 'x86_64',
      creation_date: 1700000000,
      properties: {
        name: 'busybox-x86_64',
        architecture: 'x86_64',
        description: 'Busybox x86_64',
        os: 'Busybox',
      },
      templates: {
        '/template': { template: 'template.tpl', when: ['create', 'copy'] },
      },
    };
    await writeFile(path.join(dir, 'metadata.yaml'), JSON.stringify(metadata));
    const tarball = path.join(dir, 'busybox.tar.xz');
    execFileSync('tar', ['-cJf', tarball, '-C', dir, 'metadata.yaml', 'rootfs', 'templates']);

    const json = await fingerprintOf(
      images.importTarball('default', tarball, { aliases: ['testimage'] }),
      'importTarball (JSON-form metadata)',
    );
    expect(json).toBe(await sha256(tarball));
    expect(await images.resolveAlias('default', 'testimage')).toBe(json);
    expect((await images.get('default', json)).properties).toEqual(metadata.properties);
    expect(await images.metadata(json)).toEqual({
      architecture: 'x86_64',
      creationDate: 1700000000,
      expiryDate: 0,
      properties: metadata.properties,
      templates: { '/template': { template: 'template.tpl', when: ['create', 'copy'] } },
    });
    expect(await readlink(path.join(await images.rootfsPath(json), 'bin/sh'))).toBe('busybox');
    // Delete as LXD answers it: an operation, after an unknown fingerprint's 404.
    await expect(images.startDelete('default', 'f'.repeat(64))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const deleting = await images.startDelete('default', json);
    expect(deleting.resources).toEqual({ images: [`/1.0/images/${json}`] });
    expect((await operations.wait(deleting.id)).status).toBe('Success');
    await expect(images.get('default', json)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a metadata.yaml alias bomb with a clear error', async () => {
    const lol = Array(9).fill('"lol"').join(',');
    const names = 'abcdefghi';
    const bomb = [`a: &a [${lol}]`];
    for (let i = 1; i < names.length; i++)
      bomb.push(
        `${names[i]}: &${names[i]} [${Array(9)
          .fill(`*${names[i - 1]}`)
          .join(',')}]`,
      );
    const file = path.join(dataDir, 'bomb.tar.gz');
    await writeFile(
      file,
      gzipSync(
        Buffer.concat([
          fileEntry('metadata.yaml', `architecture: x86_64\n${bomb.join('\n')}\n`),
          header('rootfs/', '5'),
          Buffer.alloc(1024),
        ]),
      ),
    );
    const done = await finish(images.importTarball('default', file));
    expect(done.status).toBe('Failure');
    expect(done.err).toMatch(/metadata.yaml: too many alias expansions/);
  });
});

describe('features.images', () => {
  it("a project without it sees and adds to the default project's images", async () => {
    // The engine hands the service its project store; here it is given the same.
    const scoped = new ImageService({
      dataDir,
      store: new ImageStore(prisma),
      events: new EventBus(),
      operations,
      projects: db.projects,
    });
    await db.projects.create({ name: 'noimages', config: { 'features.images': 'false' } });
    await db.projects.create({ name: 'ownimages', config: { 'features.images': 'true' } });
    expect(await scoped.imageProject('noimages')).toBe('default');
    expect(await scoped.imageProject('ownimages')).toBe('ownimages');
    expect((await scoped.list('noimages')).map((i) => i.fingerprint)).toEqual(
      (await scoped.list('default')).map((i) => i.fingerprint),
    );
    expect(await scoped.list('ownimages')).toEqual([]);
    expect(await scoped.resolveAlias('noimages', 'busybox')).toBe(fp);
    expect((await scoped.get('noimages', fp.slice(0, 12))).fingerprint).toBe(fp);

    // An import into it lands in default; its operation stays in the project asked for.
    const tree = await mkdtemp(path.join(dataDir, 'shared-tree-'));
    await writeFile(path.join(tree, 'hello'), 'hi\n');
    const op = await scoped.importFromDirectory(
      'noimages',
      { rootfsDir: tree, metadata: { properties: { os: 'shared' } } },
      { aliases: ['shared-one'] },
    );
    expect(await operations.projectOf(op.id)).toBe('noimages');
    const done = await operations.wait(op.id);
    expect(done.err).toBe('');
    const made = (done.metadata as { fingerprint: string }).fingerprint;
    expect(await images.resolveAlias('default', 'shared-one')).toBe(made);
    expect((await images.list('noimages')).map((i) => i.fingerprint)).toEqual([]);
    await scoped.delete('noimages', made);
    await rm(tree, { recursive: true, force: true });
    expect((await images.list('default')).map((i) => i.fingerprint)).toEqual([fp]);
  });
});

describe('importFromDirectory', () => {
  it('packs a tree keeping owners, setuid bits and symlinks', async () => {
    const tree = path.join(dataDir, 'tree');
    await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
    await writeFile(path.join(tree, 'usr/bin/su'), '#!/bin/sh\n');
    await chown(path.join(tree, 'usr/bin/su'), 1234, 4321);
    await chmod(path.join(tree, 'usr/bin/su'), 0o4755);
    execFileSync('ln', ['-s', '../usr/bin/su', path.join(tree, 'usr/su-link')]);
    execFileSync('ln', ['-s', '/etc', path.join(tree, 'etc-link')]);
    const made = await fingerprintOf(
      images.importFromDirectory(
        'default',
        { rootfsDir: tree, metadata: { properties: { os: 'custom', description: 'published' } } },
        { aliases: ['custom'] },
      ),
      'importFromDirectory (tiny tree)',
    );
    const rootfs = await images.rootfsPath(made);
    const su = await lstat(path.join(rootfs, 'usr/bin/su'));
    expect(su.mode & 0o7777).toBe(0o4755);
    expect([su.uid, su.gid]).toEqual([1234, 4321]);
    expect(await readlink(path.join(rootfs, 'usr/su-link'))).toBe('../usr/bin/su');
    expect(await readlink(path.join(rootfs, 'etc-link'))).toBe('/etc');
    expect((await images.get('default', made)).properties).toMatchObject({
      os: 'custom',
      description: 'published',
    });
    await images.delete('default', made);
    expect(
      await images.resolveAlias('default', 'custom').catch((e: { code: string }) => e.code),
    ).toBe('NOT_FOUND');
  });
});

// ------------------------------------------------------- hostile tarballs

/** A ustar header block (enough for hostile test archives). */

function archive(...entries: Buffer[]): Buffer {
  return gzipSync(
    Buffer.concat([
      fileEntry('metadata.yaml', 'architecture: x86_64\ncreation_date: 1\n'),
      header('rootfs/', '5'),
      ...entries,
      Buffer.alloc(1024),
    ]),
  );
}

describe('hostile tarballs', () => {
  const victim = path.join(os.tmpdir(), `berth-victim-${process.pid}`);
  const cases: [string, () => Buffer | Promise<Buffer>, RegExp][] = [
    [
      'an absolute path',
      () => archive(fileEntry(victim, 'pwned')),
      /entry ".*berth-victim-\d+": absolute paths are not allowed/,
    ],
    [
      'a ".." component',
      () => archive(fileEntry('../berth-escape', 'pwned')),
      /entry "..\/berth-escape": ".." path components are not allowed/,
    ],
    [
      'rootfs/../..',
      () => archive(fileEntry('rootfs/../../berth-escape', 'pwned')),
      /".." path components/,
    ],
    [
      'a symlink to /etc then a file through it',
      () =>
        archive(
          header('rootfs/etc', '2', { linkname: '/etc' }),
          fileEntry('rootfs/etc/berth-pwned', 'x'),
        ),
      /entry "rootfs\/etc\/berth-pwned": the path passes through the symlink "rootfs\/etc"/,
    ],
    [
      'a top-level symlink',
      () => archive(header('evil', '2', { linkname: '/etc' })),
      /entry "evil": only metadata.yaml, rootfs\/ \(or rootfs.img and boot\/\), and templates\//,
    ],
    [
      'a hard link to /etc/passwd',
      () => archive(header('rootfs/passwd', '1', { linkname: '/etc/passwd' })),
      /entry "rootfs\/passwd": the hard link target "\/etc\/passwd" is an absolute path/,
    ],
    [
      'a hard link to ../../etc/passwd',
      () => archive(header('rootfs/passwd', '1', { linkname: '../../etc/passwd' })),
      /".." path components/,
    ],
    [
      'a symlink climbing out of rootfs',
      () => archive(header('rootfs/up', '2', { linkname: '../../../../etc' })),
      /escapes rootfs/,
    ],
    [
      'metadata.yaml as a symlink to /etc/shadow',
      () =>
        gzipSync(
          Buffer.concat([
            header('rootfs/', '5'),
            header('metadata.yaml', '2', { linkname: '/etc/shadow' }),
            Buffer.alloc(1024),
          ]),
        ),
      /"metadata.yaml": must be a regular file/,
    ],
    [
      'no metadata.yaml',
      () => gzipSync(Buffer.concat([header('rootfs/', '5'), Buffer.alloc(1024)])),
      /has no metadata.yaml/,
    ],
    [
      'a broken metadata.yaml',
      () =>
        gzipSync(
          Buffer.concat([
            fileEntry('metadata.yaml', 'os: x\n'),
            header('rootfs/', '5'),
            Buffer.alloc(1024),
          ]),
        ),
      /metadata.yaml: architecture: is required/,
    ],
    [
      'not a tarball',
      () => Buffer.from('hello world, this is not an image'.repeat(40)),
      /not an image tarball/,
    ],
    [
      'a truncated gzip',
      async () => {
        const whole = await readFile(images.files.tarball(fp));
        return whole.subarray(0, Math.floor(whole.length / 2));
      },
      /Image tarball is corrupt at entry ".+": truncated/,
    ],
    [
      'a truncated xz',
      async () => {
        const plain = execFileSync('gzip', ['-dc', images.files.tarball(fp)], {
          maxBuffer: 1 << 28,
        });
        const xz = execFileSync('xz', ['-c', '-T1'], { input: plain, maxBuffer: 1 << 28 });
        return xz.subarray(0, Math.floor(xz.length / 2));
      },
      /corrupt: xz could not decompress it/,
    ],
  ];

  it.each(cases)('refuses %s and leaves nothing behind', async (_what, make, message) => {
    const before = (await readdir(path.join(dataDir, 'images'))).sort();
    const file = path.join(dataDir, 'hostile.tar.gz');
    await writeFile(file, await make());
    const done = await finish(images.importTarball('default', file, { aliases: ['hostile'] }));
    expect(done.status).toBe('Failure');
    expect(done.err).toMatch(message);
    expect((await readdir(path.join(dataDir, 'images'))).sort()).toEqual(before);
    expect(existsSync(victim)).toBe(false);
    expect(existsSync('/etc/berth-pwned')).toBe(false);
    expect(existsSync(path.join(dataDir, 'berth-escape'))).toBe(false);
    expect(
      await images.resolveAlias('default', 'hostile').catch((e: { code: string }) => e.code),
    ).toBe('NOT_FOUND');
    expect((await images.list('default')).map((i) => i.fingerprint)).toEqual([fp]);
  });
});

describe('delete', () => {
  it('keeps shared files until the last project lets go, then removes files and rows', async () => {
    await images.delete('default', fp);
    await expect(images.get('default', fp)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(images.resolveAlias('default', 'busybox')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(existsSync(images.files.tarball(fp))).toBe(true);
    await images.delete('other', fp);
    expect(existsSync(images.files.tarball(fp))).toBe(true);
    await images.delete('third', fp.slice(0, 6));
    for (const p of [
      images.files.tarball(fp),
      images.files.rootfs(fp),
      images.files.metadata(fp),
      images.files.templates(fp),
    ])
      expect(existsSync(p)).toBe(false);
    expect(await readdir(path.join(dataDir, 'images'))).toEqual([]);
    expect(await prisma.image.count()).toBe(0);
    expect(await prisma.imageAlias.count()).toBe(0);
    expect(await prisma.imageProperty.count()).toBe(0);
    expect(lifecycle('image-deleted').at(-1)?.metadata).toMatchObject({
      source: `/1.0/images/${fp}?project=third`,
    });
    await expect(images.rootfsPath(fp)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
