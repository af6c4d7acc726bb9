// A restricted project's rules bind everyone acting in it, through every
// entry path (issue 9, item 2): a snapshot taken before the project was
// restricted cannot be restored, and a backup whose snapshot holds
// security.privileged and a `source: /` disk cannot be imported, whether it
// comes from an operator's browser session (tRPC), a project admin's API
// token (REST and the import upload route), or the local unix socket, whose
// caller is the server admin: restrictions bind admins too, as in LXD.
// An instance the restriction made forbidden does not start either.
// The real server, real Chromium, real LXC containers.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { defaultDatabaseUrl, hashPassword, openDatabase, type Database } from '@berth/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser } from './helpers/browser.ts';
import { signIn, trpcCall } from './helpers/accounts.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import {
  restOverSocket,
  restWithToken,
  trpcMutationWithToken,
  waitRest,
  type RestCall,
  type RestReply,
} from './helpers/restrictions.ts';

const suffix = randomBytes(3).toString('hex');
const project = `sec${suffix}`;
const instance = `sec${suffix}-x`;
const dormant = `sec${suffix}-z`;
const source = `sec${suffix}-bk`;
const operatorName = `sec${suffix}-op`;
const operatorPassword = 'operator-password-e2e-1';
const q = `?project=${project}`;

let server: RunningServer;
let db: Database;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let operatorPage: Page;
let adminToken: string;
let operatorToken: string;
let projectAdminToken: string;
let backup: Buffer;

const asAdmin = (method: string, url: string, call?: RestCall) =>
  restWithToken(server.url, adminToken, method, url, call);

async function ok(reply: Promise<RestReply>): Promise<void> {
  const done = await waitRest(await reply, (url) => asAdmin('GET', url));
  expect(done.status, done.err).toBe('Success');
}

/** The busybox image as `busybox` in `p` (images are per project). */
async function buildBusybox(p: string): Promise<void> {
  const build = await trpcMutationWithToken<{ id: string }>(
    server.url,
    adminToken,
    'images.buildBusybox',
    { project: p, alias: 'busybox' },
  );
  expect(build.message).toBeNull();
  const done = await asAdmin('GET', `/1.0/operations/${build.data!.id}/wait?timeout=120`);
  expect(done.body.metadata).toMatchObject({ status: 'Success' });
}

/** What a user sees of the restored instance: it must not change. */
async function seen() {
  const reply = await asAdmin('GET', `/1.0/instances/${instance}${q}`);
  const i = reply.body.metadata as {
    status: string;
    config: Record<string, string>;
    expanded_config: Record<string, string>;
    devices: Record<string, unknown>;
  };
  const config = Object.fromEntries(
    Object.entries(i.config).filter(([k]) => k !== 'volatile.last_state.power'),
  );
  return { status: i.status, config, devices: i.devices };
}

/** The project's instances and every pool folder an import could have left. */
async function projectContents() {
  const pool = path.join(server.dataDir, 'storage', 'default');
  const list = async (dir: string) =>
    (await readdir(path.join(pool, dir)).catch(() => [] as string[]))
      .filter((e) => e.startsWith(`${project}_`))
      .sort();
  const names = (await asAdmin('GET', `/1.0/instances${q}`)).body.metadata as string[];
  return {
    instances: names.map((u) => decodeURIComponent(u.split('/').pop()!.split('?')[0]!)).sort(),
    containers: await list('containers'),
    snapshots: await list('containers-snapshots'),
  };
}

beforeAll(async () => {
  server = await startServer();
  db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  const admin = await db.users.get(server.adminUser);
  adminToken = (await db.tokens.create(admin!.id, 'restrictions e2e')).secret;

  // The project, its image, and (before any restriction) an instance with
  // a snapshot that is privileged, nested, with raw.lxc; then made clean.
  expect((await asAdmin('POST', '/1.0/projects', { body: { name: project } })).status).toBe(201);
  // A new project's default profile is empty, as LXD's: give it a root disk.
  expect(
    (
      await asAdmin('PATCH', `/1.0/profiles/default?project=${project}`, {
        body: { devices: { root: { type: 'disk', path: '/', pool: 'default' } } },
      })
    ).status,
  ).toBe(200);
  await buildBusybox(project);
  await buildBusybox('default');
  const forbidden = {
    'security.privileged': 'true',
    'security.nesting': 'true',
    'raw.lxc': 'lxc.apparmor.profile = unconfined',
  };
  for (const [name, config] of [
    [instance, forbidden],
    [dormant, { 'security.privileged': 'true' }],
  ] as const) {
    await ok(
      asAdmin('POST', `/1.0/instances${q}`, {
        body: { name, source: { type: 'image', alias: 'busybox' }, config },
      }),
    );
  }
  await ok(
    asAdmin('POST', `/1.0/instances/${instance}/snapshots${q}`, { body: { name: 'snap0' } }),
  );
  await ok(
    asAdmin('PUT', `/1.0/instances/${instance}${q}`, {
      body: { config: {}, devices: {}, profiles: ['default'], ephemeral: false, description: '' },
    }),
  );

  // A backup made where it is allowed (default): a clean instance whose
  // snapshot is privileged and mounts the host's root.
  await ok(
    asAdmin('POST', '/1.0/instances', {
      body: {
        name: source,
        source: { type: 'image', alias: 'busybox' },
        config: { 'security.privileged': 'true' },
        devices: { host: { type: 'disk', source: '/', path: '/mnt/host' } },
      },
    }),
  );
  await ok(asAdmin('POST', `/1.0/instances/${source}/snapshots`, { body: { name: 'snap0' } }));
  await ok(
    asAdmin('PUT', `/1.0/instances/${source}`, {
      body: { config: {}, devices: {}, profiles: ['default'], ephemeral: false, description: '' },
    }),
  );
  await ok(asAdmin('POST', `/1.0/instances/${source}/backups`, { body: { name: 'b0' } }));
  const exported = await fetch(`${server.url}/1.0/instances/${source}/backups/b0/export`, {
    headers: { Authorization: `Bearer ${adminToken}` },
  });
  expect(exported.status).toBe(200);
  backup = Buffer.from(await exported.arrayBuffer());

  // Now the project is restricted (with LXD's defaults), by the server admin.
  expect(
    (
      await asAdmin('PATCH', `/1.0/projects/${project}`, {
        body: { config: { restricted: 'true' } },
      })
    ).status,
  ).toBe(200);
  await ok(asAdmin('PUT', `/1.0/instances/${instance}/state${q}`, { body: { action: 'start' } }));

  // An operator (browser session and token) and a project admin (token).
  const operator = await db.users.create({
    username: operatorName,
    passwordHash: await hashPassword(operatorPassword),
    mustChangePassword: false,
  });
  await db.members.set(project, operator.id, 'operator');
  operatorToken = (await db.tokens.create(operator.id, 'operator')).secret;
  const projectAdmin = await db.users.create({ username: `sec${suffix}-pa` });
  await db.members.set(project, projectAdmin.id, 'admin');
  projectAdminToken = (await db.tokens.create(projectAdmin.id, 'project admin')).secret;
  browser = await launchBrowser();
  operatorPage = browser.context.pages()[0] ?? (await browser.context.newPage());
  operatorPage.setDefaultTimeout(20_000);
  await signIn(operatorPage, server.url, operatorName, operatorPassword);
  await operatorPage.waitForURL(/\/instances$/);
});

afterAll(async () => {
  if (server && adminToken) {
    for (const [name, p] of [
      [instance, project],
      [dormant, project],
      [source, 'default'],
    ]) {
      const stop = await asAdmin('PUT', `/1.0/instances/${name}/state?project=${p}`, {
        body: { action: 'stop', force: true },
      }).catch(() => undefined);
      if (stop?.status === 202) await asAdmin('GET', `${stop.body.operation}/wait?timeout=60`);
    }
  }
  await browser?.close().catch(() => {});
  await db?.close();
  await server?.stop();
});

describe('snapshot restore in a restricted project', () => {
  it('is refused through every entry path, for every role, and leaves the instance as it was', async () => {
    const before = await seen();
    expect(before.status).toBe('Running');
    expect(before.config['security.privileged']).toBeUndefined();
    const restore = { body: { restore: 'snap0' } };
    const url = `/1.0/instances/${instance}${q}`;

    // tRPC, the operator's browser session.
    const viaTrpc = await trpcCall(
      operatorPage.request,
      server.url,
      'mutation',
      'snapshots.restore',
      {
        project,
        instance,
        name: 'snap0',
      },
    );
    expect(viaTrpc.code).toBe('FORBIDDEN');
    expect(viaTrpc.message).toContain('config["raw.lxc"]');

    // REST over the network: the operator's and the project admin's tokens.
    for (const token of [operatorToken, projectAdminToken]) {
      const reply = await restWithToken(server.url, token, 'PUT', url, restore);
      expect(reply.status, JSON.stringify(reply.body)).toBe(403);
      expect(reply.body.error).toContain('config["raw.lxc"]');
      expect(reply.body.error).toContain('restricted project');
    }
    // `lxc restore x snap0` sends "x/snap0".
    const slashed = await restWithToken(server.url, operatorToken, 'PUT', url, {
      body: { restore: `${instance}/snap0` },
    });
    expect(slashed.status).toBe(403);

    // The unix socket: the server admin, bound by the project's restrictions all the same.
    const viaSocket = await restOverSocket(server.dataDir, 'PUT', url, restore);
    expect(viaSocket.status, JSON.stringify(viaSocket.body)).toBe(403);
    expect(viaSocket.body.error).toContain('config["raw.lxc"]');
    // And tRPC with the server admin's token.
    const adminTrpc = await trpcMutationWithToken(server.url, adminToken, 'snapshots.restore', {
      project,
      instance,
      name: 'snap0',
    });
    expect(adminTrpc.code).toBe('FORBIDDEN');

    expect(await seen()).toEqual(before);
  });

  it('an instance the restriction made forbidden does not start, through REST or tRPC', async () => {
    const url = `/1.0/instances/${dormant}/state${q}`;
    for (const reply of [
      await restWithToken(server.url, operatorToken, 'PUT', url, { body: { action: 'start' } }),
      await restOverSocket(server.dataDir, 'PUT', url, { body: { action: 'start' } }),
    ]) {
      expect(reply.status, JSON.stringify(reply.body)).toBe(403);
      expect(reply.body.error).toContain('config["security.privileged"]');
    }
    const viaTrpc = await trpcCall(
      operatorPage.request,
      server.url,
      'mutation',
      'instances.changeState',
      {
        project,
        name: dormant,
        state: { action: 'start' },
      },
    );
    expect(viaTrpc.code).toBe('FORBIDDEN');
    const state = await asAdmin('GET', `/1.0/instances/${dormant}/state${q}`);
    expect((state.body.metadata as { status: string }).status).toBe('Stopped');
  });
});

describe('backup import into a restricted project', () => {
  it('the upload route refuses a backup whose snapshot is privileged with a `source: /` disk', async () => {
    const before = await projectContents();
    for (const token of [projectAdminToken, adminToken]) {
      const res = await fetch(
        `${server.url}/api/instances/${project}/import?name=sec${suffix}-imp1`,
        {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/gzip' },
          body: new Uint8Array(backup),
        },
      );
      const body = (await res.json()) as { error?: string };
      expect(res.status, JSON.stringify(body)).toBe(403);
      expect(body.error).toContain(`snapshot "sec${suffix}-imp1/snap0" of the backup`);
      expect(body.error).toContain('config["security.privileged"]');
    }
    expect(await projectContents()).toEqual(before);
    expect(before.instances).toEqual([instance, dormant].sort());
  });

  it('REST POST /1.0/instances with the backup as its body fails, over a token and the unix socket', async () => {
    const before = await projectContents();
    const upload = (name: string): RestCall => ({
      raw: backup,
      headers: { 'Content-Type': 'application/octet-stream', 'X-LXD-name': name },
    });
    const viaToken = await restWithToken(
      server.url,
      projectAdminToken,
      'POST',
      `/1.0/instances${q}`,
      upload(`sec${suffix}-imp2`),
    );
    const viaSocket = await restOverSocket(
      server.dataDir,
      'POST',
      `/1.0/instances${q}`,
      upload(`sec${suffix}-imp3`),
    );
    for (const [reply, name] of [
      [viaToken, `sec${suffix}-imp2`],
      [viaSocket, `sec${suffix}-imp3`],
    ] as const) {
      const done = await waitRest(reply, (url) => restOverSocket(server.dataDir, 'GET', url));
      expect(done.status).toBe('Failure');
      expect(done.err).toContain(`snapshot "${name}/snap0" of the backup`);
      expect(done.err).toContain('config["security.privileged"]');
    }
    expect(await projectContents()).toEqual(before);
  });

  it('the same backup imports where nothing is restricted (the refusal is the restriction)', async () => {
    const res = await fetch(`${server.url}/api/instances/default/import?name=sec${suffix}-free`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/gzip' },
      body: new Uint8Array(backup),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const snaps = await asAdmin('GET', `/1.0/instances/sec${suffix}-free/snapshots?recursion=1`);
    expect(
      (snaps.body.metadata as { name: string; config: Record<string, string> }[]).map((s) => [
        s.name,
        s.config['security.privileged'],
      ]),
    ).toEqual([['snap0', 'true']]);
    await asAdmin('DELETE', `/1.0/instances/sec${suffix}-free`).then((r) =>
      r.status === 202 ? asAdmin('GET', `${r.body.operation}/wait?timeout=60`) : r,
    );
  });
});
