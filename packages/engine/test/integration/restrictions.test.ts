// A restricted project's rules hold on what an instance really becomes,
// whichever way it gets there (issue 9, items 2, 3 and 14): a snapshot
// restore, a backup import (its snapshots included), a copy (its snapshots
// included), a start after the project was restricted, disk sources that
// climb out with `..` or a symlink, and environment values that would break
// the container's config. Real LXC containers, real SQLite.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, removeHostState, startTestEngine, type TestEngine } from './helpers.ts';

const suffix = randomBytes(3).toString('hex');
const name = (what: string) => `sec${suffix}-${what}`;
let t: TestEngine;
let poolDir: string;

/** A project with the busybox image (images are per project). */
async function project(what: string, config: Record<string, string> = {}): Promise<string> {
  const p = name(what);
  await t.engine.projects.create({ name: p });
  // A new project's default profile is empty, as LXD's: give it a root disk.
  await t.engine.profiles.patch(p, 'default', {
    devices: { root: { type: 'disk', path: '/', pool: 'default' } },
  });
  const build = await t.engine.images.buildBusybox(p, { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
  if (Object.keys(config).length > 0) await t.engine.projects.patch(p, { config });
  return p;
}

async function restrict(p: string, config: Record<string, string> = {}): Promise<void> {
  await t.engine.projects.patch(p, { config: { restricted: 'true', ...config } });
}

async function launch(
  p: string,
  instance: string,
  extra: { config?: Record<string, string>; devices?: Record<string, Record<string, string>> } = {},
  start = false,
) {
  return t.engine.instances.createAndWait(p, {
    name: instance,
    source: { type: 'image', alias: 'busybox' },
    start,
    ...extra,
  });
}

async function snapshot(p: string, instance: string, snap: string): Promise<void> {
  const op = await t.engine.snapshots.create(p, instance, { name: snap });
  expect(await t.engine.operations.wait(op.id)).toMatchObject({ status: 'Success' });
}

/** What a user sees of an instance: its config, devices, status and snapshots. */
async function seen(p: string, instance: string) {
  const i = await t.engine.instances.get(p, instance);
  return {
    config: Object.fromEntries(
      Object.entries(i.config).filter(([k]) => k !== 'volatile.last_state.power'),
    ),
    devices: i.devices,
    status: i.status,
    snapshots: (await t.engine.snapshots.list(p, instance)).map((s) => s.name),
  };
}

/** Everything an import or copy could leave behind in the pool, for instances named `prefix`. */
async function leftovers(prefix: string) {
  const list = async (dir: string) =>
    (await readdir(path.join(poolDir, dir)).catch(() => [] as string[])).filter((e) =>
      e.includes(prefix),
    );
  return {
    containers: await list('containers'),
    snapshots: await list('containers-snapshots'),
    instances: (await t.engine.instances.list(undefined))
      .filter((i) => i.name.includes(prefix))
      .map((i) => `${i.project}/${i.name}`),
  };
}

const nothing = { containers: [], snapshots: [], instances: [] };

/** Exports `instance` of the default project and returns a copy of the tarball. */
async function exportBackup(instance: string): Promise<string> {
  const op = await t.engine.backups.export('default', instance);
  const done = await t.engine.operations.wait(op.id);
  expect(done).toMatchObject({ status: 'Success' });
  const backup = (done.metadata as { name: string }).name;
  const file = path.join(t.dataDir, `${instance}.tar.gz`);
  await pipeline(await t.engine.backups.open('default', instance, backup), createWriteStream(file));
  return file;
}

beforeAll(async () => {
  t = await startTestEngine();
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
  poolDir = t.engine.storage.defaultSource('default');
}, 60_000);

afterAll(async () => {
  await removeHostState(t.engine);
  await t.cleanup();
}, 60_000);

describe('snapshot restore in a restricted project', () => {
  it('refuses a snapshot taken before the restriction (privileged, raw.lxc, nesting) and leaves the instance as it was', async () => {
    const p = await project('restore');
    const c = name('r1');
    const forbidden = {
      'security.privileged': 'true',
      'raw.lxc': 'lxc.apparmor.profile = unconfined',
      'security.nesting': 'true',
    };
    await launch(p, c);
    // One snapshot per forbidden key, each taken while the project allowed it.
    for (const [key, value] of Object.entries(forbidden)) {
      await t.engine.instances.patch(p, c, { config: { [key]: value } });
      await snapshot(p, c, key.replace(/\./g, '-'));
      const { config } = await t.engine.instances.get(p, c);
      delete config[key];
      await t.engine.instances.update(p, c, {
        config: Object.fromEntries(
          Object.entries(config).filter(([k]) => !k.startsWith('volatile.')),
        ),
        devices: {},
        profiles: ['default'],
        ephemeral: false,
        description: '',
      });
    }
    await restrict(p);
    await t.engine.instances.changeStateAndWait(p, c, { action: 'start' });
    const marker = await t.engine.instances.exec(p, c, {
      command: ['sh', '-c', 'echo after-restriction > /marker'],
    });
    expect(marker.exitCode).toBe(0);
    const before = await seen(p, c);
    expect(before.status).toBe('Running');

    for (const key of Object.keys(forbidden)) {
      const error = await errorOf(t.engine.snapshots.restore(p, c, key.replace(/\./g, '-')));
      expect(error, key).toMatchObject({ code: 'FORBIDDEN', field: `config["${key}"]` });
      expect(error.message).toContain('restored from snapshot');
    }
    // As it was: running, the same config, the file written after the snapshots still there.
    expect(await seen(p, c)).toEqual(before);
    const cat = await t.engine.instances.exec(p, c, { command: ['cat', '/marker'] });
    expect(cat.stdout).toBe('after-restriction\n');
    expect(
      t.events.filter(
        (e) =>
          e.project === p &&
          (e.metadata as { action?: string }).action === 'instance-snapshot-restored',
      ),
    ).toEqual([]);
  }, 120_000);

  it('refuses a snapshot whose devices the project forbids (a host path disk)', async () => {
    const p = await project('restore-disk');
    const c = name('r2');
    await launch(p, c, { devices: { host: { type: 'disk', source: '/', path: '/mnt/host' } } });
    await snapshot(p, c, 'snap0');
    await t.engine.instances.update(p, c, {
      config: {},
      devices: {},
      profiles: ['default'],
      ephemeral: false,
      description: '',
    });
    await restrict(p);
    const before = await seen(p, c);
    expect(await errorOf(t.engine.snapshots.restore(p, c, 'snap0'))).toMatchObject({
      code: 'FORBIDDEN',
      field: 'devices["host"]',
    });
    expect(await seen(p, c)).toEqual(before);
    expect(before.devices).toEqual({});
  }, 120_000);
});

describe('backup import into a restricted project', () => {
  it('refuses a backup whose snapshot holds security.privileged or a `source: /` disk, leaving nothing behind', async () => {
    const cases: {
      what: string;
      config: Record<string, string>;
      devices: Record<string, Record<string, string>>;
      field: string;
    }[] = [
      {
        what: 'priv',
        config: { 'security.privileged': 'true' },
        devices: {},
        field: 'config["security.privileged"]',
      },
      {
        what: 'root',
        config: {},
        devices: { host: { type: 'disk', source: '/', path: '/mnt/host' } },
        field: 'devices["host"]',
      },
    ];
    const p = await project('import');
    await restrict(p);
    for (const { what, config, devices, field } of cases) {
      // Made where it is allowed: a clean instance whose snapshot is not.
      const src = name(`bk-${what}`);
      await launch('default', src, { config, devices });
      await snapshot('default', src, 'snap0');
      await t.engine.instances.update('default', src, {
        config: {},
        devices: {},
        profiles: ['default'],
        ephemeral: false,
        description: '',
      });
      const file = await exportBackup(src);

      const error = await errorOf(t.engine.backups.importAndWait(p, file));
      expect(error, what).toMatchObject({ code: 'FORBIDDEN', field });
      expect(error.message).toContain(`snapshot "${src}/snap0" of the backup`);
      expect(await leftovers(src)).toEqual({
        ...nothing,
        containers: [`default_${src}`],
        snapshots: [`default_${src}`],
        instances: [`default/${src}`],
      });
      expect(await t.engine.instances.names(p)).toEqual([]);
    }
  }, 180_000);

  it('refuses a backup whose instance config is forbidden before unpacking it', async () => {
    const p = await project('import2');
    await restrict(p);
    const src = name('bk-inst');
    await launch('default', src, { config: { 'security.nesting': 'true' } });
    const file = await exportBackup(src);
    expect(
      await errorOf(t.engine.backups.importAndWait(p, file, { name: name('bk-x') })),
    ).toMatchObject({
      code: 'FORBIDDEN',
      field: 'config["security.nesting"]',
    });
    expect(await leftovers(name('bk-x'))).toEqual(nothing);
  }, 120_000);
});

describe('copy into a restricted project', () => {
  it('refuses a copy whose snapshots the project forbids; instance_only copies the clean instance', async () => {
    const p = await project('copy');
    await restrict(p);
    const src = name('cp-src');
    await launch('default', src, { config: { 'security.privileged': 'true' } });
    // The instance itself is forbidden too.
    expect(
      await errorOf(
        t.engine.instances.create(p, {
          name: name('cp-a'),
          source: { type: 'copy', source: src, project: 'default' },
        }),
      ),
    ).toMatchObject({ code: 'FORBIDDEN', field: 'config["security.privileged"]' });
    await snapshot('default', src, 'snap0');
    await t.engine.instances.patch('default', src, { config: { 'security.privileged': 'false' } });

    const error = await errorOf(
      t.engine.instances.create(p, {
        name: name('cp-b'),
        source: { type: 'copy', source: src, project: 'default' },
      }),
    );
    expect(error).toMatchObject({ code: 'FORBIDDEN', field: 'config["security.privileged"]' });
    expect(error.message).toContain(`snapshot "${name('cp-b')}/snap0"`);
    // A copy of the forbidden snapshot itself is refused too.
    expect(
      await errorOf(
        t.engine.instances.create(p, {
          name: name('cp-c'),
          source: { type: 'copy', source: `${src}/snap0`, project: 'default' },
        }),
      ),
    ).toMatchObject({ code: 'FORBIDDEN', field: 'config["security.privileged"]' });
    expect(await t.engine.instances.names(p)).toEqual([]);
    expect(await leftovers(name('cp-'))).toEqual({
      ...nothing,
      containers: [`default_${src}`],
      snapshots: [`default_${src}`],
      instances: [`default/${src}`],
    });

    const copied = await t.engine.instances.createAndWait(p, {
      name: name('cp-d'),
      source: { type: 'copy', source: src, project: 'default', instance_only: true },
    });
    expect(copied.expanded_config['security.privileged']).toBe('false');
    expect(await t.engine.snapshots.list(p, copied.name)).toEqual([]);
  }, 120_000);
});

describe('start after the project was restricted', () => {
  it('refuses to start (and restart) an instance the restriction now forbids, naming the field', async () => {
    const p = await project('start');
    const stopped = name('st1');
    const running = name('st2');
    await launch(p, stopped, { config: { 'security.privileged': 'true' } });
    await launch(p, running, { config: { 'security.nesting': 'true' } }, true);
    await restrict(p);

    expect(
      await errorOf(t.engine.instances.changeStateAndWait(p, stopped, { action: 'start' })),
    ).toMatchObject({ code: 'FORBIDDEN', field: 'config["security.privileged"]' });
    expect(
      await errorOf(t.engine.instances.changeState(p, stopped, { action: 'start' })),
    ).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.engine.instances.get(p, stopped)).status).toBe('Stopped');

    // A restart is refused before it stops anything: the instance keeps running.
    expect(
      await errorOf(t.engine.instances.changeStateAndWait(p, running, { action: 'restart' })),
    ).toMatchObject({ code: 'FORBIDDEN', field: 'config["security.nesting"]' });
    expect((await t.engine.instances.get(p, running)).status).toBe('Running');
    await t.engine.instances.changeStateAndWait(p, running, { action: 'stop', force: true });
    expect(
      await errorOf(t.engine.instances.changeStateAndWait(p, running, { action: 'start' })),
    ).toMatchObject({ code: 'FORBIDDEN', field: 'config["security.nesting"]' });

    // Lifting that one restriction lets it start again.
    await t.engine.projects.patch(p, { config: { 'restricted.containers.nesting': 'allow' } });
    await t.engine.instances.changeStateAndWait(p, running, { action: 'start' });
    expect((await t.engine.instances.get(p, running)).status).toBe('Running');
  }, 120_000);
});

describe('restricted.devices.disk.paths', () => {
  let allowed: string;
  let p: string;
  const disk = (source: string) => ({ data: { type: 'disk', source, path: '/mnt/data' } });

  beforeAll(async () => {
    allowed = path.join(t.dataDir, 'allowed');
    await mkdir(path.join(allowed, 'data'), { recursive: true });
    await writeFile(path.join(allowed, 'data', 'from-host.txt'), 'inside\n');
    await symlink('/etc', path.join(allowed, 'to-etc'));
    await symlink('../..', path.join(allowed, 'up'));
    p = await project('paths', {
      restricted: 'true',
      'restricted.devices.disk': 'allow',
      'restricted.devices.disk.paths': allowed,
    });
  }, 60_000);

  // [what, source, where it resolves], relative to the allowed folder.
  it.each([
    ['a ".." escape', '/../../../etc', () => '/etc'],
    [
      'a ".." escape into a sibling',
      '/../../etc',
      () => `${path.dirname(path.dirname(allowed))}/etc`,
    ],
    ['a symlink to /etc', '/to-etc', () => '/etc'],
    ['a path through a symlink to /etc', '/to-etc/ssh', () => '/etc/ssh'],
    ['".." after a symlink', '/to-etc/../root', () => '/root'],
    ['a relative symlink climbing out', '/up', () => path.dirname(path.dirname(allowed))],
    ['a sibling sharing the prefix', '2', () => `${allowed}2`],
  ])('refuses %s, naming the resolved path', async (_what, tail, resolved) => {
    const source = () => `${allowed}${tail}`;
    for (const attempt of [
      () => t.engine.instances.create(p, { name: name('pth'), devices: disk(source()) }),
      () => t.engine.profiles.create(p, { name: name('pth'), devices: disk(source()) }),
    ]) {
      const error = await errorOf(attempt());
      expect(error).toMatchObject({ code: 'FORBIDDEN', field: 'devices["data"]["source"]' });
      expect(error.message).toContain(`"${resolved()}"`);
    }
    expect(await t.engine.instances.names(p)).toEqual([]);
  });

  it('mounts an allowed path, and refuses to start once it became a symlink out', async () => {
    const c = name('pth-ok');
    await launch(p, c, { devices: disk(`${allowed}//data/./`) }, true);
    const cat = await t.engine.instances.exec(p, c, {
      command: ['cat', '/mnt/data/from-host.txt'],
    });
    expect(cat.stdout).toBe('inside\n');
    await t.engine.instances.changeStateAndWait(p, c, { action: 'stop', force: true });

    // The checked directory is swapped for a symlink to /etc after the check.
    await rename(path.join(allowed, 'data'), path.join(allowed, 'data.real'));
    await symlink('/etc', path.join(allowed, 'data'));
    const error = await errorOf(t.engine.instances.changeStateAndWait(p, c, { action: 'start' }));
    expect(error).toMatchObject({ code: 'FORBIDDEN', field: 'devices["data"]["source"]' });
    expect(error.message).toContain('resolves to "/etc"');
    expect((await t.engine.instances.get(p, c)).status).toBe('Stopped');

    await rm(path.join(allowed, 'data'));
    await rename(path.join(allowed, 'data.real'), path.join(allowed, 'data'));
    await t.engine.instances.changeStateAndWait(p, c, { action: 'start' });
    expect((await t.engine.instances.get(p, c)).status).toBe('Running');
  }, 120_000);
});

describe('environment.* keys and values', () => {
  it.each([
    [
      'a newline in a value',
      { 'environment.X': 'a\nlxc.apparmor.profile = unconfined' },
      'config["environment.X"]',
    ],
    ['a carriage return in a value', { 'environment.X': 'a\rb' }, 'config["environment.X"]'],
    ['a NUL in a value', { 'environment.X': 'a\0b' }, 'config["environment.X"]'],
    [
      'a newline in a key',
      { 'environment.A\nlxc.mount.entry': 'x' },
      'config["environment.A\\nlxc.mount.entry"]',
    ],
  ])('refuses %s when it is set: create, update, patch, profile', async (_what, config, field) => {
    const c = name('env');
    const expected = { code: 'INVALID_ARGUMENT', field };
    expect(await errorOf(t.engine.instances.create('default', { name: c, config }))).toMatchObject(
      expected,
    );
    expect(await t.engine.instances.names('default')).not.toContain(c);

    await t.engine.instances.createAndWait('default', { name: c });
    expect(await errorOf(t.engine.instances.patch('default', c, { config }))).toMatchObject(
      expected,
    );
    expect(
      await errorOf(
        t.engine.instances.update('default', c, {
          config,
          devices: {},
          profiles: ['default'],
          ephemeral: false,
          description: '',
        }),
      ),
    ).toMatchObject(expected);
    const after = await t.engine.instances.get('default', c);
    expect(Object.keys(after.config).filter((k) => k.startsWith('environment.'))).toEqual([]);

    expect(await errorOf(t.engine.profiles.create('default', { name: c, config }))).toMatchObject(
      expected,
    );
    await t.engine.profiles.create('default', { name: c });
    expect(await errorOf(t.engine.profiles.patch('default', c, { config }))).toMatchObject(
      expected,
    );
    expect((await t.engine.profiles.get('default', c)).config).toEqual({});

    await t.engine.profiles.delete('default', c);
    await t.engine.instances.delete('default', c);
  });

  it('still takes an ordinary value, and the container sees it', async () => {
    const c = name('env-ok');
    await launch('default', c, { config: { 'environment.GREETING': 'hello world' } }, true);
    const out = await t.engine.instances.exec('default', c, {
      command: ['sh', '-c', 'echo "$GREETING"'],
    });
    expect(out.stdout).toBe('hello world\n');
  }, 60_000);
});
