// Issue 9, on the real server with a real busybox container: a project admin
// cannot lift the project's restriction (REST and tRPC); revoking a token,
// a session, a membership or an account reaches connections already open
// (socket.io terminals and events, /1.0/events); signed-out and superseded
// session cookies stop working everywhere (tRPC, /1.0, socket.io); a
// network's and a pool's `used_by` hide other projects over REST; guessing
// an account's password from one address never locks its owner out.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as playwrightRequest, type APIRequestContext } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { defaultDatabaseUrl, hashPassword, openDatabase, type Database } from '@berth/db';
import { startServer, type RunningServer } from './helpers/server.ts';
import {
  passwordSignIn,
  restAs,
  signOutSession,
  trpcAs,
  type Credentials,
} from './helpers/sessions.ts';
import { connected, connectTerminal } from './helpers/terminal.ts';
import { buildBusyboxImage, launchBusybox, trpcMutation } from './helpers/trpc.ts';

const suffix = randomBytes(3).toString('hex');
const INSTANCE = `sec${suffix}`;
const password = 'sec-e2e-password-1';

let server: RunningServer;
/** The server's own SQLite file, opened beside it to make users and tokens. */
let db: Database;
let adminCookie: string;
let admin: APIRequestContext;
let users = 0;

/** A user with a password (no change pending) and `role` in `project` (default: default). */
async function makeUser(label: string, role?: string, project = 'default') {
  const username = `sec${label}${suffix}${++users}`;
  const user = await db.users.create({ username, passwordHash: await hashPassword(password) });
  if (role) await db.members.set(project, user.id, role);
  return user;
}

async function tokenOf(userId: number) {
  const { token, secret } = await db.tokens.create(userId, `sec e2e ${++users}`);
  return { id: token.id, secret };
}

async function signedIn(username: string, pass = password): Promise<string> {
  const answer = await passwordSignIn(server.url, username, pass);
  if (!answer.cookie) throw new Error(`${username} could not sign in: ${answer.code}`);
  return answer.cookie;
}

function within<T>(what: string, promise: Promise<T>, ms = 20_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: nothing happened in ${ms} ms`)), ms),
    ),
  ]);
}

interface TerminalEnd {
  error?: { code: string; message: string };
}

/** Resolves when the server closes the socket, with the error it sent last. */
function endOf(socket: Socket): Promise<TerminalEnd> {
  const end: TerminalEnd = {};
  socket.on('error', (error: { code: string; message: string }) => (end.error = error));
  return new Promise((resolve) => socket.once('disconnect', () => resolve(end)));
}

/** Opens an interactive shell on a connected socket; resolves once the pty is attached. */
function openShell(socket: Socket): Promise<void> {
  return within(
    'exec open',
    new Promise<void>((resolve, reject) => {
      socket.once('ready', () => resolve());
      socket.once('error', (e: { message: string }) => reject(new Error(e.message)));
      socket.emit('open', {
        kind: 'exec',
        instance: INSTANCE,
        command: ['/bin/sh'],
        cols: 80,
        rows: 24,
      });
    }),
  );
}

/** Types a line into the shell and waits for `expected` in its output. */
function shellAnswers(socket: Socket, line: string, expected: string): Promise<void> {
  let output = '';
  return within(
    `shell answer ${expected}`,
    new Promise<void>((resolve) => {
      const onData = (data: ArrayBuffer | Buffer | string) => {
        output += typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString();
        if (output.includes(expected)) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
      socket.emit('data', `${line}\r`);
    }),
  );
}

/** `open` on an idle socket: the error it is answered with, and whatever output came. */
function openRefusal(socket: Socket) {
  let output = '';
  socket.on('data', (d: ArrayBuffer | Buffer | string) => {
    output += typeof d === 'string' ? d : Buffer.from(d as ArrayBuffer).toString();
  });
  return within(
    'open refusal',
    new Promise<{
      error: { code: string; message: string } | null;
      ready: boolean;
      output: string;
    }>((resolve) => {
      socket.once('ready', () => resolve({ error: null, ready: true, output }));
      socket.once('error', (error: { code: string; message: string }) =>
        resolve({ error, ready: false, output }),
      );
      socket.emit('open', {
        kind: 'exec',
        instance: INSTANCE,
        command: ['echo', 'should-not-run'],
        cols: 80,
        rows: 24,
      });
    }),
  );
}

/** A socket on `/events` with a session cookie; it reconnects on its own, as the browser's does. */
function connectEvents(cookie: string): Socket {
  return io(`${server.url}/events`, {
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    extraHeaders: { cookie },
  });
}

/** Every way a session cookie is used: tRPC, the REST API and a socket.io handshake. */
async function cookieWorks(
  cookie: string,
): Promise<{ trpc: number; rest: number; socket: string }> {
  const trpc = await trpcAs(server.url, { cookie }, 'query', 'account.me');
  const rest = await restAs(server.url, { cookie }, 'GET', '/1.0/instances');
  const socket = connectTerminal(server.url, { cookie });
  const outcome = await connected(socket).then(
    () => 'connected',
    (error: Error) => error.message,
  );
  socket.close();
  return { trpc: trpc.status, rest: rest.status, socket: outcome };
}

const works = { trpc: 200, rest: 200, socket: 'connected' };
const refused = { trpc: 401, rest: 401, socket: 'UNAUTHORIZED' };

beforeAll(async () => {
  server = await startServer();
  db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  adminCookie = await signedIn(server.adminUser, server.adminPassword);
  admin = await playwrightRequest.newContext({
    extraHTTPHeaders: { cookie: adminCookie, origin: server.url },
  });
  await buildBusyboxImage(admin, server.url);
  await launchBusybox(admin, server.url, INSTANCE);
});

afterAll(async () => {
  if (admin) {
    await trpcMutation(admin, server.url, 'instances.delete', {
      project: 'default',
      name: INSTANCE,
      force: true,
    }).catch((e: unknown) => console.error('cleanup:', e));
    await admin.dispose();
  }
  await db?.close();
  await server?.stop();
});

describe('project restrictions belong to the server admin (issue 9, item 1)', () => {
  it('refuses a project admin lifting or loosening the restriction over REST and tRPC', async () => {
    const project = `secp${suffix}`;
    const adminToken = {
      token: (await tokenOf((await db.users.get(server.adminUser))!.id)).secret,
    };
    expect(
      (
        await restAs(server.url, adminToken, 'POST', '/1.0/projects', {
          name: project,
          config: { restricted: 'true' },
        })
      ).status,
    ).toBe(201);
    const projectAdmin = await makeUser('padmin', 'admin', project);
    const byToken: Credentials = { token: (await tokenOf(projectAdmin.id)).secret };
    const bySession: Credentials = { cookie: await signedIn(projectAdmin.username) };
    const url = `/1.0/projects/${project}`;

    // The request: PATCH restricted=false, as a project admin with a token.
    const lifted = await restAs(server.url, byToken, 'PATCH', url, {
      config: { restricted: 'false' },
    });
    expect(lifted.status).toBe(403);
    expect(lifted.error).toContain('config["restricted"]');
    for (const config of [
      { 'restricted.containers.privilege': 'allow' },
      { 'restricted.devices.disk': 'allow' },
      { 'limits.instances': '1000' },
      { 'features.images': 'false' },
    ]) {
      const answer = await restAs(server.url, byToken, 'PATCH', url, { config });
      expect(answer.status, JSON.stringify(config)).toBe(403);
      expect(answer.error).toContain(Object.keys(config)[0]);
    }
    // PUT replaces the config: leaving `restricted` out would unset it.
    const current = (await restAs(server.url, byToken, 'GET', url)).body as {
      metadata: { config: Record<string, string> };
    };
    const { restricted: _dropped, ...withoutRestricted } = current.metadata.config;
    const dropped = await restAs(server.url, byToken, 'PUT', url, {
      description: 'x',
      config: withoutRestricted,
    });
    expect(dropped.status).toBe(403);
    expect(dropped.error).toContain('config["restricted"]');

    // tRPC, from the console's session.
    const trpcLifted = await trpcAs(server.url, bySession, 'mutation', 'projects.update', {
      project,
      put: { description: '', config: { ...current.metadata.config, restricted: 'false' } },
    });
    expect(trpcLifted.status).toBe(403);
    expect(trpcLifted.error).toBe('FORBIDDEN');
    expect(JSON.stringify(trpcLifted.body)).toContain('config[\\"restricted\\"]');

    // Everything else stays the project admin's: resending the reserved keys unchanged is fine.
    const edited = await restAs(server.url, byToken, 'PUT', url, {
      description: 'edited by its admin',
      config: { ...current.metadata.config, 'user.owner': 'team' },
    });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    const patched = await restAs(server.url, byToken, 'PATCH', url, {
      config: { restricted: 'true', 'user.note': 'hi' },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const viaTrpc = await trpcAs(server.url, bySession, 'mutation', 'projects.update', {
      project,
      put: { description: 'via tRPC', config: { ...current.metadata.config, 'user.owner': 'b' } },
    });
    expect(viaTrpc.status, JSON.stringify(viaTrpc.body)).toBe(200);
    const after = (await restAs(server.url, byToken, 'GET', url)).body as {
      metadata: { config: Record<string, string>; description: string };
    };
    expect(after.metadata.config).toMatchObject({ restricted: 'true', 'user.owner': 'b' });
    expect(after.metadata.description).toBe('via tRPC');

    // The server admin may.
    expect(
      (await restAs(server.url, adminToken, 'PATCH', url, { config: { restricted: 'false' } }))
        .status,
    ).toBe(200);
    const viaAdmin = await trpcAs(
      server.url,
      { cookie: adminCookie },
      'mutation',
      'projects.update',
      {
        project,
        put: { description: '', config: { ...after.metadata.config, restricted: 'true' } },
      },
    );
    expect(viaAdmin.status, JSON.stringify(viaAdmin.body)).toBe(200);
    expect(
      (
        (await restAs(server.url, adminToken, 'GET', url)).body as {
          metadata: { config: Record<string, string> };
        }
      ).metadata.config.restricted,
    ).toBe('true');
    await restAs(server.url, adminToken, 'DELETE', url);
  });
});

describe('revocation reaches open connections (issue 9, item 6)', () => {
  it('closes a deleted token’s socket.io terminal and its /1.0/events websocket and stream', async () => {
    const operator = await makeUser('op', 'operator');
    const token = await tokenOf(operator.id);
    const terminal = connectTerminal(server.url, { token: token.secret });
    await connected(terminal);
    const terminalEnd = endOf(terminal);
    await openShell(terminal);
    await shellAnswers(terminal, 'echo alive-$((2+3))', 'alive-5');

    const wsUrl = server.url.replace(/^http/, 'ws');
    const events = new WebSocket(`${wsUrl}/1.0/events`, {
      headers: { authorization: `Bearer ${token.secret}` },
    });
    await within(
      'events websocket',
      new Promise((resolve, reject) => {
        events.once('open', resolve);
        events.once('error', reject);
      }),
    );
    const eventsClosed = new Promise<void>((resolve) => events.once('close', () => resolve()));
    const stream = await fetch(`${server.url}/1.0/events`, {
      headers: { authorization: `Bearer ${token.secret}` },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const streamEnded = (async () => {
      for (;;) if ((await reader.read()).done) return;
    })();

    // The owner deletes the token in the console.
    const owner = await signedIn(operator.username);
    const deleted = await trpcAs(server.url, { cookie: owner }, 'mutation', 'tokens.delete', {
      id: token.id,
    });
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);

    const end = await within('terminal closed', terminalEnd);
    expect(end.error?.code).toBe('UNAUTHORIZED');
    expect(end.error?.message).toContain('revoked');
    await within('/1.0/events websocket closed', eventsClosed);
    await within('/1.0/events stream ended', streamEnded);
    // And the token opens nothing new.
    const again = connectTerminal(server.url, { token: token.secret });
    await expect(connected(again)).rejects.toThrow('UNAUTHORIZED');
    again.close();
  });

  it('closes a member’s sockets when removed from the project', async () => {
    const member = await makeUser('rm', 'operator');
    const cookie = await signedIn(member.username);
    const terminal = connectTerminal(server.url, { cookie });
    await connected(terminal);
    const end = endOf(terminal);
    const removed = await trpcAs(
      server.url,
      { cookie: adminCookie },
      'mutation',
      'members.remove',
      {
        project: 'default',
        username: member.username,
      },
    );
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const { error } = await within('terminal closed', end);
    expect(error?.code).toBe('UNAUTHORIZED');
    expect(error?.message).toContain('removed from project "default"');
  });

  it('judges an idle socket’s `open` by the database as it is now', async () => {
    // Membership gone behind its back (no revocation reached it): the project is not found.
    const member = await makeUser('idle', 'operator');
    const cookie = await signedIn(member.username);
    const terminal = connectTerminal(server.url, { cookie });
    await connected(terminal);
    await db.members.remove('default', member.id);
    const answer = await openRefusal(terminal);
    expect(answer.ready).toBe(false);
    expect(answer.error).toEqual({
      code: 'NOT_FOUND',
      message: 'Not found: Project "default" not found',
    });
    expect(answer.output).not.toContain('should-not-run');
    terminal.close();

    // Disabled behind its back: its token's idle socket opens nothing.
    const disabled = await makeUser('dis', 'operator');
    const tokenSocket = connectTerminal(server.url, { token: (await tokenOf(disabled.id)).secret });
    await connected(tokenSocket);
    await db.users.setDisabled(disabled.id, true);
    const refusal = await openRefusal(tokenSocket);
    expect(refusal.ready).toBe(false);
    expect(refusal.error?.code).toBe('UNAUTHORIZED');
    expect(refusal.output).not.toContain('should-not-run');
    tokenSocket.close();
  });

  it('closes a disabled user’s sockets at once', async () => {
    const user = await makeUser('off', 'operator');
    const terminal = connectTerminal(server.url, { token: (await tokenOf(user.id)).secret });
    await connected(terminal);
    const end = endOf(terminal);
    await openShell(terminal);
    const disabled = await trpcAs(
      server.url,
      { cookie: adminCookie },
      'mutation',
      'users.disable',
      {
        username: user.username,
      },
    );
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    const { error } = await within('terminal closed', end);
    expect(error).toEqual({
      code: 'UNAUTHORIZED',
      message: 'Sign in first: The account was disabled',
    });
  });
});

describe('sessions end server side (issue 9, item 9)', () => {
  it('refuses a signed-out cookie replayed on tRPC, REST and socket.io, and closes its sockets', async () => {
    const user = await makeUser('so', 'viewer');
    const cookie = await signedIn(user.username);
    const other = await signedIn(user.username);
    expect(await cookieWorks(cookie)).toEqual(works);

    const terminal = connectTerminal(server.url, { cookie });
    await connected(terminal);
    const terminalEnd = endOf(terminal);
    const events = connectEvents(cookie);
    await connected(events);
    const eventsRefused = new Promise<string>((resolve) =>
      events.on('connect_error', (error: Error) => resolve(error.message)),
    );

    await signOutSession(server.url, cookie);

    const end = await within('terminal closed', terminalEnd);
    expect(end.error).toEqual({ code: 'UNAUTHORIZED', message: 'Sign in first: Signed out' });
    // The events socket is dropped, reconnects on its own, and is refused.
    expect(await within('events socket refused', eventsRefused)).toBe('UNAUTHORIZED');
    events.close();
    expect(await cookieWorks(cookie)).toEqual(refused);
    // Only that session ended.
    expect(await cookieWorks(other)).toEqual(works);
  });

  it('ends every other session and older cookie on a password change; the changing one goes on', async () => {
    const user = await makeUser('pw', 'viewer');
    const changing = await signedIn(user.username);
    const second = await signedIn(user.username);
    expect(await cookieWorks(second)).toEqual(works);
    const terminal = connectTerminal(server.url, { cookie: second });
    await connected(terminal);
    const terminalEnd = endOf(terminal);

    const next = 'sec-e2e-password-2';
    const changed = await trpcAs(
      server.url,
      { cookie: changing },
      'mutation',
      'account.changePassword',
      {
        current: password,
        next,
      },
    );
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.renewedCookie).not.toBeNull();

    expect((await within('terminal closed', terminalEnd)).error?.code).toBe('UNAUTHORIZED');
    expect(await cookieWorks(second)).toEqual(refused);
    // The cookie the change was made with, replayed: refused too.
    expect(await cookieWorks(changing)).toEqual(refused);
    // The session that changed it carries on with the cookie it was given.
    expect(await cookieWorks(changed.renewedCookie!)).toEqual(works);
    // The old password is gone, the new one signs in.
    expect((await passwordSignIn(server.url, user.username, password)).code).toBe('invalid');
    expect((await passwordSignIn(server.url, user.username, next)).cookie).not.toBeNull();
  });

  it('ends the sessions of an account whose password an admin reset, or that was disabled', async () => {
    const reset = await makeUser('rs', 'viewer');
    const resetCookie = await signedIn(reset.username);
    expect(await cookieWorks(resetCookie)).toEqual(works);
    expect(
      (
        await trpcAs(server.url, { cookie: adminCookie }, 'mutation', 'users.resetPassword', {
          username: reset.username,
        })
      ).status,
    ).toBe(200);
    expect(await cookieWorks(resetCookie)).toEqual(refused);

    const disabled = await makeUser('ds', 'viewer');
    const disabledCookie = await signedIn(disabled.username);
    expect(await cookieWorks(disabledCookie)).toEqual(works);
    const toggle = (path: string) =>
      trpcAs(server.url, { cookie: adminCookie }, 'mutation', path, {
        username: disabled.username,
      });
    expect((await toggle('users.disable')).status).toBe(200);
    expect(await cookieWorks(disabledCookie)).toEqual(refused);
    // Enabled again, the account signs in afresh; the old cookie stays dead.
    expect((await toggle('users.enable')).status).toBe(200);
    expect(await cookieWorks(disabledCookie)).toEqual(refused);
    expect(await cookieWorks(await signedIn(disabled.username))).toEqual(works);
  });
});

describe('REST used_by hides other projects (issue 9, item 10)', () => {
  it('shows a member of another project no instance of `default` in a network or pool', async () => {
    const adminToken = {
      token: (await tokenOf((await db.users.get(server.adminUser))!.id)).secret,
    };
    const project = `secb${suffix}`;
    expect(
      (await restAs(server.url, adminToken, 'POST', '/1.0/projects', { name: project })).status,
    ).toBe(201);
    const outsider = await makeUser('b', 'viewer', project);
    const theirs = { token: (await tokenOf(outsider.id)).secret };
    const instanceUrl = `/1.0/instances/${INSTANCE}`;
    type UsedBy = { metadata: { used_by: string[] } };
    type UsedByList = { metadata: { name: string; used_by: string[] }[] };

    const pools = (await restAs(server.url, adminToken, 'GET', '/1.0/storage-pools?recursion=1'))
      .body as UsedByList;
    const pool = pools.metadata.find((p) => p.used_by.includes(instanceUrl));
    expect(pool, 'the admin sees the instance in a pool’s used_by').toBeDefined();
    const network = `/1.0/networks/${server.bridge}`;
    expect(
      ((await restAs(server.url, adminToken, 'GET', network)).body as UsedBy).metadata.used_by,
    ).toContain(instanceUrl);

    for (const path of [
      `/1.0/storage-pools/${pool!.name}?project=${project}`,
      `${network}?project=${project}`,
    ]) {
      const answer = await restAs(server.url, theirs, 'GET', path);
      expect(answer.status, path).toBe(200);
      expect((answer.body as UsedBy).metadata.used_by, path).not.toContain(instanceUrl);
      expect(JSON.stringify(answer.body)).not.toContain(INSTANCE);
    }
    for (const path of [
      `/1.0/storage-pools?recursion=1&project=${project}`,
      `/1.0/networks?recursion=1&project=${project}`,
    ]) {
      const answer = await restAs(server.url, theirs, 'GET', path);
      expect(answer.status, path).toBe(200);
      expect(JSON.stringify(answer.body), path).not.toContain(INSTANCE);
    }
    await restAs(server.url, adminToken, 'DELETE', `/1.0/projects/${project}`);
  });
});

describe('sign-in rate limits (issue 9, item 12)', () => {
  it('never locks `admin` out: guesses from one address slow only that address', async () => {
    const attacker = { localAddress: '127.0.0.3' };
    const owner = { localAddress: '127.0.0.2' };
    // Guess until the attacker's address has been made to wait, three times
    // over: each failure past the free ones doubles its next wait.
    let failures = 0;
    let waits = 0;
    for (let guess = 0; failures < 8; guess++) {
      const answer = await passwordSignIn(server.url, 'admin', `guess-${guess}`, attacker);
      if (answer.code === 'invalid') {
        failures++;
      } else {
        expect(answer.code).toBe('rate_limited');
        waits++;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    expect(waits).toBeGreaterThan(0);
    // From the attacker's address even the right password waits ...
    const fromAttacker = await passwordSignIn(server.url, 'admin', server.adminPassword, attacker);
    expect(fromAttacker).toEqual({ cookie: null, code: 'rate_limited' });
    // ... while the owner, from elsewhere, signs in with it.
    const fromOwner = await passwordSignIn(server.url, 'admin', server.adminPassword, owner);
    expect(fromOwner.code).toBeNull();
    expect(await cookieWorks(fromOwner.cookie!)).toMatchObject({ trpc: 200 });
  });
});
