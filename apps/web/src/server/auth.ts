// Auth.js (next-auth v5): a credentials provider over the users table, an
// optional OIDC provider from configuration, JWT sessions that expire. The
// config is built lazily per request from the services server.ts registered
// (secret, cookie name, accounts), so nothing runs at build time.
import NextAuth, { CredentialsSignin, type NextAuthConfig } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import type { Provider } from 'next-auth/providers';
import { z } from 'zod';
import { getBerth, type SessionUser } from './berth.ts';

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

function config(): NextAuthConfig {
  const berth = getBerth();
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
        if (!input.success) throw new InvalidLogin();
        const address = request.headers.get('x-berth-client-address') ?? 'unknown';
        const result = await berth.accounts.login(
          input.data.username,
          input.data.password,
          address,
        );
        if (!result.ok)
          throw result.reason === 'rate_limited' ? new RateLimited() : new InvalidLogin();
        return { id: String(result.user.id), name: result.user.username };
      },
    }),
  ];
  if (berth.env.oidc) {
    const { issuer, clientId, clientSecret, name } = berth.env.oidc;
    providers.push({ id: 'oidc', name, type: 'oidc', issuer, clientId, clientSecret });
  }

  return {
    secret: berth.sessionSecret,
    // server.ts is the only entry point; the Host header is the one it was reached on.
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
    callbacks: {
      // OIDC users must already exist (matched by user name = preferred_username);
      // Berth does not create accounts for whoever the provider vouches for.
      async signIn({ account, profile, user }) {
        if (account?.provider !== 'oidc') return true;
        const username = String(profile?.preferred_username ?? profile?.email ?? '');
        const known = username ? await berth.accounts.get(username) : null;
        if (!known) return false;
        user.name = known.username;
        return true;
      },
      // Every request re-reads the user, so a disabled account or a changed
      // password takes effect at once; returning null ends the session.
      async jwt({ token, user }) {
        const username = (user?.name ?? token.username) as string | undefined;
        if (!username) return null;
        const current = await berth.accounts.get(username);
        if (!current) return null;
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

export const { handlers, auth, signOut } = NextAuth(() => config());
