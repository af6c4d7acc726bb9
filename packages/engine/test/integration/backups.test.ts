// Backups of real containers: export (running, with snapshots), import as
// the same or another instance, publish as an image, and hostile tarballs
// refused with nothing left behind.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupService } from '../../src/backups/backups.ts';
import { BackupFiles } from '../../src/backups/backup-files.ts';
import {
  errorOf,
  removeHostState,
  startTestEngine,
  testBridgeName,
  waitFor,
  type TestEngine,
} from './helpers.ts';
import { fileEntry, header } from './tar-blocks.ts';

const bridge = testBridgeName();
const suffix = randomBytes(3).toString('hex');
const c1 = `bk-${suffix}`;
const copy = `bk-${suffix}-copy`;
const launched = `bk-${suffix}-pub`;
let t: TestEngine;
let backups: BackupService;
let poolDir: string;
const timings: Record<string, number> = {};

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings[what] = Math.round(performance.now() - start);
  }
}

async function waitOk(op: { id: string }) {
  const done = await t.engine.operations.wait(op.id);
  expect(done.err).toBe('');
  expect(done.status).toBe('Success');
  return done;
}

async function exec(name: string, command: string[]) {
  return t.engine.instances.exec('default', name, { command });
}

function tarList(file: string): string[] {
  return execFileSync('tar', ['-t', '-v', '--numeric-owner', '-f', file], {
    maxBuffer: 1 << 26,
  })
    .toString()
    .trim()
    .split('\n');
}

/** Everything a failed import could leave behind. */
async function hostState() {
  const list = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();
  return {
    containers: await list(path.join(poolDir, 'containers')),
    snapshots: await list(path.join(poolDir, 'containers-snapshots')),
    backups: await list(path.join(t.dataDir, 'backups')),
    instances: (await t.engine.instances.list(undefined)).map((i) => i.name).sort(),
    volumes: (await t.engine.storage.listVolumes('default')).map((v) => v.name).sort(),
  };
}

beforeAll(async () => {
  t = await startTestEngine(undefined, { network: bridge });
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  await waitOk(build);
  backups = new BackupService({
    files: new BackupFiles(t.dataDir),
    db: t.engine.db,
    events: t.engine.events,
    operations: t.engine.operations,
    instances: t.engine.instances,
    storage: t.engine.storage,
    images: t.engine.images,
  });
  poolDir = t.engine.storage.defaultSource('default');
}, 60_000);

afterAll(async () => {
  await removeHostState(t.engine, bridge);
  await t.cleanup();
  console.log('backup timings (ms):', JSON.stringify(timings));
}, 60_000);

describe('export and import', () => {
  let tarball: string;

  it('exports a running container with its snapshot, consistently and unshifted', async () => {
    await t.engine.instances.createAndWait('default', {
      name: c1,
      source: { type: 'image', alias: 'busybox' },
      start: true,
    });
    expect(
      await exec(c1, ['sh', '-c', 'echo before > /berth-file && chown 1234:1234 /berth-file']),
    ).toMatchObject({ exitCode: 0 });
    await waitOk(await t.engine.snapshots.create('default', c1, { name: 'snap0' }));
    expect(await exec(c1, ['sh', '-c', 'echo after > /berth-file'])).toMatchObject({
      exitCode: 0,
    });

    const progress: unknown[] = [];
    const sub = t.engine.events.subscribe({ types: ['operation'] }, (e) => {
      const meta = (e.metadata as { metadata?: { progress?: unknown } }).metadata;
      if (meta?.progress) progress.push(meta.progress);
    });
    const done = await timed('export (running, 1 snapshot)', async () =>
      waitOk(await backups.export('default', c1)),
    );
    sub.close();
    expect(done.metadata).toMatchObject({ name: 'backup0' });
    expect(progress.length).toBeGreaterThan(0);
    // Still running (unfrozen after the copy).
    expect((await t.engine.instances.get('default', c1)).status).toBe('Running');

    expect(await backups.list('default', c1)).toEqual([
      expect.objectContaining({
        name: 'backup0',
        instance_only: false,
        optimized_storage: false,
        expires_at: '0001-01-01T00:00:00Z',
      }),
    ]);
    // The full list (LXD's recursion=2) carries them, on their own instance only.
    await t.engine.instances.createAndWait('default', { name: `${c1}-bare` });
    const full = await t.engine.instances.listFull('default');
    expect(full.find((i) => i.name === c1)).toMatchObject({
      snapshots: [expect.objectContaining({ name: 'snap0' })],
      backups: [expect.objectContaining({ name: 'backup0' })],
    });
    expect(full.find((i) => i.name === `${c1}-bare`)).toMatchObject({ snapshots: [], backups: [] });
    await t.engine.instances.delete('default', `${c1}-bare`);
    const file = backups.files.tarball('default', c1, 'backup0');
    expect(existsSync(path.join(t.dataDir, 'backups', `default_${c1}`, 'backup0'))).toBe(true);
    const entries = tarList(file);
    expect(entries[1]).toMatch(/ backup\/index\.yaml$/);
    // Container ids in the tarball (root = 0, the chown'd file = 1234), not host ids.
    expect(entries.find((e) => e.endsWith(' backup/container/rootfs/bin/busybox'))).toMatch(
      / 0\/0 /,
    );
    expect(entries.find((e) => e.endsWith(' backup/container/rootfs/berth-file'))).toMatch(
      / 1234\/1234 /,
    );
    expect(entries.some((e) => e.endsWith(' backup/snapshots/snap0/rootfs/berth-file'))).toBe(true);
    expect(entries.some((e) => / 10000\d\d\//.test(e))).toBe(false);
    const index = execFileSync('tar', ['-x', '-O', '-z', '-f', file, 'backup/index.yaml'])
      .toString()
      .split('\n');
    expect(index).toContain(`name: ${c1}`);
    expect(index).toContain('backend: dir');
    expect(index).toContain('pool: default');

    // Download it (open → stream) before the instance and its backups go.
    tarball = path.join(t.dataDir, 'downloaded.tar.gz');
    await pipeline(await backups.open('default', c1, 'backup0'), createWriteStream(tarball));
    expect((await lstat(tarball)).size).toBe(await backups.size('default', c1, 'backup0'));
  });

  it('renames and deletes backups', async () => {
    expect(await backups.rename('default', c1, 'backup0', 'nightly')).toMatchObject({
      name: 'nightly',
    });
    expect((await errorOf(backups.get('default', c1, 'backup0'))).code).toBe('NOT_FOUND');
    expect((await errorOf(backups.export('default', c1, { name: 'nightly' }))).code).toBe(
      'ALREADY_EXISTS',
    );
    expect((await errorOf(backups.export('default', c1, { name: 'a/b' }))).code).toBe(
      'INVALID_ARGUMENT',
    );
    await backups.delete('default', c1, 'nightly');
    expect(await backups.list('default', c1)).toEqual([]);
    expect(existsSync(path.join(t.dataDir, 'backups', `default_${c1}`))).toBe(false);
  });

  it('imports the backup as the same instance after it was deleted', async () => {
    const hwaddr = (await t.engine.instances.get('default', c1)).config['volatile.eth0.hwaddr'];
    await t.engine.instances.delete('default', c1, { force: true });
    await backups.deleteAll('default', c1);

    const instance = await timed('import (1 snapshot)', () =>
      backups.importAndWait('default', tarball),
    );
    expect(instance).toMatchObject({ name: c1, status: 'Stopped', profiles: ['default'] });
    expect(instance.config['volatile.eth0.hwaddr']).toBe(hwaddr);
    expect((await t.engine.snapshots.list('default', c1)).map((s) => s.name)).toEqual(['snap0']);

    // Shifted back to this host's map on disk.
    const volume = path.join(poolDir, 'containers', `default_${c1}`);
    const onDisk = await lstat(path.join(volume, 'rootfs', 'berth-file'));
    expect(onDisk.uid).toBeGreaterThanOrEqual(1000000);
    expect(onDisk.uid - (await lstat(path.join(volume, 'rootfs'))).uid).toBe(1234);
    const snapFile = path.join(poolDir, 'containers-snapshots', `default_${c1}`, 'snap0');
    expect(await readFile(path.join(snapFile, 'rootfs', 'berth-file'), 'utf8')).toBe('before\n');
    expect((await lstat(path.join(snapFile, 'rootfs', 'berth-file'))).uid).toBe(onDisk.uid);

    await t.engine.instances.changeStateAndWait('default', c1, { action: 'start' });
    expect(await exec(c1, ['cat', '/berth-file'])).toMatchObject({
      exitCode: 0,
      stdout: 'after\n',
    });
    expect(await exec(c1, ['stat', '-c', '%u:%g', '/berth-file'])).toMatchObject({
      stdout: '1234:1234\n',
    });

    // The snapshot restores too.
    await waitOk(await t.engine.snapshots.restore('default', c1, 'snap0'));
    expect(await exec(c1, ['cat', '/berth-file'])).toMatchObject({ stdout: 'before\n' });
  });

  it('exports instance-only and imports it under another name beside the original', async () => {
    const done = await timed('export (running, instance-only)', async () =>
      waitOk(
        await backups.export('default', c1, { instance_only: true, compression_algorithm: 'none' }),
      ),
    );
    const name = String((done.metadata as { name: string }).name);
    expect(await backups.get('default', c1, name)).toMatchObject({ instance_only: true });
    const file = backups.files.tarball('default', c1, name);
    expect(tarList(file).some((e) => e.includes('backup/snapshots'))).toBe(false);

    expect((await errorOf(backups.importAndWait('default', file))).code).toBe('ALREADY_EXISTS');
    const imported = await timed('import (instance-only, uncompressed)', () =>
      backups.importAndWait('default', file, { name: copy }),
    );
    expect(imported.name).toBe(copy);
    expect(await t.engine.snapshots.list('default', copy)).toEqual([]);
    const original = await t.engine.instances.get('default', c1);
    expect(imported.config['volatile.eth0.hwaddr']).toBeTruthy();
    expect(imported.config['volatile.eth0.hwaddr']).not.toBe(
      original.config['volatile.eth0.hwaddr'],
    );
    await t.engine.instances.changeStateAndWait('default', copy, { action: 'start' });
    expect(await exec(copy, ['cat', '/berth-file'])).toMatchObject({ stdout: 'before\n' });
    expect((await t.engine.instances.get('default', c1)).status).toBe('Running');
    await t.engine.instances.delete('default', copy, { force: true });
  });
});

describe('publish', () => {
  it('refuses a running instance, publishes a stopped one that launches with the file', async () => {
    expect((await errorOf(backups.publish('default', c1, { alias: 'pub' }))).code).toBe('CONFLICT');
    await t.engine.instances.changeStateAndWait('default', c1, { action: 'stop', force: true });
    const done = await timed('publish', async () =>
      waitOk(
        await backups.publish('default', c1, {
          alias: `pub-${suffix}`,
          properties: { description: 'published' },
        }),
      ),
    );
    const fingerprint = String((done.metadata as { fingerprint: string }).fingerprint);
    const image = await t.engine.images.get('default', fingerprint);
    expect(image.properties).toMatchObject({ os: 'busybox', description: 'published' });
    expect(image.aliases.map((a) => a.name)).toEqual([`pub-${suffix}`]);
    // Unshifted in the image.
    const entries = tarList(t.engine.images.files.tarball(fingerprint));
    expect(entries.find((e) => e.endsWith(' rootfs/berth-file'))).toMatch(/ 1234\/1234 /);

    await t.engine.instances.createAndWait('default', {
      name: launched,
      source: { type: 'image', alias: `pub-${suffix}` },
      start: true,
    });
    expect(await exec(launched, ['cat', '/berth-file'])).toMatchObject({
      exitCode: 0,
      stdout: 'before\n',
    });
    await t.engine.instances.delete('default', launched, { force: true });
  });

  it('publishes a snapshot, also of a running instance, as it was when taken', async () => {
    await t.engine.instances.changeStateAndWait('default', c1, { action: 'start' });
    await exec(c1, ['sh', '-c', 'echo now > /berth-file']);
    await waitOk(
      await backups.publish('default', c1, { snapshot: 'snap0', alias: `snap-pub-${suffix}` }),
    );
    await t.engine.instances.createAndWait('default', {
      name: launched,
      source: { type: 'image', alias: `snap-pub-${suffix}` },
      start: true,
    });
    expect(await exec(launched, ['cat', '/berth-file'])).toMatchObject({ stdout: 'before\n' });
    expect(await exec(c1, ['cat', '/berth-file'])).toMatchObject({ stdout: 'now\n' });
    await t.engine.instances.delete('default', launched, { force: true });
  });
});

// ------------------------------------------------------- hostile backups

const hostileName = `hostile-${suffix}`;

function indexYaml(options: { name?: string; config?: string } = {}): string {
  return [
    `name: ${options.name ?? hostileName}`,
    'backend: dir',
    'pool: default',
    'type: container',
    'config:',
    '  container:',
    `    name: ${options.name ?? hostileName}`,
    '    architecture: x86_64',
    '    profiles:',
    '    - default',
    `    config: ${options.config ?? '{}'}`,
    '    devices: {}',
    '',
  ].join('\n');
}

function backupArchive(
  entries: Buffer[],
  options: { index?: string; rootfs?: boolean } = {},
): Buffer {
  return gzipSync(
    Buffer.concat([
      header('backup/', '5'),
      fileEntry('backup/index.yaml', options.index ?? indexYaml()),
      header('backup/container/', '5'),
      ...(options.rootfs === false ? [] : [header('backup/container/rootfs/', '5')]),
      ...entries,
      Buffer.alloc(1024),
    ]),
  );
}

describe('hostile backups', () => {
  const victim = path.join(os.tmpdir(), `berth-backup-victim-${process.pid}`);
  const cases: [string, () => Buffer | Promise<Buffer>, RegExp][] = [
    [
      'an absolute path',
      () => backupArchive([fileEntry(victim, 'pwned')]),
      /Backup tarball entry ".*berth-backup-victim-\d+": absolute paths are not allowed/,
    ],
    [
      'a "../" entry',
      () => backupArchive([fileEntry('backup/container/rootfs/../../../berth-escape', 'x')]),
      /entry "backup\/container\/rootfs\/..\/..\/..\/berth-escape": ".." path components/,
    ],
    [
      'a symlink to /etc then a file through it',
      () =>
        backupArchive([
          header('backup/container/rootfs/etc', '2', { linkname: '/etc' }),
          fileEntry('backup/container/rootfs/etc/berth-pwned', 'x'),
        ]),
      /entry "backup\/container\/rootfs\/etc\/berth-pwned": the path passes through the symlink "backup\/container\/rootfs\/etc"/,
    ],
    [
      'a symlink climbing out of rootfs',
      () =>
        backupArchive([header('backup/container/rootfs/up', '2', { linkname: '../../../../etc' })]),
      /entry "backup\/container\/rootfs\/up": the symlink target "..\/..\/..\/..\/etc" escapes rootfs/,
    ],
    [
      'a hard link to /etc/passwd',
      () => backupArchive([header('backup/container/rootfs/pw', '1', { linkname: '/etc/passwd' })]),
      /entry "backup\/container\/rootfs\/pw": absolute paths are not allowed/,
    ],
    [
      'an entry outside backup/',
      () => backupArchive([fileEntry('evil', 'x')]),
      /entry "evil": only backup\/index.yaml/,
    ],
    [
      'a truncated gzip',
      async () => {
        const whole = await readFile(path.join(t.dataDir, 'downloaded.tar.gz'));
        return whole.subarray(0, Math.floor(whole.length / 2));
      },
      /Backup tarball is corrupt at entry ".+": truncated/,
    ],
    ['not a tarball', () => Buffer.from('this is no backup '.repeat(64)), /Not a backup tarball/],
    [
      'index.yaml naming an invalid instance name',
      () => backupArchive([], { index: indexYaml({ name: 'bad_name' }) }),
      /backup\/index.yaml: name: .*Invalid instance name/,
    ],
    [
      'index.yaml with an unknown config key',
      () => backupArchive([], { index: indexYaml({ config: '{berth.nonsense: "1"}' }) }),
      /backup\/index.yaml: container .*Unknown configuration key: berth.nonsense/,
    ],
    [
      'a backup whose rootfs is missing',
      () => backupArchive([], { rootfs: false }),
      /has no backup\/container\/rootfs/,
    ],
    [
      'a listed snapshot without its rootfs',
      () =>
        backupArchive([], {
          index: indexYaml().replace('type: container', 'type: container\nsnapshots:\n- snap0'),
        }),
      /has no backup\/snapshots\/snap0\/rootfs/,
    ],
  ];

  it.each(cases)('refuses %s and leaves nothing behind', async (_what, make, message) => {
    const before = await hostState();
    const file = path.join(t.dataDir, 'hostile.tar.gz');
    await writeFile(file, await make());
    const error = await errorOf(backups.importAndWait('default', file));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(message);
    expect(await hostState()).toEqual(before);
    expect(before.instances).not.toContain(hostileName);
    expect(existsSync(victim)).toBe(false);
    expect(existsSync('/etc/berth-pwned')).toBe(false);
    expect(existsSync(path.join(t.dataDir, 'berth-escape'))).toBe(false);
  });

  it('imports a minimal hand-made backup from a stream, and deletes it without a trace', async () => {
    const before = await hostState();
    const archive = backupArchive(
      [
        header('backup/snapshots/', '5'),
        header('backup/snapshots/s0/', '5'),
        header('backup/snapshots/s0/rootfs/', '5'),
      ],
      { index: indexYaml().replace('type: container', 'type: container\nsnapshots:\n- s0') },
    );
    const { Readable } = await import('node:stream');
    const instance = await backups.importAndWait('default', Readable.from([archive]));
    expect(instance.name).toBe(hostileName);
    expect((await t.engine.snapshots.list('default', hostileName)).map((s) => s.name)).toEqual([
      's0',
    ]);
    await t.engine.instances.delete('default', hostileName);
    expect(await hostState()).toEqual(before);
  });
});

describe('expiry', () => {
  it("an engine's minute pass deletes backups whose expiry has passed", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-backup-expiry-'));
    const name = `bk-${suffix}-exp`;
    try {
      const first = await startTestEngine(dir);
      await first.engine.instances.createAndWait('default', { name });
      for (const options of [
        { name: 'keep' },
        { name: 'soon', expires_at: new Date(Date.now() + 1500).toISOString() },
      ]) {
        const op = await first.engine.backups.export('default', name, options);
        expect(await first.engine.operations.wait(op.id)).toMatchObject({
          err: '',
          status: 'Success',
        });
      }
      expect((await first.engine.backups.list('default', name)).length).toBe(2);
      await first.cleanup();
      await new Promise((resolve) => setTimeout(resolve, 1600));

      // The pass at start-up (then every minute) prunes it; the other stays.
      const second = await startTestEngine(dir, { scheduler: true });
      try {
        const left = await waitFor(
          'the expired backup to go',
          async () => (await second.engine.backups.list('default', name)).map((b) => b.name),
          (names) => names.length === 1,
        );
        expect(left).toEqual(['keep']);
        expect(existsSync(path.join(dir, 'backups', `default_${name}`, 'soon'))).toBe(false);
      } finally {
        await second.cleanup();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
