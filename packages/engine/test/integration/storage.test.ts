// The dir storage driver against a real SQLite file and the real host disk.
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
  link,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '@berth/db';
import { StoragePoolService } from '../../src/storage/storage-pools.ts';
import { EventBus } from '../../src/events/event-bus.ts';
import { errorOf } from './helpers.ts';

let dataDir: string;
let db: Database;
let store: Database['storage'];
let storage: StoragePoolService;
let tree: string;

/** Every entry below `dir`, relative, sorted (hidden temporaries included). */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    out.push(rel);
    if (entry.isDirectory()) out.push(...(await walk(path.join(dir, entry.name), rel)));
  }
  return out.sort();
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-storage-test-'));
  const url = `file:${dataDir}/berth.db`;
  db = await openDatabase({ url });
  await db.projects.create({ name: 'default' });
  store = db.storage;
  storage = new StoragePoolService({ dataDir, db, events: new EventBus() });

  // A small tree with what a rootfs has: symlinks (absolute, dangling),
  // a setuid binary, files owned by a mapped id, a hard link.
  tree = path.join(dataDir, 'image-rootfs');
  await mkdir(path.join(tree, 'bin'), { recursive: true });
  await mkdir(path.join(tree, 'etc'));
  await mkdir(path.join(tree, 'home', 'u'), { recursive: true });
  await writeFile(path.join(tree, 'bin', 'tool'), 'binary');
  await chmod(path.join(tree, 'bin', 'tool'), 0o4755);
  await symlink('/bin/tool', path.join(tree, 'bin', 'sh'));
  await symlink('/nonexistent/target', path.join(tree, 'bin', 'dangling'));
  await writeFile(path.join(tree, 'etc', 'hostname'), 'image\n');
  await link(path.join(tree, 'etc', 'hostname'), path.join(tree, 'etc', 'hostname.hard'));
  await writeFile(path.join(tree, 'home', 'u', 'file'), 'mapped');
  await chown(path.join(tree, 'home', 'u', 'file'), 1000000, 1000000);
  await chown(path.join(tree, 'home', 'u'), 1001000, 1001000);
});

afterAll(async () => {
  await db?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('dir storage pool', () => {
  it('creates the default pool with LXD’s layout, once', async () => {
    const pool = await storage.ensureDefault();
    expect(pool).toMatchObject({ name: 'default', driver: 'dir', status: 'Created', used_by: [] });
    expect(pool.config.source).toBe(path.join(dataDir, 'storage', 'default'));
    expect((await readdir(pool.config.source!)).sort()).toEqual([
      'containers',
      'containers-snapshots',
      'custom',
      'custom-snapshots',
      'images',
      'virtual-machines',
      'virtual-machines-snapshots',
    ]);
    await storage.ensureDefault();
    expect((await storage.list()).map((p) => p.name)).toEqual(['default']);
    const res = await storage.poolResources('default');
    expect(res.space.total).toBeGreaterThan(0);
    expect(res.space.used).toBeGreaterThan(0);
    expect(res.space.used).toBeLessThanOrEqual(res.space.total);
  });

  it('copies a rootfs keeping symlinks, setuid, owners and hard links', async () => {
    const paths = await storage.createInstanceVolume('default', 'default', 'c1', 'container', {
      fromRootfs: tree,
    });
    expect(paths).toEqual({
      dir: path.join(dataDir, 'storage/default/containers/default_c1'),
      rootfs: path.join(dataDir, 'storage/default/containers/default_c1/rootfs'),
    });
    expect(await storage.instancePaths('default', 'default', 'c1', 'container')).toEqual(paths);
    const r = paths.rootfs;
    expect(await readlink(path.join(r, 'bin/sh'))).toBe('/bin/tool');
    expect(await readlink(path.join(r, 'bin/dangling'))).toBe('/nonexistent/target');
    expect((await lstat(path.join(r, 'bin/tool'))).mode & 0o7777).toBe(0o4755);
    const mapped = await lstat(path.join(r, 'home/u/file'));
    expect([mapped.uid, mapped.gid]).toEqual([1000000, 1000000]);
    expect((await lstat(path.join(r, 'home/u'))).uid).toBe(1001000);
    expect((await lstat(path.join(r, 'etc/hostname'))).ino).toBe(
      (await lstat(path.join(r, 'etc/hostname.hard'))).ino,
    );
    // LXD's 0100: only the instance's root (host root until its driver hands it over) may traverse.
    expect((await lstat(paths.dir)).mode & 0o777).toBe(0o100);

    const row = await store.getVolume('default', 'default', 'container', 'c1');
    expect(row).toMatchObject({
      name: 'c1',
      type: 'container',
      contentType: 'filesystem',
      project: 'default',
    });
    expect((await storage.get('default')).used_by).toEqual(['/1.0/instances/c1']);
    expect(await storage.volumeUsage('default', 'default', 'c1', 'container')).toBeGreaterThan(0);

    const again = await errorOf(
      storage.createInstanceVolume('default', 'default', 'c1', 'container', { fromRootfs: tree }),
    );
    expect(again.code).toBe('ALREADY_EXISTS');
  });

  it('snapshots, restores after changes, renames and deletes snapshots', async () => {
    const paths = await storage.instancePaths('default', 'default', 'c1', 'container');
    const snap = await storage.snapshotInstanceVolume(
      'default',
      'default',
      'c1',
      'container',
      'snap0',
    );
    expect(snap.dir).toBe(
      path.join(dataDir, 'storage/default/containers-snapshots/default_c1/snap0'),
    );
    expect(await readFile(path.join(snap.rootfs, 'etc/hostname'), 'utf8')).toBe('image\n');
    expect((await lstat(path.join(snap.rootfs, 'bin/tool'))).mode & 0o7777).toBe(0o4755);
    expect((await lstat(path.join(snap.rootfs, 'home/u/file'))).uid).toBe(1000000);
    expect(await store.getVolume('default', 'default', 'container', 'c1/snap0')).not.toBeNull();
    expect(
      await storage.volumeUsage('default', 'default', 'c1', 'container', 'snap0'),
    ).toBeGreaterThan(0);

    await writeFile(path.join(paths.rootfs, 'etc/hostname'), 'changed\n');
    await writeFile(path.join(paths.rootfs, 'new-file'), 'x');
    await rm(path.join(paths.rootfs, 'bin/sh'));

    await storage.restoreInstanceVolume('default', 'default', 'c1', 'container', 'snap0');
    expect(await readFile(path.join(paths.rootfs, 'etc/hostname'), 'utf8')).toBe('image\n');
    expect(await readlink(path.join(paths.rootfs, 'bin/sh'))).toBe('/bin/tool');
    await expect(lstat(path.join(paths.rootfs, 'new-file'))).rejects.toThrow();
    expect((await lstat(path.join(paths.rootfs, 'home/u/file'))).uid).toBe(1000000);
    // Nothing hidden left beside the rootfs.
    expect(await readdir(paths.dir)).toEqual(['rootfs']);

    const missing = await errorOf(
      storage.restoreInstanceVolume('default', 'default', 'c1', 'container', 'nope'),
    );
    expect(missing.code).toBe('NOT_FOUND');

    await storage.renameSnapshotVolume('default', 'default', 'c1', 'container', 'snap0', 'snap1');
    expect(await store.getVolume('default', 'default', 'container', 'c1/snap1')).not.toBeNull();
    expect(await readdir(path.dirname(snap.dir))).toEqual(['snap1']);

    const taken = await errorOf(
      storage.snapshotInstanceVolume('default', 'default', 'c1', 'container', 'snap1'),
    );
    expect(taken.code).toBe('ALREADY_EXISTS');
    await storage.snapshotInstanceVolume('default', 'default', 'c1', 'container', 'snap2');
    await storage.deleteSnapshotVolume('default', 'default', 'c1', 'container', 'snap2');
    expect(await store.getVolume('default', 'default', 'container', 'c1/snap2')).toBeNull();
    expect(await readdir(path.dirname(snap.dir))).toEqual(['snap1']);
  });

  it('renames a volume with its snapshots', async () => {
    const to = await storage.renameInstanceVolume('default', 'default', 'c1', 'container', 'c2');
    expect(to.dir).toBe(path.join(dataDir, 'storage/default/containers/default_c2'));
    expect(await readFile(path.join(to.rootfs, 'etc/hostname'), 'utf8')).toBe('image\n');
    expect((await store.listVolumes('default')).map((v) => v.name)).toEqual(['c2', 'c2/snap1']);
    expect(await readdir(path.join(dataDir, 'storage/default/containers-snapshots'))).toEqual([
      'default_c2',
    ]);
  });

  it('refuses names that would leave the pool', async () => {
    for (const name of ['../x', '..', 'a/b', '.hidden']) {
      const e = await errorOf(
        storage.createInstanceVolume('default', 'default', name, 'container'),
      );
      expect(e.code).toBe('INVALID_ARGUMENT');
    }
    const e = await errorOf(
      storage.snapshotInstanceVolume('default', 'default', 'c2', 'container', '../../escape'),
    );
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(await readdir(path.join(dataDir, 'storage/default/containers'))).toEqual(['default_c2']);
  });

  it('leaves nothing behind when a copy fails midway', async () => {
    const containers = path.join(dataDir, 'storage/default/containers');
    const before = await walk(containers);

    const missing = await errorOf(
      storage.createInstanceVolume('default', 'default', 'bad1', 'container', {
        fromRootfs: path.join(dataDir, 'does-not-exist'),
      }),
    );
    expect(missing.code).toBe('INVALID_ARGUMENT');

    // A copy cut off midway (the operation was cancelled): the partial copy must go.
    const big = path.join(dataDir, 'big-tree');
    for (let d = 0; d < 40; d++) {
      await mkdir(path.join(big, `d${d}`), { recursive: true });
      await Promise.all(
        Array.from({ length: 250 }, (_, f) =>
          writeFile(path.join(big, `d${d}`, `f${f}`), 'x'.repeat(4096)),
        ),
      );
    }
    const cancel = new AbortController();
    const creating = storage.createInstanceVolume('default', 'default', 'bad2', 'container', {
      fromRootfs: big,
      signal: cancel.signal,
    });
    // Abort once cp has started writing into the hidden temporary.
    for (let i = 0; i < 500; i++) {
      const tmp = (await readdir(containers)).find((e) => e.startsWith('.create-default_bad2-'));
      if (tmp && (await readdir(path.join(containers, tmp, 'rootfs')).catch(() => [])).length > 0)
        break;
      await new Promise((r) => setTimeout(r, 2));
    }
    cancel.abort();
    const failing = await errorOf(creating);
    expect(failing.message).toMatch(/cancelled/);
    await rm(big, { recursive: true, force: true });

    expect(await walk(containers)).toEqual(before);
    expect(await store.getVolume('default', 'default', 'container', 'bad1')).toBeNull();
    expect(await store.getVolume('default', 'default', 'container', 'bad2')).toBeNull();
  });

  it('deletes a volume with its snapshots and leaves nothing', async () => {
    await storage.deleteInstanceVolume('default', 'default', 'c2', 'container');
    expect(await store.listVolumes('default')).toEqual([]);
    const source = path.join(dataDir, 'storage/default');
    expect(await walk(source)).toEqual([
      'containers',
      'containers-snapshots',
      'custom',
      'custom-snapshots',
      'images',
      'virtual-machines',
      'virtual-machines-snapshots',
    ]);
    expect(
      (await errorOf(storage.deleteInstanceVolume('default', 'default', 'c2', 'container'))).code,
    ).toBe('NOT_FOUND');
  });

  it('creates and deletes extra pools; refuses to delete one in use', async () => {
    const custom = path.join(dataDir, 'elsewhere');
    const pool = await storage.create({ name: 'p2', driver: 'dir', config: { source: custom } });
    expect(pool.config.source).toBe(custom);
    await storage.createInstanceVolume('p2', 'default', 'c9', 'container');
    expect((await errorOf(storage.delete('p2'))).code).toBe('CONFLICT');
    await storage.deleteInstanceVolume('p2', 'default', 'c9', 'container');
    await storage.delete('p2');
    expect(await readdir(custom)).toEqual([]);
    expect((await errorOf(storage.get('p2'))).code).toBe('NOT_FOUND');
    expect(
      (await errorOf(storage.create({ name: 'p3', driver: 'dir', config: { bogus: '1' } }))).field,
    ).toBe('config["bogus"]');
  });

  it('refuses drivers it does not run with the reason (ZFS: what this host lacks), creating nothing', async () => {
    const zfs = await errorOf(storage.create({ name: 'z1', driver: 'zfs' }));
    if (!existsSync('/sys/module/zfs')) {
      expect(zfs).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'driver' });
      expect(zfs.message).toMatch(
        /^driver: ZFS is not available: the zfs kernel module is not loaded/,
      );
    } else expect(zfs).toMatchObject({ field: 'driver' });
    expect(await errorOf(storage.create({ name: 'b1', driver: 'btrfs' }))).toMatchObject({
      code: 'NOT_IMPLEMENTED',
      field: 'driver',
    });
    expect(await errorOf(storage.create({ name: 'x1', driver: 'xfs' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'driver',
    });
    expect((await storage.list()).map((p) => p.name)).toEqual(['default']);
  });
});
