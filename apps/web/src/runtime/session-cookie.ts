// Reads the Auth.js session cookie outside Next.js (socket.io handshakes):
// the same cookie, secret and salt as the route handlers use, then the user
// as the database has it now (a disabled user's cookie stops working).
import { decode } from 'next-auth/jwt';
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

export interface CookieSession {
  user: SessionUser;
  /** Unix seconds when the session ends. */
  expires: number;
}

export async function sessionFromCookie(
  berth: BerthServices,
  cookieHeader: string | undefined,
): Promise<CookieSession | null> {
  const token = sessionToken(parseCookies(cookieHeader), berth.sessionCookieName);
  if (!token) return null;
  const claims = await decode({
    token,
    secret: berth.sessionSecret,
    salt: berth.sessionCookieName,
  }).catch(() => null);
  const username = typeof claims?.username === 'string' ? claims.username : undefined;
  if (!claims || !username) return null;
  const user = await berth.accounts.get(username);
  if (!user) return null;
  return {
    user: sessionUserFor(user, signInMethodOf(claims)),
    expires:
      typeof claims.exp === 'number'
        ? claims.exp
        : Math.floor(Date.now() / 1000) + berth.env.sessionMaxAge,
  };
}
