// The one decision on cross-site requests (CSRF and cross-site websocket
// hijacking): a browser sends this site's cookies with a request another
// site makes it send, so what a cookie authenticates must come from this
// site's own pages. Used by the REST API (/1.0), by server.ts for every Next
// route and for the socket.io handshake. Pure: headers in, a verdict out.
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request was made by another site: the browser says so
 * (`Sec-Fetch-Site: cross-site`), or its `Origin` is not this host. No
 * `Origin` at all is not a browser's cross-site request (browsers send one
 * with every cross-origin request but a plain GET), so it passes.
 * `Origin: null` (sandboxed frames, some redirects) is refused.
 */
export function crossOrigin(headers: IncomingHttpHeaders): boolean {
  if (headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}

/** Methods that change nothing: a cross-site GET can at most be read, and CORS stops the reading. */
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Content types a cross-site page can send without a CORS preflight
 * (a form or `fetch` with `mode: "no-cors"`); the console itself never sends
 * them to these endpoints, so refusing them makes every cookie-authenticated
 * write need a preflight, which no other site passes.
 */
const simpleContentTypes = new Set([
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

export interface CrossSiteRefusal {
  status: 403 | 415;
  message: string;
}

function mediaType(headers: IncomingHttpHeaders): string {
  return (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Whether a request to one of the console's own routes (everything but
 * /1.0: pages, /api/trpc, /api/instances uploads, Auth.js's /api/auth) must
 * be refused, and why. Only requests that carry cookies are checked: a
 * request authenticated by a bearer token alone is not something a browser
 * sends on another site's behalf.
 */
export function refuseCrossSiteRoute(request: {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}): CrossSiteRefusal | undefined {
  const method = (request.method ?? 'GET').toUpperCase();
  if (safeMethods.has(method) || !request.headers.cookie) return undefined;
  if (crossOrigin(request.headers)) {
    return {
      status: 403,
      message: `Cross-site ${method} refused: the request did not come from this site's pages`,
    };
  }
  const pathname = (request.url ?? '/').split('?')[0]!;
  const type = mediaType(request.headers);
  // tRPC takes JSON only; a form or text body there is another site's doing.
  if (pathname.startsWith('/api/trpc') && type !== 'application/json') {
    return {
      status: 415,
      message: `Content-Type: tRPC requests must be application/json, got "${type || 'none'}"`,
    };
  }
  // Uploads are raw bytes the console sends as application/octet-stream.
  if (pathname.startsWith('/api/instances/') && simpleContentTypes.has(type)) {
    return {
      status: 415,
      message: `Content-Type: uploads must not be sent as ${type} (the console sends application/octet-stream)`,
    };
  }
  return undefined;
}

/**
 * The socket.io handshake (every namespace, both transports): a browser
 * opens a websocket to any site with that site's cookies, so a cookie-borne
 * handshake must come from this origin.
 */
export function refuseCrossSiteHandshake(headers: IncomingHttpHeaders): string | undefined {
  if (!headers.cookie || !crossOrigin(headers)) return undefined;
  return 'Cross-site connection refused: the page connecting is not this site';
}
