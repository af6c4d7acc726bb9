// The REST API's entry: server.ts hands every request under /1.0 here.
// Authenticate, route, run, and write LXD's envelope — errors through the
// ONE mapper (envelope.ts errorResult over server/error-codes.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import { Readable, type Duplex } from 'node:stream';
import { isEngineError, type Engine } from '@berth/engine';
import { getBerth } from '../server/berth.ts';
import type { LiveConnections } from '../server/live-connections.ts';
import { authorize } from '../server/policy.ts';
import {
  authenticateRequest,
  localSocketUser,
  type RequestTransport,
} from '../server/request-auth.ts';
import { crossSiteWrite, type Authenticate, type RestUser } from './auth.ts';
import { RestContext, type RestServices, type ServerListener } from './context.ts';
import { errorResult, RestError, type RestResult } from './envelope.ts';
import { ExecOutputStore } from './exec-output.ts';
import { OperationSockets } from './operation-sockets.ts';
import { parseCommonQuery } from './query.ts';
import { Router } from './router.ts';
import { registerImageTransfer } from './routes/image-transfer.ts';
import { registerImages } from './routes/images.ts';
import { registerInstanceIo } from './routes/instance-io.ts';
import { registerInstances } from './routes/instances.ts';
import { registerNetworks } from './routes/networks.ts';
import { registerOperations } from './routes/operations.ts';
import { registerProfiles } from './routes/profiles.ts';
import { registerProjects } from './routes/projects.ts';
import { registerServer } from './routes/server.ts';
import { registerSnapshotsAndBackups } from './routes/snapshots-backups.ts';
import { registerStorage } from './routes/storage.ts';
import { registerStorageVolumes } from './routes/storage-volumes.ts';
import { registerWarnings } from './routes/warnings.ts';
import { createUpgradeHandler } from './websockets.ts';

export interface RestHandlerOptions {
  engine: Engine;
  /**
   * Default: the web app's one authenticateRequest (session cookie or API
   * token) on the network; the unix socket's caller is the server administrator.
   */
  authenticate?: Authenticate;
  serverName?: string;
  /** What `GET /1.0` tells trusted callers of the server's listener (LXD's environment). */
  listener?: ServerListener;
  /** Where open websockets and streams are tracked for revocation (default: the web app's). */
  connections?: LiveConnections;
}

/** Is this request for the REST API (`/1.0` or below)? */
export function isRestPath(url: string | undefined): boolean {
  if (!url) return false;
  return url === '/1.0' || url.startsWith('/1.0/') || url.startsWith('/1.0?');
}

export function buildRouter(
  services: RestServices,
  execOutput = new ExecOutputStore(services.dataDir),
): Router<RestContext> {
  const router = new Router<RestContext>();
  registerServer(router);
  registerInstances(router);
  registerInstanceIo(router, execOutput);
  registerSnapshotsAndBackups(router);
  // The first route matching a path answers it (image aliases before fingerprints).
  registerOperations(router);
  registerProfiles(router);
  registerProjects(router);
  registerImages(router);
  registerNetworks(router);
  registerWarnings(router);
  registerStorage(router);
  registerStorageVolumes(router);
  registerImageTransfer(router);
  return router;
}

/** The unix socket is the credential; the network presents one (request-auth.ts). */
const authenticateRest: Authenticate = async (headers, transport) =>
  transport === 'unix-socket' ? localSocketUser() : authenticateRequest(headers);

/** The REST API: plain requests, websocket upgrades of /1.0 paths, and a close for shutdown. */
export interface RestHandler {
  (req: IncomingMessage, res: ServerResponse, transport?: RequestTransport): Promise<void>;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, transport?: RequestTransport): void;
  close(): void;
}

export function createRestHandler(options: RestHandlerOptions): RestHandler {
  const services: RestServices = {
    engine: options.engine,
    dataDir: options.engine.dataDir,
    serverName: options.serverName ?? os.hostname(),
    listener: options.listener ?? { addresses: [], certificate: '', fingerprint: '' },
    sockets: new OperationSockets(),
    connections: options.connections ?? getBerth().connections,
  };
  const execOutput = new ExecOutputStore(services.dataDir);
  const router = buildRouter(services, execOutput);
  const authenticate = options.authenticate ?? authenticateRest;
  const websockets = createUpgradeHandler(services, authenticate);
  const outputFollows = followExecOutput(options.engine, execOutput);

  async function handleRest(
    req: IncomingMessage,
    res: ServerResponse,
    transport: RequestTransport = 'network',
  ): Promise<void> {
    let result: RestResult;
    // What the audit log needs, known once the request is routed.
    let audit: { user: RestUser; pattern: string; project: string; name: string | null } | null =
      null;
    try {
      const url = new URL(req.url ?? '/', 'http://berth.invalid');
      const { route, params } = router.match(req.method ?? 'GET', url.pathname);
      const user: RestUser | null = await authenticate(req.headers, transport);
      // Only the server's own description is answered without credentials (as LXD does).
      const isPublic = route.method === 'GET' && route.pattern === '/1.0';
      // Signed in, or 401; whether a password change is due is asked below, with the rest.
      if (!isPublic) authorize(user, 'account');
      if (user && crossSiteWrite(route.method, req.headers, user.via))
        throw new RestError(403, 'Cross-site requests with a session cookie are refused');
      const query = parseCommonQuery(url.searchParams);
      if (user && route.method !== 'GET')
        audit = { user, pattern: route.pattern, project: query.project, name: params.name ?? null };
      const ctx = new RestContext(req, res, url, query, services, user);
      if (!isPublic) ctx.requireUser();
      result = (await route.handle(ctx, params)) as RestResult;
    } catch (error) {
      result = errorResult(error);
      if (result.kind === 'json' && result.status >= 500 && result.status !== 501)
        console.error('berth: REST request failed', req.method, req.url, error);
    }
    try {
      await write(res, result);
    } catch (error) {
      console.error('berth: writing a REST response failed', error);
      res.destroy();
    }
    // After the answer: the caller does not wait for the audit log's write
    // (recordWrite logs its own failure; a write is never refused for it).
    if (audit) await recordWrite(services.engine, req.method ?? 'GET', audit, result);
  }

  return Object.assign(handleRest, {
    upgrade(
      req: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      transport: RequestTransport = 'network',
    ) {
      websockets.upgrade(req, socket, head, transport);
    },
    close() {
      outputFollows.close();
      websockets.close();
    },
  });
}

/**
 * Recorded exec output goes with its instance and project: renamed and
 * deleted with them from now on, and swept now for those already gone.
 */
function followExecOutput(engine: Engine, store: ExecOutputStore): { close(): void } {
  const failed = (error: unknown) => console.error('berth: tidying recorded exec output', error);
  const sub = engine.events.onNameChange((change) => void store.follow(change).catch(failed));
  void (async () => {
    const projects = new Set(await engine.projects.names());
    await store.sweep(async (project) => {
      if (!projects.has(project)) return null;
      // Deleted since it was listed: its files go too.
      return engine.instances.names(project).catch((error: unknown) => {
        if (isEngineError(error, 'NOT_FOUND')) return null;
        throw error;
      });
    });
  })().catch(failed);
  return sub;
}

async function write(res: ServerResponse, result: RestResult): Promise<void> {
  if (result.kind === 'handled') return;
  if (res.headersSent) {
    res.end();
    return;
  }
  if (result.kind === 'json') {
    const body = `${JSON.stringify(result.body)}\n`;
    res.writeHead(result.status, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      ...result.headers,
    });
    res.end(body);
    return;
  }
  const { body } = result;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(result.status, { 'Content-Length': String(buf.length), ...result.headers });
    res.end(buf);
    return;
  }
  res.writeHead(result.status, result.headers);
  await new Promise<void>((resolve) => {
    const stream = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}

/**
 * Every state-changing REST call goes to the audit log, as tRPC mutations
 * do: who, `METHOD /1.0/pattern`, project, object, and how it went (an async
 * call succeeds when its operation is created; the operation says the rest).
 */
async function recordWrite(
  engine: Engine,
  method: string,
  audit: { user: RestUser; pattern: string; project: string; name: string | null },
  result: RestResult,
): Promise<void> {
  const failed = result.kind === 'json' && result.status >= 400;
  const body =
    result.kind === 'json' ? (result.body as { error?: string; operation?: string }) : {};
  try {
    const local = audit.user.via === 'unix-socket';
    await engine.db.audit.record({
      // The unix socket's caller has no account; the actor names it.
      userId: local ? null : audit.user.id,
      actor: audit.user.username,
      action: `${method} ${audit.pattern}`,
      project: audit.project,
      objectType: audit.pattern.split('/')[2] ?? 'server',
      objectName: audit.name,
      result: failed ? `failure: ${body.error ?? 'error'}` : 'success',
      detail: [
        local
          ? 'via REST on the local unix socket'
          : audit.user.via === 'token'
            ? 'via REST with an API token'
            : 'via REST',
        body.operation ? `operation ${body.operation}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    });
  } catch (error) {
    console.error('berth: writing the audit log failed', error);
  }
}
