// Who is asking: the web app's one `authenticateRequest` (session cookie or
// `Authorization: Bearer berth_…`), seen through the fields the REST API uses.
import type { IncomingHttpHeaders } from 'node:http';
import type { PolicyUser } from '../server/policy.ts';

export interface RestUser extends PolicyUser {
  id: number;
  username: string;
  mustChangePassword: boolean;
  /** How the request was authenticated (request-auth.ts). */
  via?: 'session' | 'token';
}

export type Authenticate = (headers: IncomingHttpHeaders) => Promise<RestUser | null>;

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
  if (headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}
