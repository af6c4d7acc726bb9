// Berth's one server: Next.js (pages, tRPC, Auth.js), socket.io and the
// engine, in one process on one port. Run with tsx:
//   tsx server.ts          production (builds the app first when needed)
//   tsx server.ts --dev    development (Next's dev server, hot reload)
// It must run as root: the engine manages containers and VMs, as LXD's daemon does.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { writeFile, rm } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv, type WebEnv } from './src/env.ts';
import { loadGeneratedTls, loadGivenTls, TlsConfigError } from './src/runtime/tls.ts';
import { refuseCrossSiteHandshake, refuseCrossSiteRoute } from './src/server/cross-site.ts';

const appDir = path.dirname(fileURLToPath(import.meta.url));
const dev = process.argv.includes('--dev');
// Next reads NODE_ENV itself; set it before Next loads, from the mode asked for.
(process.env as Record<string, string | undefined>).NODE_ENV ??= dev ? 'development' : 'production';
// Berth does not phone home (and these hosts cannot reach the outside anyway).
process.env.NEXT_TELEMETRY_DISABLED ??= '1';

function fail(message: string, code = 1): never {
  console.error(`berth: ${message}`);
  process.exit(code);
}

/** A TLS file the operator named wrong is a configuration error: its message, no stack. */
function failOnTlsConfig(error: unknown): never {
  if (error instanceof TlsConfigError) fail(error.message, 2);
  throw error;
}

/** Newest modification time under `dir` (sources that a build depends on). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Production needs a build of the current sources: make one when missing or stale. */
async function buildIfNeeded(): Promise<void> {
  const buildId = path.join(appDir, process.env.BERTH_NEXT_DIST_DIR || '.next', 'BUILD_ID');
  const sources = Math.max(
    newestMtime(path.join(appDir, 'src')),
    statSync(path.join(appDir, 'next.config.ts')).mtimeMs,
  );
  if (existsSync(buildId) && statSync(buildId).mtimeMs >= sources) return;
  console.log('berth: building the web console (next build)...');
  const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [nextBin, 'build'], {
      cwd: appDir,
      stdio: 'inherit',
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`next build exited with ${code}`)),
    );
  });
}

async function main(env: WebEnv) {
  if (process.getuid?.() !== 0)
    fail('Berth must run as root: it manages containers and virtual machines (as LXD does).');
  // A given certificate is checked before the (possibly long) build, so a wrong path fails at once.
  const givenTls = env.tls
    ? await loadGivenTls(env.tls, env.listen.host).catch(failOnTlsConfig)
    : undefined;
  if (!dev) await buildIfNeeded();

  // Runtime modules (engine, database, socket.io) load after the build, so a
  // build failure is reported before any state is touched.
  const [{ createEngine }, { ensureAdmin }, next, { Server: SocketServer }] = await Promise.all([
    import('@berth/engine'),
    import('@berth/db'),
    import('next').then((m) => m.default),
    import('socket.io'),
  ]);
  const { createAccounts } = await import('./src/runtime/accounts.ts');
  const { loadSessionSecret } = await import('./src/runtime/session-secret.ts');
  const { attachEventsGateway } = await import('./src/runtime/events-gateway.ts');
  const { registerBerth, sessionCookieNameFor } = await import('./src/server/berth.ts');
  const { createMemberStore } = await import('./src/server/members.ts');
  const { LiveConnections } = await import('./src/server/live-connections.ts');

  // Anything but loopback is served over TLS only: LXD's server.crt, generated on first start.
  const tls =
    givenTls ??
    (env.listen.loopback
      ? undefined
      : await loadGeneratedTls(env.dataDir, env.listen.host).catch(failOnTlsConfig));
  const engine = await createEngine({
    dataDir: env.dataDir,
    location: env.location,
    defaultNetwork: env.bridge,
    ...(env.cacheDir ? { cacheDir: env.cacheDir } : {}),
  });

  const admin = await ensureAdmin(engine.db, {
    username: env.adminUser,
    ...(env.adminPassword ? { password: env.adminPassword } : {}),
  });
  const passwordFile = path.join(env.dataDir, 'initial-admin-password');
  if (admin.generatedPassword) {
    // Shown once here and kept, readable by root only, until first login changes it.
    await writeFile(passwordFile, `${admin.username}:${admin.generatedPassword}\n`, {
      mode: 0o600,
    });
    console.log(
      `Created server admin "${admin.username}" with password: ${admin.generatedPassword}`,
    );
    console.log(`(also saved in ${passwordFile}; you must change it at first login)`);
  } else if (admin.created) {
    await rm(passwordFile, { force: true });
    console.log(
      `Created server admin "${admin.username}" with the password from BERTH_ADMIN_PASSWORD`,
    );
  } else if (existsSync(passwordFile)) {
    console.log(
      `The first admin's generated password is in ${passwordFile} (until it is changed at first login)`,
    );
  }

  const secure = tls !== undefined;
  registerBerth({
    engine,
    env,
    sessionSecret: await loadSessionSecret(env.dataDir, env.sessionSecret),
    sessionCookieName: sessionCookieNameFor(secure),
    secureCookies: secure,
    accounts: await createAccounts(engine.db, { initialPasswordFile: passwordFile }),
    members: createMemberStore(engine.db),
    connections: new LiveConnections(),
  });

  const app = next({ dev, dir: appDir, hostname: env.listen.host, port: env.listen.port });
  const handle = app.getRequestHandler();
  await app.prepare();
  const handleUpgrade = app.getUpgradeHandler();

  // LXD's REST API under /1.0 (src/rest); everything else is Next's.
  const { createRestHandler, isRestPath } = await import('./src/rest/handler.ts');
  const host = env.listen.host.includes(':') ? `[${env.listen.host}]` : env.listen.host;
  const rest = createRestHandler({
    engine,
    listener: {
      addresses: [`${host}:${env.listen.port}`],
      certificate: tls?.cert.toString() ?? '',
      fingerprint: tls?.fingerprint ?? '',
    },
  });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    // The client's address for login rate limits; never trust one sent by the client.
    req.headers['x-berth-client-address'] = req.socket.remoteAddress ?? 'unknown';
    if (isRestPath(req.url)) {
      void rest(req, res);
      return;
    }
    // One check for every Next route (tRPC, uploads, Auth.js, pages), before Next reads a byte.
    const refusal = refuseCrossSiteRoute(req);
    if (refusal) {
      res
        .writeHead(refusal.status, { 'content-type': 'application/json', connection: 'close' })
        .end(JSON.stringify({ error: refusal.message }));
      return;
    }
    handle(req, res).catch((error: unknown) => {
      console.error('berth: request failed', error);
      if (!res.headersSent) res.writeHead(500).end('Internal Server Error');
    });
  };
  const server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest)
    : createHttpServer(onRequest);

  // socket.io answers its own path; every other upgrade (Next's dev HMR) goes to Next.
  const io = new SocketServer(server, {
    serveClient: false,
    destroyUpgrade: false,
    // Every namespace's handshake, polling or websocket: no cookie-borne connection from another site.
    allowRequest: (req, callback) => {
      const refusal = refuseCrossSiteHandshake(req.headers);
      callback(refusal ?? null, refusal === undefined);
    },
  });
  attachEventsGateway(io, (await import('./src/server/berth.ts')).getBerth());
  (await import('./src/runtime/terminal-gateway.ts')).attachTerminalGateway(
    io,
    (await import('./src/server/berth.ts')).getBerth(),
  );
  server.on('upgrade', (req, socket, head) => {
    // LXD's websockets (events, exec) are the REST API's own.
    if (isRestPath(req.url)) rest.upgrade(req, socket, head);
    else if (!req.url?.startsWith('/socket.io/')) void handleUpgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.listen.port, env.listen.host, resolve);
  }).catch((error: NodeJS.ErrnoException) =>
    fail(
      `Environment variable BERTH_LISTEN: cannot listen on ${host}:${env.listen.port} (${error.code ?? error.message})`,
    ),
  );
  const { port } = server.address() as AddressInfo;
  console.log(
    `Berth drivers: ${engine
      .drivers()
      .map(
        (d) =>
          `${d.type}=${d.name} ${d.available ? 'available' : `unavailable (${d.reason ?? ''})`}`,
      )
      .join(', ')}`,
  );
  if (tls?.generated) console.log(`Generated a self-signed certificate: ${tls.certPath}`);
  // In LXD's format: what an operator compares before trusting the certificate.
  if (tls) console.log(`Certificate fingerprint: ${tls.fingerprint} (${tls.certPath})`);
  if (tls?.warning) console.warn(`berth: warning: ${tls.warning}`);
  // The same API on a local unix socket, as LXD's: `LXD_DIR=<data dir> lxc ...`.
  const { listenUnixSocket } = await import('./src/rest/unix-socket.ts');
  const unixSocket = await listenUnixSocket(path.join(env.dataDir, 'unix.socket'), rest).catch(
    (error: Error) => fail(`cannot serve the local API socket: ${error.message}`),
  );
  console.log(`Local API socket: ${unixSocket.path}`);
  console.log(
    `Berth is listening on ${secure ? 'https' : 'http'}://${host}:${port} (${dev ? 'development' : 'production'}, data directory ${env.dataDir})`,
  );

  let stopping = false;
  // SIGPWR is LXD's "the host is going down": running instances are shut down
  // cleanly first (each within boot.host_shutdown_timeout) and come back at the
  // next start. Any other stop leaves them running.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const hostShutdown = signal === 'SIGPWR';
    console.log(
      `berth: ${signal}, stopping (${hostShutdown ? 'shutting instances down' : 'instances keep running'})`,
    );
    if (!hostShutdown) setTimeout(() => process.exit(1), 10_000).unref();
    io.close();
    rest.close();
    await unixSocket.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.close().catch(() => {});
    await engine.close({ shutdownInstances: hostShutdown });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGPWR', () => void stop('SIGPWR'));
}

let env: WebEnv;
try {
  env = parseEnv();
} catch (error) {
  fail((error as Error).message, 2);
}
main(env).catch((error: unknown) =>
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error)),
);
