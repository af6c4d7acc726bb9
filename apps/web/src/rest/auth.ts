// Who is asking: the web app's one `authenticateRequest` (session cookie or
// `Authorization: Bearer berth_…`), or the local unix socket's caller,
// seen through the fields the REST API uses.
import type { IncomingHttpHeaders } from 'node:http';
import { crossOrigin } from '../server/cross-site.ts';
import type { PolicyUser } from '../server/policy.ts';
import type { RequestTransport } from '../server/request-auth.ts';

export interface RestUser extends PolicyUser {
  id: number;
  username: string;
  mustChangePassword: boolean;
  /** How the request was authenticated (request-auth.ts). */
  via?: 'session' | 'token' | 'unix-socket';
  /** Epoch ms when the credential stops being valid (null or absent: never); ends websockets. */
  expiresAt?: number | null;
}

export type Authenticate = (
  headers: IncomingHttpHeaders,
  transport: RequestTransport,
) => Promise<RestUser | null>;

/**
 * A browser session may drive the API too, but not from another site: a
 * cookie-authenticated write must come from this origin (a cross-site form
 * could otherwise POST to /1.0 with the user's cookie). Tokens are not sent
 * by browsers on their own, so they need no such check.
 */
export function crossSiteWrite(
  method: string,
  headers: IncomingHttpHeaders,
  via: RestUser['via'],
): boolean {
  if (via !== 'session' || method === 'GET' || method === 'HEAD') return false;
  return crossOrigin(headers);
}

/**
 * A browser opens a websocket to any site with that site's cookies
 * (cross-site websocket hijacking): a cookie-authenticated upgrade must
 * come from this origin, whatever its method.
 */
export function crossSiteWebsocket(headers: IncomingHttpHeaders, via: RestUser['via']): boolean {
  return via === 'session' && crossOrigin(headers);
}
