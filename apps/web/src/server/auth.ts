// Auth.js (next-auth v5): a credentials provider over the users table, an
// optional OIDC provider from configuration, JWT sessions that expire. The
// config is built lazily per request from the services server.ts registered
// (secret, cookie name, accounts), so nothing runs at build time.
//
// Single sign-on only vouches for existing, enabled Berth users: the
// provider's `preferred_username` must equal a Berth user name (see
// sign-in-method.ts). Berth never creates accounts for whoever the provider
// knows, and what the user may do is still decided by policy.ts alone.
//
// Every sign-in, refused or not, and every sign-out goes to the audit log
// (sign-in-audit.ts says what an entry holds): refusals where they happen
// (`authorize`, the `signIn` callback), successes and sign-outs in `events`.
import NextAuth, { CredentialsSignin, type NextAuthConfig } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import type { Provider } from 'next-auth/providers';
import type { NextRequest } from 'next/server';
import { z } from 'zod';
import type { AuditInput } from '@berth/db';
import { sessionSecretClaim } from '../runtime/session-cookie.ts';
import { getBerth, type SessionUser } from './berth.ts';
import { signInEntry, signOutEntry } from './sign-in-audit.ts';
import { sessionUserFor, signInMethodOf, ssoUsername } from './sign-in-method.ts';

class InvalidLogin extends CredentialsSignin {
  override code = 'invalid';
}
class RateLimited extends CredentialsSignin {
  override code = 'rate_limited';
}

const LoginInput = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

declare module 'next-auth' {
  interface Session {
    user: Omit<SessionUser, 'id'> & {
      userId: number;
      name?: string | null;
      email?: string | null;
      image?: string | null;
    };
  }
}

/** The client's address: server.ts sets this header on every request (a client's own is overwritten). */
function clientAddress(request: Request | undefined): string | null {
  return request?.headers.get('x-berth-client-address') ?? null;
}

/** `request` is absent when the config is built outside a request to /api/auth. */
function config(request: Request | undefined): NextAuthConfig {
  const berth = getBerth();
  const address = clientAddress(request);
  // The same log as every other action; a failed write is reported, never the answer.
  const audit = (entry: AuditInput) =>
    berth.engine.db.audit
      .record(entry)
      .catch((error: unknown) => console.error('berth: audit log', error));
  const providers: Provider[] = [
    Credentials({
      id: 'credentials',
      name: 'Password',
      credentials: {
        username: { label: 'User name' },
        password: { label: 'Password', type: 'password' },
      },
      async authorize(raw, request) {
        const input = LoginInput.safeParse(raw);
        const from = clientAddress(request);
        if (!input.success) {
          const issue = input.error.issues[0];
          await audit(
            signInEntry({
              username: typeof raw.username === 'string' ? raw.username : null,
              userId: null,
              method: 'password',
              address: from,
              refused: `${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
            }),
          );
          throw new InvalidLogin();
        }
        const { username, password } = input.data;
        const result = await berth.accounts.login(username, password, from ?? 'unknown');
        if (!result.ok) {
          await audit(
            signInEntry({
              username,
              userId: result.reason === 'invalid' ? result.userId : null,
              method: 'password',
              address: from,
              refused:
                result.reason === 'invalid'
                  ? result.cause
                  : `too many failed attempts (retry in ${Math.ceil(result.retryAfterMs / 1000)} s)`,
            }),
          );
          throw result.reason === 'rate_limited' ? new RateLimited() : new InvalidLogin();
        }
        // Recorded by events.signIn, once the session exists.
        return { id: String(result.user.id), name: result.user.username };
      },
    }),
  ];
  if (berth.env.oidc) {
    const { issuer, clientId, clientSecret, name } = berth.env.oidc;
    providers.push({
      id: 'oidc',
      name,
      type: 'oidc',
      issuer,
      clientId,
      clientSecret,
      // The profile comes from the userinfo endpoint (checked against the ID
      // token's subject): providers that follow the spec strictly put only
      // `sub` in an ID token issued with an access token.
      idToken: false,
    });
  }

  return {
    secret: berth.sessionSecret,
    // server.ts is the only entry point: the Host header names the origin reached (asReached).
    trustHost: true,
    useSecureCookies: berth.secureCookies,
    session: { strategy: 'jwt', maxAge: berth.env.sessionMaxAge, updateAge: 15 * 60 },
    pages: { signIn: '/login', error: '/login' },
    // A wrong password is an answer, not a server error: keep it out of the log.
    logger: {
      error(error) {
        if (
          error.name === 'CredentialsSignin' ||
          (error as { type?: string }).type === 'CredentialsSignin'
        )
          return;
        console.error('[auth]', error);
      },
    },
    providers,
    events: {
      // After the session cookie is made: password and single sign-on alike.
      async signIn({ user, account, profile }) {
        const method = account?.provider === 'oidc' ? 'oidc' : 'password';
        const username = method === 'oidc' ? ssoUsername(profile) : (user.name ?? null);
        const found = username ? await berth.accounts.get(username) : null;
        await audit(
          signInEntry({
            username,
            userId: found?.id ?? null,
            method,
            provider: berth.env.oidc?.name,
            address,
          }),
        );
      },
      // The session ends server side, so this cookie replayed later is refused,
      // and so do the sockets it opened.
      async signOut(message) {
        const token = 'token' in message ? message.token : null;
        const secret = token?.[sessionSecretClaim];
        const ended = typeof secret === 'string' ? await berth.accounts.sessions.end(secret) : null;
        if (ended)
          berth.connections.revoke({ kind: 'session', sessionId: ended.id, reason: 'Signed out' });
        if (typeof token?.username !== 'string') return;
        await audit(
          signOutEntry({
            username: token.username,
            userId: typeof token.uid === 'number' ? token.uid : null,
            method: signInMethodOf(token),
            provider: berth.env.oidc?.name,
            address,
          }),
        );
      },
    },
    callbacks: {
      // Single sign-on lets in existing, enabled users only. A refusal goes
      // back to the login page with a reason it can show; no session is made.
      async signIn({ account, profile }) {
        if (account?.provider !== 'oidc') return true;
        const username = ssoUsername(profile);
        if (username && (await berth.accounts.get(username))) return true;
        const reason = username
          ? `no enabled Berth user "${username}"`
          : 'the provider sent no preferred_username';
        const subject = typeof profile?.sub === 'string' ? profile.sub : null;
        console.warn(
          `berth: single sign-on refused for subject ${JSON.stringify(subject)}: ${reason}`,
        );
        await audit(
          signInEntry({
            username,
            userId: null,
            method: 'oidc',
            provider: berth.env.oidc?.name,
            ...(subject !== null ? { subject } : {}),
            address,
            refused: reason,
          }),
        );
        return `/login?error=AccessDenied&code=${username ? 'sso_unknown_user' : 'sso_no_username'}`;
      },
      // Every request re-reads the user and its server-side session, so a
      // disabled account, a changed or reset password and a sign-out take
      // effect at once, on this cookie and on every copy of it; returning
      // null ends the session (Auth.js clears the cookie).
      async jwt({ token, user, account, profile }) {
        const maxAge = berth.env.sessionMaxAge;
        if (account) {
          // Signing in now: who, and how.
          const sso = account.provider === 'oidc';
          token.method = sso ? 'oidc' : 'password';
          token.username = sso ? ssoUsername(profile) : user?.name;
        }
        const username = typeof token.username === 'string' ? token.username : undefined;
        if (!username) return null;
        const found = await berth.accounts.get(username);
        if (!found) return null;
        if (account) {
          token[sessionSecretClaim] = await berth.accounts.sessions.start(found.id, maxAge);
        } else {
          const secret = token[sessionSecretClaim];
          // A cookie from before sessions were kept has none: it signs in again.
          if (typeof secret !== 'string') return null;
          if (!(await berth.accounts.sessions.resume(secret, found.id, maxAge))) return null;
        }
        const current = sessionUserFor(found, signInMethodOf(token));
        token.username = current.username;
        token.uid = current.id;
        token.isAdmin = current.isAdmin;
        token.mustChangePassword = current.mustChangePassword;
        return token;
      },
      session({ session, token }) {
        session.user = {
          ...session.user,
          userId: token.uid as number,
          username: token.username as string,
          name: token.username as string,
          isAdmin: token.isAdmin as boolean,
          mustChangePassword: token.mustChangePassword as boolean,
        };
        return session;
      },
    },
  };
}

const nextAuth = NextAuth((request) => config(request));
export const { auth, signOut } = nextAuth;

/**
 * The request as the browser addressed it. Next hands route handlers a URL
 * built from the address it listens on, with any loopback host rewritten to
 * `localhost`, and Auth.js derives its callback URL (the redirect_uri a
 * provider checks) and its redirects from that URL. server.ts is the only
 * entry point, so the Host header names the origin the user reached, on the
 * protocol the connection used. A plain Request: a NextRequest would rewrite
 * a loopback host again.
 */
function asReached(req: NextRequest): NextRequest {
  const host = req.headers.get('host');
  if (!host) return req;
  let reached: URL;
  try {
    reached = new URL(`${req.nextUrl.protocol}//${host}`);
  } catch {
    return req;
  }
  const { pathname, search } = new URL(req.url);
  // Auth.js reads only the URL, method, headers and body.
  return new Request(new URL(`${pathname}${search}`, reached), req) as unknown as NextRequest;
}

export const handlers = {
  GET: (req: NextRequest) => nextAuth.handlers.GET(asReached(req)),
  POST: (req: NextRequest) => nextAuth.handlers.POST(asReached(req)),
};
