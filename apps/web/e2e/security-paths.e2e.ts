// Hostile paths through the REST API on the real server's unix socket (the
// server admin, who may do everything to the instance, and still nothing to
// the host): file pull, push, delete and listing, and recorded-output log
// names, each with `..`, percent-encoded `..` and `/`, double-encoded
// ones, absolute host paths and NUL bytes. A host file beside the data
// directory is never read, changed or removed; nothing is created on the
// host; the container's own files are what such paths reach, as `/` is its
// root. A real LXC container (stopped: its rootfs is what the API reads).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDatabaseUrl, openDatabase } from '@berth/db';
import { restWithToken, trpcMutationWithToken, waitRest } from './helpers/restrictions.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

const suffix = randomBytes(4).toString('hex');
const NAME = `hp${suffix}`;
const SECRET = `host secret ${suffix}`;
const victim = path.join(os.tmpdir(), `berth-victim-${suffix}`);
const pushed = path.join(os.tmpdir(), `berth-pushed-${suffix}`);
const victimRel = victim.slice(1); // tmp/berth-victim-…

let server: RunningServer;
let token = '';

/** A raw request on the unix socket: status and body bytes. */
function raw(
  method: string,
  url: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath: path.join(server.dataDir, 'unix.socket'),
        host: 'localhost',
        method,
        path: url,
        headers: { ...(body ? { 'Content-Length': String(body.length) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `..` to the host's victim in every spelling a client or a proxy could send. */
const CLIMBS = [
  `/../../../../../../..${victim}`,
  `../../../../../../../${victimRel}`,
  `/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e${victim}`,
  `/..%2f..%2f..%2f..%2f..%2f..%2f${victimRel}`,
  `/%252e%252e/%252e%252e/%252e%252e/%252e%252e${victim}`,
  victim,
];

/** The query's path value as a client sends it (its encoded parts stay encoded on the wire). */
const query = (p: string) => `?path=${p}`;

beforeAll(async () => {
  writeFileSync(victim, SECRET);
  server = await startServer();
  const db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  const admin = await db.users.get(server.adminUser);
  token = (await db.tokens.create(admin!.id, 'paths e2e')).secret;
  await db.close();
  const build = await trpcMutationWithToken<{ id: string }>(
    server.url,
    token,
    'images.buildBusybox',
    {
      project: 'default',
      alias: 'busybox',
    },
  );
  expect(build.message).toBeNull();
  await restWithToken(
    server.url,
    token,
    'GET',
    `/1.0/operations/${build.data!.id}/wait?timeout=120`,
  );
  const created = await restWithToken(server.url, token, 'POST', '/1.0/instances', {
    body: { name: NAME, source: { type: 'image', alias: 'busybox' } },
  });
  const done = await waitRest(created, (url) => restWithToken(server.url, token, 'GET', url));
  expect(done.status, done.err).toBe('Success');
}, 300_000);

afterAll(async () => {
  if (server && token) await restWithToken(server.url, token, 'DELETE', `/1.0/instances/${NAME}`);
  await server?.stop();
  rmSync(victim, { force: true });
  rmSync(pushed, { force: true });
});

describe('hostile paths in the files API', () => {
  it.each(CLIMBS)('never pulls the host file: %s', async (climb) => {
    const res = await raw('GET', `/1.0/instances/${NAME}/files${query(climb)}`);
    expect(res.body.toString('latin1')).not.toContain(SECRET);
    // Inside the container there is no such file: not found (or refused), never the host's.
    expect([400, 404]).toContain(res.status);
  });

  it('reaches the container’s own file whatever the climb', async () => {
    const mine = await raw('GET', `/1.0/instances/${NAME}/files?path=/etc/passwd`);
    expect(mine.status).toBe(200);
    const climbed = await raw(
      'GET',
      `/1.0/instances/${NAME}/files?path=/%2e%2e/%2e%2e/%2e%2e/etc/passwd`,
    );
    expect(climbed.status).toBe(200);
    expect(climbed.body.equals(mine.body)).toBe(true);
    expect(climbed.body.toString()).not.toBe(readFileSync('/etc/passwd', 'utf8'));
  });

  it('refuses NUL bytes, in the path and encoded', async () => {
    for (const p of [`${victim}%00`, `/etc/passwd%00.txt`, '%00']) {
      const res = await raw('GET', `/1.0/instances/${NAME}/files?path=${p}`);
      expect(res.status, p).toBe(400);
      expect(res.body.toString('latin1')).not.toContain(SECRET);
    }
  });

  it('never creates, changes or removes a host file by push or delete', async () => {
    for (const climb of [
      `/../../../../../../..${pushed}`,
      `/%2e%2e/%2e%2e/%2e%2e/%2e%2e${pushed}`,
      `/..%2f..%2f..%2f..%2f${pushed.slice(1)}`,
    ]) {
      const res = await raw(
        'POST',
        `/1.0/instances/${NAME}/files${query(climb)}`,
        Buffer.from('pwned'),
        { 'Content-Type': 'application/octet-stream', 'X-LXD-type': 'file' },
      );
      expect(existsSync(pushed), climb).toBe(false);
      // It went into the container (whose /tmp it is), or was refused.
      expect([200, 400, 404]).toContain(res.status);
    }
    for (const climb of CLIMBS) {
      await raw('DELETE', `/1.0/instances/${NAME}/files${query(climb)}`);
      await raw('POST', `/1.0/instances/${NAME}/files${query(climb)}`, Buffer.from('pwned'), {
        'Content-Type': 'application/octet-stream',
      });
      expect(readFileSync(victim, 'utf8'), climb).toBe(SECRET);
    }
  });
});

describe('hostile recorded-output log names', () => {
  // A bare `..` or `%2e%2e` segment is resolved by URL parsing before any
  // route (`logs/..` is the instance itself, as with any HTTP server); these
  // reach the log route as one name.
  it.each([
    `..%2f..%2f..%2f..%2f..%2f..%2f..%2f${victimRel.replaceAll('/', '%2f')}`,
    `%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f${victimRel.replaceAll('/', '%2f')}`,
    `${victim.replaceAll('/', '%2f')}`,
    'exec_x.stdout%00',
  ])('never serves or removes a host file: %s', async (name) => {
    for (const prefix of ['logs', 'logs/exec-output']) {
      const got = await raw('GET', `/1.0/instances/${NAME}/${prefix}/${name}`);
      expect(got.body.toString('latin1')).not.toContain(SECRET);
      expect([400, 404]).toContain(got.status);
      const removed = await raw('DELETE', `/1.0/instances/${NAME}/${prefix}/${name}`);
      expect([400, 404]).toContain(removed.status);
      expect(readFileSync(victim, 'utf8')).toBe(SECRET);
    }
  });
});
