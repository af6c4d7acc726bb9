import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';

let t: TestEngine;

/**
 * A project that can hold instances: LXD gives a new project an empty
 * default profile, so its user adds a root disk first, as here.
 */
async function projectWithRootDisk(name: string, config: Record<string, string> = {}) {
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

describe('projects', () => {
  it('has a default project with a default profile that cannot be deleted or renamed', async () => {
    const def = await t.engine.projects.get('default');
    expect(def.config['features.profiles']).toBe('true');
    expect(def.used_by).toContain('/1.0/profiles/default');
    expect(await errorOf(t.engine.projects.delete('default'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'name',
    });
    expect(await errorOf(t.engine.projects.rename('default', 'other'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await t.engine.projects.names()).toEqual(['default']);
  });

  it('creates a project with its own default profile and announces it', async () => {
    const project = await t.engine.projects.create({ name: 'team-a', description: 'Team A' });
    expect(project).toMatchObject({
      name: 'team-a',
      description: 'Team A',
      config: {
        'features.images': 'true',
        'features.profiles': 'true',
        'features.storage.volumes': 'true',
      },
      used_by: ['/1.0/profiles/default?project=team-a'],
    });
    // LXD 5.0's shape: a default profile with no config and no devices.
    expect(await t.engine.profiles.list('team-a')).toEqual([
      {
        name: 'default',
        description: 'Default Berth profile for project team-a',
        config: {},
        devices: {},
        used_by: [],
      },
    ]);
    expect(t.events).toContainEqual(
      expect.objectContaining({
        type: 'lifecycle',
        project: 'team-a',
        metadata: { action: 'project-created', source: '/1.0/projects/team-a' },
      }),
    );
  });

  it('refuses an instance in a new project until it has a root disk, as LXD does', async () => {
    await t.engine.projects.create({ name: 'bare' });
    const err = await errorOf(t.engine.instances.create('bare', { name: 'c1' }));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(err.message).toMatch(/No root device could be found/);
    await t.engine.profiles.patch('bare', 'default', {
      devices: { root: { type: 'disk', path: '/', pool: 'default' } },
    });
    await t.engine.instances.createAndWait('bare', { name: 'c1' });
    expect(await t.engine.instances.names('bare')).toEqual(['c1']);
  });

  it("without features.images a project uses and adds to the default project's images", async () => {
    const built = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
    const fp = ((await t.engine.operations.wait(built.id)).metadata as { fingerprint: string })
      .fingerprint;
    await projectWithRootDisk('pimg', { 'features.images': 'false' });
    expect((await t.engine.projects.get('pimg')).config['features.images']).toBe('false');
    expect((await t.engine.images.list('pimg')).map((i) => i.fingerprint)).toEqual([fp]);
    expect(await t.engine.images.resolveAlias('pimg', 'busybox')).toBe(fp);
    expect((await t.engine.images.listAliases('pimg')).map((a) => a.name)).toEqual(['busybox']);

    // Launch by alias and by fingerprint prefix, from the default project's image.
    const byAlias = await t.engine.instances.createAndWait('pimg', {
      name: 'c1',
      source: { type: 'image', alias: 'busybox' },
    });
    expect(byAlias.config['volatile.base_image']).toBe(fp);
    await t.engine.instances.createAndWait('pimg', {
      name: 'c2',
      source: { type: 'image', fingerprint: fp.slice(0, 12) },
    });
    expect(await t.engine.instances.names('pimg')).toEqual(['c1', 'c2']);

    // An alias made from pimg lands in default; pimg itself holds no image.
    await t.engine.images.createAlias('pimg', { name: 'bb', target: fp });
    expect((await t.engine.images.listAliases('default')).map((a) => a.name)).toEqual([
      'bb',
      'busybox',
    ]);
    expect((await t.engine.projects.get('pimg')).used_by).not.toContainEqual(
      expect.stringContaining('/1.0/images/'),
    );

    // A project with its own images sees none of default's.
    await projectWithRootDisk('own');
    expect(await t.engine.images.list('own')).toEqual([]);
    expect(
      await errorOf(
        t.engine.instances.create('own', {
          name: 'c1',
          source: { type: 'image', alias: 'busybox' },
        }),
      ),
    ).toMatchObject({ code: 'NOT_FOUND', field: 'source.alias' });
  });

  it("without features.profiles a project uses the default project's profiles", async () => {
    await t.engine.profiles.create('default', { name: 'shared', config: { 'limits.cpu': '1' } });
    await t.engine.projects.create({ name: 'lean', config: { 'features.profiles': 'false' } });
    expect((await t.engine.profiles.list('lean')).map((p) => p.name)).toEqual([
      'default',
      'shared',
    ]);
    // Its instances expand default's profiles (the root disk is default's).
    const c1 = await t.engine.instances.createAndWait('lean', {
      name: 'c1',
      profiles: ['default', 'shared'],
    });
    expect(c1.expanded_config['limits.cpu']).toBe('1');
    expect(c1.expanded_devices['root']).toMatchObject({ path: '/', pool: 'default' });
    expect((await t.engine.profiles.get('lean', 'shared')).used_by).toEqual([
      '/1.0/instances/c1?project=lean',
    ]);
  });

  it('refuses bad names, duplicates and unknown config keys, naming the field', async () => {
    expect(await errorOf(t.engine.projects.create({ name: 'bad/name' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'name',
    });
    expect(await errorOf(t.engine.projects.create({ name: '' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'name',
    });
    await t.engine.projects.create({ name: 'dup' });
    expect(await errorOf(t.engine.projects.create({ name: 'dup' }))).toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    const bad = await errorOf(
      t.engine.projects.create({ name: 'x', config: { 'limits.bogus': '1' } }),
    );
    expect(bad).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'config["limits.bogus"]' });
    expect(bad.message).toContain('limits.bogus');
    const badValue = await errorOf(
      t.engine.projects.create({ name: 'y', config: { 'limits.instances': 'many' } }),
    );
    expect(badValue).toMatchObject({ field: 'config["limits.instances"]' });
    expect(await t.engine.projects.names()).toEqual(['default', 'dup']);
  });

  it('enforces limits.instances on create and refuses lowering a limit below what runs', async () => {
    await projectWithRootDisk('small', { 'limits.instances': '2' });
    await t.engine.instances.createAndWait('small', { name: 'c1' });
    await t.engine.instances.createAndWait('small', { name: 'c2' });
    const err = await errorOf(t.engine.instances.create('small', { name: 'c3' }));
    expect(err).toMatchObject({ code: 'FORBIDDEN' });
    expect(err.message).toMatch(/limits\.instances=2/);
    expect(await t.engine.instances.names('small')).toEqual(['c1', 'c2']);

    expect(
      await errorOf(t.engine.projects.patch('small', { config: { 'limits.instances': '1' } })),
    ).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.engine.projects.get('small')).config['limits.instances']).toBe('2');
    expect((await t.engine.projects.state('small')).resources.instances).toEqual({
      Limit: 2,
      Usage: 2,
    });
  });

  it('enforces limits.cpu and limits.memory as sums, and demands the keys', async () => {
    await projectWithRootDisk('capped', { 'limits.cpu': '4', 'limits.memory': '1GiB' });
    const missing = await errorOf(t.engine.instances.create('capped', { name: 'c0' }));
    expect(missing).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(missing.message).toMatch(/limits\.cpu/);

    await t.engine.instances.createAndWait('capped', {
      name: 'c1',
      config: { 'limits.cpu': '2', 'limits.memory': '512MiB' },
    });
    await t.engine.instances.createAndWait('capped', {
      name: 'c2',
      config: { 'limits.cpu': '0-1', 'limits.memory': '256MiB' },
    });
    expect(
      await errorOf(
        t.engine.instances.create('capped', {
          name: 'c3',
          config: { 'limits.cpu': '1', 'limits.memory': '256MiB' },
        }),
      ),
    ).toMatchObject({
      code: 'FORBIDDEN',
      field: 'config["limits.cpu"]',
    });
    expect(
      await errorOf(
        t.engine.instances.patch('capped', 'c2', { config: { 'limits.memory': '768MiB' } }),
      ),
    ).toMatchObject({
      code: 'FORBIDDEN',
      field: 'config["limits.memory"]',
    });
    expect((await t.engine.instances.get('capped', 'c2')).config['limits.memory']).toBe('256MiB');
    const state = await t.engine.projects.state('capped');
    expect(state.resources.cpu).toEqual({ Limit: 4, Usage: 4 });
    expect(state.resources.memory).toEqual({ Limit: 1024 ** 3, Usage: 768 * 1024 ** 2 });
  });

  it('a restricted project refuses privileged, nested and low-level containers', async () => {
    await projectWithRootDisk('locked', { restricted: 'true' });
    for (const [key, value] of [
      ['security.privileged', 'true'],
      ['security.nesting', 'true'],
      ['raw.lxc', 'lxc.apparmor.profile = unconfined'],
      ['raw.idmap', 'both 1000 1000'],
    ] as const) {
      const err = await errorOf(
        t.engine.instances.create('locked', { name: 'c1', config: { [key]: value } }),
      );
      expect(err, key).toMatchObject({ code: 'FORBIDDEN', field: `config["${key}"]` });
    }
    // The same through a profile.
    const viaProfile = await errorOf(
      t.engine.profiles.create('locked', {
        name: 'priv',
        config: { 'security.privileged': 'true' },
      }),
    );
    expect(viaProfile).toMatchObject({ code: 'FORBIDDEN' });
    // Host bind mounts and unix-char devices are refused too.
    expect(
      await errorOf(
        t.engine.instances.create('locked', {
          name: 'c1',
          devices: { data: { type: 'disk', source: '/etc', path: '/mnt' } },
        }),
      ),
    ).toMatchObject({ code: 'FORBIDDEN', field: 'devices["data"]' });
    expect(await t.engine.instances.names('locked')).toEqual([]);

    // The restriction can be lifted key by key.
    await t.engine.projects.patch('locked', {
      config: { 'restricted.containers.nesting': 'allow' },
    });
    await t.engine.instances.createAndWait('locked', {
      name: 'nested',
      config: { 'security.nesting': 'true' },
    });
  });

  it('refuses to delete or rename a project that still holds instances', async () => {
    await projectWithRootDisk('busy');
    await t.engine.instances.createAndWait('busy', { name: 'c1' });
    expect(await errorOf(t.engine.projects.delete('busy'))).toMatchObject({ code: 'CONFLICT' });
    expect(await errorOf(t.engine.projects.rename('busy', 'idle'))).toMatchObject({
      code: 'CONFLICT',
    });
    // As an operation (LXD's answer): a bad name or the default project fail at once, the
    // emptiness check in the operation.
    expect(await errorOf(t.engine.projects.startRename('busy', 'no/slash'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'name',
    });
    expect(await errorOf(t.engine.projects.startRename('default', 'x'))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await errorOf(t.engine.projects.startRename('gone', 'x'))).toMatchObject({
      code: 'NOT_FOUND',
    });
    const refused = await t.engine.operations.wait(
      (await t.engine.projects.startRename('busy', 'idle')).id,
    );
    expect(refused).toMatchObject({ status: 'Failure' });
    expect(refused.err).toMatch(/renamed/);
    await t.engine.instances.delete('busy', 'c1');
    const renamed = await t.engine.projects.startRename('busy', 'idle');
    expect(renamed.resources).toEqual({ projects: ['/1.0/projects/busy'] });
    expect((await t.engine.operations.wait(renamed.id)).status).toBe('Success');
    await t.engine.projects.delete('idle');
    expect(await t.engine.projects.names()).toEqual(['default']);
  });

  it('does not let features change on a project in use', async () => {
    await projectWithRootDisk('feat');
    await t.engine.instances.createAndWait('feat', { name: 'c1' });
    const err = await errorOf(
      t.engine.projects.patch('feat', { config: { 'features.profiles': 'false' } }),
    );
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'config["features.profiles"]' });
  });

  it("judges a caller's check on the stored and the merged config, in the write, and keeps the project when it refuses", async () => {
    await t.engine.projects.create({ name: 'chk', config: { 'user.a': '1' } });
    const seen: Array<[Record<string, string>, Record<string, string>]> = [];
    await t.engine.projects.patch('chk', { config: { 'user.b': '2' } }, (current, next) => {
      seen.push([{ ...current }, { ...next }]);
    });
    expect(seen).toEqual([
      [
        expect.objectContaining({ 'user.a': '1' }),
        expect.objectContaining({ 'user.a': '1', 'user.b': '2' }),
      ],
    ]);
    const refusal = new Error('refused by the caller');
    const err = await errorOf(
      t.engine.projects.update('chk', { config: { 'user.c': '3' } }, () => {
        throw refusal;
      }),
    );
    expect(err).toBe(refusal);
    expect((await t.engine.projects.get('chk')).config).toMatchObject({
      'user.a': '1',
      'user.b': '2',
    });
    expect((await t.engine.projects.get('chk')).config['user.c']).toBeUndefined();
  });
});
