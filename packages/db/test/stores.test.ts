// The data-access stores against a real, migrated SQLite file.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmin, openDatabase, verifyPassword, type Database } from '../src/index.ts';

let dir: string;
let db: Database;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'berth-stores-'));
  db = await openDatabase({ url: `file:${path.join(dir, 'berth.db')}` });
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('stores', () => {
  it('round-trips an instance with config, devices and ordered profiles', async () => {
    const project = await db.projects.create({ name: 'p1', config: { 'limits.instances': '3' } });
    const a = await db.profiles.create(project.id, { name: 'a', config: { 'limits.cpu': '1' } });
    const b = await db.profiles.create(project.id, {
      name: 'b',
      devices: { eth0: { type: 'nic', network: 'br0' } },
    });
    const created = await db.instances.create(project.id, {
      name: 'c1',
      type: 'container',
      architecture: 'x86_64',
      config: { 'user.note': 'hello world', 'volatile.eth0.hwaddr': '02:16:3e:00:00:01' },
      devices: { root: { type: 'disk', path: '/', pool: 'default' } },
      profileIds: [b.id, a.id],
    });
    expect(created.profiles).toEqual(['b', 'a']);
    const got = await db.instances.get('p1', 'c1');
    expect(got).toMatchObject({
      name: 'c1',
      project: 'p1',
      config: { 'user.note': 'hello world', 'volatile.eth0.hwaddr': '02:16:3e:00:00:01' },
      devices: { root: { type: 'disk', path: '/', pool: 'default' } },
      profiles: ['b', 'a'],
      ephemeral: false,
    });
    expect(
      await db.instances.configValues({ startsWith: 'volatile.', endsWith: '.hwaddr' }),
    ).toEqual(['02:16:3e:00:00:01']);
    expect(await db.profiles.usedBy(a.id)).toEqual([{ project: 'p1', name: 'c1' }]);

    await db.instances.update(created.id, {
      description: 'd',
      ephemeral: true,
      config: { 'limits.memory': '1GiB' },
      devices: {},
      profileIds: [a.id],
    });
    expect(await db.instances.get('p1', 'c1')).toMatchObject({
      description: 'd',
      ephemeral: true,
      config: { 'limits.memory': '1GiB' },
      devices: {},
      profiles: ['a'],
    });
    expect(await db.profiles.usedBy(b.id)).toEqual([]);
  });

  it('a profile in use cannot be deleted underneath an instance', async () => {
    const profile = await db.profiles.get('p1', 'a');
    await expect(db.profiles.delete(profile!.id)).rejects.toThrow();
    expect(await db.profiles.get('p1', 'a')).not.toBeNull();
  });

  it('a failed transaction leaves nothing behind', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.projects.create({ name: 'half-done' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.projects.get('half-done')).toBeNull();
  });

  it('keeps operations with their JSON resources and metadata', async () => {
    await db.operations.create({
      id: '6f1a8c1e-0000-4000-8000-000000000001',
      project: 'p1',
      class: 'task',
      description: 'Creating instance',
      status: 'Running',
      statusCode: 103,
      mayCancel: true,
      err: '',
      resources: { instances: ['/1.0/instances/c1?project=p1'] },
      metadata: { progress: { percent: '10' } },
      location: 'none',
    });
    const updated = await db.operations.update('6f1a8c1e-0000-4000-8000-000000000001', {
      status: 'Success',
      statusCode: 200,
    });
    expect(updated).toMatchObject({
      status: 'Success',
      resources: { instances: ['/1.0/instances/c1?project=p1'] },
      metadata: { progress: { percent: '10' } },
    });
    expect((await db.operations.list({ project: 'p1' })).map((o) => o.id)).toContain(
      '6f1a8c1e-0000-4000-8000-000000000001',
    );
  });

  it('creates the first admin once, with a hashed generated password that must be changed', async () => {
    const first = await ensureAdmin(db, { username: 'admin' });
    expect(first.created).toBe(true);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/);
    const user = await db.users.get('admin');
    expect(user?.isAdmin).toBe(true);
    expect(user?.mustChangePassword).toBe(true);
    expect(user?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(user?.passwordHash).not.toContain(first.generatedPassword);
    expect(await verifyPassword(user!.passwordHash!, first.generatedPassword!)).toBe(true);
    expect(await verifyPassword(user!.passwordHash!, 'wrong')).toBe(false);

    const second = await ensureAdmin(db, { username: 'admin', password: 'other' });
    expect(second).toEqual({ created: false, username: 'admin' });
    expect((await db.users.get('admin'))?.passwordHash).toBe(user?.passwordHash);
  });
});

describe('project members', () => {
  it('keeps one role per user and project, listed both ways', async () => {
    const alice = await db.users.create({ username: 'alice' });
    await db.projects.create({ name: 'm1' });
    await db.projects.create({ name: 'm2' });
    expect(await db.members.set('m1', alice.id, 'viewer')).toBe(true);
    expect(await db.members.set('m1', alice.id, 'operator')).toBe(true);
    expect(await db.members.set('m2', alice.id, 'admin')).toBe(true);
    expect(await db.members.set('nope', alice.id, 'admin')).toBe(false);
    expect(await db.members.listForUser(alice.id)).toEqual([
      { project: 'm1', role: 'operator' },
      { project: 'm2', role: 'admin' },
    ]);
    expect(await db.members.list('m1')).toEqual([
      { project: 'm1', userId: alice.id, username: 'alice', role: 'operator' },
    ]);
    await db.members.remove('m1', alice.id);
    expect(await db.members.list('m1')).toEqual([]);
    expect((await db.users.getById(alice.id))?.username).toBe('alice');
  });
});

describe('API tokens and the audit log', () => {
  it('stores only a hash of the secret, authenticates it until it expires', async () => {
    const bob = await db.users.create({ username: 'bob' });
    const { token, secret } = await db.tokens.create(bob.id, 'ci');
    expect(secret).toMatch(/^berth_[0-9a-f]{40}$/);
    expect(token.prefix).toBe(secret.slice(0, 12));
    expect((await db.tokens.authenticate(secret))?.id).toBe(token.id);
    expect(await db.tokens.authenticate(`${secret}x`)).toBeNull();
    const expired = await db.tokens.create(bob.id, 'old', new Date(Date.now() - 1000));
    expect(await db.tokens.authenticate(expired.secret)).toBeNull();
    expect((await db.tokens.list(bob.id)).map((t) => t.name)).toEqual(['ci', 'old']);
    expect(await db.tokens.delete(bob.id, token.id)).toBe(true);
    expect(await db.tokens.authenticate(secret)).toBeNull();
  });

  it('records and lists audit entries newest first', async () => {
    await db.audit.record({
      userId: null,
      actor: 'admin',
      action: 'instance.start',
      project: 'p1',
      objectType: 'instance',
      objectName: 'c1',
      result: 'success',
      detail: null,
    });
    await db.audit.record({
      userId: null,
      actor: 'admin',
      action: 'instance.delete',
      project: 'p1',
      objectType: 'instance',
      objectName: 'c1',
      result: 'failure: busy',
      detail: null,
    });
    expect((await db.audit.list({ project: 'p1' })).map((e) => e.action)).toEqual([
      'instance.delete',
      'instance.start',
    ]);
  });

  it("lists thousands of instances, in order, across pages (past SQLite's old 999 bound values)", async () => {
    const project = await db.projects.create({ name: 'many', config: {} });
    const names = Array.from({ length: 2100 }, (_, i) => `m${String(i).padStart(4, '0')}`);
    for (const name of names)
      await db.instances.create(project.id, {
        name,
        type: 'container',
        architecture: 'x86_64',
        config: { 'user.n': name },
        devices: { root: { type: 'disk', path: '/', pool: 'default' } },
        profileIds: [],
      });
    const list = await db.instances.list('many');
    expect(list.map((i) => i.name)).toEqual(names);
    expect(
      list.every((i) => i.config['user.n'] === i.name && i.devices.root?.pool === 'default'),
    ).toBe(true);
  }, 120_000);
});
