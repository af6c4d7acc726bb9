// Proxy and unix-char devices on real containers: busybox httpd inside,
// served on a host loopback port through the device's forwarder, across an
// engine restart, a stop and a start, and live device changes. Everything
// is removed by its own name or pid; NAT stays off.
import { readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerPaths, lxcLayout } from '../../src/drivers/lxc/lxc-paths.ts';
import {
  errorOf,
  removeHostState,
  startTestEngine,
  testBridgeName,
  waitFor,
  type TestEngine,
} from './helpers.ts';

const bridge = testBridgeName();
const name = `px${randomBytes(3).toString('hex')}`;
let t: TestEngine;
let dataDir: string;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as net.AddressInfo;
      server.close(() => resolve(free));
    });
  });
}

/** One GET on a fresh connection: the body, or the error's code (ECONNREFUSED). */
function get(
  on: number | { socketPath: string } | { host: string; port: number },
): Promise<string> {
  const target = typeof on === 'number' ? { host: '127.0.0.1', port: on } : on;
  return new Promise((resolve) => {
    const request = http.get({ ...target, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    request.setTimeout(5_000, () => request.destroy(new Error('timeout')));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

async function serveHttp(): Promise<void> {
  const result = await t.engine.instances.exec('default', name, {
    command: [
      'sh',
      '-c',
      'mkdir -p /www && echo hello from $(hostname) > /www/index.html && httpd -p 80 -h /www',
    ],
  });
  expect(result.exitCode).toBe(0);
}

/** The pids a device's record names (proxy.ts). */
function recordedPids(device: string): number[] {
  const paths = containerPaths(lxcLayout(dataDir), 'default', name);
  try {
    const record = JSON.parse(
      readFileSync(path.join(paths.dir, 'proxy', `${device}.json`), 'utf8'),
    ) as { processes: { pid: number }[] };
    return record.processes.map((p) => p.pid);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const proxy = (listenPort: number) => ({
  type: 'proxy',
  listen: `tcp:127.0.0.1:${listenPort}`,
  connect: 'tcp:127.0.0.1:80',
});

beforeAll(async () => {
  t = await startTestEngine(undefined, { network: bridge });
  dataDir = t.dataDir;
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
  port = await freePort();
}, 60_000);

afterAll(async () => {
  const pids = ['web', 'live', 'sock'].flatMap(recordedPids);
  await removeHostState(t.engine, bridge);
  await t.engine.close();
  // Deleting the container stopped its forwarders: nothing may be left.
  expect(pids.filter(alive)).toEqual([]);
  await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('proxy devices', () => {
  it('refuses bad addresses and unsupported options, naming the key', async () => {
    const bad = await errorOf(
      t.engine.instances.createAndWait('default', {
        name: `${name}x`,
        source: { type: 'image', alias: 'busybox' },
        devices: { web: { ...proxy(port), listen: 'tcp:127.0.0.1:99999' } },
      }),
    );
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(bad.message).toContain('devices["web"]["listen"]');
    const nat = await errorOf(
      t.engine.instances.createAndWait('default', {
        name: `${name}y`,
        source: { type: 'image', alias: 'busybox' },
        devices: { web: { ...proxy(port), nat: 'true' } },
      }),
    );
    expect(nat.code).toBe('NOT_IMPLEMENTED');
    expect(nat.message).toContain('devices["web"]["nat"]');
  });

  it('serves a port of the container on the host while it runs', async () => {
    await t.engine.instances.createAndWait('default', {
      name,
      source: { type: 'image', alias: 'busybox' },
      devices: {
        web: proxy(port),
        z: { type: 'unix-char', source: '/dev/zero', path: '/dev/berthzero', mode: '0640' },
      },
      start: true,
    });
    await serveHttp();
    expect(await get(port)).toBe(`hello from ${name}\n`);
    // A second connection while the first is done: the forwarder forks per connection.
    const bodies = await Promise.all([get(port), get(port), get(port)]);
    expect(bodies).toEqual(Array(3).fill(`hello from ${name}\n`));
  });

  it('makes the unix-char node readable inside', async () => {
    const result = await t.engine.instances.exec('default', name, {
      command: [
        'sh',
        '-c',
        'stat -c "%F %t:%T %a" /dev/berthzero; head -c 4 /dev/berthzero | od -An -tx1',
      ],
    });
    expect(result).toMatchObject({ exitCode: 0 });
    expect(result.stdout).toBe('character special file 1:5 640\n 00 00 00 00\n');
  });

  it('keeps forwarding across an engine restart, and respawns a forwarder that died', async () => {
    const before = recordedPids('web');
    expect(before.length).toBe(2);
    await t.engine.close();
    expect(await get(port)).toBe(`hello from ${name}\n`);
    t = await startTestEngine(dataDir, { network: bridge });
    expect(await get(port)).toBe(`hello from ${name}\n`);
    expect(recordedPids('web')).toEqual(before);

    // Forwarders that die while no engine runs come back with the next one.
    await t.engine.close();
    for (const pid of before) process.kill(-pid, 'SIGKILL');
    await waitFor(
      'the forwarders to go',
      async () => before.filter(alive),
      (l) => l.length === 0,
    );
    expect(await get(port)).toBe('ECONNREFUSED');
    t = await startTestEngine(dataDir, { network: bridge });
    await waitFor(
      'the forwarder back',
      () => get(port),
      (body) => body.startsWith('hello'),
    );
    expect(recordedPids('web')).not.toEqual(before);
  }, 60_000);

  it('goes away when the container stops and comes back when it starts', async () => {
    const pids = recordedPids('web');
    await t.engine.instances.changeStateAndWait('default', name, { action: 'stop', force: true });
    expect(await get(port)).toBe('ECONNREFUSED');
    expect(pids.filter(alive)).toEqual([]);
    await t.engine.instances.changeStateAndWait('default', name, { action: 'start' });
    await serveHttp();
    expect(await get(port)).toBe(`hello from ${name}\n`);
  }, 60_000);

  it('answers 40 connections in a row through the proxy as directly (their times printed; speed belongs to bench/)', async () => {
    const state = await waitFor(
      'an IPv4 address',
      () => t.engine.instances.state('default', name),
      (st) => (st.network?.eth0?.addresses ?? []).some((a) => a.family === 'inet'),
    );
    const address = state.network!.eth0!.addresses.find((a) => a.family === 'inet')!.address;
    const median = async (target: Parameters<typeof get>[0]) => {
      const times: number[] = [];
      for (let i = 0; i < 40; i++) {
        const started = performance.now();
        expect(await get(target)).toBe(`hello from ${name}\n`);
        times.push(performance.now() - started);
      }
      return times.sort((a, b) => a - b)[20]!;
    };
    const direct = await median({ host: address, port: 80 });
    const proxied = await median(port);
    console.log(
      `per-connection GET: direct ${direct.toFixed(2)} ms, through the proxy ${proxied.toFixed(2)} ms`,
    );
  });

  it('listens on a unix socket with the given mode', async () => {
    const socketPath = path.join(dataDir, 'web.sock');
    await t.engine.instances.patch('default', name, {
      devices: {
        sock: {
          type: 'proxy',
          listen: `unix:${socketPath}`,
          connect: 'tcp:127.0.0.1:80',
          mode: '0600',
        },
      },
    });
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(await get({ socketPath })).toBe(`hello from ${name}\n`);
  });

  it('follows a reboot from inside, and a poweroff from inside ends it', async () => {
    const before = (await t.engine.instances.state('default', name)).pid;
    const pids = recordedPids('web');
    await t.engine.instances.exec('default', name, { command: ['reboot'] });
    await waitFor(
      'a new init',
      () => t.engine.instances.state('default', name),
      (st) => st.status === 'Running' && st.pid > 0 && st.pid !== before,
      30_000,
    );
    await waitFor(
      'new forwarders',
      async () => recordedPids('web'),
      (now) => now.length === 2 && now.every((pid) => !pids.includes(pid)) && now.every(alive),
    );
    await serveHttp();
    expect(await get(port)).toBe(`hello from ${name}\n`);

    const running = recordedPids('web');
    await t.engine.instances.exec('default', name, { command: ['poweroff'] });
    await waitFor(
      'the container to stop',
      () => t.engine.instances.get('default', name),
      (i) => i.status === 'Stopped',
      30_000,
    );
    await waitFor(
      'the forwarders to go',
      async () => running.filter(alive),
      (l) => l.length === 0,
    );
    expect(await get(port)).toBe('ECONNREFUSED');
    await t.engine.instances.changeStateAndWait('default', name, { action: 'start' });
    await serveHttp();
    expect(await get(port)).toBe(`hello from ${name}\n`);
  }, 90_000);

  it('adds and removes a device live on a running container', async () => {
    const livePort = await freePort();
    expect(await get(livePort)).toBe('ECONNREFUSED');
    await t.engine.instances.patch('default', name, { devices: { live: proxy(livePort) } });
    expect(await get(livePort)).toBe(`hello from ${name}\n`);

    const badPatch = await errorOf(
      t.engine.instances.patch('default', name, {
        devices: { broken: { ...proxy(livePort), listen: 'tcp:127.0.0.1' } },
      }),
    );
    expect(badPatch).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(badPatch.message).toContain('devices["broken"]["listen"]');

    // A port someone else holds: the forwarder's own error, naming the device.
    const taken = await errorOf(
      t.engine.instances.patch('default', name, { devices: { busy: proxy(port) } }),
    );
    expect(taken.message).toMatch(/devices\["busy"\].*exited.*Address already in use/s);
    expect(recordedPids('busy')).toEqual([]);
    // The refused change is not kept: the next start would fail on it.
    expect(Object.keys((await t.engine.instances.get('default', name)).devices)).not.toContain(
      'busy',
    );

    const livePids = recordedPids('live');
    const current = await t.engine.instances.get('default', name);
    const { live: _removed, ...devices } = current.devices;
    await t.engine.instances.update('default', name, {
      description: current.description,
      config: Object.fromEntries(
        Object.entries(current.config).filter(([key]) => !key.startsWith('volatile.')),
      ),
      devices,
      profiles: current.profiles,
      ephemeral: current.ephemeral,
    });
    expect(await get(livePort)).toBe('ECONNREFUSED');
    expect(livePids.filter(alive)).toEqual([]);
    expect(await get(port)).toBe(`hello from ${name}\n`);
  }, 60_000);
});
