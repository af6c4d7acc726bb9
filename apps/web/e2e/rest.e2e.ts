// The LXD-compatible REST API end to end: the real server, an API token made
// in its database, plain fetch, and a real busybox container (LXC).
import { defaultDatabaseUrl, openDatabase, type Database } from '@berth/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './helpers/server.ts';

let server: RunningServer;
let db: Database;
let token: string;

interface Envelope {
  type: string;
  status: string;
  status_code: number;
  operation: string;
  error_code: number;
  error: string;
  metadata: unknown;
}

interface Reply {
  status: number;
  headers: Headers;
  body: Envelope;
}

const envelopeKeys = [
  'error',
  'error_code',
  'metadata',
  'operation',
  'status',
  'status_code',
  'type',
];
// Keys of LXD 5.0.2's objects (shared/reference/lxd-5.0.2).
const operationKeys = [
  'class',
  'created_at',
  'description',
  'err',
  'id',
  'location',
  'may_cancel',
  'metadata',
  'resources',
  'status',
  'status_code',
  'updated_at',
];
const instanceKeys = [
  'architecture',
  'config',
  'created_at',
  'description',
  'devices',
  'ephemeral',
  'expanded_config',
  'expanded_devices',
  'last_used_at',
  'location',
  'name',
  'profiles',
  'project',
  'stateful',
  'status',
  'status_code',
  'type',
];
const stateKeys = ['cpu', 'disk', 'memory', 'network', 'pid', 'processes', 'status', 'status_code'];
const snapshotKeys = [
  'architecture',
  'config',
  'created_at',
  'description',
  'devices',
  'ephemeral',
  'expanded_config',
  'expanded_devices',
  'expires_at',
  'last_used_at',
  'name',
  'profiles',
  'size',
  'stateful',
];
const keys = (o: unknown) => Object.keys(o as object).sort();

async function api(
  method: string,
  path: string,
  options: {
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
    auth?: string | null;
  } = {},
): Promise<Reply> {
  const auth = options.auth === undefined ? token : options.auth;
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(auth ? { Authorization: `Bearer ${auth}` } : {}),
      ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined
      ? { body: JSON.stringify(options.body) }
      : options.raw !== undefined
        ? { body: options.raw }
        : {}),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Envelope };
}

/** An async answer, waited for; returns the finished operation. */
async function waitAsync(reply: Reply): Promise<Record<string, unknown>> {
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  expect(reply.body.type).toBe('async');
  expect(reply.body.status).toBe('Operation created');
  expect(reply.body.status_code).toBe(100);
  expect(reply.headers.get('location')).toBe(reply.body.operation);
  expect(keys(reply.body)).toEqual(envelopeKeys);
  expect(keys(reply.body.metadata)).toEqual(operationKeys);
  const done = await api('GET', `${reply.body.operation}/wait?timeout=120`);
  expect(done.status).toBe(200);
  expect(done.body.type).toBe('sync');
  const op = done.body.metadata as Record<string, unknown>;
  expect(keys(op)).toEqual(operationKeys);
  return op;
}

async function waitSuccess(reply: Reply): Promise<Record<string, unknown>> {
  const op = await waitAsync(reply);
  expect(op.status, String(op.err)).toBe('Success');
  return op;
}

async function tokenFor(username: string, role?: string): Promise<string> {
  const user = (await db.users.get(username)) ?? (await db.users.create({ username }));
  if (role) await db.members.set('default', user.id, role);
  return (await db.tokens.create(user.id, `rest e2e ${username}`)).secret;
}

let lxcAvailable = false;

beforeAll(async () => {
  server = await startServer();
  db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  const admin = await db.users.get(server.adminUser);
  token = (await db.tokens.create(admin!.id, 'rest e2e')).secret;
});

afterAll(async () => {
  // Instances made here go before the server does (their rootfs is in its data dir).
  if (server && token) {
    const r = await api('GET', '/1.0/instances').catch(() => undefined);
    for (const url of (r?.body.metadata as string[] | undefined) ?? []) {
      await api('PUT', `${url}/state`, { body: { action: 'stop', force: true } })
        .then((s) => (s.status === 202 ? api('GET', `${s.body.operation}/wait?timeout=60`) : s))
        .catch(() => {});
      await api('DELETE', url)
        .then((d) => (d.status === 202 ? api('GET', `${d.body.operation}/wait?timeout=60`) : d))
        .catch(() => {});
    }
  }
  await db?.close();
  await server?.stop();
});

describe('the REST API (/1.0)', () => {
  it('describes the server, trusted or not', async () => {
    const anon = await api('GET', '/1.0', { auth: null });
    expect(anon.status).toBe(200);
    expect((anon.body.metadata as { auth: string }).auth).toBe('untrusted');

    const r = await api('GET', '/1.0');
    expect(keys(r.body)).toEqual(envelopeKeys);
    expect(r.body).toMatchObject({ type: 'sync', status: 'Success', status_code: 200 });
    const info = r.body.metadata as Record<string, unknown> & {
      environment: Record<string, unknown>;
    };
    expect(keys(info)).toEqual(
      [
        'api_extensions',
        'api_status',
        'api_version',
        'auth',
        'auth_methods',
        'config',
        'environment',
        'public',
      ].sort(),
    );
    expect(info).toMatchObject({ api_version: '1.0', auth: 'trusted', api_status: 'stable' });
    expect(info.api_extensions).toContain('container_exec_recording');
    expect(info.environment).toMatchObject({ driver: 'lxc', storage: 'dir', kernel: 'Linux' });
    expect(typeof info.environment.server_name).toBe('string');
  });

  it('answers 401 without a token and with a wrong one', async () => {
    for (const auth of [null, 'berth_0000000000000000000000000000000000000000']) {
      const r = await api('GET', '/1.0/instances', { auth });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({
        type: 'error',
        status: '',
        status_code: 0,
        operation: '',
        error_code: 401,
        error: 'Not authorized',
        metadata: null,
      });
    }
  });

  it('hides projects a user has no role in, and refuses writes to a viewer', async () => {
    const stranger = await tokenFor('rest-stranger');
    const hidden = await api('GET', '/1.0/instances', { auth: stranger });
    expect([hidden.status, hidden.body.error]).toEqual([404, 'Project not found']);
    const viewer = await tokenFor('rest-viewer', 'viewer');
    expect((await api('GET', '/1.0/instances', { auth: viewer })).status).toBe(200);
    const write = await api('POST', '/1.0/instances', {
      auth: viewer,
      body: { name: 'nope', source: { type: 'none' } },
    });
    expect(write.status).toBe(403);
    expect(write.body.type).toBe('error');
  });

  it('answers errors in LXD envelopes: bad name, unknown instance, bad body, unknown path', async () => {
    const bad = await api('POST', '/1.0/instances', {
      body: { name: 'a_b', source: { type: 'none' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      type: 'error',
      status: '',
      status_code: 0,
      operation: '',
      error_code: 400,
      error: 'Invalid instance name: Name can only contain alphanumeric and hyphen characters',
      metadata: null,
    });
    const missing = await api('GET', '/1.0/instances/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      type: 'error',
      status: '',
      status_code: 0,
      operation: '',
      error_code: 404,
      error: 'Instance not found',
      metadata: null,
    });
    const body = await api('POST', '/1.0/instances', {
      body: { name: 'c1', config: { 'limits.cpu': 2 } },
    });
    expect(body.status).toBe(400);
    expect(body.body.error).toMatch(/config\.limits\.cpu/);
    const unknown = await api('GET', '/1.0/nothing-here');
    expect([unknown.status, unknown.body.type]).toEqual([404, 'error']);
  });

  it('serves profiles, projects, networks and storage pools', async () => {
    const made = await api('POST', '/1.0/profiles', {
      body: { name: 'web', config: { 'limits.cpu': '1' } },
    });
    expect([made.status, made.headers.get('location')]).toEqual([201, '/1.0/profiles/web']);
    const profile = await api('GET', '/1.0/profiles/web');
    expect(keys(profile.body.metadata)).toEqual([
      'config',
      'description',
      'devices',
      'name',
      'used_by',
    ]);
    expect(
      (await api('PATCH', '/1.0/profiles/web', { body: { description: 'patched' } })).status,
    ).toBe(200);
    expect((await api('GET', '/1.0/profiles/web')).body.metadata).toMatchObject({
      description: 'patched',
      config: { 'limits.cpu': '1' },
    });
    const badProfile = await api('PUT', '/1.0/profiles/web', { body: { config: { a: 1 } } });
    expect([badProfile.status, badProfile.body.error]).toEqual([
      400,
      expect.stringMatching(/config\.a/) as unknown as string,
    ]);
    expect((await api('DELETE', '/1.0/profiles/web')).status).toBe(200);
    expect((await api('GET', '/1.0/profiles')).body.metadata).toEqual(['/1.0/profiles/default']);

    const projects = await api('GET', '/1.0/projects?recursion=1');
    expect((projects.body.metadata as { name: string }[]).map((p) => p.name)).toContain('default');
    expect(keys((projects.body.metadata as unknown[])[0])).toEqual([
      'config',
      'description',
      'name',
      'used_by',
    ]);
    expect((await api('GET', '/1.0/projects/default/state')).status).toBe(200);
    expect((await api('GET', '/1.0/projects/nope')).status).toBe(404);

    const pools = await api('GET', '/1.0/storage-pools');
    expect(pools.body.metadata).toContain('/1.0/storage-pools/default');
    expect((await api('GET', '/1.0/storage-pools/default')).body.metadata).toMatchObject({
      driver: 'dir',
    });
    expect((await api('GET', '/1.0/networks')).status).toBe(200);
    const ops = await api('GET', '/1.0/operations');
    expect(ops.status).toBe(200);
    expect(typeof ops.body.metadata).toBe('object');
  });

  it('drives a busybox container: create, start, exec, files, snapshot + restore, list, delete', async () => {
    // The busybox image comes from the console's builder (tRPC, same token).
    const build = await fetch(`${server.url}/api/trpc/images.buildBusybox`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ project: 'default', alias: 'busybox' }),
    });
    expect(build.status).toBe(200);
    const buildOp = ((await build.json()) as { result: { data: { id: string } } }).result.data;
    const built = await api('GET', `/1.0/operations/${buildOp.id}/wait?timeout=300`);
    expect((built.body.metadata as { status: string }).status).toBe('Success');

    const images = await api('GET', '/1.0/images?recursion=1');
    const image = (
      images.body.metadata as { aliases: { name: string }[]; fingerprint: string }[]
    )[0]!;
    expect(image.aliases.map((a) => a.name)).toContain('busybox');
    const alias = await api('GET', '/1.0/images/aliases/busybox');
    expect(alias.body.metadata).toMatchObject({ name: 'busybox', target: image.fingerprint });

    // Create: async, then wait.
    const created = await waitSuccess(
      await api('POST', '/1.0/instances', {
        body: { name: 'rest1', source: { type: 'image', alias: 'busybox' } },
      }),
    );
    expect(created.resources).toEqual({ instances: ['/1.0/instances/rest1'] });
    const got = await api('GET', '/1.0/instances/rest1');
    expect(keys(got.body.metadata)).toEqual(instanceKeys.sort());
    expect(got.body.metadata).toMatchObject({
      name: 'rest1',
      status: 'Stopped',
      type: 'container',
    });

    lxcAvailable = !(await api('PUT', '/1.0/instances/rest1/state', {
      body: { action: 'start' },
    }).then(async (r) => {
      const op = await waitAsync(r);
      if (op.status !== 'Success') console.log(`LXC start unavailable: ${String(op.err)}`);
      return op.status !== 'Success';
    }));
    // setup.sh installs everything LXC needs: a start that fails is a failure, not a skip.
    expect(lxcAvailable, 'the container started').toBe(true);

    const state = await api('GET', '/1.0/instances/rest1/state');
    expect(keys(state.body.metadata)).toEqual(stateKeys);
    expect(state.body.metadata).toMatchObject({ status: 'Running', status_code: 103 });

    // exec with record-output.
    const execReply = await api('POST', '/1.0/instances/rest1/exec', {
      body: {
        command: ['sh', '-c', 'echo hello; echo oops >&2'],
        environment: {},
        'wait-for-websocket': false,
        'record-output': true,
        interactive: false,
      },
    });
    expect((execReply.body.metadata as { description: string }).description).toBe(
      'Executing command',
    );
    const exec = await waitSuccess(execReply);
    const meta = exec.metadata as { return: number; output: Record<string, string> };
    expect(meta.return).toBe(0);
    expect(Object.keys(meta.output).sort()).toEqual(['1', '2']);
    expect(meta.output['1']).toMatch(/^\/1\.0\/instances\/rest1\/logs\/exec_[0-9a-f-]+\.stdout$/);
    const out = await fetch(`${server.url}${meta.output['1']}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(await out.text()).toBe('hello\n');
    const err = await fetch(`${server.url}${meta.output['2']}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(await err.text()).toBe('oops\n');

    // Files: push, pull, list a directory.
    const push = (content: string) =>
      fetch(`${server.url}/1.0/instances/rest1/files?path=/root/hello.txt`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/octet-stream',
          'X-LXD-type': 'file',
          'X-LXD-mode': '0640',
          'X-LXD-uid': '0',
          'X-LXD-gid': '0',
          'X-LXD-write': 'overwrite',
        },
        body: content,
      });
    const pull = () =>
      fetch(`${server.url}/1.0/instances/rest1/files?path=/root/hello.txt`, {
        headers: { Authorization: `Bearer ${token}` },
      });
    expect((await push('first version\n')).status).toBe(200);
    const pulled = await pull();
    expect(pulled.status).toBe(200);
    expect(pulled.headers.get('x-lxd-type')).toBe('file');
    expect(pulled.headers.get('x-lxd-mode')).toBe('0640');
    expect(pulled.headers.get('x-lxd-uid')).toBe('0');
    expect(await pulled.text()).toBe('first version\n');
    const dir = await api('GET', '/1.0/instances/rest1/files?path=/root');
    expect(dir.headers.get('x-lxd-type')).toBe('directory');
    expect(dir.body.metadata).toContain('hello.txt');
    const badHeader = await fetch(`${server.url}/1.0/instances/rest1/files?path=/root/x`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'X-LXD-mode': 'rwx' },
      body: 'x',
    });
    expect(badHeader.status).toBe(400);

    // Snapshot, change the file, restore (PUT {restore}), the first version is back.
    await waitSuccess(
      await api('POST', '/1.0/instances/rest1/snapshots', { body: { name: 'snap0' } }),
    );
    const snaps = await api('GET', '/1.0/instances/rest1/snapshots?recursion=1');
    const snap = (snaps.body.metadata as Record<string, unknown>[])[0]!;
    expect(keys(snap)).toEqual(snapshotKeys);
    expect(snap.name).toBe('snap0');
    expect((await api('GET', '/1.0/instances/rest1/snapshots')).body.metadata).toEqual([
      '/1.0/instances/rest1/snapshots/snap0',
    ]);
    expect((await push('second version\n')).status).toBe(200);
    await waitSuccess(await api('PUT', '/1.0/instances/rest1', { body: { restore: 'snap0' } }));
    expect(await (await pull()).text()).toBe('first version\n');

    // Lists: recursion 0/1/2 and a filter.
    expect((await api('GET', '/1.0/instances')).body.metadata).toEqual(['/1.0/instances/rest1']);
    const full = await api('GET', '/1.0/instances?recursion=2&filter=status%20eq%20Running');
    const [item] = full.body.metadata as Record<string, unknown>[];
    expect(keys(item)).toEqual([...instanceKeys, 'backups', 'snapshots', 'state'].sort());
    expect(item).toMatchObject({ name: 'rest1', status: 'Running' });
    expect((item!.snapshots as { name: string }[]).map((s) => s.name)).toEqual(['snap0']);
    expect(keys(item!.state)).toEqual(stateKeys);
    const none = await api('GET', '/1.0/instances?recursion=1&filter=status%20eq%20Stopped');
    expect(none.body.metadata).toEqual([]);

    // Operations, grouped by status as LXD does.
    const ops = await api('GET', '/1.0/operations?recursion=1');
    const groups = ops.body.metadata as Record<string, Record<string, unknown>[]>;
    expect(groups.success?.length).toBeGreaterThan(0);
    expect(keys(groups.success![0])).toEqual(operationKeys);

    // The event stream: a lifecycle event of a PATCH arrives as one JSON line.
    const abort = new AbortController();
    const stream = await fetch(`${server.url}/1.0/events?type=lifecycle`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const patched = await api('PATCH', '/1.0/instances/rest1', {
      body: { description: 'set over REST' },
    });
    expect(patched.status).toBe(200);
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!text.includes('instance-updated') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    const event = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => (e.metadata as { action?: string }).action === 'instance-updated');
    expect(event).toMatchObject({
      type: 'lifecycle',
      project: 'default',
      metadata: { source: '/1.0/instances/rest1' },
    });
    expect(keys(event)).toEqual(['location', 'metadata', 'project', 'timestamp', 'type']);

    // Writes over REST are in the audit log, with who and how it went.
    const audited = await db.audit.list({ project: 'default' });
    expect(audited).toContainEqual(
      expect.objectContaining({
        actor: server.adminUser,
        action: 'PATCH /1.0/instances/:name',
        objectType: 'instances',
        objectName: 'rest1',
        result: 'success',
      }),
    );

    // Console log and a backup, exported as a tarball.
    const consoleLog = await fetch(`${server.url}/1.0/instances/rest1/console?type=log`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(consoleLog.status).toBe(200);
    await waitSuccess(await api('POST', '/1.0/instances/rest1/backups', { body: { name: 'b0' } }));
    expect((await api('GET', '/1.0/instances/rest1/backups')).body.metadata).toEqual([
      '/1.0/instances/rest1/backups/b0',
    ]);
    const tarball = await fetch(`${server.url}/1.0/instances/rest1/backups/b0/export`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(tarball.status).toBe(200);
    const bytes = Buffer.from(await tarball.arrayBuffer());
    expect(bytes.length).toBe(Number(tarball.headers.get('content-length')));
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    await waitSuccess(await api('DELETE', '/1.0/instances/rest1/backups/b0'));

    // Delete: a running instance is refused, a stopped one goes.
    const running = await api('DELETE', '/1.0/instances/rest1');
    expect([running.status, running.body.error]).toEqual([400, 'Instance is running']);
    await waitSuccess(
      await api('PUT', '/1.0/instances/rest1/state', { body: { action: 'stop', force: true } }),
    );
    await waitSuccess(await api('DELETE', '/1.0/instances/rest1'));
    expect((await api('GET', '/1.0/instances/rest1')).status).toBe(404);
  });
});
