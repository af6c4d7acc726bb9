// The REST API on a local unix socket, `<data dir>/unix.socket`, as LXD
// serves its own (`/var/lib/lxd/unix.socket`): root's, mode 0660, and
// whoever opens it is the server administrator (request-auth.ts
// localSocketUser, policy.ts localSocketPolicy). Then the real `lxc` client
// drives Berth with `LXD_DIR=<data dir>`.
//
// Only the API is served here: `/1.0…` (websocket upgrades included) and
// `/` (the list of API versions); the web console stays on the network.
import { chmod, chown, lstat, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorEnvelope } from './envelope.ts';

export interface UnixSocketApi {
  (req: IncomingMessage, res: ServerResponse, transport: 'unix-socket'): Promise<void>;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, transport: 'unix-socket'): void;
}

export interface UnixSocketServer {
  readonly path: string;
  /** Stops listening, drops open connections, removes the socket file. */
  close(): Promise<void>;
}

function isApiPath(url: string | undefined): boolean {
  if (!url) return false;
  return url === '/1.0' || url.startsWith('/1.0/') || url.startsWith('/1.0?');
}

/** Does something answer on `file`? (A live server's socket must not be taken from it.) */
function inUse(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(file);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Removes a socket left by a server that did not stop cleanly. Refuses when
 * another server still listens there, or when the path is not a socket (a
 * file of someone else's is never deleted).
 */
export async function removeStaleSocket(file: string): Promise<void> {
  const info = await lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!info) return;
  if (!info.isSocket()) throw new Error(`${file} exists and is not a unix socket`);
  if (await inUse(file)) throw new Error(`another server is listening on ${file}`);
  await rm(file, { force: true });
}

/** sun_path holds 108 bytes with its NUL; Node would silently bind a cut-off name. */
const MAX_SOCKET_PATH = 107;

export async function listenUnixSocket(
  file: string,
  api: UnixSocketApi,
): Promise<UnixSocketServer> {
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH)
    throw new Error(
      `${file} is longer than a unix socket path may be (${MAX_SOCKET_PATH} bytes): choose a shorter BERTH_DATA_DIR`,
    );
  await removeStaleSocket(file);
  const server = createServer((req, res) => {
    if (isApiPath(req.url)) {
      void api(req, res, 'unix-socket');
      return;
    }
    const root = req.url === '/' || req.url?.startsWith('/?');
    const body = `${JSON.stringify(
      root
        ? {
            type: 'sync',
            status: 'Success',
            status_code: 200,
            operation: '',
            error_code: 0,
            error: '',
            metadata: ['/1.0'],
          }
        : errorEnvelope(404, 'not found'),
    )}\n`;
    res.writeHead(root ? 200 : 404, { 'Content-Type': 'application/json' }).end(body);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isApiPath(req.url)) api.upgrade(req, socket, head, 'unix-socket');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket file is made by bind(), inside listen(): a umask keeps it
    // closed to others from its first moment; the mode is then set exactly.
    const umask = process.umask(0o117);
    try {
      server.listen(file, resolve);
    } finally {
      process.umask(umask);
    }
  });
  await chmod(file, 0o660);
  await chown(file, 0, 0);

  let closed = false;
  return {
    path: file,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(file, { force: true });
    },
  };
}
