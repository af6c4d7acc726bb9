// Custom storage volumes on a dir pool with real LXC containers: an
// unprivileged container writes into an attached volume (shifted to its id
// map), delete is refused while it is attached, snapshots restore, copies
// and moves carry the data, renames carry the devices that use the volume.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, removeHostState, startTestEngine, type TestEngine } from './helpers.ts';

const suffix = randomBytes(3).toString('hex');
const C1 = `t-vol-c1-${suffix}`;
const V1 = `t-vol-v1-${suffix}`;
let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine();
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
  await t.engine.instances.createAndWait('default', {
    name: C1,
    source: { type: 'image', alias: 'busybox' },
  });
}, 120_000);

afterAll(async () => {
  await removeHostState(t.engine);
  await t.cleanup();
}, 60_000);

async function sh(instance: string, script: string) {
  return t.engine.instances.exec('default', instance, { command: ['/bin/sh', '-c', script] });
}

async function waitOp(op: { id: string }) {
  const done = await t.engine.operations.wait(op.id);
  expect(done.err).toBe('');
  expect(done.status).toBe('Success');
}

async function attach(instance: string, volume: string, mount: string) {
  await t.engine.instances.patch('default', instance, {
    devices: { [volume]: { type: 'disk', pool: 'default', source: volume, path: mount } },
  });
}

async function detach(instance: string, device: string) {
  const current = await t.engine.instances.get('default', instance);
  const devices = { ...current.devices };
  delete devices[device];
  await t.engine.instances.update('default', instance, {
    config: Object.fromEntries(
      Object.entries(current.config).filter(([k]) => !k.startsWith('volatile.')),
    ),
    devices,
    profiles: current.profiles,
    description: current.description,
  });
}

async function volumeDir(name: string) {
  return (await t.engine.storage.instancePaths('default', 'default', name, 'custom')).dir;
}

describe('custom volumes', () => {
  it('creates, lists and shows a filesystem volume, with size recorded', async () => {
    const { volume, operation } = await t.engine.volumes.create('default', 'default', {
      name: V1,
      config: { size: '64MiB' },
    });
    expect(operation).toBeNull();
    expect(volume).toMatchObject({ name: V1, type: 'custom', content_type: 'filesystem' });
    const listed = await t.engine.volumes.list('default', 'default');
    expect(listed.find((v) => v.name === V1)).toMatchObject({
      config: { size: '64MiB' },
      used_by: [],
    });
    // The instance's own volume shows too, as LXD lists it.
    expect(listed.some((v) => v.type === 'container' && v.name === C1)).toBe(true);
    expect(existsSync(await volumeDir(V1))).toBe(true);

    expect(
      await errorOf(t.engine.volumes.create('default', 'default', { name: V1 })),
    ).toMatchObject({ code: 'ALREADY_EXISTS', message: 'Volume by that name already exists' });
    expect(
      await errorOf(
        t.engine.volumes.create('default', 'default', { name: 'bad-key', config: { nope: '1' } }),
      ),
    ).toMatchObject({ message: 'Invalid option for volume "bad-key" option "nope"' });
    await t.engine.volumes.patch('default', 'default', V1, { config: { size: '128MiB' } });
    expect((await t.engine.volumes.get('default', 'default', V1)).config.size).toBe('128MiB');
  });

  it('refuses a disk naming a volume that does not exist, with LXD’s message', async () => {
    const error = await errorOf(attach(C1, 'no-such-volume', '/mnt/x'));
    expect(error.message).toContain('Failed loading custom volume: Storage volume not found');
    // At create too, before anything is made.
    const created = await errorOf(
      t.engine.instances.createAndWait('default', {
        name: `${C1}-nv`,
        source: { type: 'image', alias: 'busybox' },
        devices: { data: { type: 'disk', pool: 'default', source: 'no-such-volume', path: '/x' } },
      }),
    );
    expect(created.message).toContain('Failed loading custom volume: Storage volume not found');
    expect((await t.engine.instances.names('default')).includes(`${C1}-nv`)).toBe(false);
  });

  it('lets an unprivileged container write into the attached volume', async () => {
    await attach(C1, V1, '/mnt/v1');
    expect((await t.engine.volumes.get('default', 'default', V1)).used_by).toEqual([
      `/1.0/instances/${C1}`,
    ]);
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'start' });
    const wrote = await sh(C1, 'echo hello > /mnt/v1/file && cat /mnt/v1/file && id -u');
    expect(wrote.exitCode).toBe(0);
    expect(wrote.stdout.toString()).toBe('hello\n0\n');
    // On the host the file belongs to the container's root, shifted (not host root).
    const owner = (await stat(path.join(await volumeDir(V1), 'file'))).uid;
    expect(owner).toBeGreaterThan(0);
    expect(
      (await t.engine.volumes.get('default', 'default', V1)).config['volatile.idmap.last'],
    ).toContain(String(owner));
  }, 60_000);

  it('refuses to delete, rename or restore a volume a running container uses', async () => {
    expect(await errorOf(t.engine.volumes.delete('default', 'default', V1))).toMatchObject({
      message: 'The storage volume is still in use',
    });
    expect(
      await errorOf(t.engine.volumes.rename('default', 'default', V1, { name: `${V1}-r` })),
    ).toMatchObject({ message: 'Volume is still in use by running instances' });
  });

  it('snapshots and restores the volume', async () => {
    await waitOp(await t.engine.volumes.snapshots.create('default', 'default', V1, { name: 's0' }));
    expect(
      (await t.engine.volumes.snapshots.list('default', 'default', V1)).map((s) => s.name),
    ).toEqual(['s0']);
    expect((await sh(C1, 'echo changed > /mnt/v1/file')).exitCode).toBe(0);
    expect(
      await errorOf(t.engine.volumes.snapshots.restore('default', 'default', V1, 's0')),
    ).toMatchObject({ message: 'Cannot restore custom volume used by running instances' });
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'stop', force: true });
    await t.engine.volumes.update('default', 'default', V1, { restore: 's0' });
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'start' });
    expect((await sh(C1, 'cat /mnt/v1/file')).stdout.toString()).toBe('hello\n');
    // Still writable after the restore: the ids came back with the files.
    expect((await sh(C1, 'touch /mnt/v1/after-restore')).exitCode).toBe(0);
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'stop', force: true });
  }, 90_000);

  it('copies a volume with its snapshots, and without', async () => {
    const { operation } = await t.engine.volumes.create('default', 'default', {
      name: `${V1}-copy`,
      source: { type: 'copy', name: V1, pool: 'default' },
    });
    await waitOp(operation!);
    expect(
      (await t.engine.volumes.snapshots.list('default', 'default', `${V1}-copy`)).map(
        (s) => s.name,
      ),
    ).toEqual(['s0']);
    const { operation: only } = await t.engine.volumes.create('default', 'default', {
      name: `${V1}-only`,
      source: { type: 'copy', name: V1, pool: 'default', volume_only: true },
    });
    await waitOp(only!);
    expect(await t.engine.volumes.snapshots.list('default', 'default', `${V1}-only`)).toEqual([]);
    const file = path.join(await volumeDir(`${V1}-only`), 'file');
    expect((await stat(file)).ino).not.toBe(
      (await stat(path.join(await volumeDir(V1), 'file'))).ino,
    );
  });

  it('renames a stopped container’s volume and its device follows', async () => {
    const renamed = `${V1}-r`;
    const { operation } = await t.engine.volumes.rename('default', 'default', V1, {
      name: renamed,
    });
    expect(operation).toBeNull();
    expect((await t.engine.instances.get('default', C1)).devices[V1]).toMatchObject({
      source: renamed,
    });
    expect(
      (await t.engine.volumes.snapshots.list('default', 'default', renamed)).map((s) => s.name),
    ).toEqual(['s0']);
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'start' });
    expect((await sh(C1, 'cat /mnt/v1/file')).stdout.toString()).toBe('hello\n');
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'stop', force: true });
    await t.engine.volumes.rename('default', 'default', renamed, { name: V1 });
  }, 60_000);

  it('moves a volume to another pool, and the device follows', async () => {
    await t.engine.storage.create({ name: `t-vol-p2-${suffix}`, driver: 'dir' });
    const { operation } = await t.engine.volumes.rename('default', 'default', V1, {
      name: V1,
      pool: `t-vol-p2-${suffix}`,
    });
    await waitOp(operation!);
    expect(await errorOf(t.engine.volumes.get('default', 'default', V1))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await t.engine.volumes.get(`t-vol-p2-${suffix}`, 'default', V1)).used_by).toEqual([
      `/1.0/instances/${C1}`,
    ]);
    expect((await t.engine.instances.get('default', C1)).devices[V1]).toMatchObject({
      pool: `t-vol-p2-${suffix}`,
    });
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'start' });
    expect((await sh(C1, 'cat /mnt/v1/file')).stdout.toString()).toBe('hello\n');
    await t.engine.instances.changeStateAndWait('default', C1, { action: 'stop', force: true });
  }, 60_000);

  it('deletes a volume once detached, with its snapshots', async () => {
    const pool = `t-vol-p2-${suffix}`;
    expect(await errorOf(t.engine.volumes.delete(pool, 'default', V1))).toMatchObject({
      message: 'The storage volume is still in use',
    });
    await detach(C1, V1);
    const dir = (await t.engine.storage.instancePaths(pool, 'default', V1, 'custom')).dir;
    await t.engine.volumes.delete(pool, 'default', V1);
    expect(existsSync(dir)).toBe(false);
    await t.engine.volumes.delete('default', 'default', `${V1}-copy`);
    await t.engine.volumes.delete('default', 'default', `${V1}-only`);
    await t.engine.storage.delete(pool);
  });

  it('creates a block volume as a sparse raw disk of its size', async () => {
    const name = `${V1}-blk`;
    await t.engine.volumes.create('default', 'default', {
      name,
      content_type: 'block',
      config: { size: '32MiB' },
    });
    const disk = path.join(await volumeDir(name), 'root.img');
    expect((await stat(disk)).size).toBe(32 * 1024 * 1024);
    expect(
      (await t.engine.volumes.list('default', 'default')).find((v) => v.name === name),
    ).toMatchObject({
      content_type: 'block',
    });
    await t.engine.volumes.patch('default', 'default', name, { config: { size: '48MiB' } });
    expect((await stat(disk)).size).toBe(48 * 1024 * 1024);
    expect(
      await errorOf(
        t.engine.volumes.patch('default', 'default', name, { config: { size: '16MiB' } }),
      ),
    ).toMatchObject({ message: 'Block volumes cannot be shrunk' });
    expect(await errorOf(attach(C1, name, '/mnt/blk'))).toMatchObject({
      message: expect.stringContaining('Custom block volumes cannot be used on containers'),
    });
    await t.engine.volumes.delete('default', 'default', name);
  });

  it('takes scheduled snapshots with the pattern and prunes expired ones', async () => {
    const name = `${V1}-sched`;
    await t.engine.volumes.create('default', 'default', {
      name,
      config: {
        'snapshots.schedule': '@hourly',
        'snapshots.pattern': 'auto%d',
        'snapshots.expiry': '1H',
      },
    });
    const at = new Date('2030-01-01T10:00:00Z');
    const made = await t.engine.volumes.snapshots.runSchedule(at);
    expect(made).toEqual([`default/default/${name}/auto0`]);
    const [snap] = await t.engine.volumes.snapshots.list('default', 'default', name);
    expect(snap).toMatchObject({ name: 'auto0', expires_at: '2030-01-01T11:00:00.000Z' });
    expect(await t.engine.volumes.snapshots.runSchedule(new Date('2030-01-01T10:30:00Z'))).toEqual(
      [],
    );
    await t.engine.volumes.snapshots.pruneExpired(new Date('2030-01-01T11:00:01Z'));
    expect(await t.engine.volumes.snapshots.list('default', 'default', name)).toEqual([]);
    await t.engine.volumes.delete('default', 'default', name);
  });
});
