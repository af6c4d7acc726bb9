// Real containers through the whole engine: image → volume → LXC → network.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
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
let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine(undefined, { network: bridge });
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
}, 60_000);

afterAll(async () => {
  await removeHostState(t.engine, bridge);
  await t.cleanup();
  // The engine restarts below reopen the same data dir, so remove it here.
  await rm(t.dataDir, { recursive: true, force: true });
}, 60_000);

describe('containers', () => {
  it('reports the LXC driver as available', () => {
    expect(t.engine.drivers()).toContainEqual(
      expect.objectContaining({ type: 'container', name: 'lxc', available: true }),
    );
  });

  it('launches a busybox container that gets an address on the managed bridge', async () => {
    const instance = await t.engine.instances.createAndWait('default', {
      name: 'c1',
      source: { type: 'image', alias: 'busybox' },
      start: true,
    });
    expect(instance).toMatchObject({ status: 'Running', status_code: 103 });
    expect(instance.config['volatile.last_state.power']).toBe('RUNNING');
    const network = await t.engine.networks.get(bridge);
    const subnet = network.config['ipv4.address']!.split('.').slice(0, 3).join('.');
    const state = await waitFor(
      'an IPv4 address',
      () => t.engine.instances.state('default', 'c1'),
      (s) => (s.network?.eth0?.addresses ?? []).some((a) => a.family === 'inet'),
    );
    const inet = state.network!.eth0!.addresses.find((a) => a.family === 'inet')!;
    expect(inet.address.startsWith(`${subnet}.`)).toBe(true);
    expect(state.network!.eth0!.hwaddr).toBe(instance.config['volatile.eth0.hwaddr']);
    expect(state.pid).toBeGreaterThan(0);
    expect(state.processes).toBeGreaterThan(0);
    expect(state.memory.usage).toBeGreaterThan(0);
    expect(state.cpu.usage).toBeGreaterThan(0);
    // The root disk's usage: at least the busybox binary.
    expect(state.disk.root?.usage).toBeGreaterThan(1_000_000);
  });

  it('fails a create with the driver’s own error code and field, and removes the record', async () => {
    // Host id 500 is not delegated to root in /etc/subuid: the driver refuses the map.
    const failure = await errorOf(
      t.engine.instances.createAndWait('default', {
        name: 'bad-idmap',
        source: { type: 'image', alias: 'busybox' },
        config: { 'raw.idmap': 'both 500 1000' },
      }),
    );
    expect(failure).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'config["raw.idmap"]' });
    expect(failure.message).toContain('config["raw.idmap"]: host uids 500-500 are not delegated');
    // The operation (what REST and tRPC report) carries the same message.
    const ops = await t.engine.operations.list('default');
    const op = ops.find((o) => o.resources?.instances?.some((u) => u.endsWith('/bad-idmap')));
    expect(op).toMatchObject({ status: 'Failure', err: failure.message });
    expect(await errorOf(t.engine.instances.get('default', 'bad-idmap'))).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('execs commands with output, exit code, environment and working directory', async () => {
    expect(await t.engine.instances.exec('default', 'c1', { command: ['echo', 'hello'] })).toEqual({
      exitCode: 0,
      stdout: 'hello\n',
      stderr: '',
    });
    expect(
      await t.engine.instances.exec('default', 'c1', {
        command: ['sh', '-c', 'echo oops >&2; exit 3'],
      }),
    ).toEqual({ exitCode: 3, stdout: '', stderr: 'oops\n' });
    const env = await t.engine.instances.exec('default', 'c1', {
      command: ['sh', '-c', 'echo $GREETING; pwd; id -u'],
      environment: { GREETING: 'hi' },
      cwd: '/tmp',
      user: 1000,
    });
    expect(env.stdout).toBe('hi\n/tmp\n1000\n');
    // A recorded exec reads /dev/null, as LXD's: `cat` ends at once, not at the timeout.
    expect(
      await t.engine.instances.exec('default', 'c1', { command: ['cat'], timeout: 600 }),
    ).toEqual({ exitCode: 0, stdout: '', stderr: '' });
  });

  it('pushes and pulls files inside the container, never outside it', async () => {
    await t.engine.instances.filePush('default', 'c1', '/root/note.txt', {
      content: Buffer.from('from the host\n'),
      mode: 0o600,
      uid: 0,
      gid: 0,
    });
    expect(
      (await t.engine.instances.exec('default', 'c1', { command: ['cat', '/root/note.txt'] }))
        .stdout,
    ).toBe('from the host\n');
    await t.engine.instances.exec('default', 'c1', {
      command: ['sh', '-c', 'echo made inside > /tmp/inside.txt; ln -s / /tmp/escape'],
    });
    const pulled = await t.engine.instances.filePull('default', 'c1', '/tmp/inside.txt');
    expect(pulled.content?.toString()).toBe('made inside\n');
    // A symlink to / made by the container resolves inside the container's root.
    const viaLink = await t.engine.instances.filePull('default', 'c1', '/tmp/escape/etc/hostname');
    expect(viaLink.content?.toString()).not.toBe(
      (await import('node:fs')).readFileSync('/etc/hostname', 'utf8'),
    );
    // Writing through that link, or with '..' past the root, stays inside the container too.
    const marker = `berth-escape-${process.pid}-${Date.now()}`;
    await t.engine.instances.filePush('default', 'c1', `/tmp/escape/tmp/${marker}`, {
      content: Buffer.from('x'),
    });
    await t.engine.instances.filePush('default', 'c1', `/../../../../tmp/${marker}-dots`, {
      content: Buffer.from('y'),
    });
    expect(existsSync(`/tmp/${marker}`)).toBe(false);
    expect(existsSync(`/tmp/${marker}-dots`)).toBe(false);
    expect(
      (
        await t.engine.instances.exec('default', 'c1', {
          command: ['cat', `/tmp/${marker}`, `/tmp/${marker}-dots`],
        })
      ).stdout,
    ).toBe('xy');
  });

  it('makes directories and symlinks, lists directories and removes entries', async () => {
    await t.engine.instances.filePush('default', 'c1', '/srv/app/conf', {
      type: 'directory',
      mode: 0o750,
      uid: 1000,
      gid: 1000,
      createParents: true,
    });
    await t.engine.instances.filePush('default', 'c1', '/srv/app/current', {
      type: 'symlink',
      target: 'conf',
    });
    const ls = await t.engine.instances.exec('default', 'c1', {
      command: ['sh', '-c', 'stat -c "%a %u %g" /srv/app/conf; readlink /srv/app/current'],
    });
    expect(ls.stdout).toBe('750 1000 1000\nconf\n');
    const dir = await t.engine.instances.filePull('default', 'c1', '/srv/app');
    expect(dir.entry.type).toBe('directory');
    expect(dir.entries).toEqual(['conf', 'current']);
    const link = await t.engine.instances.filePull('default', 'c1', '/srv/app/current');
    expect(link.entry).toMatchObject({ type: 'symlink', target: 'conf' });
    await t.engine.instances.fileRemove('default', 'c1', '/srv/app/current');
    await t.engine.instances.fileRemove('default', 'c1', '/srv/app/conf');
    expect((await t.engine.instances.filePull('default', 'c1', '/srv/app')).entries).toEqual([]);
  });

  it('freezes and unfreezes', async () => {
    await t.engine.instances.changeStateAndWait('default', 'c1', { action: 'freeze' });
    expect((await t.engine.instances.get('default', 'c1')).status).toBe('Frozen');
    expect(
      await errorOf(t.engine.instances.changeStateAndWait('default', 'c1', { action: 'freeze' })),
    ).toMatchObject({ code: 'CONFLICT' });
    await t.engine.instances.changeStateAndWait('default', 'c1', { action: 'unfreeze' });
    expect((await t.engine.instances.get('default', 'c1')).status).toBe('Running');
  });

  it('snapshots a running container and restores it (stopping and starting it again)', async () => {
    await t.engine.instances.exec('default', 'c1', {
      command: ['sh', '-c', 'echo one > /root/state'],
    });
    await t.engine.operations.wait(
      (await t.engine.snapshots.create('default', 'c1', { name: 'before' })).id,
    );
    await t.engine.instances.exec('default', 'c1', {
      command: ['sh', '-c', 'echo two > /root/state'],
    });
    const restore = await t.engine.snapshots.restore('default', 'c1', 'before');
    expect(await t.engine.operations.wait(restore.id)).toMatchObject({ status: 'Success' });
    expect((await t.engine.instances.get('default', 'c1')).status).toBe('Running');
    expect(
      (await t.engine.instances.exec('default', 'c1', { command: ['cat', '/root/state'] })).stdout,
    ).toBe('one\n');
  });

  it('refuses to delete a running container without force, and stops it gracefully', async () => {
    expect(await errorOf(t.engine.instances.delete('default', 'c1'))).toMatchObject({
      code: 'CONFLICT',
    });
    await t.engine.instances.changeStateAndWait('default', 'c1', { action: 'stop', timeout: 10 });
    const c1 = await t.engine.instances.get('default', 'c1');
    expect(c1.status).toBe('Stopped');
    expect(c1.config['volatile.last_state.power']).toBe('STOPPED');
  });

  it('notices a poweroff from inside the container', async () => {
    await t.engine.instances.changeStateAndWait('default', 'c1', { action: 'start' });
    const before = t.events.length;
    await t.engine.instances.exec('default', 'c1', { command: ['poweroff'] });
    await waitFor(
      'the container to stop',
      () => t.engine.instances.get('default', 'c1'),
      (i) => i.status === 'Stopped' && i.config['volatile.last_state.power'] === 'STOPPED',
    );
    await waitFor(
      'an instance-stopped event',
      async () => t.events.slice(before),
      (events) =>
        events.some(
          (e) =>
            e.type === 'lifecycle' &&
            (e.metadata as { action: string }).action === 'instance-stopped',
        ),
    );
  });

  it('deletes an ephemeral container when it stops', async () => {
    await t.engine.instances.createAndWait('default', {
      name: 'eph',
      ephemeral: true,
      source: { type: 'image', alias: 'busybox' },
      start: true,
    });
    await t.engine.instances.changeStateAndWait('default', 'eph', { action: 'stop', force: true });
    await waitFor(
      'the ephemeral container to go',
      () => t.engine.instances.names('default'),
      (names) => !names.includes('eph'),
    );
  });

  it('restarts a running container (a new init, same instance)', async () => {
    await t.engine.instances.createAndWait('default', {
      name: 'rs',
      source: { type: 'image', alias: 'busybox' },
      start: true,
    });
    const before = (await t.engine.instances.state('default', 'rs')).pid;
    await t.engine.instances.changeStateAndWait('default', 'rs', {
      action: 'restart',
      force: true,
    });
    const after = await t.engine.instances.state('default', 'rs');
    expect(after.status).toBe('Running');
    expect(after.pid).not.toBe(before);
    const actions = t.events
      .filter(
        (e) =>
          e.type === 'lifecycle' &&
          (e.metadata as { source: string }).source === '/1.0/instances/rs',
      )
      .map((e) => (e.metadata as { action: string }).action);
    expect(actions).toContain('instance-restarted');
    await t.engine.instances.delete('default', 'rs', { force: true });
  });

  it('starts boot.autostart containers when the engine starts', async () => {
    await t.engine.instances.createAndWait('default', {
      name: 'auto',
      source: { type: 'image', alias: 'busybox' },
      config: { 'boot.autostart': 'true' },
    });
    await t.engine.instances.createAndWait('default', {
      name: 'manual',
      source: { type: 'image', alias: 'busybox' },
      config: { 'boot.autostart': 'false' },
    });
    await t.engine.close();
    t = await startTestEngine(t.dataDir, { network: bridge });
    expect((await t.engine.instances.get('default', 'auto')).status).toBe('Running');
    expect((await t.engine.instances.get('default', 'manual')).status).toBe('Stopped');
    await t.engine.instances.delete('default', 'auto', { force: true });
    await t.engine.instances.delete('default', 'manual');
  });

  it('keeps containers running across an engine restart, and the database agrees', async () => {
    await t.engine.instances.createAndWait('default', {
      name: 'survivor',
      source: { type: 'image', alias: 'busybox' },
      start: true,
    });
    const pid = (await t.engine.instances.state('default', 'survivor')).pid;
    await t.engine.close();
    t = await startTestEngine(t.dataDir, { network: bridge });
    const survivor = await t.engine.instances.get('default', 'survivor');
    expect(survivor.status).toBe('Running');
    expect((await t.engine.instances.state('default', 'survivor')).pid).toBe(pid);
    expect(
      (await t.engine.instances.exec('default', 'survivor', { command: ['true'] })).exitCode,
    ).toBe(0);
  });

  it('force-deletes a running container and leaves nothing in the lxcpath or the pool', async () => {
    const { view } = await t.engine.instances.resolve('default', 'survivor');
    await t.engine.instances.delete('default', 'survivor', { force: true });
    await t.engine.instances.delete('default', 'c1');
    expect(existsSync(view.paths.dir)).toBe(false);
    const lxcpath = path.join(t.dataDir, 'lxc');
    const left = existsSync(lxcpath)
      ? (await readdir(lxcpath)).filter((n) => n.startsWith('default_'))
      : [];
    expect(left).toEqual([]);
    expect(await t.engine.instances.names('default')).toEqual([]);
  });
});
