// The access-control matrix of a restricted project (issue 14): every value
// a restricted project refuses × every path a value can arrive by × every
// way a caller authenticates. Values: security.privileged,
// security.nesting, raw.lxc, raw.idmap, a host-path disk, a unix-char
// device. Paths: create, update (PUT), patch, an edit of the profile the
// instances use, a copy from an unrestricted project, a restore of a
// snapshot taken before the restriction, an import of a backup made
// elsewhere. Callers: a project admin's browser session (tRPC and the
// upload route), the same admin's API token (REST), and the server admin on
// the local unix socket (restrictions bind admins too, as in LXD). Each
// cell must be refused naming the value's field, and leave the project as
// it was (its instances, their config and devices, its profile). The real
// server, real Chromium for the session, real LXC storage (nothing starts).
import { randomBytes } from 'node:crypto';
import { defaultDatabaseUrl, hashPassword, openDatabase, type Database } from '@berth/db';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, trpcCall } from './helpers/accounts.ts';
import { launchBrowser } from './helpers/browser.ts';
import {
  restOverSocket,
  restWithToken,
  trpcMutationWithToken,
  waitRest,
  type RestCall,
  type RestReply,
} from './helpers/restrictions.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

const suffix = randomBytes(3).toString('hex');
const project = `mx${suffix}`;
const q = `?project=${project}`;
const target = `mx${suffix}-t`;
const adminName = `mx${suffix}-pa`;
const adminPassword = 'matrix-password-e2e-1';
const ROOT = { type: 'disk', path: '/', pool: 'default' };

interface Forbidden {
  what: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  /** What the refusal must name. */
  field: string;
}

const FORBIDDEN: Forbidden[] = [
  {
    what: 'security.privileged',
    config: { 'security.privileged': 'true' },
    devices: {},
    field: 'config["security.privileged"]',
  },
  {
    what: 'security.nesting',
    config: { 'security.nesting': 'true' },
    devices: {},
    field: 'config["security.nesting"]',
  },
  {
    what: 'raw.lxc',
    config: { 'raw.lxc': 'lxc.apparmor.profile = unconfined' },
    devices: {},
    field: 'config["raw.lxc"]',
  },
  {
    what: 'raw.idmap',
    config: { 'raw.idmap': 'both 2000000 1000' },
    devices: {},
    field: 'config["raw.idmap"]',
  },
  {
    what: 'a host-path disk',
    config: {},
    devices: { hostetc: { type: 'disk', source: '/etc', path: '/mnt/etc' } },
    field: 'devices["hostetc"]',
  },
  {
    what: 'a unix-char device',
    config: {},
    devices: { kmsg: { type: 'unix-char', source: '/dev/kmsg', path: '/dev/kmsg' } },
    field: 'devices["kmsg"]',
  },
];

const AUTHS = ['session (tRPC, upload route)', 'API token (REST)', 'unix socket (REST)'] as const;
type Auth = (typeof AUTHS)[number];
const PATHS = ['create', 'update', 'patch', 'profile edit', 'copy', 'restore', 'import'] as const;
type EntryPath = (typeof PATHS)[number];

let server: RunningServer;
let db: Database;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let serverAdminToken: string;
let projectAdminToken: string;
/** Per forbidden value: a backup (made in default) that carries it. */
const backups: Buffer[] = [];
let serial = 0;

/** Copies' sources (in default) and snapshots' instances (in the project), per value. */
const sourceOf = (i: number) => `mx${suffix}-s${i}`;
const snappedOf = (i: number) => `mx${suffix}-r${i}`;

const asServerAdmin = (method: string, url: string, call?: RestCall) =>
  restWithToken(server.url, serverAdminToken, method, url, call);

async function ok(reply: Promise<RestReply>): Promise<void> {
  const done = await waitRest(await reply, (url) => asServerAdmin('GET', url));
  expect(done.status, done.err).toBe('Success');
}

/** How one call ended: refused (an error status, a FORBIDDEN, a failed operation) and what it said. */
interface Outcome {
  refused: boolean;
  said: string;
}

async function ofRest(
  reply: RestReply,
  via: (url: string) => Promise<RestReply>,
): Promise<Outcome> {
  if (reply.status === 202) {
    const done = await waitRest(reply, via);
    return { refused: done.status !== 'Success', said: done.err };
  }
  return { refused: reply.status >= 400, said: reply.body.error ?? '' };
}

function ofTrpc(answer: { code: string | null; message: string | null }): Outcome {
  return { refused: answer.code !== null, said: answer.message ?? '' };
}

/** A REST call as `auth` (token or socket). */
function rest(auth: Auth, method: string, url: string, call?: RestCall): Promise<RestReply> {
  return auth === 'unix socket (REST)'
    ? restOverSocket(server.dataDir, method, url, call)
    : restWithToken(server.url, projectAdminToken, method, url, call);
}

async function restOutcome(auth: Auth, method: string, url: string, call?: RestCall) {
  return ofRest(await rest(auth, method, url, call), (u) => rest(auth, 'GET', u));
}

/** The session's tRPC mutation (the browser's cookie, same origin). */
async function trpc(procedure: string, input: unknown): Promise<Outcome> {
  return ofTrpc(await trpcCall(page.request, server.url, 'mutation', procedure, input));
}

/** One cell: `value` by `path` as `auth`. */
async function attempt(path: EntryPath, auth: Auth, i: number): Promise<Outcome> {
  const value = FORBIDDEN[i]!;
  const name = `mx${suffix}-n${serial++}`;
  const session = auth === 'session (tRPC, upload route)';
  switch (path) {
    case 'create': {
      const instance = {
        name,
        source: { type: 'image', alias: 'busybox' },
        config: value.config,
        devices: value.devices,
      };
      if (session) return trpc('instances.create', { project, instance });
      return restOutcome(auth, 'POST', `/1.0/instances${q}`, { body: instance });
    }
    case 'update': {
      const put = { config: value.config, devices: value.devices, profiles: ['default'] };
      if (session) return trpc('instances.update', { project, name: target, put });
      return restOutcome(auth, 'PUT', `/1.0/instances/${target}${q}`, {
        body: { ...put, ephemeral: false, description: '' },
      });
    }
    case 'patch': {
      const patch = { config: value.config, devices: value.devices };
      if (session) return trpc('instances.patch', { project, name: target, patch });
      return restOutcome(auth, 'PATCH', `/1.0/instances/${target}${q}`, { body: patch });
    }
    case 'profile edit': {
      const put = {
        description: '',
        config: value.config,
        devices: { root: ROOT, ...value.devices },
      };
      if (session) return trpc('profiles.update', { project, name: 'default', put });
      return restOutcome(auth, 'PUT', `/1.0/profiles/default${q}`, { body: put });
    }
    case 'copy': {
      if (session)
        return trpc('instances.copy', {
          project,
          name: sourceOf(i),
          newName: name,
          sourceProject: 'default',
        });
      return restOutcome(auth, 'POST', `/1.0/instances${q}`, {
        body: { name, source: { type: 'copy', source: sourceOf(i), project: 'default' } },
      });
    }
    case 'restore': {
      if (session)
        return trpc('snapshots.restore', { project, instance: snappedOf(i), name: 'snap0' });
      return restOutcome(auth, 'PUT', `/1.0/instances/${snappedOf(i)}${q}`, {
        body: { restore: 'snap0' },
      });
    }
    case 'import': {
      if (session) {
        const res = await page.request.post(
          `${server.url}/api/instances/${project}/import?name=${name}`,
          { data: backups[i]!, headers: { 'content-type': 'application/gzip' } },
        );
        const body = (await res.json()) as { error?: string };
        return { refused: res.status() >= 400, said: body.error ?? '' };
      }
      return restOutcome(auth, 'POST', `/1.0/instances${q}`, {
        raw: backups[i]!,
        headers: { 'Content-Type': 'application/octet-stream', 'X-LXD-name': name },
      });
    }
  }
}

/** The project as its users see it: what no refused call may change. */
async function projectState() {
  const names = (await asServerAdmin('GET', `/1.0/instances${q}`)).body.metadata as string[];
  const instances: Record<string, unknown> = {};
  for (const url of names.sort()) {
    const name = decodeURIComponent(url.split('/').pop()!.split('?')[0]!);
    const i = (await asServerAdmin('GET', `/1.0/instances/${name}${q}`)).body.metadata as {
      config: Record<string, string>;
      devices: Record<string, unknown>;
      profiles: string[];
    };
    const config = Object.fromEntries(
      Object.entries(i.config).filter(([k]) => !k.startsWith('volatile.')),
    );
    instances[name] = { config, devices: i.devices, profiles: i.profiles };
  }
  const profile = (await asServerAdmin('GET', `/1.0/profiles/default${q}`)).body.metadata as {
    config: Record<string, string>;
    devices: Record<string, unknown>;
  };
  return { instances, profile: { config: profile.config, devices: profile.devices } };
}

beforeAll(async () => {
  server = await startServer();
  db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  const admin = await db.users.get(server.adminUser);
  serverAdminToken = (await db.tokens.create(admin!.id, 'matrix e2e')).secret;

  expect((await asServerAdmin('POST', '/1.0/projects', { body: { name: project } })).status).toBe(
    201,
  );
  expect(
    (
      await asServerAdmin('PATCH', `/1.0/profiles/default${q}`, {
        body: { devices: { root: ROOT } },
      })
    ).status,
  ).toBe(200);
  for (const p of [project, 'default']) {
    const build = await trpcMutationWithToken<{ id: string }>(
      server.url,
      serverAdminToken,
      'images.buildBusybox',
      { project: p, alias: 'busybox' },
    );
    expect(build.message).toBeNull();
    const done = await asServerAdmin('GET', `/1.0/operations/${build.data!.id}/wait?timeout=120`);
    expect(done.body.metadata).toMatchObject({ status: 'Success' });
  }
  const image = { type: 'image', alias: 'busybox' };
  // The instance every update and patch aims at, clean.
  await ok(asServerAdmin('POST', `/1.0/instances${q}`, { body: { name: target, source: image } }));
  for (const [i, value] of FORBIDDEN.entries()) {
    const { config, devices } = value;
    // Before the restriction: an instance whose snapshot holds the value, then made clean.
    await ok(
      asServerAdmin('POST', `/1.0/instances${q}`, {
        body: { name: snappedOf(i), source: image, config, devices },
      }),
    );
    await ok(
      asServerAdmin('POST', `/1.0/instances/${snappedOf(i)}/snapshots${q}`, {
        body: { name: 'snap0' },
      }),
    );
    await ok(
      asServerAdmin('PUT', `/1.0/instances/${snappedOf(i)}${q}`, {
        body: { config: {}, devices: {}, profiles: ['default'], ephemeral: false, description: '' },
      }),
    );
    // In default (unrestricted): a copy's source and a backup with the value.
    await ok(
      asServerAdmin('POST', '/1.0/instances', {
        body: { name: sourceOf(i), source: image, config, devices },
      }),
    );
    await ok(
      asServerAdmin('POST', `/1.0/instances/${sourceOf(i)}/backups`, { body: { name: 'b0' } }),
    );
    const exported = await fetch(`${server.url}/1.0/instances/${sourceOf(i)}/backups/b0/export`, {
      headers: { Authorization: `Bearer ${serverAdminToken}` },
    });
    expect(exported.status).toBe(200);
    backups[i] = Buffer.from(await exported.arrayBuffer());
  }

  // Now restricted, with LXD's defaults, by the server admin.
  expect(
    (
      await asServerAdmin('PATCH', `/1.0/projects/${project}`, {
        body: { config: { restricted: 'true' } },
      })
    ).status,
  ).toBe(200);

  // The project's admin (who may read default, to copy from it), signed in and with a token.
  const projectAdmin = await db.users.create({
    username: adminName,
    passwordHash: await hashPassword(adminPassword),
    mustChangePassword: false,
  });
  await db.members.set(project, projectAdmin.id, 'admin');
  await db.members.set('default', projectAdmin.id, 'viewer');
  projectAdminToken = (await db.tokens.create(projectAdmin.id, 'matrix')).secret;
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
  await signIn(page, server.url, adminName, adminPassword);
  await page.waitForURL(/\/instances$/);
}, 600_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  await db?.close();
  await server?.stop();
});

const cells = PATHS.flatMap((path) =>
  AUTHS.flatMap((auth) => FORBIDDEN.map((value, i) => [path, value.what, auth, i] as const)),
);

describe('a restricted project refuses', () => {
  it('every cell of the matrix is here', () => {
    expect(cells).toHaveLength(PATHS.length * AUTHS.length * FORBIDDEN.length);
  });

  it.each(cells)('%s with %s, as %s', async (path, _what, auth, i) => {
    const before = await projectState();
    const outcome = await attempt(path, auth, i);
    expect(outcome.refused, outcome.said).toBe(true);
    expect(outcome.said).toContain(FORBIDDEN[i]!.field);
    expect(await projectState()).toEqual(before);
  });

  it('and the same calls succeed where nothing is restricted (so each refusal is the restriction)', async () => {
    expect(
      (
        await asServerAdmin('PATCH', `/1.0/projects/${project}`, {
          body: { config: { restricted: 'false' } },
        })
      ).status,
    ).toBe(200);
    try {
      for (const path of PATHS) {
        const outcome = await attempt(path, 'API token (REST)', 0);
        expect(outcome.refused, `${path}: ${outcome.said}`).toBe(false);
      }
    } finally {
      expect(
        (
          await asServerAdmin('PATCH', `/1.0/projects/${project}`, {
            body: { config: { restricted: 'true' } },
          })
        ).status,
      ).toBe(200);
    }
  });
});
