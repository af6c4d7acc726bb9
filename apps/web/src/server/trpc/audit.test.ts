// The audit middleware (init.ts): every mutation of every router is recorded
// once, with who, what, project, object and result; queries are not.
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { AuditInput } from '@berth/db';
import { EngineError } from '@berth/engine';
import type { ProjectRole } from '../policy.ts';
import { auditEntry } from './audit-entry.ts';
import {
  accountProcedure,
  projectProcedure,
  router,
  serverAdminProcedure,
  type Context,
} from './init.ts';
import { appRouter } from './root.ts';

function userWith(roles: Record<string, ProjectRole>, extra: Partial<Context['user']> = {}) {
  return {
    id: 7,
    username: 'vera',
    isAdmin: false,
    mustChangePassword: false,
    roles: new Map(Object.entries(roles)),
    ...extra,
  } as NonNullable<Context['user']>;
}

function recorder() {
  const entries: AuditInput[] = [];
  return { entries, sink: { record: vi.fn(async (e: AuditInput) => void entries.push(e)) } };
}

// A stub router over the real procedures and the real policy.
const stub = router({
  things: router({
    list: projectProcedure('read').query(() => ['a']),
    start: projectProcedure('lifecycle')
      .input(z.object({ name: z.string().min(1, 'enter a name') }))
      .mutation(({ input }) => ({ started: input.name })),
    create: projectProcedure('config')
      .input(z.object({ thing: z.object({ name: z.string() }), secretKey: z.string() }))
      .mutation(() => {
        throw new EngineError('ALREADY_EXISTS', 'Thing "t1" already exists', { field: 'name' });
      }),
  }),
  server: router({
    wipe: serverAdminProcedure.input(z.object({ name: z.string() })).mutation(() => 'wiped'),
  }),
  account: router({
    changePassword: accountProcedure
      .input(z.object({ current: z.string(), next: z.string() }))
      .mutation(() => 'ok'),
  }),
});

describe('the audit middleware', () => {
  it('records a successful mutation with the parsed project (its default too) and object', async () => {
    const { entries, sink } = recorder();
    const caller = stub.createCaller({
      engine: {} as never,
      user: userWith({ default: 'operator' }),
      audit: sink,
    });
    await expect(caller.things.start({ name: 'c1' } as never)).resolves.toEqual({
      started: 'c1',
    });
    expect(entries).toEqual([
      {
        userId: 7,
        actor: 'vera',
        action: 'things.start',
        project: 'default',
        objectType: 'thing',
        objectName: 'c1',
        result: 'success',
        detail: null,
      },
    ]);
  });

  it('does not record queries', async () => {
    const { sink } = recorder();
    const caller = stub.createCaller({
      engine: {} as never,
      user: userWith({ default: 'viewer' }),
      audit: sink,
    });
    await caller.things.list({ project: 'default' });
    expect(sink.record).not.toHaveBeenCalled();
  });

  it('records refusals by the policy with the reason, and hides nothing from the caller', async () => {
    const { entries, sink } = recorder();
    const caller = stub.createCaller({
      engine: {} as never,
      user: userWith({ default: 'viewer' }),
      audit: sink,
    });
    await expect(caller.things.start({ project: 'default', name: 'c1' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(caller.things.start({ project: 'other', name: 'c1' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(caller.server.wipe({ name: 'all' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(entries.map((e) => [e.action, e.project, e.objectName, e.result])).toEqual([
      [
        'things.start',
        'default',
        'c1',
        'failure: Your role in project "default" does not allow lifecycle',
      ],
      ['things.start', 'other', 'c1', 'failure: Project "other" not found'],
      ['server.wipe', null, 'all', 'failure: Only server administrators may do this'],
    ]);
  });

  it('records engine errors as mapped, nested object names, and never secrets', async () => {
    const { entries, sink } = recorder();
    const caller = stub.createCaller({
      engine: {} as never,
      user: userWith({ team: 'admin' }, { via: 'token', tokenId: 3 }),
      audit: sink,
    });
    await expect(
      caller.things.create({ project: 'team', thing: { name: 't1' }, secretKey: 'hunter2' }),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: 'Thing "t1" already exists' });
    await caller.account.changePassword({ current: 'old-password', next: 'new-password' });
    expect(entries[0]).toMatchObject({
      action: 'things.create',
      project: 'team',
      objectType: 'thing',
      objectName: 't1',
      result: 'failure: Thing "t1" already exists',
      detail: '{"thing":{"name":"t1"},"via":"token #3"}',
    });
    expect(entries[1]).toMatchObject({
      action: 'account.changePassword',
      objectType: 'user',
      objectName: 'vera',
      result: 'success',
      detail: '{"via":"token #3"}',
    });
    expect(JSON.stringify(entries)).not.toMatch(/hunter2|old-password|new-password/);
  });

  it('records input validation failures naming the field', async () => {
    const { entries, sink } = recorder();
    const caller = stub.createCaller({
      engine: {} as never,
      user: userWith({ default: 'operator' }),
      audit: sink,
    });
    await expect(caller.things.start({ name: '' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(entries[0]?.result).toBe('failure: name: enter a name');
  });

  it('does not record calls without a user, and survives a failing log', async () => {
    const { sink } = recorder();
    await expect(
      stub.createCaller({ engine: {} as never, user: null, audit: sink }).things.start({
        name: 'c1',
      }),
    ).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(sink.record).not.toHaveBeenCalled();

    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const broken = { record: vi.fn(() => Promise.reject(new Error('disk full'))) };
    await expect(
      stub
        .createCaller({ engine: {} as never, user: userWith({ default: 'admin' }), audit: broken })
        .things.start({ name: 'c1' }),
    ).resolves.toEqual({ started: 'c1' });
    expect(error).toHaveBeenCalledWith('berth: audit log', expect.any(Error));
    error.mockRestore();
  });
});

describe('the app router', () => {
  it('records every mutation of every router (a user who must change the password first)', async () => {
    const procedures = (
      appRouter._def as unknown as { procedures: Record<string, { _def: { type: string } }> }
    ).procedures;
    const mutations = Object.entries(procedures)
      .filter(([, p]) => p._def.type === 'mutation')
      .map(([path]) => path);
    expect(mutations).toEqual(expect.arrayContaining(['instances.changeState', 'users.create']));
    for (const path of mutations) {
      const { entries, sink } = recorder();
      const caller = appRouter.createCaller({
        engine: {} as never,
        // Refused (or its input rejected) before any engine call: nothing runs for real.
        user: userWith({}, { mustChangePassword: true }),
        audit: sink,
      });
      const call = path
        .split('.')
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (
        input: unknown,
      ) => Promise<unknown>;
      await call({}).catch(() => undefined);
      expect(
        entries.map((e) => e.action),
        path,
      ).toEqual([path]);
      expect(entries[0]!.result, path).toMatch(/^failure: /);
    }
  });
});

describe('auditEntry', () => {
  it('names snapshots by instance and snapshot, and projects by name', () => {
    const actor = { id: 1, username: 'admin' };
    expect(
      auditEntry({
        path: 'snapshots.delete',
        rawInput: { project: 'p', name: 'c1', snapshot: 'snap0' },
        actor,
        scope: {},
        error: undefined,
      }),
    ).toMatchObject({ project: 'p', objectType: 'snapshot', objectName: 'c1/snap0' });
    expect(
      auditEntry({
        path: 'projects.create',
        rawInput: { name: 'other', description: 'x' },
        actor,
        scope: {},
        error: undefined,
      }),
    ).toMatchObject({
      project: 'other',
      objectType: 'project',
      objectName: 'other',
      detail: '{"description":"x"}',
    });
  });
});
