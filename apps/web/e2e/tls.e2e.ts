// TLS and the listen address end to end: the real server on a non-loopback
// address (a dummy interface made for this test, never 0.0.0.0), its
// generated or given certificate checked from Node's TLS client, the console
// in Chromium over HTTPS, and configuration mistakes that must stop the start.
import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { connect as netConnect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn } from './helpers/accounts.ts';
import { launchBrowser } from './helpers/browser.ts';
import { expect as waitFor } from './helpers/expect.ts';
import { selfSignedCertificate } from './helpers/certificate.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { connected, cookieHeader } from './helpers/terminal.ts';

/** A host command for the test's own fixtures; throws with its stderr. */
function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error}`);
  return result.stdout;
}

const dummy = `bt${randomBytes(5).toString('hex')}`;
let address = '';
let tmp = '';
let dummyMade = false;

/** A free port on `host` (the dummy address), found by binding it once. */
async function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The certificate a TLS client is served; with `ca`, verified against it (name included). */
function servedCertificate(
  host: string,
  port: number,
  ca?: Buffer,
): Promise<{ authorized: boolean; certificate: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, ...(ca ? { ca } : { rejectUnauthorized: false }) });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no TLS handshake in time')));
    socket.once('secureConnect', () => {
      resolve({ authorized: socket.authorized, certificate: socket.getPeerCertificate() });
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** Berth's variables for startServer (Next's types make NODE_ENV required in ProcessEnv). */
const environment = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

const lxdStyle = (fingerprint256: string) => fingerprint256.replaceAll(':', '').toLowerCase();

/** The fingerprint the server printed at start (LXD's format). */
function printedFingerprint(server: RunningServer): string | undefined {
  return /Certificate fingerprint: ([0-9a-f]{64})/.exec(server.output())?.[1];
}

/** What a plain-HTTP client gets from `url`: status and body, or the connection's error. */
function plainHttp(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve(`error ${error.message}`));
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-tls-e2e-'));
  // An address from a documentation block (RFC 5737) that no route or address
  // on this host uses: these VMs' own eth0 can sit in 192.0.2.0/24, and an
  // address taken from a neighbour (or the gateway) would break its traffic.
  const inUse =
    run('ip', ['-4', 'route', 'show', 'table', 'all']) + run('ip', ['-o', '-4', 'addr']);
  const block = ['192.0.2', '198.51.100', '203.0.113'].find((b) => !inUse.includes(`${b}.`));
  if (!block) throw new Error('every RFC 5737 block is in use on this host');
  address = `${block}.${2 + (randomBytes(1)[0]! % 250)}`;
  // A dummy interface; kernels without the dummy module (these VMs) get a
  // bridge with no ports instead, which holds a local address the same way.
  try {
    run('ip', ['link', 'add', dummy, 'type', 'dummy']);
  } catch {
    run('ip', ['link', 'add', dummy, 'type', 'bridge']);
  }
  dummyMade = true;
  run('ip', ['addr', 'add', `${address}/32`, 'dev', dummy]);
  run('ip', ['link', 'set', dummy, 'up']);
});

afterAll(async () => {
  if (dummyMade) run('ip', ['link', 'del', dummy]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('a non-loopback address without a certificate', () => {
  let server: RunningServer;
  let port = 0;
  let dataDir = '';
  const bridge = `bt${randomBytes(5).toString('hex')}`;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmp, 'data-'));
    port = await freePortOn(address);
    server = await startServer({
      dataDir,
      bridge,
      env: environment({ BERTH_LISTEN: `${address}:${port}` }),
    });
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('generates server.crt and a root-only server.key in the data dir and serves HTTPS there', async () => {
    expect(server.url).toBe(`https://${address}:${port}`);
    expect(server.output()).toContain(
      `Generated a self-signed certificate: ${path.join(dataDir, 'server.crt')}`,
    );
    expect((await stat(path.join(dataDir, 'server.key'))).mode & 0o777).toBe(0o600);
    const cert = await readFile(path.join(dataDir, 'server.crt'));
    const x509 = new X509Certificate(cert);
    expect(x509.subjectAltName).toContain(`IP Address:${address}`);

    // A client that trusts this certificate (as `lxc remote add` does after
    // the fingerprint is accepted) connects to the address with name checks on.
    const served = await servedCertificate(address, port, cert);
    expect(served.authorized).toBe(true);
    expect(served.certificate.fingerprint256).toBe(x509.fingerprint256);
    expect(printedFingerprint(server)).toBe(lxdStyle(x509.fingerprint256));

    // `lxc info` shows the same: GET /1.0's environment, here over the local socket.
    const info = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        { socketPath: path.join(dataDir, 'unix.socket'), path: '/1.0' },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(body));
        },
      );
      req.once('error', reject);
    });
    expect(JSON.parse(info).metadata.environment).toMatchObject({
      addresses: [`${address}:${port}`],
      certificate: cert.toString(),
      certificate_fingerprint: lxdStyle(x509.fingerprint256),
    });
  });

  it('gives plain HTTP on the same port no console, and does not listen on loopback', async () => {
    const answer = await plainHttp(`http://${address}:${port}/login`);
    expect(answer).not.toMatch(/^200 /);
    expect(answer).not.toContain('Sign in');

    const loopback = await new Promise<string>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    expect(loopback).toBe('ECONNREFUSED');
  });

  it('logs in over HTTPS in Chromium with a Secure session cookie; live events run over wss', async () => {
    browser = await launchBrowser({ ignoreHTTPSErrors: true });
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    await signIn(page, server.url, server.adminUser, server.adminPassword);
    await page.waitForURL(/\/instances$/);
    expect(page.url()).toBe(`${server.url}/instances`);
    await waitFor(page.getByRole('heading', { name: 'Instances' })).toBeVisible();
    // The live dot turns on once the `/events` socket.io connection is up (wss here).
    await waitFor(page.getByTestId('live')).toHaveAttribute('data-live', 'true');

    const session = (await browser.context.cookies(server.url)).find((c) =>
      c.name.startsWith('__Secure-authjs.session-token'),
    );
    expect(session).toMatchObject({ secure: true, httpOnly: true });

    // The same session from a Node client, over wss verified against the certificate.
    const events = io(`${server.url}/events`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ca: await readFile(path.join(dataDir, 'server.crt'), 'utf8'),
      extraHeaders: { cookie: await cookieHeader(browser.context, server.url) },
    });
    try {
      await connected(events);
    } finally {
      events.close();
    }
  });

  it('keeps the same certificate across a restart on the same data dir', async () => {
    const before = printedFingerprint(server);
    await server.stop();
    server = await startServer({
      dataDir,
      bridge,
      env: environment({ BERTH_LISTEN: `${address}:${port}` }),
    });
    expect(server.output()).not.toContain('Generated a self-signed certificate');
    expect(printedFingerprint(server)).toBe(before);
    const served = await servedCertificate(address, port);
    expect(lxdStyle(served.certificate.fingerprint256)).toBe(before);
  });
});

describe('a given certificate', () => {
  it('is the one served, and nothing is generated', async () => {
    const { cert, key } = selfSignedCertificate(tmp, 'given', {
      commonName: 'berth-e2e',
      subjectAltName: `IP:${address}`,
    });
    const given = new X509Certificate(await readFile(cert));
    const port = await freePortOn(address);
    const server = await startServer({
      env: environment({
        BERTH_LISTEN: `${address}:${port}`,
        BERTH_TLS_CERT: cert,
        BERTH_TLS_KEY: key,
      }),
    });
    try {
      expect(server.url).toBe(`https://${address}:${port}`);
      const served = await servedCertificate(address, port, await readFile(cert));
      expect(served.authorized).toBe(true);
      expect(served.certificate.fingerprint256).toBe(given.fingerprint256);
      expect(printedFingerprint(server)).toBe(lxdStyle(given.fingerprint256));
      await expect(stat(path.join(server.dataDir, 'server.crt'))).rejects.toThrow('ENOENT');
    } finally {
      await server.stop();
    }
  });
});

describe('a configuration mistake', () => {
  let cert = '';
  let key = '';
  let otherKey = '';

  beforeAll(async () => {
    ({ cert, key } = selfSignedCertificate(tmp, 'mistake', { commonName: 'berth-e2e' }));
    otherKey = path.join(tmp, 'other.key');
    run('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-out',
      otherKey,
    ]);
    await writeFile(path.join(tmp, 'empty.crt'), '');
  });

  /** Each mistake: its variables and the message it must print (paths exist only after beforeAll). */
  const mistakes: [string, () => { env: Record<string, string>; message: string }][] = [
    [
      'a certificate without its key',
      () => ({
        env: { BERTH_TLS_CERT: cert },
        message: 'Environment variable BERTH_TLS_KEY: is required when BERTH_TLS_CERT is set',
      }),
    ],
    [
      'a certificate path that does not exist',
      () => ({
        env: { BERTH_TLS_CERT: path.join(tmp, 'missing.crt'), BERTH_TLS_KEY: key },
        message: `Environment variable BERTH_TLS_CERT: cannot read ${path.join(tmp, 'missing.crt')} (no such file)`,
      }),
    ],
    [
      'a file that is no certificate',
      () => ({
        env: { BERTH_TLS_CERT: path.join(tmp, 'empty.crt'), BERTH_TLS_KEY: key },
        message: `Environment variable BERTH_TLS_CERT: ${path.join(tmp, 'empty.crt')} is not a PEM certificate`,
      }),
    ],
    [
      "a key that is not the certificate's",
      () => ({
        env: { BERTH_TLS_CERT: cert, BERTH_TLS_KEY: otherKey },
        message: `Environment variable BERTH_TLS_KEY: the key in ${otherKey} does not match the certificate in ${cert}`,
      }),
    ],
    [
      'a listen address that is no address',
      () => ({
        env: { BERTH_LISTEN: 'nonsense' },
        message:
          'Environment variable BERTH_LISTEN: must be "host:port", "[ipv6]:port" or ":port", got "nonsense"',
      }),
    ],
  ];

  it.each(mistakes)('stops the start at once with a message: %s', async (_what, mistake) => {
    const { env, message } = mistake();
    const error = await startServer({ env: environment(env), readyTimeoutMs: 60_000 }).then(
      async (server) => {
        await server.stop();
        return new Error(`the server started: ${server.url}`);
      },
      (e: unknown) => e as Error,
    );
    expect(error.message).toMatch(/^server exited with 2:/);
    expect(error.message).toContain(`berth: ${message}`);
    // Checked before the build and the engine: nothing was started.
    expect(error.message).not.toContain('Berth drivers');
  });
});
