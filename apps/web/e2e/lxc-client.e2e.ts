// LXD's own client against Berth: the real server, the real `lxc` binary
// (Debian's lxd-client 5.0.2, installed by scripts/setup.sh) talking to
// Berth's local unix socket with `LXD_DIR=<data dir>`, and a real busybox
// container (LXC). Every check is what a user of `lxc` sees: output, exit
// statuses, files, events.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultDatabaseUrl, openDatabase, type Database } from '@berth/db';
import * as pty from 'node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LXC, lxcCli, type LxcCli } from './helpers/lxc-cli.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

/** Names no user's instance has (the server is this test's own, but say so anyway). */
const suffix = randomBytes(3).toString('hex');
const NAME = `lxc-e2e-${suffix}`;
const SECOND = `lxc-e2e-${suffix}-b`;
const COPY = `lxc-e2e-${suffix}-copy`;
const COPY_SNAP = `lxc-e2e-${suffix}-copy-snap`;

let server: RunningServer;
let db: Database;
let token: string;
let cli: LxcCli;
let env: NodeJS.ProcessEnv;
/** The client's throwaway HOME, removed with it: scratch files go there. */
let home: string;
const children = new Set<ChildProcess>();

/** Runs `lxc args...` against Berth's unix socket; resolves when it exits. */
const lxc: LxcCli['run'] = (args, options) => cli.run(args, options);

/** `lxc ...` that must succeed; returns its stdout. */
async function ok(args: string[], options: { input?: string | Buffer } = {}): Promise<string> {
  const run = await lxc(args, options);
  expect(run.status, `lxc ${args.join(' ')}: ${run.stderr}`).toBe(0);
  return run.stdout;
}

/** `lxc list --format csv` as rows of columns. */
async function listed(): Promise<string[][]> {
  const out = await ok(['list', '--format', 'csv', '-c', 'ns4']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(','));
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function rest(method: string, url: string, body?: unknown) {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  server = await startServer();
  // A fresh client config, never the user's (helpers/lxc-cli.ts); it fails when lxc is missing.
  cli = await lxcCli(server.dataDir);
  env = cli.env as NodeJS.ProcessEnv;
  home = env['HOME']!;
  db = await openDatabase({ url: defaultDatabaseUrl(server.dataDir), migrate: false });
  const admin = await db.users.get(server.adminUser);
  token = (await db.tokens.create(admin!.id, 'lxc e2e')).secret;
  // The busybox image, from the console's builder.
  const build = await fetch(`${server.url}/api/trpc/images.buildBusybox`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ project: 'default', alias: 'busybox' }),
  });
  expect(build.status).toBe(200);
  const { id } = ((await build.json()) as { result: { data: { id: string } } }).result.data;
  const built = await rest('GET', `/1.0/operations/${id}/wait?timeout=300`);
  expect((built.body.metadata as { status: string }).status).toBe('Success');
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  if (server) {
    for (const name of [NAME, SECOND, COPY, COPY_SNAP]) {
      await lxc(['delete', '--force', name]).catch(() => undefined);
    }
  }
  await db?.close();
  await server?.stop();
  await cli?.close();
});

describe('the real lxc client on Berth’s unix socket', () => {
  it('finds the socket as LXD’s: root’s, mode 0660, and is trusted on it (`lxc info`)', async () => {
    const socket = await stat(path.join(server.dataDir, 'unix.socket'));
    expect(socket.isSocket()).toBe(true);
    expect([socket.mode & 0o777, socket.uid, socket.gid]).toEqual([0o660, 0, 0]);

    const run = await lxc(['info']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^auth: trusted$/m);
    expect(run.stdout).toMatch(/^ {2}server: berth$/m);
    expect(run.stdout).toMatch(/^ {2}project: default$/m);
    expect(run.stdout).toMatch(/^- container_full$/m);
  });

  it('launches a busybox container and lists it RUNNING with its IPv4', async () => {
    const launch = await lxc(['launch', 'busybox', NAME]);
    expect(launch.status, launch.stderr).toBe(0);
    expect(launch.stdout).toContain(`Creating ${NAME}`);
    expect(launch.stdout).toContain(`Starting ${NAME}`);
    console.log(`lxc launch: ${launch.ms} ms`);

    // The bridge's DHCP gives the address a moment after start.
    const row = await until('an IPv4 in lxc list', async () => {
      const r = (await listed()).find((cols) => cols[0] === NAME);
      return r && /\d+\.\d+\.\d+\.\d+ \(eth0\)/.test(r[2] ?? '') ? r : undefined;
    });
    expect(row[1]).toBe('RUNNING');

    // Who did it is in the audit log: the unix socket's caller.
    const audited = await db.audit.list({ project: 'default' });
    expect(audited).toContainEqual(
      expect.objectContaining({
        actor: 'unix-socket',
        userId: null,
        action: 'POST /1.0/instances',
        objectType: 'instances',
        result: 'success',
      }),
    );
  });

  it('execs: output, exit status, stderr apart, stdin piped through', async () => {
    const run = await lxc(['exec', NAME, '--', 'sh', '-c', 'echo $((6*7)); exit 3']);
    expect([run.stdout, run.status]).toEqual(['42\n', 3]);
    console.log(`lxc exec: ${run.ms} ms`);

    const split = await lxc(['exec', NAME, '--', 'sh', '-c', 'echo out; echo err >&2']);
    expect([split.stdout, split.stderr, split.status]).toEqual(['out\n', 'err\n', 0]);

    expect((await lxc(['exec', NAME, '--', 'cat'], { input: 'hi\n' })).stdout).toBe('hi\n');

    // A megabyte of binary stdin arrives whole (and ends: md5sum prints).
    const blob = randomBytes(1024 * 1024);
    const md5 = await lxc(['exec', NAME, '--', 'md5sum'], { input: blob });
    expect(md5.stdout.split(' ')[0]).toBe(createHash('md5').update(blob).digest('hex'));
  });

  it('forwards a signal to the command, and ends it when the client is killed', async () => {
    const child = spawn(LXC, ['exec', NAME, '--', 'sleep', '300'], { env, stdio: 'ignore' });
    children.add(child);
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // Until the command runs, lxc's SIGTERM would only end lxc itself.
    await until('sleep 300 to run', async () =>
      (await lxc(['exec', NAME, '--', 'ps'])).stdout.includes('sleep 300') ? true : undefined,
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    children.delete(child);

    const killed = spawn(LXC, ['exec', NAME, '--', 'sleep', '301'], { env, stdio: 'ignore' });
    children.add(killed);
    await until('sleep 301 to run', async () =>
      (await lxc(['exec', NAME, '--', 'ps'])).stdout.includes('sleep 301') ? true : undefined,
    );
    killed.kill('SIGKILL');
    children.delete(killed);
    await until('sleep 301 to be gone', async () =>
      (await lxc(['exec', NAME, '--', 'ps'])).stdout.includes('sleep 301') ? undefined : true,
    );
  });

  it('execs on a terminal (-t): a pty of the client’s size, resized with it', async () => {
    // `script` gives lxc a terminal of 30x100.
    const run = spawnSync(
      'script',
      [
        '-qec',
        `stty cols 100 rows 30; ${LXC} exec -t ${NAME} -- sh -c 'tty; stty size; exit 4'`,
        '/dev/null',
      ],
      { env, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(run.status, run.stderr).toBe(4);
    expect(run.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(run.stdout).toContain('30 100');

    // A terminal that changes size: lxc sends window-resize on SIGWINCH.
    const term = pty.spawn(LXC, ['exec', NAME, '--', 'sh'], {
      cols: 80,
      rows: 24,
      env: env as Record<string, string>,
    });
    let screen = '';
    term.onData((d) => (screen += d));
    const exited = new Promise<number>((resolve) =>
      term.onExit(({ exitCode }) => resolve(exitCode)),
    );
    const typed = async (line: string, expected: string) => {
      screen = '';
      term.write(`${line}\r`);
      await until(`"${expected}" on the terminal`, async () =>
        screen.includes(expected) ? true : undefined,
      );
    };
    await until('a prompt', async () => (screen.includes('#') ? true : undefined));
    await typed('stty size', '24 80');
    term.resize(120, 40);
    await until('the new size', async () => {
      screen = '';
      term.write('stty size\r');
      await new Promise((r) => setTimeout(r, 300));
      return screen.includes('40 120') ? true : undefined;
    });
    term.write('exit 5\r');
    expect(await exited).toBe(5);
  });

  it('execs on a terminal (-t): the bytes LXD sends, CR LF line endings once', async () => {
    // stdin stays open: its end would hang the terminal up (the next test).
    const child = spawn(LXC, ['exec', '-t', NAME, '--', 'sh', '-c', 'echo a; echo b'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    const out: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    children.delete(child);
    // One pty, as LXD's: its ONLCR makes each LF a CR LF, and nothing more.
    expect(JSON.stringify(Buffer.concat(out).toString('latin1'))).toBe(
      JSON.stringify('a\r\nb\r\n'),
    );
    expect(status).toBe(0);
  });

  it('hangs the terminal up when stdin ends under -t, as LXD closes its pty', async () => {
    // LXD 5.0.2 closes the pty at the end of input: the shell gets SIGHUP
    // (status 129) instead of a Ctrl-D it does not read, and does not carry on.
    const child = spawn(
      LXC,
      ['exec', '-t', NAME, '--', 'sh', '-c', 'echo ready; sleep 5; echo carried on'],
      { env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    children.add(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString('latin1');
      // The command runs: now the input ends.
      if (out.includes('ready')) child.stdin!.end();
    });
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    children.delete(child);
    // Hung up: neither "carried on" nor sleep's own end (status 0).
    expect(JSON.stringify(out)).toBe(JSON.stringify('ready\r\n'));
    expect(status).toBe(129);
  });

  it('pushes a file and pulls it back unchanged', async () => {
    const local = path.join(home, 'blob.bin');
    const back = path.join(home, 'blob.back');
    const blob = randomBytes(300_000);
    await writeFile(local, blob);
    await ok(['file', 'push', '--mode', '0640', local, `${NAME}/root/blob.bin`]);
    expect(await ok(['exec', NAME, '--', 'stat', '-c', '%a %s', '/root/blob.bin'])).toBe(
      `640 ${blob.length}\n`,
    );
    await ok(['file', 'pull', `${NAME}/root/blob.bin`, back]);
    expect((await readFile(back)).equals(blob)).toBe(true);
  });

  it('snapshots and restores', async () => {
    await ok(['exec', NAME, '--', 'sh', '-c', 'echo before > /root/marker']);
    await ok(['snapshot', NAME, 'snap0']);
    await ok(['exec', NAME, '--', 'sh', '-c', 'echo after > /root/marker']);
    expect(await ok(['info', NAME])).toMatch(/^\| snap0 +\|/m);
    await ok(['restore', NAME, 'snap0']);
    expect(await ok(['exec', NAME, '--', 'cat', '/root/marker'])).toBe('before\n');
  });

  it('copies the running container and its snapshot (`lxc copy`); the copies start', async () => {
    await ok(['exec', NAME, '--', 'sh', '-c', 'echo copied > /root/marker']);
    const copy = await lxc(['copy', NAME, COPY]);
    expect(copy.status, copy.stderr).toBe(0);
    console.log(`lxc copy (running, one snapshot): ${copy.ms} ms`);
    await ok(['copy', `${NAME}/snap0`, COPY_SNAP]);
    expect(await ok(['info', COPY])).toMatch(/^\| snap0 +\|/m);
    await ok(['start', COPY]);
    await ok(['start', COPY_SNAP]);
    expect(await ok(['exec', COPY, '--', 'cat', '/root/marker'])).toBe('copied\n');
    expect(await ok(['exec', COPY_SNAP, '--', 'cat', '/root/marker'])).toBe('before\n');
    // The copies are not the source: their own MACs, and a change to one stays there.
    const mac = async (name: string) =>
      (await ok(['config', 'get', name, 'volatile.eth0.hwaddr'])).trim();
    expect(new Set([await mac(NAME), await mac(COPY), await mac(COPY_SNAP)]).size).toBe(3);
    await ok(['exec', COPY, '--', 'sh', '-c', 'echo changed > /root/marker']);
    expect(await ok(['exec', NAME, '--', 'cat', '/root/marker'])).toBe('copied\n');
    await ok(['delete', '--force', COPY, COPY_SNAP]);
  });

  it('attaches to the console and detaches with Ctrl+a q', async () => {
    const child = spawn('script', ['-qec', `${LXC} console ${NAME}`, '/dev/null'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    await until('the detach hint', async () => (out.includes('<ctrl>+a q') ? true : undefined));
    // busybox's getty asks for a login on the console.
    await until('a login prompt on the console', async () => {
      child.stdin!.write('\r');
      await new Promise((r) => setTimeout(r, 300));
      return out.includes('login:') ? true : undefined;
    });
    // lxc reads the escape one byte at a time.
    child.stdin!.write('\x01');
    await new Promise((r) => setTimeout(r, 300));
    child.stdin!.write('q');
    expect(await exited).toBe(0);
    children.delete(child);
  });

  it('monitors lifecycle events (`lxc monitor`) and stops with -f', async () => {
    const monitor = spawn(LXC, ['monitor', '--type=lifecycle', '--format=json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(monitor);
    let seen = '';
    monitor.stdout!.on('data', (c: Buffer) => (seen += c.toString()));
    // Connected once it sees a change made now.
    await until('lxc monitor to see an update', async () => {
      await ok(['config', 'set', NAME, `user.probe=${Date.now()}`]);
      await new Promise((r) => setTimeout(r, 200));
      return seen.includes('instance-updated') ? true : undefined;
    });

    const stop = await lxc(['stop', '-f', NAME]);
    expect(stop.status, stop.stderr).toBe(0);
    console.log(`lxc stop -f: ${stop.ms} ms`);
    const stopped = await until('the stop event', async () =>
      seen
        .split('\n')
        .filter((l) => l.trim().startsWith('{'))
        .map((l) => JSON.parse(l) as { type: string; metadata: { action: string; source: string } })
        .find((e) => e.metadata.action === 'instance-stopped'),
    );
    expect(stopped).toMatchObject({
      type: 'lifecycle',
      metadata: { source: `/1.0/instances/${NAME}` },
    });
    monitor.kill('SIGTERM');
    children.delete(monitor);
    expect((await listed()).find((c) => c[0] === NAME)?.[1]).toBe('STOPPED');
  });

  it('deletes the container', async () => {
    await ok(['delete', NAME]);
    expect((await listed()).map((c) => c[0])).not.toContain(NAME);
    const info = await lxc(['info', NAME]);
    expect(info.status).not.toBe(0);
    expect(info.stderr).toContain('not found');
  });

  it('exports an image and imports the tarball back (`lxc image export/import`)', async () => {
    const fingerprint = (await ok(['image', 'list', '--format', 'csv', '-c', 'lf']))
      .split('\n')
      .find((l) => l.startsWith('busybox,'))!
      .split(',')[1]!;
    const target = path.join(home, 'busybox-export');
    await ok(['image', 'export', 'busybox', target]);
    const tarball = await readFile(`${target}.tar.gz`);
    const sha = createHash('sha256').update(tarball).digest('hex');
    expect(sha.startsWith(fingerprint)).toBe(true);

    await ok(['image', 'delete', 'busybox']);
    const imported = await lxc(['image', 'import', `${target}.tar.gz`, '--alias', 'bb-again']);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stdout).toContain(`Image imported with fingerprint: ${sha}`);
    console.log(`lxc image import: ${imported.ms} ms`);
    expect(await ok(['image', 'list', '--format', 'csv', '-c', 'lf'])).toContain(
      `bb-again,${fingerprint}`,
    );
    // And it boots.
    await ok(['launch', 'bb-again', SECOND]);
    expect(await ok(['exec', SECOND, '--', 'echo', 'from the imported image'])).toBe(
      'from the imported image\n',
    );
    await ok(['delete', '--force', SECOND]);
  });
});

describe('the same websockets on the network listener', () => {
  const wsUrl = (p: string) => `${server.url.replace(/^http/, 'ws')}${p}`;

  /** Opens a websocket; resolves with it, or with the HTTP status it was refused with. */
  function open(p: string, headers: Record<string, string> = {}) {
    return new Promise<WebSocket | number>((resolve, reject) => {
      const ws = new WebSocket(wsUrl(p), { headers });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
  }

  it('authorises the event stream as the REST call: token yes, nobody no', async () => {
    expect(await open('/1.0/events?type=lifecycle')).toBe(401);
    expect(await open('/1.0/events?type=bogus', { Authorization: `Bearer ${token}` })).toBe(400);
    const ws = await open('/1.0/events?type=lifecycle', { Authorization: `Bearer ${token}` });
    if (typeof ws === 'number') throw new Error(`refused with ${ws}`);
    const event = new Promise<Record<string, unknown>>((resolve) =>
      ws.once('message', (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>)),
    );
    expect((await rest('PATCH', '/1.0/profiles/default', { description: 'ws e2e' })).status).toBe(
      200,
    );
    expect(await event).toMatchObject({
      type: 'lifecycle',
      project: 'default',
      metadata: { action: 'profile-updated', source: '/1.0/profiles/default' },
    });
    ws.close();
  });

  it('refuses an exec channel without the operation’s secret', async () => {
    await ok(['launch', 'bb-again', SECOND]);
    const started = await rest('POST', `/1.0/instances/${SECOND}/exec`, {
      command: ['sleep', '1'],
      'wait-for-websocket': true,
      interactive: false,
    });
    expect(started.status).toBe(202);
    const op = started.body.metadata as {
      id: string;
      class: string;
      metadata: { fds: Record<string, string> };
    };
    expect(op.class).toBe('websocket');
    expect(Object.keys(op.metadata.fds).sort()).toEqual(['0', '1', '2', 'control']);
    const auth = { Authorization: `Bearer ${token}` };
    expect(await open(`/1.0/operations/${op.id}/websocket?secret=${'0'.repeat(64)}`, auth)).toBe(
      403,
    );
    expect(await open(`/1.0/operations/${op.id}/websocket?secret=${op.metadata.fds['0']}`)).toBe(
      401,
    );
    // Never connected: the operation gives up after LXD's 5 s.
    const done = await rest('GET', `/1.0/operations/${op.id}/wait?timeout=30`);
    expect(done.body.metadata).toMatchObject({
      status: 'Failure',
      err: 'Timed out waiting for websockets to connect',
    });
    await ok(['delete', '--force', SECOND]);
  });
});
