// Exec sessions cannot be taken over (the CVE-2025-54289 class), revocation
// reaches open REST websockets and streams, recorded exec output goes with
// its instance and project, and a hidden project's operation answers as an
// unknown one. The real server, real LXC (busybox), tokens made in its
// database, a real browser for the socket.io session.
//
// In project P: the owner (operator) starts an exec; a second operator, a
// viewer and the server admin watch every path an operation is shown on
// and try to connect its channels.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultDatabaseUrl, hashPassword, openDatabase, type Database } from '@berth/db';
import type { Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signIn, trpcQueryWithToken } from './helpers/accounts.ts';
import { launchBrowser } from './helpers/browser.ts';
import {
  channelOutput,
  closed,
  collectMessages,
  isRefusal,
  mustOpen,
  openLineStream,
  openSocket,
  restClient,
  until,
  type Refusal,
} from './helpers/exec.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { cookieHeader } from './helpers/terminal.ts';

const suffix = randomBytes(3).toString('hex');
const P = `secp-${suffix}`;
const INSTANCE = `secx-${suffix}`;
const RENAMED = `secx-${suffix}-renamed`;
const SECOND = `secy-${suffix}`;
const ENV_SECRET = `env-secret-${randomBytes(8).toString('hex')}`;
const VIEWER_PASSWORD = `viewer-password-${suffix}`;

let dataDir: string;
const bridge = `bt${randomBytes(5).toString('hex')}`;
let server: RunningServer;
let db: Database;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
let rest: ReturnType<typeof restClient>;
const tokens = { admin: '', owner: '', operator: '', viewer: '', outsider: '' };
let ownerId = 0;
let viewerName = '';

async function userWithToken(role: 'operator' | 'viewer' | null, password?: string) {
  const username = `sec${role ?? 'out'}-${suffix}-${randomBytes(2).toString('hex')}`;
  const user = await db.users.create({
    username,
    ...(password ? { passwordHash: await hashPassword(password), mustChangePassword: false } : {}),
  });
  if (role) await db.members.set(P, user.id, role);
  const { secret } = await db.tokens.create(user.id, `security e2e ${username}`);
  return { id: user.id, username, token: secret };
}

async function start() {
  server = await startServer({ dataDir, bridge });
  db = await openDatabase({ url: defaultDatabaseUrl(dataDir), migrate: false });
  rest = restClient(server.url);
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-security-exec-'));
  await start();
  const admin = await db.users.get(server.adminUser);
  tokens.admin = (await db.tokens.create(admin!.id, 'security e2e admin')).secret;
  const made = await rest.call(tokens.admin, 'POST', '/1.0/projects', { name: P });
  expect(made.status, made.text).toBe(201);
  // A new project's default profile is empty, as LXD's: give it a root disk.
  const rooted = await rest.call(tokens.admin, 'PATCH', `/1.0/profiles/default?project=${P}`, {
    devices: { root: { type: 'disk', path: '/', pool: 'default' } },
  });
  expect(rooted.status, rooted.text).toBe(200);
  const owner = await userWithToken('operator');
  ownerId = owner.id;
  tokens.owner = owner.token;
  tokens.operator = (await userWithToken('operator')).token;
  const viewer = await userWithToken('viewer', VIEWER_PASSWORD);
  tokens.viewer = viewer.token;
  viewerName = viewer.username;
  tokens.outsider = (await userWithToken(null)).token;

  const build = await fetch(`${server.url}/api/trpc/images.buildBusybox`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${tokens.admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ project: P, alias: 'busybox' }),
  });
  expect(build.status).toBe(200);
  const { id } = ((await build.json()) as { result: { data: { id: string } } }).result.data;
  const built = await rest.call<{ status: string }>(
    tokens.admin,
    'GET',
    `/1.0/operations/${id}/wait?timeout=300`,
  );
  expect(built.body.metadata.status).toBe('Success');
  for (const name of [INSTANCE, SECOND]) {
    await rest.succeed(tokens.admin, 'POST', `/1.0/instances?project=${P}`, {
      name,
      source: { type: 'image', alias: 'busybox' },
    });
    await rest.succeed(tokens.admin, 'PUT', `/1.0/instances/${name}/state?project=${P}`, {
      action: 'start',
    });
  }
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (server && tokens.admin) {
    for (const name of [INSTANCE, RENAMED, SECOND]) {
      await rest
        .succeed(tokens.admin, 'PUT', `/1.0/instances/${name}/state?project=${P}`, {
          action: 'stop',
          force: true,
        })
        .catch(() => {});
      await rest
        .call(tokens.admin, 'DELETE', `/1.0/instances/${name}?project=${P}`)
        .then((d) =>
          d.status === 202
            ? rest.call(tokens.admin, 'GET', `${d.body.operation}/wait?timeout=60`)
            : d,
        )
        .catch(() => {});
    }
  }
  await db?.close();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface ExecOperation {
  id: string;
  status: string;
  metadata: Record<string, unknown> & { fds?: Record<string, string> };
}

/** Starts `sh -c script` over websockets as `token`; returns the operation the POST answered. */
async function startExec(token: string, script: string, instance = INSTANCE) {
  const started = await rest.call<ExecOperation>(
    token,
    'POST',
    `/1.0/instances/${instance}/exec?project=${P}`,
    {
      command: ['sh', '-c', script],
      environment: { SECRET_VAR: ENV_SECRET },
      'wait-for-websocket': true,
      interactive: false,
    },
  );
  expect(started.status, started.text).toBe(202);
  return started.body.metadata;
}

const channelPath = (id: string, secret: string) =>
  `/1.0/operations/${id}/websocket?secret=${secret}`;

/** The secret strings of an exec found in `text` (none, when nothing leaks). */
function leaks(text: string, fds: Record<string, string>): string[] {
  return [...Object.values(fds), ENV_SECRET].filter((secret) => text.includes(secret));
}

describe('exec sessions belong to the principal that made them', () => {
  it('shows fds and environment to the owner only, and only the owner connects', async () => {
    // Everyone who may read P listens before the exec starts.
    const viewerEvents = await mustOpen(
      server.url,
      `/1.0/events?type=operation&project=${P}`,
      tokens.viewer,
    );
    const viewerMessages = collectMessages(viewerEvents);
    const operatorStream = await openLineStream(
      server.url,
      `/1.0/events?type=operation&project=${P}`,
      tokens.operator,
    );
    browser = await launchBrowser();
    const page: Page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await signIn(page, server.url, viewerName, VIEWER_PASSWORD);
    await page.waitForURL(/\/instances$/);
    const socketEvents: string[] = [];
    const socket: Socket = io(`${server.url}/events`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: {
        cookie: await cookieHeader(browser.context, server.url),
        origin: server.url,
      },
    });
    socket.on('event', (event: unknown) => socketEvents.push(JSON.stringify(event)));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });

    try {
      // stdin stays open, so the command waits (and the operation runs) while others look.
      const op = await startExec(tokens.owner, 'read line; echo "got:$line:$SECRET_VAR"');
      const fds = op.metadata.fds!;
      expect(Object.keys(fds).sort()).toEqual(['0', '1', '2', 'control']);
      expect(op.metadata.environment).toEqual({ SECRET_VAR: ENV_SECRET });
      const owned = await rest.call<ExecOperation>(tokens.owner, 'GET', `/1.0/operations/${op.id}`);
      expect(owned.body.metadata.metadata.fds).toEqual(fds);

      // The owner connects stdin, stdout, stderr: the command starts and waits for a line.
      const stdin = await mustOpen(server.url, channelPath(op.id, fds['0']!), tokens.owner);
      const stdout = await mustOpen(server.url, channelPath(op.id, fds['1']!), tokens.owner);
      const stderr = await mustOpen(server.url, channelPath(op.id, fds['2']!), tokens.owner);
      const out = channelOutput(stdout);

      // Nobody else sees the secrets, on any path.
      for (const token of [tokens.viewer, tokens.operator]) {
        const one = await rest.call<ExecOperation>(token, 'GET', `/1.0/operations/${op.id}`);
        expect(one.status).toBe(200);
        expect(one.body.metadata.status).toBe('Running');
        expect(one.body.metadata.metadata).toEqual({
          command: op.metadata.command,
          interactive: false,
        });
        const waited = await rest.call(token, 'GET', `/1.0/operations/${op.id}/wait?timeout=0`);
        expect(leaks(waited.text, fds)).toEqual([]);
        const listed = await rest.call<Record<string, ExecOperation[]>>(
          token,
          'GET',
          `/1.0/operations?recursion=1&project=${P}`,
        );
        expect(listed.body.metadata.running?.map((o) => o.id)).toContain(op.id);
        expect(leaks(listed.text, fds)).toEqual([]);
        const all = await rest.call(token, 'GET', '/1.0/operations?recursion=1&all-projects=true');
        expect(leaks(all.text, fds)).toEqual([]);
        const trpcList = await trpcQueryWithToken<ExecOperation[]>(
          server.url,
          token,
          'operations.list',
          { project: P },
        );
        expect(trpcList.data?.map((o) => o.id)).toContain(op.id);
        expect(leaks(JSON.stringify(trpcList.data), fds)).toEqual([]);
        const trpcGet = await trpcQueryWithToken(server.url, token, 'operations.get', {
          project: P,
          id: op.id,
        });
        expect(trpcGet.code).toBeNull();
        expect(leaks(JSON.stringify(trpcGet.data), fds)).toEqual([]);
      }
      // Nor are they stored.
      expect(leaks(JSON.stringify(await db.operations.get(op.id)), fds)).toEqual([]);

      // The other operator, with the owner's secrets, gets what a wrong secret gets; so does
      // the server admin. Neither takes a channel: the one left free stays the owner's.
      const wrong = (await openSocket(
        server.url,
        channelPath(op.id, 'f'.repeat(64)),
        tokens.owner,
      )) as Refusal;
      expect(wrong.status).toBe(403);
      expect(JSON.parse(wrong.body)).toMatchObject({ error: 'Invalid websocket secret' });
      for (const token of [tokens.operator, tokens.admin]) {
        for (const secret of [fds.control!, fds['0']!]) {
          const refused = await openSocket(server.url, channelPath(op.id, secret), token);
          expect(isRefusal(refused) ? refused : 'connected').toEqual(wrong);
        }
      }
      const viewerTry = await openSocket(
        server.url,
        channelPath(op.id, fds.control!),
        tokens.viewer,
      );
      expect(isRefusal(viewerTry) && viewerTry.status).toBe(403);
      const control = await mustOpen(server.url, channelPath(op.id, fds.control!), tokens.owner);

      // The owner's command sees its environment and the owner's input.
      stdin.send(Buffer.from('ping\n'), { binary: true });
      expect(await out.ended).toBe(`got:ping:${ENV_SECRET}\n`);
      const done = await rest.call<ExecOperation>(
        tokens.owner,
        'GET',
        `/1.0/operations/${op.id}/wait?timeout=30`,
      );
      expect(done.body.metadata).toMatchObject({ status: 'Success', metadata: { return: 0 } });
      for (const ws of [stdin, stderr, control]) ws.close();

      // Every listener heard of the operation, and none heard its secrets.
      await until('the operation events', () =>
        [viewerMessages, operatorStream.lines, socketEvents].every((m) =>
          m.some((e) => e.includes(op.id) && e.includes('Success')),
        )
          ? true
          : undefined,
      );
      for (const messages of [viewerMessages, operatorStream.lines, socketEvents]) {
        expect(leaks(messages.join('\n'), fds)).toEqual([]);
      }
    } finally {
      socket.close();
      viewerEvents.close();
      operatorStream.cancel();
    }
  });

  it('answers an operation of a hidden project exactly as an unknown id', async () => {
    const op = await startExec(tokens.owner, 'read line');
    const fds = op.metadata.fds!;
    const unknown = randomUUID();
    try {
      const paths = (id: string) => [
        `/1.0/operations/${id}`,
        `/1.0/operations/${id}/wait?timeout=0`,
      ];
      for (const [i, p] of paths(op.id).entries()) {
        const hidden = await rest.call(tokens.outsider, 'GET', p);
        const none = await rest.call(tokens.outsider, 'GET', paths(unknown)[i]!);
        expect(hidden.status).toBe(404);
        expect({ status: hidden.status, text: hidden.text }).toEqual({
          status: none.status,
          text: none.text,
        });
      }
      const hiddenCancel = await rest.call(tokens.outsider, 'DELETE', `/1.0/operations/${op.id}`);
      const noneCancel = await rest.call(tokens.outsider, 'DELETE', `/1.0/operations/${unknown}`);
      expect(hiddenCancel.text).toBe(noneCancel.text);
      const hidden = await openSocket(server.url, channelPath(op.id, fds['0']!), tokens.outsider);
      const none = await openSocket(server.url, channelPath(unknown, fds['0']!), tokens.outsider);
      expect(isRefusal(hidden) && hidden.status).toBe(404);
      expect(hidden).toEqual(none);
      expect(JSON.parse((hidden as Refusal).body)).toMatchObject({ error: 'Operation not found' });
    } finally {
      // Nobody connected: the operation gives up on its own.
      await rest.call(tokens.owner, 'GET', `/1.0/operations/${op.id}/wait?timeout=30`);
    }
  });
});

describe('revoking a token', () => {
  it('closes its exec websockets and event streams, and nothing of other credentials', async () => {
    const { token: revokedToken, secret: revoked } = await db.tokens.create(
      ownerId,
      `security e2e revoked ${suffix}`,
    );
    const op = await startExec(revoked, 'cat');
    const fds = op.metadata.fds!;
    const channels = await Promise.all(
      (['0', '1', '2', 'control'] as const).map((c) =>
        mustOpen(server.url, channelPath(op.id, fds[c]!), revoked),
      ),
    );
    const [stdin, stdout] = channels as [WebSocket, WebSocket, WebSocket, WebSocket];
    const out = channelOutput(stdout);
    const channelsClosed = channels.map(closed);
    stdin.send(Buffer.from('before revocation\n'), { binary: true });
    await until('the echo', () => (out.text().includes('before revocation') ? true : undefined));
    const events = await mustOpen(server.url, `/1.0/events?project=${P}`, revoked);
    const stream = await openLineStream(server.url, `/1.0/events?project=${P}`, revoked);
    const eventsClosed = closed(events);
    const ownersOther = await mustOpen(server.url, `/1.0/events?project=${P}`, tokens.owner);

    // The owner deletes the token through the console's API.
    const deleted = await fetch(`${server.url}/api/trpc/tokens.delete`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.owner}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: revokedToken.id }),
    });
    expect(deleted.status, await deleted.text()).toBe(200);

    expect(await Promise.all([...channelsClosed, eventsClosed])).toEqual([
      1008, 1008, 1008, 1008, 1008,
    ]);
    await stream.ended;
    expect(ownersOther.readyState).toBe(WebSocket.OPEN);
    ownersOther.close();
    // The command lost its client and ended; the token opens nothing new.
    const done = await rest.call<ExecOperation>(
      tokens.owner,
      'GET',
      `/1.0/operations/${op.id}/wait?timeout=30`,
    );
    expect(done.body.metadata.status).not.toBe('Running');
    expect((await rest.call(revoked, 'GET', `/1.0/operations?project=${P}`)).status).toBe(401);
    const again = await openSocket(server.url, `/1.0/events?project=${P}`, revoked);
    expect(isRefusal(again) && again.status).toBe(401);
  });
});

describe('recorded exec output goes with its owner', () => {
  const outputDir = (project: string, instance?: string) =>
    path.join(dataDir, 'exec-output', project, ...(instance ? [instance] : []));

  async function record(instance: string): Promise<void> {
    const done = await rest.succeed(
      tokens.owner,
      'POST',
      `/1.0/instances/${instance}/exec?project=${P}`,
      {
        command: ['echo', 'recorded'],
        'record-output': true,
        'wait-for-websocket': false,
      },
    );
    expect(done).toMatchObject({ metadata: { return: 0 } });
    expect((await readdir(outputDir(P, instance))).length).toBe(2);
  }

  it('follows a rename, and is deleted with the instance', async () => {
    await record(INSTANCE);
    await rest.succeed(tokens.admin, 'PUT', `/1.0/instances/${INSTANCE}/state?project=${P}`, {
      action: 'stop',
      force: true,
    });
    await rest.succeed(tokens.admin, 'POST', `/1.0/instances/${INSTANCE}?project=${P}`, {
      name: RENAMED,
    });
    await until('the files to move', () => (existsSync(outputDir(P, INSTANCE)) ? undefined : true));
    const logs = await rest.call<string[]>(
      tokens.owner,
      'GET',
      `/1.0/instances/${RENAMED}/logs?project=${P}`,
    );
    expect(logs.body.metadata.filter((f) => /exec_.*\.stdout/.test(f))).toHaveLength(1);
    await rest.succeed(tokens.admin, 'DELETE', `/1.0/instances/${RENAMED}?project=${P}`);
    await until('the files to go', () => (existsSync(outputDir(P, RENAMED)) ? undefined : true));
  });

  it('is deleted with the project', async () => {
    await record(SECOND);
    await rest.succeed(tokens.admin, 'PUT', `/1.0/instances/${SECOND}/state?project=${P}`, {
      action: 'stop',
      force: true,
    });
    await rest.succeed(tokens.admin, 'DELETE', `/1.0/instances/${SECOND}?project=${P}`);
    // The project must be empty: its image goes first.
    const images = await rest.call<string[]>(tokens.admin, 'GET', `/1.0/images?project=${P}`);
    for (const url of images.body.metadata) {
      const gone = await rest.call(
        tokens.admin,
        'DELETE',
        url.includes('?') ? url : `${url}?project=${P}`,
      );
      if (gone.status === 202)
        await rest.call(tokens.admin, 'GET', `${gone.body.operation}/wait?timeout=60`);
    }
    const deleted = await rest.call(tokens.admin, 'DELETE', `/1.0/projects/${P}`);
    expect(deleted.status, deleted.text).toBeLessThan(300);
    await until('the project folder to go', () => (existsSync(outputDir(P)) ? undefined : true));
  });

  it('is swept at start-up for instances and projects that went while the server was down', async () => {
    const name = `exec_${randomUUID()}.stdout`;
    for (const dir of [
      outputDir('default', `secghost-${suffix}`),
      outputDir(`secgone-${suffix}`, 'c1'),
    ]) {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, name), 'left behind');
    }
    await db.close();
    await server.stop();
    await start();
    await until('the sweep', () =>
      existsSync(outputDir('default', `secghost-${suffix}`)) ||
      existsSync(outputDir(`secgone-${suffix}`))
        ? undefined
        : true,
    );
  });
});
