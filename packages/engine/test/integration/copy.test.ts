// Copying instances (`lxc copy`) with real LXC containers on a dir pool:
// stopped and running sources, from a snapshot, with and without the
// source's snapshots, another id map, and bad input that leaves nothing.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  errorOf,
  removeHostState,
  startTestEngine,
  testBridgeName,
  waitFor,
  type TestEngine,
} from './helpers.ts';

const bridge = testBridgeName();
const suffix = randomBytes(3).toString('hex');
const name = (base: string) => `cp-${base}-${suffix}`;
const SRC = name('src');
let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine(undefined, { network: bridge });
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
}, 60_000);

afterAll(async () => {
  await removeHostState(t.engine, bridge);
  await t.cleanup();
}, 60_000);

async function copy(target: string, source: Record<string, unknown>, extra = {}) {
  const { operation } = await t.engine.instances.create('default', {
    name: target,
    source: { type: 'copy', ...source } as { type: 'copy'; source: string },
    ...extra,
  });
  const done = await t.engine.operations.wait(operation.id);
  expect(done.err).toBe('');
  expect(done.status).toBe('Success');
  return t.engine.instances.get('default', target);
}

async function read(instance: string, file: string): Promise<string> {
  return (await t.engine.instances.filePull('default', instance, file)).content?.toString() ?? '';
}

async function write(instance: string, file: string, text: string): Promise<void> {
  await t.engine.instances.filePush('default', instance, file, {
    content: Buffer.from(text),
    uid: 0,
    gid: 0,
    mode: 0o644,
  });
}

async function rootfsOf(instance: string): Promise<string> {
  return (await t.engine.instances.resolve('default', instance)).view.paths.rootfs;
}

async function volumeDirOf(instance: string): Promise<string> {
  return (await t.engine.storage.instancePaths('default', 'default', instance, 'container')).dir;
}

async function ipv4Of(instance: string): Promise<string> {
  const state = await waitFor(
    `an IPv4 address for ${instance}`,
    () => t.engine.instances.state('default', instance),
    (s) => (s.network?.eth0?.addresses ?? []).some((a) => a.family === 'inet'),
    20_000,
  );
  return state.network!.eth0!.addresses.find((a) => a.family === 'inet')!.address;
}

describe('copying instances', () => {
  it('copies a stopped container with its snapshots; the copy is independent', async () => {
    await t.engine.instances.createAndWait('default', {
      name: SRC,
      source: { type: 'image', alias: 'busybox' },
      config: { 'user.origin': 'source' },
    });
    await write(SRC, '/root/mark.txt', 'v1\n');
    const snap = await t.engine.snapshots.create('default', SRC, { name: 'snap0' });
    expect(await t.engine.operations.wait(snap.id)).toMatchObject({ status: 'Success' });
    await write(SRC, '/root/mark.txt', 'v2\n');
    const source = await t.engine.instances.get('default', SRC);

    const started = Date.now();
    const copied = await copy(name('a'), { source: SRC });
    console.log(`copy of a stopped container with one snapshot: ${Date.now() - started} ms`);
    expect(copied.config['user.origin']).toBe('source');
    expect(copied.config['volatile.base_image']).toBe(source.config['volatile.base_image']);
    expect(copied.config['image.os']).toBe('busybox');
    expect(copied.config['volatile.eth0.hwaddr']).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(copied.config['volatile.eth0.hwaddr']).not.toBe(source.config['volatile.eth0.hwaddr']);
    expect(copied.config['volatile.uuid']).not.toBe(source.config['volatile.uuid']);
    expect(copied).toMatchObject({
      status: 'Stopped',
      profiles: source.profiles,
      architecture: source.architecture,
    });

    const [sourceSnap] = await t.engine.snapshots.list('default', SRC);
    const snaps = await t.engine.snapshots.list('default', name('a'));
    expect(snaps.map((s) => s.name)).toEqual(['snap0']);
    expect(snaps[0]!.created_at).toBe(sourceSnap!.created_at);
    expect(snaps[0]!.config['volatile.eth0.hwaddr']).toBeUndefined();

    expect(await read(name('a'), '/root/mark.txt')).toBe('v2\n');
    // Own inodes: a change to the source's file is not seen by the copy.
    const [a, b] = await Promise.all([
      stat(path.join(await rootfsOf(SRC), 'root/mark.txt')),
      stat(path.join(await rootfsOf(name('a')), 'root/mark.txt')),
    ]);
    expect(a.ino).not.toBe(b.ino);
    await write(SRC, '/root/mark.txt', 'v3\n');
    expect(await read(SRC, '/root/mark.txt')).toBe('v3\n');
    expect(await read(name('a'), '/root/mark.txt')).toBe('v2\n');

    await t.engine.instances.changeStateAndWait('default', name('a'), { action: 'start' });
    const out = await t.engine.instances.exec('default', name('a'), {
      command: ['cat', '/root/mark.txt'],
    });
    expect(out).toMatchObject({ exitCode: 0, stdout: 'v2\n' });
    // The copied snapshot restores the snapshot's content.
    const restore = await t.engine.snapshots.restore('default', name('a'), 'snap0');
    expect(await t.engine.operations.wait(restore.id)).toMatchObject({ status: 'Success' });
    expect(
      (await t.engine.instances.exec('default', name('a'), { command: ['cat', '/root/mark.txt'] }))
        .stdout,
    ).toBe('v1\n');
  }, 60_000);

  it('copies a running container; both run, with their own MAC and IPv4', async () => {
    await t.engine.instances.changeStateAndWait('default', SRC, { action: 'start' });
    await t.engine.instances.exec('default', SRC, {
      command: ['sh', '-c', 'echo live > /root/live.txt'],
    });
    const copied = await copy(name('b'), { source: SRC, instance_only: true });
    expect((await t.engine.instances.get('default', SRC)).status).toBe('Running');
    expect(copied.status).toBe('Stopped');
    expect(await t.engine.snapshots.list('default', name('b'))).toEqual([]);
    await t.engine.instances.changeStateAndWait('default', name('b'), { action: 'start' });
    expect(
      (await t.engine.instances.exec('default', name('b'), { command: ['cat', '/root/live.txt'] }))
        .stdout,
    ).toBe('live\n');
    const [srcState, copyState] = await Promise.all([
      t.engine.instances.state('default', SRC),
      t.engine.instances.state('default', name('b')),
    ]);
    expect(copyState.network!.eth0!.hwaddr).not.toBe(srcState.network!.eth0!.hwaddr);
    expect(await ipv4Of(name('b'))).not.toBe(await ipv4Of(SRC));
  }, 60_000);

  it("copies from a snapshot: the snapshot's content, no snapshots", async () => {
    const copied = await copy(name('c'), { source: `${SRC}/snap0` });
    expect(copied.config['user.origin']).toBe('source');
    expect(await t.engine.snapshots.list('default', name('c'))).toEqual([]);
    expect(await read(name('c'), '/root/mark.txt')).toBe('v1\n');
  });

  it('re-shifts the copy and its snapshots when the request changes security.privileged', async () => {
    await t.engine.instances.changeStateAndWait('default', SRC, { action: 'stop', force: true });
    const copied = await copy(
      name('p'),
      { source: SRC },
      { config: { 'security.privileged': 'true' } },
    );
    expect(copied.config['security.privileged']).toBe('true');
    expect(await read(SRC, '/root/mark.txt')).toBe('v3\n');
    const srcOwner = (await stat(path.join(await rootfsOf(SRC), 'bin/busybox'))).uid;
    expect(srcOwner).toBeGreaterThan(0);
    expect((await stat(path.join(await rootfsOf(name('p')), 'bin/busybox'))).uid).toBe(0);
    const snap = await t.engine.storage.snapshotPaths(
      'default',
      'default',
      name('p'),
      'container',
      'snap0',
    );
    expect((await stat(path.join(snap.rootfs, 'bin/busybox'))).uid).toBe(0);
    expect(await read(name('p'), '/root/mark.txt')).toBe('v3\n');
  });

  it('refuses bad input, naming the field, and leaves no record and no volume', async () => {
    const target = name('bad');
    const cases: [Record<string, unknown>, Record<string, unknown>, string, string][] = [
      [{ source: '' }, {}, 'INVALID_ARGUMENT', 'source.source'],
      [{ source: name('missing') }, {}, 'NOT_FOUND', 'source.source'],
      [{ source: `${SRC}/nope` }, {}, 'NOT_FOUND', 'source.source'],
      [{ source: `${SRC}/a/b` }, {}, 'INVALID_ARGUMENT', 'source.source'],
      [{ source: SRC, project: 'nope' }, {}, 'NOT_FOUND', 'source.project'],
      [{ source: SRC, refresh: true }, {}, 'NOT_IMPLEMENTED', 'source.refresh'],
      [{ source: SRC }, { type: 'virtual-machine' }, 'INVALID_ARGUMENT', 'type'],
    ];
    for (const [source, extra, code, field] of cases) {
      const error = await errorOf(
        t.engine.instances.create('default', {
          name: target,
          source: { type: 'copy', ...source } as { type: 'copy'; source: string },
          ...extra,
        }),
      );
      expect(error, JSON.stringify(source)).toMatchObject({ code, field });
      expect(error.message).toContain(field);
    }
    // An existing target name.
    expect(
      await errorOf(
        t.engine.instances.create('default', {
          name: name('a'),
          source: { type: 'copy', source: SRC },
        }),
      ),
    ).toMatchObject({ code: 'ALREADY_EXISTS', field: 'name' });
    expect(await t.engine.instances.names('default')).not.toContain(target);
    expect(existsSync(await volumeDirOf(target))).toBe(false);
  });

  it('removes the record and the volume when the copy fails midway', async () => {
    // The source is busy (its lock is held): the operation fails after the record was written.
    const target = name('busy');
    let release!: () => void;
    const held = t.engine.instances.locks.with(
      'default',
      SRC,
      'test',
      () => new Promise<void>((resolve) => (release = resolve)),
    );
    const { operation } = await t.engine.instances.create('default', {
      name: target,
      source: { type: 'copy', source: SRC },
    });
    const done = await t.engine.operations.wait(operation.id);
    release();
    await held;
    expect(done.status).toBe('Failure');
    expect(done.err).toContain('busy');
    expect(await t.engine.instances.names('default')).not.toContain(target);
    expect(existsSync(await volumeDirOf(target))).toBe(false);

    // A snapshot's folder gone from disk: the root volume was copied, then the snapshot fails.
    const snap = await t.engine.snapshots.create('default', SRC, { name: 'snap1' });
    expect(await t.engine.operations.wait(snap.id)).toMatchObject({ status: 'Success' });
    const dir = (
      await t.engine.storage.snapshotPaths('default', 'default', SRC, 'container', 'snap1')
    ).dir;
    await rename(dir, `${dir}-aside`);
    try {
      const failed = await t.engine.instances.create('default', {
        name: target,
        source: { type: 'copy', source: SRC },
      });
      expect(await t.engine.operations.wait(failed.operation.id)).toMatchObject({
        status: 'Failure',
      });
    } finally {
      await rename(`${dir}-aside`, dir);
    }
    expect(await t.engine.instances.names('default')).not.toContain(target);
    expect(existsSync(await volumeDirOf(target))).toBe(false);
    const snapsDir = path.dirname(
      (await t.engine.storage.snapshotPaths('default', 'default', target, 'container', 'x')).dir,
    );
    expect(existsSync(snapsDir)).toBe(false);
  });
});
