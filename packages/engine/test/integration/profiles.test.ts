import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';

let t: TestEngine;

/** A new project's default profile is empty (as in LXD): give it a root disk to hold instances. */
async function projectWithRootDisk(name: string, config: Record<string, string>) {
  await t.engine.projects.create({ name, config });
  await t.engine.profiles.patch(name, 'default', {
    devices: { root: { type: 'disk', path: '/', pool: 'default' } },
  });
}

beforeEach(async () => {
  t = await startTestEngine();
});
afterEach(async () => {
  await t.cleanup();
});

describe('profiles', () => {
  it('creates, lists, updates, renames and deletes a profile, with lifecycle events', async () => {
    const web = await t.engine.profiles.create('default', {
      name: 'web',
      config: { 'limits.cpu': '1', 'limits.memory': '256MiB' },
    });
    expect(web).toEqual({
      name: 'web',
      description: '',
      config: { 'limits.cpu': '1', 'limits.memory': '256MiB' },
      devices: {},
      used_by: [],
    });
    expect((await t.engine.profiles.list('default')).map((p) => p.name)).toEqual([
      'default',
      'web',
    ]);

    await t.engine.profiles.patch('default', 'web', { config: { 'limits.cpu': '2' } });
    expect((await t.engine.profiles.get('default', 'web')).config).toEqual({
      'limits.cpu': '2',
      'limits.memory': '256MiB',
    });

    await t.engine.profiles.rename('default', 'web', 'www');
    expect(await errorOf(t.engine.profiles.get('default', 'web'))).toMatchObject({
      code: 'NOT_FOUND',
    });
    await t.engine.profiles.delete('default', 'www');
    expect((await t.engine.profiles.list('default')).map((p) => p.name)).toEqual(['default']);

    const actions = t.events
      .filter((e) => e.type === 'lifecycle')
      .map((e) => (e.metadata as { action: string }).action);
    expect(actions).toEqual([
      'profile-created',
      'profile-updated',
      'profile-renamed',
      'profile-deleted',
    ]);
  });

  it('reads null maps as empty, as the lxc client sends them', async () => {
    // What `lxc profile create p1` sends: Go's nil maps are JSON null.
    expect(
      await t.engine.profiles.create('default', {
        name: 'p1',
        description: '',
        config: null,
        devices: null,
      }),
    ).toEqual({ name: 'p1', description: '', config: {}, devices: {}, used_by: [] });
    await t.engine.profiles.update('default', 'p1', {
      config: { 'limits.cpu': '1' },
      devices: null,
    });
    expect((await t.engine.profiles.get('default', 'p1')).config).toEqual({ 'limits.cpu': '1' });
    await t.engine.projects.create({ name: 'pnull', config: null });
    await t.engine.projects.update('pnull', { description: 'x', config: null });
    expect((await t.engine.projects.get('pnull')).config).toEqual({});
  });

  it('refuses bad names, unknown keys, engine-owned keys and bad devices, naming the field', async () => {
    expect(await errorOf(t.engine.profiles.create('default', { name: 'a/b' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'name',
    });
    expect(await errorOf(t.engine.profiles.create('default', { name: 'default' }))).toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    const unknown = await errorOf(
      t.engine.profiles.create('default', { name: 'p', config: { 'limits.bogus': '1' } }),
    );
    expect(unknown.message).toContain('limits.bogus');
    expect(
      await errorOf(
        t.engine.profiles.create('default', {
          name: 'p',
          config: { 'volatile.eth0.hwaddr': '02:16:3e:00:00:01' },
        }),
      ),
    ).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const device = await errorOf(
      t.engine.profiles.create('default', {
        name: 'p',
        devices: { eth0: { type: 'nic', nictype: 'bridged', parent: 'br0', hwaddr: 'nope' } },
      }),
    );
    expect(device.message).toMatch(/eth0/);
    expect((await t.engine.profiles.list('default')).map((p) => p.name)).toEqual(['default']);
  });

  it('keeps the default profile and profiles in use', async () => {
    expect(await errorOf(t.engine.profiles.delete('default', 'default'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await errorOf(t.engine.profiles.rename('default', 'default', 'x'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await t.engine.profiles.create('default', { name: 'web' });
    await t.engine.instances.createAndWait('default', { name: 'c1', profiles: ['default', 'web'] });
    const err = await errorOf(t.engine.profiles.delete('default', 'web'));
    expect(err).toMatchObject({ code: 'CONFLICT' });
    expect(err.message).toContain('c1');
    expect((await t.engine.profiles.get('default', 'web')).used_by).toEqual(['/1.0/instances/c1']);
  });

  it('a profile change shows in every instance using it', async () => {
    await t.engine.profiles.create('default', { name: 'web', config: { 'limits.cpu': '1' } });
    await t.engine.instances.createAndWait('default', { name: 'c1', profiles: ['default', 'web'] });
    await t.engine.instances.createAndWait('default', {
      name: 'c2',
      profiles: ['default', 'web'],
      config: { 'limits.cpu': '3' },
    });
    await t.engine.profiles.update('default', 'web', {
      config: { 'limits.cpu': '2', 'user.tier': 'front' },
    });
    const c1 = await t.engine.instances.get('default', 'c1');
    const c2 = await t.engine.instances.get('default', 'c2');
    expect(c1.expanded_config).toMatchObject({ 'limits.cpu': '2', 'user.tier': 'front' });
    expect(c1.config['limits.cpu']).toBeUndefined();
    // Local config still wins over the profile.
    expect(c2.expanded_config).toMatchObject({ 'limits.cpu': '3', 'user.tier': 'front' });
  });

  it('a profile change that would break one instance changes nothing', async () => {
    await projectWithRootDisk('capped', { 'limits.cpu': '4' });
    await t.engine.profiles.create('capped', { name: 'small', config: { 'limits.cpu': '1' } });
    await t.engine.instances.createAndWait('capped', {
      name: 'c1',
      profiles: ['default', 'small'],
    });
    await t.engine.instances.createAndWait('capped', {
      name: 'c2',
      profiles: ['default', 'small'],
    });
    // 2 x 3 CPUs would exceed the project's 4.
    const err = await errorOf(
      t.engine.profiles.update('capped', 'small', { config: { 'limits.cpu': '3' } }),
    );
    expect(err).toMatchObject({ code: 'FORBIDDEN', field: 'config["limits.cpu"]' });
    expect((await t.engine.profiles.get('capped', 'small')).config).toEqual({ 'limits.cpu': '1' });
    expect((await t.engine.instances.get('capped', 'c1')).expanded_config['limits.cpu']).toBe('1');
    const updated = t.events
      .filter((e) => (e.metadata as { action?: string }).action === 'profile-updated')
      .map((e) => (e.metadata as { source?: string }).source);
    // Only the root disk added to the project's default profile at the start.
    expect(updated).toEqual(['/1.0/profiles/default?project=capped']);
  });

  it("refuses a profile change that makes an instance's expanded config invalid", async () => {
    await projectWithRootDisk('strict', { restricted: 'true' });
    await t.engine.profiles.create('strict', { name: 'p' });
    await t.engine.instances.createAndWait('strict', { name: 'c1', profiles: ['default', 'p'] });
    const err = await errorOf(
      t.engine.profiles.update('strict', 'p', { config: { 'security.nesting': 'true' } }),
    );
    expect(err).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.engine.profiles.get('strict', 'p')).config).toEqual({});
  });
});
