// Reads the Auth.js session cookie outside Next.js (socket.io handshakes, the
// REST API, tRPC's context): the same cookie, secret and salt as the route
// handlers use, then the server-side session it names (ended by sign-out, a
// password change or reset, disabling the account) and the user as the
// database has it now. A cookie that decrypts is not enough: its session
// must still be live.
import { decode, encode } from 'next-auth/jwt';
import type { BerthServices, SessionUser } from '../server/berth.ts';
import { sessionUserFor, signInMethodOf } from '../server/sign-in-method.ts';

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    try {
      cookies.set(name, decodeURIComponent(value));
    } catch {
      cookies.set(name, value);
    }
  }
  return cookies;
}

/** The cookie's value, joining Auth.js's chunks (`name.0`, `name.1`, ...) when it split it. */
function sessionToken(cookies: Map<string, string>, name: string): string | undefined {
  const whole = cookies.get(name);
  if (whole) return whole;
  const chunks: string[] = [];
  for (let i = 0; cookies.has(`${name}.${i}`); i++) chunks.push(cookies.get(`${name}.${i}`)!);
  return chunks.length ? chunks.join('') : undefined;
}

/**
 * Cookies already decrypted, by secret, salt and value, until their `exp`.
 * Decrypting one (HKDF key derivation, then AES-CBC + HMAC) cost ~1.5 ms of
 * CPU per request, and a browser sends the same cookie with every request.
 * Only the decryption is remembered: the value decrypts to the same claims
 * every time, and the server-side session and the account behind them are
 * still read on every request, so sign-out and revocation act at once.
 */
const decrypted = new Map<string, { claims: Record<string, unknown>; expiresMs: number }>();
/** Cookies remembered at most (the least recently used goes first). */
export const DECRYPTED_COOKIES_KEPT = 1000;

async function decrypt(
  berth: BerthServices,
  token: string,
): Promise<Record<string, unknown> | null> {
  const key = `${berth.sessionCookieName}\0${berth.sessionSecret}\0${token}`;
  const kept = decrypted.get(key);
  // Past `exp` the cookie is decoded again, which applies Auth.js's own clock tolerance.
  if (kept && Date.now() < kept.expiresMs) {
    decrypted.delete(key);
    decrypted.set(key, kept);
    return { ...kept.claims };
  }
  decrypted.delete(key);
  const claims =
    (await decode({ token, secret: berth.sessionSecret, salt: berth.sessionCookieName }).catch(
      () => null,
    )) ?? null;
  // Only a cookie with an end (`exp`) and no `nbf` is remembered.
  if (claims && typeof claims.exp === 'number' && claims.nbf === undefined) {
    decrypted.set(key, { claims: { ...claims }, expiresMs: claims.exp * 1000 });
    if (decrypted.size > DECRYPTED_COOKIES_KEPT)
      decrypted.delete(decrypted.keys().next().value as string);
  }
  return claims;
}

/** The claims of the request's session cookie, when it decrypts (whether its session lives or not). */
export async function sessionClaims(
  berth: BerthServices,
  cookieHeader: string | undefined,
): Promise<Record<string, unknown> | null> {
  const token = sessionToken(parseCookies(cookieHeader), berth.sessionCookieName);
  if (!token) return null;
  return decrypt(berth, token);
}

/** The claim Auth.js's jwt callback stores the server-side session's secret in. */
export const sessionSecretClaim = 'sid';

export interface CookieSession {
  user: SessionUser;
  /** The server-side session's id (what sign-out ends). */
  sessionId: number;
  /** Unix seconds when the session ends. */
  expires: number;
}

export async function sessionFromCookie(
  berth: BerthServices,
  cookieHeader: string | undefined,
): Promise<CookieSession | null> {
  const claims = await sessionClaims(berth, cookieHeader);
  const username = typeof claims?.username === 'string' ? claims.username : undefined;
  const secret = claims?.[sessionSecretClaim];
  // A cookie without a session (made before sessions were kept) is refused too.
  if (!claims || !username || typeof secret !== 'string') return null;
  const user = await berth.accounts.get(username);
  if (!user) return null;
  const session = await berth.accounts.sessions.resume(secret, user.id, berth.env.sessionMaxAge);
  if (!session) return null;
  return {
    user: sessionUserFor(user, signInMethodOf(claims)),
    sessionId: session.id,
    expires:
      typeof claims.exp === 'number'
        ? claims.exp
        : Math.floor(Date.now() / 1000) + berth.env.sessionMaxAge,
  };
}

/**
 * A `Set-Cookie` value that carries the request's session on under a new
 * server-side session (`secret`): the same claims, a full lifetime, the
 * attributes Auth.js gives its cookie. Null when the request has no session
 * cookie to carry on.
 */
export async function renewedSessionCookie(
  berth: BerthServices,
  cookieHeader: string | undefined,
  secret: string,
): Promise<string | null> {
  const claims = await sessionClaims(berth, cookieHeader);
  if (!claims) return null;
  // iat/exp/jti are the new token's own.
  const { iat: _iat, exp: _exp, jti: _jti, ...kept } = claims;
  const maxAge = berth.env.sessionMaxAge;
  const value = await encode({
    token: { ...kept, [sessionSecretClaim]: secret },
    secret: berth.sessionSecret,
    salt: berth.sessionCookieName,
    maxAge,
  });
  const expires = new Date(Date.now() + maxAge * 1000).toUTCString();
  return [
    `${berth.sessionCookieName}=${value}`,
    'Path=/',
    `Expires=${expires}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(berth.secureCookies ? ['Secure'] : []),
  ].join('; ');
}
