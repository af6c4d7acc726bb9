// The web-facing holes of issue 9, on the real server: cross-site websocket
// hijacking and CSRF off /1.0 (items 8), the REST backup export's
// Content-Disposition (11), tRPC's body limit (13) and a filter regex that
// stalled the server (7). A real busybox container (LXC), Chromium for the
// console's own requests and for a hostile page on another origin.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { defaultDatabaseUrl, openDatabase, type Database } from '@berth/db';
import { signIn } from './helpers/accounts.ts';
import { launchBrowser } from './helpers/browser.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { cookieHeader, runTerminal } from './helpers/terminal.ts';
import { buildBusyboxImage, launchBusybox, trpcMutation, trpcQuery } from './helpers/trpc.ts';
import { connectOutcome, connectWith, hostileFormSite } from './helpers/web-security.ts';

const suffix = randomBytes(3).toString('hex');
const INSTANCE = `secw${suffix}`;
const EVIL = 'http://evil.example';

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let db: Database;
/** The signed-in admin's cookies, as a browser would send them to Berth from any page. */
let cookie: string;
let token: string;

function filesUrl(path: string): string {
  return `${server.url}/api/instances/default/${INSTANCE}/files?path=${encodeURIComponent(path)}`;
}

/** Whether `path` exists in the container, asked through the container itself. */
async function existsInContainer(path: string): Promise<boolean> {
  const res = await fetch(filesUrl(path), { headers: { authorization: `Bearer ${token}` } });
  return res.status === 200;
}

async function rest(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function restWait(reply: Response): Promise<void> {
  const body = (await reply.json()) as { operation: string; error: string };
  expect(reply.status, body.error).toBe(202);
  const done = (await (await rest('GET', `${body.operation}/wait?timeout=120`)).json()) as {
    metadata: { status: string; err: string };
  };
  expect(done.metadata.status, done.metadata.err).toBe('Success');
}

async function userConfig(key: string): Promise<string | undefined> {
  const instance = await trpcQuery<{ config: Record<string, string> }>(
    page.request,
    server.url,
    'instances.get',
    { project: 'default', name: INSTANCE },
  );
  return instance.config[key];
}

beforeAll(async () => {
  server = await startServer();
  db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  const admin = await db.users.get(server.adminUser);
  if (!admin) throw new Error('no admin user');
  token = (await db.tokens.create(admin.id, `sec-web ${suffix}`)).secret;
  browser = await launchBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
  // Auth.js's own POSTs from this site's login page still pass the check.
  await signIn(page, server.url, server.adminUser, server.adminPassword);
  await page.waitForURL(/\/instances$/);
  cookie = await cookieHeader(browser.context, server.url);
  await buildBusyboxImage(page.request, server.url);
  await launchBusybox(page.request, server.url, INSTANCE);
}, 400_000);

afterAll(async () => {
  if (page)
    await trpcMutation(page.request, server.url, 'instances.delete', {
      project: 'default',
      name: INSTANCE,
      force: true,
    }).catch((e: unknown) => console.error('cleanup:', e));
  await browser?.close().catch(() => {});
  await db?.close();
  await server?.stop();
});

describe('socket.io handshakes from another site', () => {
  it.each([
    ['/terminals', 'websocket'],
    ['/terminals', 'polling'],
    ['/events', 'websocket'],
    ['/events', 'polling'],
  ] as const)(
    '%s over %s: refused with a foreign Origin, accepted from this site',
    async (ns, transport) => {
      const hijack = connectWith(server.url, ns, { cookie, origin: EVIL }, transport);
      const refused = await connectOutcome(hijack);
      hijack.close();
      expect(refused.connected).toBe(false);

      const own = connectWith(server.url, ns, { cookie, origin: server.url }, transport);
      const accepted = await connectOutcome(own);
      own.close();
      expect(accepted).toEqual({ connected: true });
    },
  );

  it('runs no exec for a hijacked /terminals socket, and does for the console’s own', async () => {
    const hijack = connectWith(server.url, '/terminals', { cookie, origin: EVIL });
    expect((await connectOutcome(hijack)).connected).toBe(false);
    hijack.close();

    const own = connectWith(server.url, '/terminals', { cookie, origin: server.url });
    expect(await connectOutcome(own)).toEqual({ connected: true });
    const outcome = await runTerminal(own, {
      kind: 'exec',
      instance: INSTANCE,
      command: ['sh', '-c', 'echo own-exec-$((6*7))'],
    });
    own.close();
    expect(outcome.output).toContain('own-exec-42');
  });
});

describe('CSRF on the console’s own routes', () => {
  it('refuses a cross-site tRPC mutation; the console’s own goes through', async () => {
    const forged = await fetch(`${server.url}/api/trpc/instances.patch`, {
      method: 'POST',
      headers: { cookie, origin: EVIL, 'content-type': 'application/json' },
      body: JSON.stringify({
        project: 'default',
        name: INSTANCE,
        patch: { config: { 'user.csrf': 'forged' } },
      }),
    });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('Cross-site POST refused');
    // A text/plain body (what a form can send without a preflight), even without an Origin.
    const plain = await fetch(`${server.url}/api/trpc/instances.patch`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'text/plain' },
      body: JSON.stringify({
        project: 'default',
        name: INSTANCE,
        patch: { config: { 'user.csrf': 'forged' } },
      }),
    });
    expect(plain.status).toBe(415);
    expect(await userConfig('user.csrf')).toBeUndefined();

    // The console's own request, from its page: same origin, JSON.
    const status = await page.evaluate(async (name) => {
      const res = await fetch('/api/trpc/instances.patch', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          project: 'default',
          name,
          patch: { config: { 'user.csrf': 'own' } },
        }),
      });
      return res.status;
    }, INSTANCE);
    expect(status).toBe(200);
    expect(await userConfig('user.csrf')).toBe('own');
  });

  it('refuses a cross-site text/plain file upload; the file is not written', async () => {
    const forged = await fetch(filesUrl('/root/forged.txt'), {
      method: 'POST',
      headers: { cookie, origin: EVIL, 'content-type': 'text/plain' },
      body: 'written by another site\n',
    });
    expect(forged.status).toBe(403);
    const noOrigin = await fetch(filesUrl('/root/forged.txt'), {
      method: 'POST',
      headers: { cookie, 'content-type': 'text/plain' },
      body: 'written by another site\n',
    });
    expect(noOrigin.status).toBe(415);
    expect(await existsInContainer('/root/forged.txt')).toBe(false);

    // The console's own upload, as its Files tab sends it.
    const status = await page.evaluate(async (url) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: 'uploaded by the console\n',
      });
      return res.status;
    }, filesUrl('/root/own.txt').slice(server.url.length));
    expect(status).toBe(200);
    const pulled = await fetch(filesUrl('/root/own.txt'), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await pulled.text()).toBe('uploaded by the console\n');
  });

  it('refuses the form a page on another origin makes the signed-in browser post', async () => {
    // Same host, another port: the browser sends Berth's (SameSite=Lax) cookies with it.
    const site = await hostileFormSite(filesUrl('/root/from-form.txt'), 'pwned');
    try {
      const answer = page.waitForResponse((res) => res.url().startsWith(filesUrl('')));
      await page.goto(`${site.origin}/`);
      const res = await answer;
      // Refused for being cross-site: without Berth's cookie it would have been a 401.
      expect(res.status()).toBe(403);
      expect(await res.text()).toContain('Cross-site POST refused');
    } finally {
      await site.close();
    }
    expect(await existsInContainer('/root/from-form.txt')).toBe(false);
    await page.goto(`${server.url}/instances`);
  });
});

describe('the running server’s data directory', () => {
  it('keeps the database and the secrets from other local users', () => {
    expect(statSync(path.join(server.dataDir, 'database')).mode & 0o777).toBe(0o700);
    for (const file of ['database/berth.db', 'database/berth.db-wal', 'session-secret']) {
      const at = path.join(server.dataDir, file);
      expect(statSync(at).mode & 0o777, file).toBe(0o600);
      const read = spawnSync('runuser', ['-u', 'nobody', '--', 'cat', at], { encoding: 'utf8' });
      expect(read.stderr, file).toContain('Permission denied');
    }
    const passwd = path.join(
      server.dataDir,
      'storage/default/containers',
      `default_${INSTANCE}`,
      'rootfs/etc/passwd',
    );
    const read = spawnSync('runuser', ['-u', 'nobody', '--', 'cat', passwd], { encoding: 'utf8' });
    expect(read.stderr).toContain('Permission denied');
  });
});

describe('REST backup export of a hostile name', () => {
  it.each(['b"q', 'sauvegarde-été-备份'])('downloads %j with an RFC 6266 header', async (name) => {
    await restWait(await rest('POST', `/1.0/instances/${INSTANCE}/backups`, { name }));
    const res = await rest(
      'GET',
      `/1.0/instances/${INSTANCE}/backups/${encodeURIComponent(name)}/export`,
    );
    expect(res.status).toBe(200);
    const disposition = res.headers.get('content-disposition') ?? '';
    // A quoted ASCII fallback that the name cannot break out of, and the exact name in filename*.
    expect(disposition).toMatch(
      /^attachment; filename="[\x20-\x21\x23-\x5b\x5d-\x7e]*"; filename\*=UTF-8''\S+$/,
    );
    const extended = /filename\*=UTF-8''(\S+)$/.exec(disposition)![1]!;
    expect(decodeURIComponent(extended)).toBe(`${name}.tar.gz`);
    const tarball = Buffer.from(await res.arrayBuffer());
    expect(tarball.length).toBe(Number(res.headers.get('content-length')));
    // gzip's magic: the whole backup arrived.
    expect([...tarball.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    await restWait(
      await rest('DELETE', `/1.0/instances/${INSTANCE}/backups/${encodeURIComponent(name)}`),
    );
  });
});

describe('tRPC body limit', () => {
  const huge = (bytes: number) =>
    JSON.stringify({ project: 'default', name: INSTANCE, pad: 'x'.repeat(bytes) });

  it('refuses a 50 MiB body with 413 and goes on answering', async () => {
    const res = await fetch(`${server.url}/api/trpc/instances.patch`, {
      method: 'POST',
      headers: { cookie, origin: server.url, 'content-type': 'application/json' },
      body: huge(50 * 1024 * 1024),
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain('larger than 8388608 bytes');
    expect((await rest('GET', '/1.0')).status).toBe(200);
    expect(await userConfig('user.csrf')).toBe('own');
  });

  it('refuses a chunked body (no Content-Length) once it passes the limit', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(1024 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"pad":"'));
      },
      pull(controller) {
        if (sent++ >= 50) {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        } else controller.enqueue(chunk);
      },
    });
    const status = await fetch(`${server.url}/api/trpc/instances.patch`, {
      method: 'POST',
      headers: { cookie, origin: server.url, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit)
      .then((res) => res.status)
      // The server may close the connection before the client has sent all of it.
      .catch((error: Error) => error.message);
    expect([413, 'fetch failed']).toContain(status);
    expect(sent).toBeLessThan(50);
    expect((await rest('GET', '/1.0')).status).toBe(200);
  });
});

describe('a pathological filter over REST', () => {
  it('answers correctly without stalling a concurrent GET /1.0', async () => {
    // A 4 kB value: JavaScript's backtracking RegExp would never finish `.*` eight times over it.
    const patched = await rest('PATCH', `/1.0/instances/${INSTANCE}`, {
      config: { 'user.secblob': 'a'.repeat(4096) },
    });
    expect(patched.status, await patched.text()).toBe(200);
    expect(await userConfig('user.secblob')).toHaveLength(4096);
    const filter = (value: string) =>
      `/1.0/instances?recursion=1&filter=${encodeURIComponent(`config.user.secblob eq ${value}`)}`;
    const [miss, hit, root] = await Promise.all([
      rest('GET', filter('.*.*.*.*.*.*.*.*x')),
      rest('GET', filter('.*.*.*.*.*.*.*.*a')),
      rest('GET', '/1.0'),
    ]);
    expect(root.status).toBe(200);
    expect(
      ((await root.json()) as { metadata: { api_version: string } }).metadata.api_version,
    ).toBe('1.0');
    expect(miss.status).toBe(200);
    expect(((await miss.json()) as { metadata: unknown[] }).metadata).toEqual([]);
    expect(hit.status).toBe(200);
    const names = ((await hit.json()) as { metadata: { name: string }[] }).metadata.map(
      (i) => i.name,
    );
    expect(names).toEqual([INSTANCE]);
  });
});
