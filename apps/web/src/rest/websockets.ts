// The REST API's websockets (the `ws` package), for upgrades of /1.0 paths
// on the network listener and the unix socket alike:
//
//   GET /1.0/events                           the event stream, one JSON event per message
//   GET /1.0/operations/<id>/websocket?secret  a channel of a websocket operation (exec)
//
// An upgrade is authorised as the REST call would be (the same authenticate:
// token, session cookie or unix socket; the same policy check), and an
// operation's channel also by its secret and its owner (operation-sockets.ts).
// A refusal is LXD's error envelope with its HTTP status, answered before any
// websocket exists. An open websocket is tracked with its principal and
// closed when that principal is revoked (server/live-connections.ts).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventFilter, EventBus } from '@berth/engine';
import { WebSocket, WebSocketServer } from 'ws';
import type { RequestTransport } from '../server/request-auth.ts';
import { crossSiteWebsocket, type Authenticate, type RestUser } from './auth.ts';
import { requireUser, type RestServices } from './context.ts';
import { errorResult, RestError } from './envelope.ts';
import { revocablePrincipal } from './principal.ts';
import { parseCommonQuery, type CommonQuery } from './query.ts';
import { Router } from './router.ts';
import { eventFilterFor } from './routes/server.ts';
import { upgradeRefusal } from './ws-protocol.ts';

export interface UpgradeContext {
  url: URL;
  query: CommonQuery;
  user: RestUser;
  services: RestServices;
}

/** What a route answers once the caller is allowed: it takes the websocket. */
type Accept = (ws: WebSocket) => void;

/** A revoked websocket that does not answer the close handshake is cut after this. */
const REVOKED_CLOSE_GRACE_MS = 2_000;

/** LXD pings event listeners every 10 s and drops one that misses 3 pongs. */
const EVENTS_PING_MS = 10_000;
const EVENTS_MAX_MISSED_PONGS = 3;

/** The /1.0 paths that upgrade to a websocket, routed as REST's own. */
export const upgradeRouter = new Router<UpgradeContext>()
  .add('GET', '/1.0/events', eventsSocket)
  .add('GET', '/1.0/operations/:id/websocket', operationSocket);

export interface UpgradeHandler {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, transport: RequestTransport): void;
  /** The server is stopping: end every websocket and websocket operation. */
  close(): void;
}

export function createUpgradeHandler(
  services: RestServices,
  authenticate: Authenticate,
): UpgradeHandler {
  // No compression: exec output is latency-bound, and LXD's client does not ask for it.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const live = new Set<WebSocket>();

  async function accept(
    req: IncomingMessage,
    transport: RequestTransport,
  ): Promise<{ take: Accept; user: RestUser }> {
    const url = new URL(req.url ?? '/', 'http://berth.invalid');
    const { route, params } = upgradeRouter.match(req.method ?? 'GET', url.pathname);
    const user = requireUser(await authenticate(req.headers, transport));
    if (crossSiteWebsocket(req.headers, user.via))
      throw new RestError(403, 'Cross-site websockets with a session cookie are refused');
    const query = parseCommonQuery(url.searchParams);
    const take = (await route.handle({ url, query, user, services }, params)) as Accept;
    return { take, user };
  }

  /** Until it closes, the websocket is closed by a revocation of whoever opened it. */
  function trackRevocation(ws: WebSocket, user: RestUser): void {
    const principal = revocablePrincipal(user);
    if (!principal) return;
    const untrack = services.connections.track(principal, (reason) => {
      // 1008: policy violation. A close reason is at most 123 bytes.
      ws.close(1008, Buffer.from(reason).subarray(0, 123).toString());
      setTimeout(() => ws.terminate(), REVOKED_CLOSE_GRACE_MS).unref();
    });
    ws.once('close', untrack);
  }

  return {
    upgrade(req, socket, head, transport) {
      // Errors of a socket nobody reads yet must not crash the server.
      socket.on('error', () => {});
      accept(req, transport).then(
        ({ take, user }) => {
          if (socket.destroyed) return;
          wss.handleUpgrade(req, socket, head, (ws) => {
            live.add(ws);
            ws.once('close', () => live.delete(ws));
            trackRevocation(ws, user);
            take(ws);
          });
        },
        (error: unknown) => {
          const result = errorResult(error);
          const status = result.kind === 'json' ? result.status : 500;
          const message = result.kind === 'json' ? result.body.error || 'error' : 'error';
          if (status >= 500) console.error('berth: websocket upgrade failed', req.url, error);
          if (!socket.destroyed) socket.end(upgradeRefusal(status, message));
        },
      );
    },
    close() {
      services.sockets.abortAll();
      for (const ws of live) ws.terminate();
      wss.close();
    },
  };
}

async function eventsSocket(ctx: UpgradeContext): Promise<Accept> {
  const filter = await eventFilterFor(ctx.services.engine, ctx.user, ctx.url, ctx.query);
  return (ws) => serveEvents(ws, ctx.services.engine.events, filter, ctx.user.expiresAt ?? null);
}

/** LXD's websocket event listener: JSON text messages, pings, gone when the client goes. */
function serveEvents(
  ws: WebSocket,
  bus: EventBus,
  filter: EventFilter,
  expiresAt: number | null,
): void {
  const sub = bus.subscribe(filter, (event) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
  });
  let missed = 0;
  ws.on('pong', () => (missed = 0));
  const ping = setInterval(() => {
    if (missed >= EVENTS_MAX_MISSED_PONGS) return ws.terminate();
    missed++;
    ws.ping('keepalive');
  }, EVENTS_PING_MS);
  // A credential that expires ends its stream too.
  const expiry =
    expiresAt === null
      ? undefined
      : setTimeout(() => ws.close(1008, 'credential expired'), clampDelay(expiresAt - Date.now()));
  // Nothing is expected from the client; reading only tells when it goes.
  ws.on('error', () => {});
  ws.once('close', () => {
    clearInterval(ping);
    clearTimeout(expiry);
    sub.close();
  });
}

function clampDelay(ms: number): number {
  return Math.min(Math.max(0, ms), 2 ** 31 - 1);
}

async function operationSocket(
  ctx: UpgradeContext,
  params: Record<string, string>,
): Promise<Accept> {
  const secret = ctx.url.searchParams.get('secret');
  if (!secret) throw RestError.badRequest('Missing secret');
  const { operation, channel } = ctx.services.sockets.claim(params.id!, ctx.user, secret);
  return (ws) => operation.attach(channel, ws);
}
