// How a browser session was signed in, kept in its token (Auth.js's `jwt`
// callback writes it; the pages and the cookie reader both read it).
import type { SessionUser } from './berth.ts';

export type SignInMethod = 'password' | 'oidc';

/** The token's method; sessions from before it was recorded signed in with a password. */
export function signInMethodOf(claims: Record<string, unknown> | null | undefined): SignInMethod {
  return claims?.method === 'oidc' ? 'oidc' : 'password';
}

/**
 * The account as a session signed in by `method` acts. A password someone else
 * chose must be changed before anything else, but only by sessions that used
 * it: single sign-on never does, so its sessions are not held up (the next
 * password login still is).
 */
export function sessionUserFor<T extends SessionUser>(user: T, method: SignInMethod): T {
  return method === 'oidc' && user.mustChangePassword
    ? { ...user, mustChangePassword: false }
    : user;
}

/**
 * The Berth user name an OpenID provider's profile stands for: its
 * `preferred_username` claim, exactly. Nothing else is matched (not e-mail
 * addresses, which Berth does not store), so an identity maps to one
 * account or to none.
 */
export function ssoUsername(profile: Record<string, unknown> | null | undefined): string | null {
  const name = profile?.preferred_username;
  return typeof name === 'string' && name !== '' ? name : null;
}
