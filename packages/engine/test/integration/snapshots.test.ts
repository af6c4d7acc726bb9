// Snapshots against real storage: the busybox image, a dir pool, real copies.
import { readFile, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';

let t: TestEngine;
beforeAll(async () => {
  t = await startTestEngine();
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
}, 60_000);
afterAll(async () => {
  await t.cleanup();
});

async function rootfsOf(name: string): Promise<string> {
  return (await t.engine.instances.resolve('default', name)).view.paths.rootfs;
}

describe('instances from images, and snapshots', () => {
  it('creates an instance volume from the image, recording the base image', async () => {
    const instance = await t.engine.instances.createAndWait('default', {
      name: 'c1',
      source: { type: 'image', alias: 'busybox' },
    });
    const image = await t.engine.images.get('default', instance.config['volatile.base_image']!);
    expect(instance.config).toMatchObject({ 'image.os': 'busybox' });
    expect(image.aliases.map((a) => a.name)).toEqual(['busybox']);
    const rootfs = await rootfsOf('c1');
    expect(existsSync(path.join(rootfs, 'bin/busybox'))).toBe(true);
  });

  it('refuses an unknown image alias, naming the field, and creates nothing', async () => {
    expect(
      await errorOf(
        t.engine.instances.create('default', {
          name: 'c9',
          source: { type: 'image', alias: 'nope' },
        }),
      ),
    ).toMatchObject({
      code: 'NOT_FOUND',
      field: 'source.alias',
    });
    expect(await t.engine.instances.names('default')).not.toContain('c9');
  });

  it('snapshots, restores files and config, renames and deletes', async () => {
    const rootfs = await rootfsOf('c1');
    const motd = path.join(rootfs, 'etc/motd');
    await writeFile(motd, 'before\n');
    await t.engine.instances.patch('default', 'c1', { config: { 'user.stage': 'before' } });

    const op = await t.engine.snapshots.create('default', 'c1', {});
    expect(await t.engine.operations.wait(op.id)).toMatchObject({ status: 'Success' });
    const [snap] = await t.engine.snapshots.list('default', 'c1');
    expect(snap).toMatchObject({
      name: 'snap0',
      config: expect.objectContaining({ 'user.stage': 'before' }),
    });

    await writeFile(motd, 'after\n');
    await writeFile(path.join(rootfs, 'etc/added'), 'x');
    await t.engine.instances.patch('default', 'c1', { config: { 'user.stage': 'after' } });

    const restore = await t.engine.snapshots.restore('default', 'c1', 'snap0');
    expect(await t.engine.operations.wait(restore.id)).toMatchObject({ status: 'Success' });
    expect(await readFile(motd, 'utf8')).toBe('before\n');
    expect(existsSync(path.join(rootfs, 'etc/added'))).toBe(false);
    expect((await t.engine.instances.get('default', 'c1')).config['user.stage']).toBe('before');

    // The next name follows snapshots.pattern.
    await t.engine.operations.wait((await t.engine.snapshots.create('default', 'c1')).id);
    expect((await t.engine.snapshots.list('default', 'c1')).map((s) => s.name)).toEqual([
      'snap0',
      'snap1',
    ]);

    await t.engine.snapshots.rename('default', 'c1', 'snap1', 'before-upgrade');
    expect(
      await errorOf(t.engine.snapshots.rename('default', 'c1', 'snap0', 'bad/name')),
    ).toMatchObject({ code: 'INVALID_ARGUMENT' });
    await t.engine.snapshots.delete('default', 'c1', 'snap0');
    expect((await t.engine.snapshots.list('default', 'c1')).map((s) => s.name)).toEqual([
      'before-upgrade',
    ]);
    // A container's memory would need CRIU: refused by field, even with migration.stateful, nothing taken.
    await t.engine.instances.patch('default', 'c1', { config: { 'migration.stateful': 'true' } });
    expect(
      await errorOf(t.engine.snapshots.create('default', 'c1', { name: 'mem', stateful: true })),
    ).toMatchObject({ code: 'NOT_IMPLEMENTED', field: 'stateful' });
    expect(
      await errorOf(
        t.engine.instances.changeState('default', 'c1', { action: 'stop', stateful: true }),
      ),
    ).toMatchObject({ code: 'NOT_IMPLEMENTED', field: 'stateful' });
    expect((await t.engine.snapshots.list('default', 'c1')).map((s) => s.name)).toEqual([
      'before-upgrade',
    ]);
    const lifecycle = t.events
      .filter((e) => e.type === 'lifecycle')
      .map((e) => (e.metadata as { action: string }).action);
    expect(lifecycle).toEqual(
      expect.arrayContaining([
        'instance-snapshot-created',
        'instance-snapshot-restored',
        'instance-snapshot-renamed',
        'instance-snapshot-deleted',
      ]),
    );
  });

  it('prunes snapshots whose expiry has passed', async () => {
    const op = await t.engine.snapshots.create('default', 'c1', {
      name: 'short',
      expires_at: new Date(Date.now() - 1000).toISOString(),
    });
    await t.engine.operations.wait(op.id);
    expect(await t.engine.snapshots.pruneExpired()).toEqual(['default/c1/short']);
    expect((await t.engine.snapshots.list('default', 'c1')).map((s) => s.name)).not.toContain(
      'short',
    );
  });

  it('takes scheduled snapshots when snapshots.schedule fires', async () => {
    await t.engine.instances.patch('default', 'c1', {
      config: {
        'snapshots.schedule': '*/5 * * * *',
        'snapshots.schedule.stopped': 'true',
        'snapshots.pattern': 'auto-%d',
      },
    });
    expect(await t.engine.snapshots.runSchedule(new Date('2026-11-28T10:05:00Z'))).toEqual([
      'default/c1/auto-0',
    ]);
    expect(await t.engine.snapshots.runSchedule(new Date('2026-11-28T10:06:00Z'))).toEqual([]);
    // A stopped instance is skipped unless snapshots.schedule.stopped says otherwise.
    await t.engine.instances.patch('default', 'c1', {
      config: { 'snapshots.schedule.stopped': 'false' },
    });
    expect(await t.engine.snapshots.runSchedule(new Date('2026-11-28T10:10:00Z'))).toEqual([]);
    await t.engine.snapshots.delete('default', 'c1', 'auto-0');
  });

  it('renames an instance with its volume, and deleting removes the volume and snapshots', async () => {
    await t.engine.instances.rename('default', 'c1', 'c2');
    const rootfs = await rootfsOf('c2');
    expect(existsSync(path.join(rootfs, 'bin/busybox'))).toBe(true);
    expect((await t.engine.snapshots.list('default', 'c2')).map((s) => s.name)).toEqual([
      'before-upgrade',
    ]);
    const volumeDir = path.dirname(rootfs);
    await t.engine.instances.delete('default', 'c2');
    expect(existsSync(volumeDir)).toBe(false);
    expect(await t.engine.storage.listVolumes('default')).toEqual([]);
  });

  it('a failed create leaves neither a record nor a volume', async () => {
    // Make the image's cache unreadable as a rootfs: replace it with a file.
    const fingerprint = await t.engine.images.resolveAlias('default', 'busybox');
    const cache = path.join(t.dataDir, 'images', `${fingerprint}.rootfs`);
    await rm(cache, { recursive: true, force: true });
    await writeFile(cache, 'not a directory');
    const { operation } = await t.engine.instances.create('default', {
      name: 'broken',
      source: { type: 'image', alias: 'busybox' },
    });
    expect(await t.engine.operations.wait(operation.id)).toMatchObject({ status: 'Failure' });
    expect(await t.engine.instances.names('default')).not.toContain('broken');
    expect(await t.engine.storage.listVolumes('default')).toEqual([]);
    await rm(cache, { force: true });
  });
});
