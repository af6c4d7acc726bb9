import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { EngineError, EngineErrorCode } from '@berth/engine';
import { z } from 'zod';
import { appRouter } from './root.ts';
import { initTRPC } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { codedErrorOf, errorCodes } from '../error-codes.ts';
import { errorData, toTRPCError } from './error-format.ts';

describe('the tRPC column of the one table', () => {
  it('maps every engine code', () => {
    const trpcCodeOf = Object.fromEntries(
      Object.values(EngineErrorCode).map((code) => [code, errorCodes[code].trpc]),
    );
    // NOT_IMPLEMENTED and DRIVER_UNAVAILABLE were METHOD_NOT_SUPPORTED (405) and
    // PRECONDITION_FAILED (412); they are now what REST answers (501, 503).
    expect(trpcCodeOf).toMatchObject({
      NOT_FOUND: 'NOT_FOUND',
      INVALID_ARGUMENT: 'BAD_REQUEST',
      FORBIDDEN: 'FORBIDDEN',
      ALREADY_EXISTS: 'CONFLICT',
      CONFLICT: 'CONFLICT',
      BUSY: 'CONFLICT',
      NOT_IMPLEMENTED: 'NOT_IMPLEMENTED',
      DRIVER_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
      INTERNAL: 'INTERNAL_SERVER_ERROR',
    });
  });

  it('gives every code the HTTP status of its row', () => {
    for (const [code, row] of Object.entries(errorCodes))
      expect([code, getHTTPStatusCodeFromError(new TRPCError({ code: row.trpc }))]).toEqual([
        code,
        row.http,
      ]);
  });
});

describe('toTRPCError', () => {
  it('turns an EngineError, bare or as a cause, into the mapped TRPCError keeping message and cause', () => {
    const engineError = EngineError.invalid('name', 'must not start with a number');
    for (const thrown of [
      engineError,
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: engineError }),
    ]) {
      const mapped = toTRPCError(thrown) as TRPCError;
      expect(mapped).toBeInstanceOf(TRPCError);
      expect(mapped.code).toBe('BAD_REQUEST');
      expect(mapped.message).toBe('name: must not start with a number');
      expect(mapped.cause).toBe(engineError);
    }
  });

  it('leaves other errors alone', () => {
    const other = new TRPCError({ code: 'UNAUTHORIZED' });
    expect(toTRPCError(other)).toBe(other);
    const plain = new Error('boom');
    expect(toTRPCError(plain)).toBe(plain);
    expect(codedErrorOf({ name: 'EngineError', code: 'NOT_FOUND' })).toBeUndefined();
  });
});

describe('errorData', () => {
  it('reports the engine code and the field', () => {
    const mapped = toTRPCError(
      new EngineError('ALREADY_EXISTS', 'Instance "c1" already exists', { field: 'name' }),
    ) as TRPCError;
    expect(errorData(mapped)).toEqual({
      engineCode: 'ALREADY_EXISTS',
      field: 'name',
      fieldErrors: null,
    });
  });

  it('reports input validation issues by field path', async () => {
    const t = initTRPC.create();
    const r = t.router({
      p: t.procedure.input(z.object({ instance: z.object({ name: z.string() }) })).query(() => 1),
    });
    const error = await r
      .createCaller({})
      .p({ instance: { name: 5 } } as never)
      .catch((e: unknown) => e as TRPCError);
    expect(error).toBeInstanceOf(TRPCError);
    expect(errorData(error as TRPCError)).toMatchObject({
      engineCode: null,
      field: 'instance.name',
      fieldErrors: { 'instance.name': expect.any(String) },
    });
  });
});

describe('the app router', () => {
  it('answers a caller without a session with UNAUTHORIZED', async () => {
    const caller = appRouter.createCaller({ engine: {} as never, user: null });
    await expect(caller.projects.list()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('maps an engine error thrown by a procedure, and hides projects the user may not read', async () => {
    const engine = {
      instances: { getFull: async () => Promise.reject(EngineError.notFound('Instance "x"')) },
    };
    const admin = {
      id: 1,
      username: 'root',
      isAdmin: true,
      mustChangePassword: false,
      roles: new Map(),
    };
    await expect(
      appRouter
        .createCaller({ engine: engine as never, user: admin })
        .instances.get({ project: 'default', name: 'x' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'Instance "x" not found',
    });
    const viewer = { ...admin, isAdmin: false, roles: new Map([['team', 'viewer' as const]]) };
    await expect(
      appRouter
        .createCaller({ engine: engine as never, user: viewer })
        .instances.get({ project: 'other', name: 'x' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'Project "other" not found',
    });
    await expect(
      appRouter
        .createCaller({ engine: engine as never, user: viewer })
        .instances.changeState({ project: 'team', name: 'x', state: { action: 'start' } }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
