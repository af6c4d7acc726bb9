// Every way in goes through the one access path and the one error table:
// each tRPC procedure of the app router, each REST route (and websocket
// upgrade) of /1.0, and each route handler under app/api is called as
// nobody, as a user whose password change is due, as a user without a role
// (and, for tRPC, as a viewer), and must be refused by policy.ts's
// authorize() — watched here through a spy — with the answer error-codes.ts
// gives its code. A route or procedure added without its check fails here.
import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EngineError, type Engine } from '@berth/engine';
import { RestContext, type RestServices } from '../rest/context.ts';
import { errorResult, type RestResult } from '../rest/envelope.ts';
import { buildRouter, createRestHandler } from '../rest/handler.ts';
import { OperationSockets } from '../rest/operation-sockets.ts';
import { parseCommonQuery } from '../rest/query.ts';
import type { Route } from '../rest/router.ts';
import { createUpgradeHandler, upgradeRouter } from '../rest/websockets.ts';
import { LiveConnections } from './live-connections.ts';
import {
  AccessError,
  actionRole,
  authorize,
  serverActionAllows,
  type Access,
  type ProjectRole,
} from './policy.ts';
import { createContext } from './trpc/context.ts';
import type { Context } from './trpc/init.ts';
import { appRouter } from './trpc/root.ts';

vi.mock('./policy.ts', async (importOriginal) => {
  const policy = await importOriginal<typeof import('./policy.ts')>();
  return { ...policy, authorize: vi.fn(policy.authorize) };
});
// The route handlers' context (request-auth.ts over the database) is given here.
vi.mock('./trpc/context.ts', () => ({ createContext: vi.fn() }));

const authorizeSpy = vi.mocked(authorize);
// (A block: a function returned from beforeEach would be called as its cleanup.)
beforeEach(() => {
  authorizeSpy.mockClear();
});

// ------------------------------------------------------------------ callers

function principal(roles: Record<string, ProjectRole>, extra: object = {}) {
  return {
    id: 7,
    username: 'vera',
    isAdmin: false,
    mustChangePassword: false,
    roles: new Map(Object.entries(roles)),
    via: 'session' as const,
    expiresAt: null,
    ...extra,
  };
}
const noRole = principal({});
const passwordDue = principal({}, { mustChangePassword: true });
const viewer = principal({ secret: 'viewer' });
const admin = principal({}, { isAdmin: true });

/** What reached the engine although nothing should have. */
class EngineReached extends Error {
  override name = 'EngineReached';
}

/**
 * An engine whose every method call is answered by `call` (unless
 * `overrides` names the method's path, such as `projects.names`): by
 * default it throws EngineReached, so a call refused first never gets here.
 */
function fakeEngine(
  overrides: Record<string, unknown> = {},
  call: (at: string) => unknown = (at) => {
    throw new EngineReached(at);
  },
  at: string[] = [],
): Engine {
  return new Proxy(() => {}, {
    get(_, key) {
      if (typeof key === 'symbol') return undefined;
      const next = [...at, key];
      return Object.hasOwn(overrides, next.join('.'))
        ? overrides[next.join('.')]
        : fakeEngine(overrides, call, next);
    },
    apply: () => call(at.join('.')),
  }) as unknown as Engine;
}

const notImplemented = (overrides: Record<string, unknown> = {}) =>
  fakeEngine(overrides, () => {
    throw new EngineError('NOT_IMPLEMENTED', 'Not supported by this driver');
  });

const projectActions = Object.keys(actionRole);
const serverActions = Object.keys(serverActionAllows);
const signInOnly: Access[] = ['user', 'account'];

// --------------------------------------------------------------------- tRPC

type AnyProcedure = { _def: { meta?: { access?: Access } } };
const procedures = Object.entries(
  appRouter._def.procedures as unknown as Record<string, AnyProcedure>,
);

async function callProcedure(user: Context['user'], at: string, engine = fakeEngine()) {
  const caller = appRouter.createCaller({ engine, user });
  const fn = at.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], caller);
  try {
    return await (fn as (input: unknown) => Promise<unknown>)({ project: 'secret' });
  } catch (error) {
    return error;
  }
}

/** The refusal of authorize() behind a tRPC error, as the one table mapped it. */
function refusalOf(result: unknown) {
  if (!(result instanceof TRPCError) || !(result.cause instanceof AccessError)) return null;
  return { code: result.code, message: result.message };
}

describe('every tRPC procedure', () => {
  it('declares the access it needs, one the policy knows', () => {
    for (const [at, procedure] of procedures) {
      const access = procedure._def.meta?.access;
      expect([at, [...projectActions, ...serverActions, ...signInOnly]]).toEqual([
        at,
        expect.arrayContaining([access]),
      ]);
    }
  });

  it('needs only a sign-in when it acts on the caller’s own things or filters what it shows', () => {
    const onlySignedIn = procedures
      .filter(([, p]) => signInOnly.includes(p._def.meta!.access!))
      .map(([at]) => at)
      .sort();
    // Each of these was read: a new one must be added here on purpose.
    expect(onlySignedIn).toEqual([
      'account.changePassword', // the caller's own password
      'account.me', // who the caller is
      'audit.list', // authorize('audit', project) in its body; else the projects the caller audits
      'instances.drivers', // the host's drivers, as `host:read`
      'projects.list', // visibleProjects
      'tokens.create', // the caller's own tokens
      'tokens.delete',
      'tokens.list',
    ]);
  });

  it.each(procedures)(
    '%s refuses nobody, a due password change and a user without a role',
    async (at, procedure) => {
      const access = procedure._def.meta!.access!;
      expect(refusalOf(await callProcedure(null, at))).toEqual({
        code: 'UNAUTHORIZED',
        message: 'Sign in first',
      });
      const due = refusalOf(await callProcedure(passwordDue, at));
      expect(due).toEqual(
        access === 'account' ? null : { code: 'FORBIDDEN', message: 'Change your password first' },
      );

      authorizeSpy.mockClear();
      const result = await callProcedure(noRole, at);
      if (projectActions.includes(access)) {
        expect(authorizeSpy).toHaveBeenCalledWith(noRole, access, 'secret');
        expect(refusalOf(result)).toEqual({
          code: 'NOT_FOUND',
          message: 'Project "secret" not found',
        });
      } else {
        expect(authorizeSpy).toHaveBeenCalledWith(noRole, access);
        if (serverActionAllows[access as keyof typeof serverActionAllows] === 'server-admin')
          expect(refusalOf(result)).toEqual({
            code: 'FORBIDDEN',
            message: 'Only server administrators may do this',
          });
      }
    },
  );

  it.each(procedures.filter(([, p]) => projectActions.includes(p._def.meta!.access!)))(
    '%s asks for the action it declares',
    async (at, procedure) => {
      const access = procedure._def.meta!.access!;
      const result = await callProcedure(viewer, at);
      expect(authorizeSpy).toHaveBeenCalledWith(viewer, access, 'secret');
      expect(refusalOf(result)).toEqual(
        access === 'read'
          ? null
          : {
              code: 'FORBIDDEN',
              message: `Your role in project "secret" does not allow ${access}`,
            },
      );
    },
  );

  it('answers an engine’s NOT_IMPLEMENTED with tRPC’s NOT_IMPLEMENTED (HTTP 501)', async () => {
    const result = await callProcedure(admin, 'instances.list', notImplemented());
    expect(result).toBeInstanceOf(TRPCError);
    expect((result as TRPCError).code).toBe('NOT_IMPLEMENTED');
  });
});

// --------------------------------------------------------------------- REST

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-access-path-'));

function services(engine: Engine): RestServices {
  return {
    engine,
    dataDir,
    serverName: 'test',
    listener: { addresses: [], certificate: '', fingerprint: '' },
    sockets: new OperationSockets(),
    connections: new LiveConnections(),
  };
}

const restRoutes = buildRouter(services(fakeEngine())).routes();
const label = (route: Pick<Route<unknown>, 'method' | 'pattern'>) =>
  `${route.method} ${route.pattern}`;

/** Every `:param` of a pattern filled in, in project `secret`. */
function urlOf(pattern: string): { url: URL; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const pathname = pattern.replace(/:(\w+)/g, (_, name: string) => (params[name] = 'x'));
  return { url: new URL(`http://berth.invalid${pathname}?project=secret`), params };
}

async function callRoute(
  route: Route<RestContext>,
  user: typeof noRole | null,
  engine: Engine,
): Promise<{ error: unknown; result: RestResult }> {
  const { url, params } = urlOf(route.pattern);
  const req = Object.assign(Readable.from([Buffer.from('{}')]), {
    method: route.method,
    url: url.pathname + url.search,
    headers: { 'content-type': 'application/json' },
  });
  const res = { writeHead() {}, flushHeaders() {}, write() {}, end() {}, on() {} };
  const ctx = new RestContext(
    req as never,
    res as never,
    url,
    parseCommonQuery(url.searchParams),
    services(engine),
    user,
  );
  try {
    return { error: null, result: (await route.handle(ctx, params)) as RestResult };
  } catch (error) {
    return { error, result: errorResult(error) };
  }
}

const publicRoute = 'GET /1.0';

/**
 * Routes a signed-in user without a role gets an answer from that is not
 * authorize's refusal (they still ask it who the caller is), and what that
 * answer must be: nothing of project `secret`.
 */
const hiddenAlike: Record<string, { overrides: Record<string, unknown>; answer: unknown }> = {
  // The projects the caller may see (visibleProjects).
  'GET /1.0/projects': {
    overrides: {
      'projects.list': async () => [{ name: 'secret', config: {} }],
      'projects.names': async () => ['secret'],
    },
    answer: { status: 200, metadata: [] },
  },
  // An operation of a project the caller may not see answers as an unknown id.
  ...Object.fromEntries(
    ['GET /1.0/operations/:id', 'DELETE /1.0/operations/:id', 'GET /1.0/operations/:id/wait'].map(
      (route) => [
        route,
        {
          overrides: { 'operations.projectOf': async () => 'secret' },
          answer: { status: 404, error: 'Operation not found' },
        },
      ],
    ),
  ),
};

function answerOf(result: RestResult) {
  if (result.kind !== 'json') return { kind: result.kind };
  const { body } = result;
  return body.type === 'error'
    ? { status: result.status, error: body.error }
    : { status: result.status, metadata: body.metadata };
}

describe('every REST route', () => {
  it('is known to this test', () => {
    const known = restRoutes.map(label);
    expect(known).toContain(publicRoute);
    for (const route of Object.keys(hiddenAlike)) expect(known).toContain(route);
  });

  it.each(restRoutes.filter((r) => label(r) !== publicRoute).map((r) => [label(r), r] as const))(
    '%s refuses nobody, a due password change and a user without a role',
    async (_, route) => {
      const nobody = await callRoute(route, null, fakeEngine());
      expect(nobody.error).toBeInstanceOf(AccessError);
      expect(answerOf(nobody.result)).toEqual({ status: 401, error: 'Not authorized' });

      const due = await callRoute(route, passwordDue, fakeEngine());
      expect(due.error).toBeInstanceOf(AccessError);
      expect(answerOf(due.result)).toEqual({
        status: 403,
        error: 'Change your password first (in the web console)',
      });

      authorizeSpy.mockClear();
      const hidden = hiddenAlike[label(route)];
      const stranger = await callRoute(route, noRole, fakeEngine(hidden?.overrides));
      expect(authorizeSpy).toHaveBeenCalled();
      if (hidden) {
        expect(answerOf(stranger.result)).toEqual(hidden.answer);
      } else {
        expect(stranger.error).toBeInstanceOf(AccessError);
        expect(['NOT_FOUND', 'FORBIDDEN']).toContain((stranger.error as AccessError).code);
      }
    },
  );

  it('answers GET /1.0 to anyone, without the engine', async () => {
    const route = restRoutes.find((r) => label(r) === publicRoute)!;
    const { error, result } = await callRoute(route, null, fakeEngine());
    expect(error).toBeNull();
    expect(answerOf(result)).toMatchObject({ status: 200 });
  });
});

describe('every REST websocket upgrade', () => {
  /** What an upgrade of `pattern` is answered with before any websocket exists. */
  function upgrade(pattern: string, user: typeof noRole | null): Promise<string> {
    const { url } = urlOf(pattern);
    url.searchParams.set('secret', 'x');
    const handler = createUpgradeHandler(services(fakeEngine()), async () => user);
    return new Promise((resolve) => {
      const socket = { destroyed: false, on() {}, end: (refusal: string) => resolve(refusal) };
      handler.upgrade(
        { method: 'GET', url: url.pathname + url.search, headers: {} } as never,
        socket as never,
        Buffer.alloc(0),
        'network',
      );
    });
  }
  const statusLine = (refusal: string) => refusal.split('\r\n')[0];

  it.each(upgradeRouter.routes().map((r) => [label(r), r.pattern] as const))(
    '%s refuses nobody, a due password change and a user without a role',
    async (_, pattern) => {
      expect(statusLine(await upgrade(pattern, null))).toBe('HTTP/1.1 401 Unauthorized');
      expect(statusLine(await upgrade(pattern, passwordDue))).toBe('HTTP/1.1 403 Forbidden');
      authorizeSpy.mockClear();
      // An unknown (or hidden) operation, or a project the user may not see.
      expect(statusLine(await upgrade(pattern, noRole))).toBe('HTTP/1.1 404 Not Found');
      expect(authorizeSpy).toHaveBeenCalled();
    },
  );
});

describe('the REST handler', () => {
  const handler = createRestHandler({
    engine: notImplemented({
      dataDir,
      'events.onNameChange': () => ({ close() {} }),
      'projects.names': async () => [],
    }),
    authenticate: async (headers) => (headers.authorization ? admin : null),
    connections: new LiveConnections(),
  });
  const server = createServer((req, res) => void handler(req, res));
  const listening = new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }),
  );
  afterAll(() => {
    handler.close();
    server.close();
  });

  it('answers with the one table: 401 for nobody, 501 for NOT_IMPLEMENTED', async () => {
    const base = await listening;
    const nobody = await fetch(`${base}/1.0/instances`);
    expect([nobody.status, ((await nobody.json()) as { error: string }).error]).toEqual([
      401,
      'Not authorized',
    ]);
    const unsupported = await fetch(`${base}/1.0/instances/c1`, {
      headers: { authorization: 'Bearer x' },
    });
    expect(unsupported.status).toBe(501);
    expect(await unsupported.json()).toMatchObject({
      type: 'error',
      error_code: 501,
      error: 'Not supported by this driver',
    });
  });
});

// ----------------------------------------------------- Next route handlers

const apiDir = fileURLToPath(new URL('../app/api', import.meta.url));
const routeFiles = (readdirSync(apiDir, { recursive: true }) as string[])
  .filter((file) => path.basename(file) === 'route.ts')
  .map((file) => file.split(path.sep).join('/'))
  .sort();

/** Route handlers that are not the app's own to authorise, and why. */
const notOurs: Record<string, string> = {
  'auth/[...nextauth]/route.ts': 'Auth.js: signing in and out, open to all',
  'trpc/[trpc]/route.ts': 'tRPC: every procedure is checked above',
};

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Handler = (req: Request, context: { params: Promise<object> }) => Promise<Response>;

async function routeHandlers(): Promise<[string, Handler][]> {
  const handlers: [string, Handler][] = [];
  for (const file of routeFiles.filter((f) => !(f in notOurs))) {
    const module = (await import(pathToFileURL(path.join(apiDir, file)).href)) as Record<
      string,
      unknown
    >;
    for (const method of methods)
      if (typeof module[method] === 'function')
        handlers.push([`${method} /api/${file}`, module[method] as Handler]);
  }
  return handlers;
}

async function callHandler(name: string, handler: Handler, user: unknown, engine = fakeEngine()) {
  vi.mocked(createContext).mockResolvedValue({ engine, user } as Context);
  const method = name.split(' ')[0]!;
  const req = new Request('http://berth.invalid/api/x?path=/etc/hostname', {
    method,
    ...(method === 'GET' ? {} : { body: 'bytes' }),
  });
  const res = await handler(req, {
    params: Promise.resolve({ project: 'secret', name: 'c1', backup: 'b1' }),
  });
  return [res.status, ((await res.json()) as { error?: string }).error];
}

describe('every route handler under app/api', () => {
  it('is known to this test', () => {
    for (const file of Object.keys(notOurs)) expect(routeFiles).toContain(file);
    expect(routeFiles.length).toBeGreaterThan(Object.keys(notOurs).length);
  });

  it('refuses nobody, a due password change and a user without a role', async () => {
    for (const [name, handler] of await routeHandlers()) {
      expect([name, await callHandler(name, handler, null)]).toEqual([
        name,
        [401, 'Sign in first'],
      ]);
      expect([name, await callHandler(name, handler, passwordDue)]).toEqual([
        name,
        [403, 'Change your password first'],
      ]);
      authorizeSpy.mockClear();
      expect([name, await callHandler(name, handler, noRole)]).toEqual([
        name,
        [404, 'Project "secret" not found'],
      ]);
      expect(authorizeSpy).toHaveBeenCalledWith(noRole, expect.any(String), 'secret');
    }
  });

  it('answers an engine’s NOT_IMPLEMENTED with 501, as /1.0 does', async () => {
    for (const [name, handler] of await routeHandlers())
      expect([name, await callHandler(name, handler, admin, notImplemented())]).toEqual([
        name,
        [501, 'Not supported by this driver'],
      ]);
  });
});
