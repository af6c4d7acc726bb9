// Who sent a request: the one place that turns a request's credentials into
// a user the policy can judge. tRPC's context, the REST API and socket.io
// handshakes all call `authenticateRequest`.
//
//   Authorization: Bearer berth_…   an API token: acts as the token's user
//   the Auth.js session cookie      a browser session, while it lives server side
//   the local unix socket           the server administrator (REST API only,
//                                   as LXD's unix socket; see localSocketUser)
//
// A request that presents a bearer token is judged by the token alone (a
// wrong or expired token is refused even when a session cookie is present),
// so automation never silently runs as whoever is logged in in the browser.
import { sessionFromCookie } from '../runtime/session-cookie.ts';
import { getBerth, type BerthServices, type SessionUser } from './berth.ts';
import { localSocketPolicy, type PolicyUser } from './policy.ts';

/** The user behind a request, with the project roles the policy needs. */
export type RequestUser = SessionUser &
  PolicyUser & {
    /** How the request was authenticated. */
    via: 'session' | 'token';
    /** The API token's id, when `via` is `token`. */
    tokenId?: number;
    /** The server-side browser session's id, when `via` is `session` (sign-out ends it). */
    sessionId?: number;
    /** Epoch ms when the credential stops being valid (null: never), for long-lived sockets. */
    expiresAt: number | null;
  };

/** How a request reached the server: a network listener, or the local unix socket. */
export type RequestTransport = 'network' | 'unix-socket';

/** Whoever talks to the local unix socket (no account: the audit log names it `unix-socket`). */
export type LocalSocketUser = SessionUser &
  PolicyUser & {
    via: 'unix-socket';
    expiresAt: null;
  };

/**
 * The caller on the local unix socket. The socket is the credential (file
 * permissions decide who may open it), so no header is looked at; the
 * policy's localSocketPolicy says what it may do.
 */
export function localSocketUser(): LocalSocketUser {
  return {
    id: 0,
    username: 'unix-socket',
    mustChangePassword: false,
    isAdmin: localSocketPolicy.isAdmin,
    roles: new Map(localSocketPolicy.roles),
    via: 'unix-socket',
    expiresAt: null,
  };
}

/** Fetch's `Headers`, or Node's `IncomingHttpHeaders` (socket.io handshakes). */
export type RequestHeaders = Headers | Record<string, string | string[] | undefined>;

function header(headers: RequestHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function')
    return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
}

/** The secret of an `Authorization: Bearer …` header; null when there is none. */
export function bearerSecret(headers: RequestHeaders): string | null {
  const value = header(headers, 'authorization');
  if (!value) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  // Present but malformed is still a token attempt: it must fail, not fall back to the cookie.
  return match ? match[1]! : '';
}

async function userOfToken(services: BerthServices, secret: string): Promise<RequestUser | null> {
  if (!secret.startsWith('berth_')) return null;
  const db = services.engine.db;
  const token = await db.tokens.authenticate(secret);
  if (!token) return null;
  // The account as it is now (one read): a disabled user's tokens stop working too.
  const record = await db.users.getById(token.userId);
  if (!record || record.disabled) return null;
  const user: SessionUser = {
    id: record.id,
    username: record.username,
    isAdmin: record.isAdmin,
    mustChangePassword: record.mustChangePassword,
  };
  return {
    ...user,
    roles: await services.members.rolesOf(user.id),
    via: 'token',
    tokenId: token.id,
    expiresAt: token.expiresAt?.getTime() ?? null,
  };
}

/** The user a request authenticates as, or null (anonymous, or refused credentials). */
export async function authenticateRequest(
  headers: RequestHeaders,
  services: BerthServices = getBerth(),
): Promise<RequestUser | null> {
  const secret = bearerSecret(headers);
  if (secret !== null) return userOfToken(services, secret);
  const session = await sessionFromCookie(services, header(headers, 'cookie'));
  if (!session) return null;
  return {
    ...session.user,
    roles: await services.members.rolesOf(session.user.id),
    via: 'session',
    sessionId: session.sessionId,
    expiresAt: session.expires * 1000,
  };
}
