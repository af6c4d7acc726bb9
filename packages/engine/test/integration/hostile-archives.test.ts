// Hostile image and backup tarballs from the generator (hostile-archives.ts)
// against a real engine whose data directory is a small tmpfs of its own:
// each is refused for its own reason with an error naming the entry, leaves
// the image store, the pool, the backups folder and the database as they
// were, creates nothing outside, and the engine answers the next request.
// The generator's valid archives import (so each refusal is the attack's),
// a setuid file in a root filesystem keeps its bit, and a zstd bomb that
// decompresses past the free space is stopped, not unpacked.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, removeHostState, startTestEngine, type TestEngine } from './helpers.ts';
import {
  hostileCases,
  tar,
  validMembers,
  zstdBomb,
  type HostileCase,
  type LayoutName,
} from './hostile-archives.ts';
import { gzipSync } from 'node:zlib';

const run = promisify(execFile);
const NAME = 't-hostile';
const LAYOUTS: LayoutName[] = ['container image', 'VM image', 'container backup', 'VM backup'];
let dataDir = '';
let work = '';
let mounted = false;
let t: TestEngine;
const victim = path.join(os.tmpdir(), `berth-victim-${process.pid}`);

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-hostile-'));
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-hostile-files-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=160m,mode=0711', 'tmpfs', dataDir]);
  mounted = true;
  t = await startTestEngine(dataDir);
}, 120_000);

afterAll(async () => {
  if (t) {
    await removeHostState(t.engine);
    await t.engine.close();
  }
  if (mounted) await run('umount', [dataDir]);
  await rm(dataDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
}, 60_000);

/** Every path below the data directory but the database's own files (directories with `/`). */
function tree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (rel.startsWith('database/') || rel === 'database') continue;
    out.push(entry.isDirectory() ? `${rel}/` : rel);
    if (entry.isDirectory()) out.push(...tree(path.join(dir, entry.name), rel));
  }
  return out.sort();
}

/** The state without the folders a first import or backup makes and keeps (images/, backups/, logs/). */
async function filesState() {
  const state = await hostState();
  return { ...state, files: state.files.filter((f) => !f.endsWith('/')) };
}

async function hostState() {
  return {
    files: tree(dataDir),
    instances: await t.engine.instances.names('default'),
    images: (await t.engine.images.list('default')).map((i) => i.fingerprint),
    operationsRunning: (await t.engine.operations.list('default')).filter(
      (o) => o.status === 'Running',
    ).length,
  };
}

async function write(bytes: Buffer, name = 'archive'): Promise<string> {
  const file = path.join(work, name);
  await writeFile(file, bytes);
  return file;
}

/** The error an import of `file` ends with (an image's operation, a backup's import). */
async function importError(layout: LayoutName, file: string): Promise<string> {
  if (layout.endsWith('image')) {
    const op = await t.engine.images.importTarball('default', file, { aliases: ['hostile'] });
    const done = await t.engine.operations.wait(op.id);
    expect(done.status, done.err).toBe('Failure');
    return done.err;
  }
  const error = await errorOf(t.engine.backups.importAndWait('default', file));
  expect(error.code, error.message).toBe('INVALID_ARGUMENT');
  return error.message;
}

describe("the generator's valid archives", () => {
  it.each(LAYOUTS)(
    'import (%s), so each refusal below is its attack',
    async (layout) => {
      const before = await filesState();
      const file = await write(gzipSync(tar(validMembers(layout, NAME))));
      if (layout.endsWith('image')) {
        const op = await t.engine.images.importTarball('default', file);
        const done = await t.engine.operations.wait(op.id);
        expect(done.err).toBe('');
        const { fingerprint } = done.metadata as { fingerprint: string };
        await t.engine.images.delete('default', fingerprint);
      } else {
        const instance = await t.engine.backups.importAndWait('default', file);
        expect(instance.name).toBe(NAME);
        await t.engine.instances.delete('default', NAME);
      }
      expect(await filesState()).toEqual(before);
    },
    120_000,
  );

  it('keeps a setuid file of a root filesystem (su, ping) with its bit, root-only to reach', async () => {
    const members = validMembers('container image', NAME).map((m) =>
      m.name === 'rootfs/bin/hello' ? { ...m, mode: 0o4755 } : m,
    );
    const op = await t.engine.images.importTarball('default', await write(gzipSync(tar(members))));
    const done = await t.engine.operations.wait(op.id);
    expect(done.err).toBe('');
    const { fingerprint } = done.metadata as { fingerprint: string };
    const rootfs = await t.engine.images.rootfsPath(fingerprint);
    expect((await stat(path.join(rootfs, 'bin/hello'))).mode & 0o7777).toBe(0o4755);
    // Nobody else walks into the store to run it.
    const walk = await run('runuser', [
      '-u',
      'nobody',
      '--',
      'test',
      '-x',
      path.join(rootfs, 'bin/hello'),
    ]).then(
      () => 0,
      (error: { code: number }) => error.code,
    );
    expect(walk).not.toBe(0);
    await t.engine.images.delete('default', fingerprint);
  });
});

const cases: HostileCase[] = LAYOUTS.flatMap((layout) => hostileCases(layout, NAME, victim));

describe('hostile tarballs', () => {
  it('are many: every layout, every attack', () => {
    expect(cases.length).toBeGreaterThan(100);
  });

  it.each(cases.map((c) => [c.name, c] as const))(
    'refuses %s, and leaves nothing behind',
    async (_name, hostile) => {
      const before = await hostState();
      const message = await importError(hostile.layout, await write(hostile.bytes()));
      expect(message).toMatch(hostile.refused);
      expect(await hostState()).toEqual(before);
      expect(existsSync(victim)).toBe(false);
      expect(existsSync('/etc/berth-pwned')).toBe(false);
      expect(existsSync(path.join(dataDir, '..', 'berth-escape'))).toBe(false);
      expect(existsSync(path.join(work, '..', 'berth-escape'))).toBe(false);
    },
    60_000,
  );

  it('stops a zstd bomb at the free space, writing none of it, and answers on', async () => {
    const before = await hostState();
    // 400 MiB of zeros after a valid image, a few hundred bytes compressed; 160 MiB of tmpfs.
    const file = await write(zstdBomb('container image', NAME, 400 * 1024 * 1024), 'bomb.tar.zst');
    const message = await importError('container image', file);
    expect(message).toMatch(/Image tarball decompresses to more than the [\d.]+ MiB free/);
    expect(await hostState()).toEqual(before);
    const { bavail, bsize } = await import('node:fs/promises').then((fs) => fs.statfs(dataDir));
    expect(bavail * bsize).toBeGreaterThan(100 * 1024 * 1024);
  }, 120_000);
});
