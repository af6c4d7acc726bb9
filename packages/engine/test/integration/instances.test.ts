import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  errorOf,
  removeHostState,
  startTestEngine,
  testBridgeName,
  type TestEngine,
} from './helpers.ts';

let t: TestEngine;
// A network of the test's own (up, as every new network is; stopped by name after each test).
let net: string;
beforeEach(async () => {
  t = await startTestEngine();
  net = testBridgeName();
  await t.engine.networks.create({ name: net });
});
afterEach(async () => {
  await removeHostState(t.engine, net);
  await t.cleanup();
});

describe('instances: records, validation, expansion', () => {
  it("creates an instance in LXD's wire shape with profiles expanded in order", async () => {
    await t.engine.profiles.patch('default', 'default', {
      devices: {
        root: { type: 'disk', path: '/', pool: 'default' },
        eth0: { type: 'nic', network: net, name: 'eth0' },
      },
    });
    await t.engine.profiles.create('default', {
      name: 'web',
      config: { 'limits.cpu': '1', 'user.a': 'web' },
    });
    const { instance, operation } = await t.engine.instances.create('default', {
      name: 'c1',
      profiles: ['default', 'web'],
      config: { 'user.a': 'local' },
      description: 'first',
    });
    expect(operation).toMatchObject({
      class: 'task',
      description: 'Creating instance',
      resources: { instances: ['/1.0/instances/c1'] },
    });
    expect(await t.engine.operations.wait(operation.id)).toMatchObject({
      status: 'Success',
      status_code: 200,
    });
    expect(instance).toMatchObject({
      name: 'c1',
      description: 'first',
      type: 'container',
      status: 'Stopped',
      status_code: 102,
      profiles: ['default', 'web'],
      ephemeral: false,
      stateful: false,
      location: 'none',
      project: 'default',
      last_used_at: '1970-01-01T00:00:00Z',
      expanded_devices: {
        root: { type: 'disk', path: '/', pool: 'default' },
        eth0: { type: 'nic', network: net, name: 'eth0' },
      },
    });
    expect(instance.expanded_config).toMatchObject({
      'limits.cpu': '1',
      'user.a': 'local',
      // As it was answered: still being created (a restarted engine removes it if never finished).
      'volatile.last_state.power': 'CREATING',
    });
    expect((await t.engine.instances.get('default', 'c1')).config).toMatchObject({
      'volatile.last_state.power': 'STOPPED',
    });
    expect(instance.config['volatile.uuid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(instance.created_at))).toBe(false);
  });

  it('gives each nic a stable, unique, locally administered MAC in volatile.<dev>.hwaddr', async () => {
    await t.engine.profiles.patch('default', 'default', {
      devices: { eth0: { type: 'nic', network: net } },
    });
    const a = await t.engine.instances.createAndWait('default', { name: 'a' });
    const b = await t.engine.instances.createAndWait('default', { name: 'b' });
    const macA = a.config['volatile.eth0.hwaddr'];
    expect(macA).toMatch(/^02:16:3e(:[0-9a-f]{2}){3}$/);
    expect(b.config['volatile.eth0.hwaddr']).not.toBe(macA);
    // Updating the instance keeps its MAC.
    await t.engine.instances.patch('default', 'a', { config: { 'user.x': '1' } });
    expect((await t.engine.instances.get('default', 'a')).config['volatile.eth0.hwaddr']).toBe(
      macA,
    );
    // A nic with a fixed hwaddr gets no volatile one.
    const c = await t.engine.instances.createAndWait('default', {
      name: 'c',
      devices: { eth0: { type: 'nic', network: net, hwaddr: '02:00:00:00:00:07' } },
    });
    expect(c.config['volatile.eth0.hwaddr']).toBeUndefined();
  });

  it('picks an LXD-style name when none is given', async () => {
    const instance = await t.engine.instances.createAndWait('default', {});
    expect(instance.name).toMatch(/^[a-z]+-[a-z]+$/);
  });

  it('refuses bad input with the field and the reason, and writes nothing', async () => {
    const cases: [object, string, RegExp][] = [
      [{ name: '1abc' }, 'name', /must not start with a number/],
      [{ name: 'a_b' }, 'name', /alphanumeric and hyphen/],
      [{ name: 'ok', config: { 'limits.bogus': '1' } }, 'config["limits.bogus"]', /limits\.bogus/],
      [{ name: 'ok', config: { 'limits.cpu': '3-1' } }, 'config["limits.cpu"]', /limits\.cpu/],
      [
        { name: 'ok', config: { 'volatile.eth0.hwaddr': '02:16:3e:00:00:01' } },
        'config["volatile.eth0.hwaddr"]',
        /volatile/,
      ],
      [{ name: 'ok', profiles: ['nope'] }, 'profiles[0]', /Profile "nope" not found/],
      [{ name: 'ok', profiles: ['default', 'default'] }, 'profiles[1]', /twice/],
      [{ name: 'ok', type: 'zone' }, 'type', /.+/],
    ];
    for (const [input, field, message] of cases) {
      const err = await errorOf(t.engine.instances.create('default', input));
      expect(err.field, JSON.stringify(input)).toBe(field);
      expect(err.message, JSON.stringify(input)).toMatch(message);
    }
    expect(await t.engine.instances.names('default')).toEqual([]);
    expect(await errorOf(t.engine.instances.create('nowhere', { name: 'c1' }))).toMatchObject({
      code: 'NOT_FOUND',
      field: 'project',
    });
  });

  it('refuses a duplicate name', async () => {
    await t.engine.instances.createAndWait('default', { name: 'c1' });
    expect(await errorOf(t.engine.instances.create('default', { name: 'c1' }))).toMatchObject({
      code: 'ALREADY_EXISTS',
      field: 'name',
    });
  });

  it('PUT replaces config but keeps volatile keys; PATCH merges', async () => {
    await t.engine.instances.createAndWait('default', {
      name: 'c1',
      config: { 'user.a': '1', 'user.b': '2' },
    });
    const uuid = (await t.engine.instances.get('default', 'c1')).config['volatile.uuid'];
    await t.engine.instances.update('default', 'c1', {
      config: { 'user.c': '3' },
      profiles: ['default'],
    });
    let c1 = await t.engine.instances.get('default', 'c1');
    expect(c1.config['user.a']).toBeUndefined();
    expect(c1.config['user.c']).toBe('3');
    expect(c1.config['volatile.uuid']).toBe(uuid);
    await t.engine.instances.patch('default', 'c1', { config: { 'user.d': '4' } });
    c1 = await t.engine.instances.get('default', 'c1');
    expect(c1.config).toMatchObject({ 'user.c': '3', 'user.d': '4' });
  });

  it("renames and deletes, with lifecycle events in LXD's shape", async () => {
    await t.engine.instances.createAndWait('default', { name: 'c1' });
    await t.engine.instances.rename('default', 'c1', 'c2');
    expect(await errorOf(t.engine.instances.get('default', 'c1'))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await errorOf(t.engine.instances.rename('default', 'c2', 'bad_name'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'name',
    });
    await t.engine.instances.delete('default', 'c2');
    expect(await t.engine.instances.names('default')).toEqual([]);
    const lifecycle = t.events
      .filter(
        (e) =>
          e.type === 'lifecycle' &&
          (e.metadata as { action: string }).action.startsWith('instance-'),
      )
      .map((e) => e.metadata);
    expect(lifecycle).toEqual([
      { action: 'instance-created', source: '/1.0/instances/c1' },
      { action: 'instance-renamed', source: '/1.0/instances/c2', context: { old_name: 'c1' } },
      { action: 'instance-deleted', source: '/1.0/instances/c2' },
    ]);
  });

  it("lists across projects and filters with LXD's syntax", async () => {
    await t.engine.projects.create({ name: 'p2' });
    // A new project's default profile is empty, as LXD's: give it a root disk.
    await t.engine.profiles.patch('p2', 'default', {
      devices: { root: { type: 'disk', path: '/', pool: 'default' } },
    });
    await t.engine.instances.createAndWait('default', {
      name: 'web1',
      config: { 'limits.cpu': '2' },
    });
    await t.engine.instances.createAndWait('default', {
      name: 'web2',
      config: { 'limits.cpu': '1' },
    });
    await t.engine.instances.createAndWait('p2', { name: 'db1', config: { 'limits.cpu': '2' } });
    expect((await t.engine.instances.list('default')).map((i) => i.name)).toEqual(['web1', 'web2']);
    expect((await t.engine.instances.list(undefined)).map((i) => `${i.project}/${i.name}`)).toEqual(
      ['default/web1', 'default/web2', 'p2/db1'],
    );
    expect(
      (await t.engine.instances.list(undefined, { filter: 'config.limits.cpu eq 2' })).map(
        (i) => i.name,
      ),
    ).toEqual(['web1', 'db1']);
    expect(
      (
        await t.engine.instances.list('default', {
          filter: 'name eq web.* and not config.limits.cpu eq 2',
        })
      ).map((i) => i.name),
    ).toEqual(['web2']);
    expect(
      (await t.engine.instances.listFull('default', { filter: 'state.status eq Stopped' })).length,
    ).toBe(2);
    expect(await errorOf(t.engine.instances.list('default', { filter: 'name eq' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'filter',
    });
  });

  it('starts an empty virtual machine on its blank root disk, as LXD does', async () => {
    await t.engine.instances.createAndWait('default', { name: 'vm1', type: 'virtual-machine' });
    // setup.sh installs QEMU: the driver must run here.
    expect(t.engine.drivers().find((d) => d.type === 'virtual-machine')).toMatchObject({
      name: 'qemu',
      available: true,
    });
    await t.engine.instances.changeStateAndWait('default', 'vm1', { action: 'start' });
    expect((await t.engine.instances.get('default', 'vm1')).status).toBe('Running');
    await t.engine.instances.changeStateAndWait('default', 'vm1', { action: 'stop', force: true });
    expect((await t.engine.instances.get('default', 'vm1')).status).toBe('Stopped');
  });
});
