// Terminal keystroke round trip (issue 4, "Typing in a terminal must feel
// local on loopback"): send one character to a shell, wait for its echo.
//
//   web      socket.io `/terminals` on the real web server (session login),
//            the way the browser's xterm.js talks to it
//   engine   the engine's interactive exec (node-pty on lxc-attach), in this
//            process: what the web path adds on top of it is the difference
//   raw      node-pty on `lxc-attach` directly: the floor
//
//   npx tsx bench/terminal-latency.ts [--keystrokes 200]
//
// Needs root and LXC. Starts its own server on a free port with a temporary
// data directory, and removes the container and the server (by its pid) at
// the end, also when interrupted.
import { parseArgs } from 'node:util';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { startServer, type RunningServer } from '../apps/web/e2e/helpers/server.ts';
import { connected, connectTerminal } from '../apps/web/e2e/helpers/terminal.ts';
import { execPty } from '../packages/engine/src/drivers/lxc/exec.ts';
import { containerName } from '../packages/engine/src/drivers/lxc/lxc-paths.ts';
import { formatMs, percentile } from './stats.ts';

const PROJECT = 'default';
const INSTANCE = 'bench-term';
const WARMUP = 10;
/** Busybox's line editor redraws long lines; a fresh line every so often keeps echoes one byte. */
const LINE = 40;

const { values } = parseArgs({ options: { keystrokes: { type: 'string', default: '200' } } });
const keystrokes = Number(values.keystrokes);
if (!Number.isInteger(keystrokes) || keystrokes < 1) {
  console.error('usage: npx tsx bench/terminal-latency.ts [--keystrokes N]');
  process.exit(2);
}

/** A shell on some pty: write bytes, hear what it prints. */
interface Pty {
  write(data: string): void;
  onData(listener: (text: string) => void): () => void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when output containing `needle` arrives (or rejects after `timeoutMs`). */
function waitFor(pty: Pty, needle: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      off();
      reject(
        new Error(
          `no ${JSON.stringify(needle)} within ${timeoutMs} ms; got ${JSON.stringify(seen.slice(-200))}`,
        ),
      );
    }, timeoutMs);
    const off = pty.onData((text) => {
      seen += text;
      if (seen.includes(needle)) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

/** Milliseconds from writing each character to seeing its echo. */
async function measure(pty: Pty, count: number): Promise<number[]> {
  // The shell is up once it answers a command.
  await sleep(300);
  const ready = waitFor(pty, 'ready-42', 15_000);
  pty.write('echo ready-$((6*7))\r');
  await ready;
  await sleep(100);
  const samples: number[] = [];
  for (let i = 0; i < count + WARMUP; i++) {
    if (i > 0 && i % LINE === 0) {
      pty.write('\x15'); // Ctrl+U: kill the line (not measured)
      await sleep(30);
    }
    const char = String.fromCharCode(97 + (i % 26));
    const echoed = waitFor(pty, char);
    const start = performance.now();
    pty.write(char);
    await echoed;
    if (i >= WARMUP) samples.push(performance.now() - start);
  }
  pty.write('\x15exit\r');
  return samples;
}

function report(name: string, samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const row = [50, 90, 99].map((p) => formatMs(percentile(sorted, p)).padStart(7));
  console.log(`${name.padEnd(40)}${row.join('')}   n=${samples.length}`);
}

// --- the three paths ---------------------------------------------------------

function socketPty(socket: Socket): Pty {
  return {
    write: (data) => socket.emit('data', data),
    onData(listener) {
      const handler = (data: ArrayBuffer | Buffer | string) =>
        listener(
          typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8'),
        );
      socket.on('data', handler);
      return () => socket.off('data', handler);
    },
    async close() {
      socket.close();
    },
  };
}

async function webPty(server: RunningServer, cookie: string): Promise<Pty> {
  const socket = connectTerminal(server.url, { cookie });
  await connected(socket);
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('ready', () => resolve());
    socket.once('error', (e: { message: string }) => reject(new Error(e.message)));
  });
  socket.emit('open', {
    kind: 'exec',
    project: PROJECT,
    instance: INSTANCE,
    command: ['/bin/sh', '-l'],
    cols: 120,
    rows: 40,
  });
  await ready;
  return socketPty(socket);
}

async function enginePty(server: RunningServer): Promise<Pty> {
  const proc = await execPty(containerName(PROJECT, INSTANCE), path.join(server.dataDir, 'lxc'), {
    command: ['/bin/sh', '-l'],
    interactive: { cols: 120, rows: 40 },
  });
  return {
    write: (data) => proc.stdin.write(data),
    onData(listener) {
      const handler = (chunk: Buffer | string) => listener(chunk.toString());
      proc.stdout.on('data', handler);
      return () => proc.stdout.off('data', handler);
    },
    async close() {
      proc.signal('SIGKILL');
      await proc.wait();
    },
  };
}

async function rawPty(server: RunningServer): Promise<Pty> {
  const pty = await import('node-pty');
  const term = pty.spawn(
    'lxc-attach',
    [
      '-n',
      containerName(PROJECT, INSTANCE),
      '-P',
      path.join(server.dataDir, 'lxc'),
      '--clear-env',
      '--set-var',
      'TERM=xterm-256color',
      '--set-var',
      'HOME=/root',
      '--',
      '/bin/sh',
      '-l',
    ],
    {
      name: 'xterm-256color',
      cols: 120,
      rows: 40,
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    },
  );
  const exited = new Promise<void>((resolve) => term.onExit(() => resolve()));
  return {
    write: (data) => term.write(data),
    onData(listener) {
      const sub = term.onData(listener);
      return () => sub.dispose();
    },
    async close() {
      term.kill('SIGKILL');
      await exited;
    },
  };
}

// --- set-up: server, session, container -------------------------------------

/** Signs in through Auth.js's credentials endpoint; returns the session cookie. */
async function login(server: RunningServer): Promise<string> {
  const csrf = await fetch(`${server.url}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const csrfCookie = csrf.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const res = await fetch(`${server.url}/api/auth/callback/credentials`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
    body: new URLSearchParams({
      csrfToken,
      username: server.adminUser,
      password: server.adminPassword,
    }),
  });
  const session = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .filter((c) => c.includes('session-token'));
  if (!session.length) throw new Error(`login failed: ${res.status}`);
  return session.join('; ');
}

async function trpc<T>(
  server: RunningServer,
  cookie: string,
  procedure: string,
  input: unknown,
  query = false,
): Promise<T> {
  const res = query
    ? await fetch(
        `${server.url}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`,
        {
          headers: { cookie },
        },
      )
    : await fetch(`${server.url}/api/trpc/${procedure}`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });
  const body = (await res.json()) as { result?: { data: T }; error?: { message: string } };
  if (!body.result) throw new Error(`${procedure}: ${res.status} ${body.error?.message ?? ''}`);
  return body.result.data;
}

async function finished(server: RunningServer, cookie: string, id: string): Promise<void> {
  for (const deadline = Date.now() + 180_000; Date.now() < deadline; await sleep(300)) {
    const ops = await trpc<{ id: string; status: string; err: string }[]>(
      server,
      cookie,
      'operations.list',
      { project: PROJECT },
      true,
    );
    const op = ops.find((o) => o.id === id);
    if (op?.status === 'Success') return;
    if (op && ['Failure', 'Cancelled'].includes(op.status))
      throw new Error(`operation ${id}: ${op.err}`);
  }
  throw new Error(`operation ${id} did not finish`);
}

let server: RunningServer | undefined;
let cookie = '';
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (server && cookie) {
      await trpc(server, cookie, 'instances.delete', {
        project: PROJECT,
        name: INSTANCE,
        force: true,
      }).catch(() => {});
    }
    await server?.stop();
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}

async function main() {
  console.log('Starting the web server (builds the app when its sources changed)...');
  server = await startServer();
  cookie = await login(server);
  const build = await trpc<{ id: string }>(server, cookie, 'images.buildBusybox', {
    project: PROJECT,
    alias: 'busybox',
  });
  await finished(server, cookie, build.id);
  const made = await trpc<{ operation: { id: string } }>(server, cookie, 'instances.create', {
    project: PROJECT,
    instance: { name: INSTANCE, source: { type: 'image', alias: 'busybox' } },
  });
  await finished(server, cookie, made.operation.id);
  const started = await trpc<{ id: string }>(server, cookie, 'instances.changeState', {
    project: PROJECT,
    name: INSTANCE,
    state: { action: 'start' },
  });
  await finished(server, cookie, started.id);

  console.log(
    `\nKeystroke round trip, one character to its echo by busybox sh (${keystrokes} keystrokes, ms)`,
  );
  console.log(`${'path'.padEnd(40)}${['median', 'p90', 'p99'].map((h) => h.padStart(7)).join('')}`);
  const paths: [string, () => Promise<Pty>][] = [
    ['raw: node-pty on lxc-attach', () => rawPty(server!)],
    ['engine: execInteractive pty, in-process', () => enginePty(server!)],
    ['web: socket.io /terminals (server)', () => webPty(server!, cookie)],
  ];
  for (const [name, open] of paths) {
    const pty = await open();
    try {
      report(name, await measure(pty, keystrokes));
    } finally {
      await pty.close();
    }
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
