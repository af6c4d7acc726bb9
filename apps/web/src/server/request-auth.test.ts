// request-auth: the session cookie or a bearer token, never both, resolved
// to the user as the database has it now.
import { describe, expect, it } from 'vitest';
import { encode } from 'next-auth/jwt';
import type { BerthServices, SessionUser } from './berth.ts';
import { LiveConnections } from './live-connections.ts';
import { can } from './policy.ts';
import { authenticateRequest, bearerSecret, localSocketUser } from './request-auth.ts';

const cookieName = 'authjs.session-token';
const secret = 'a-test-session-secret-of-enough-length';
const goodToken = 'berth_0123456789abcdef0123456789abcdef01234567';

/** Live server-side sessions: secret → [session id, user id]. */
const liveSessions = new Map<string, [number, number]>([
  ['admin-session', [7, 1]],
  ['vera-session', [8, 2]],
]);

function services(options: { disabled?: string[] } = {}) {
  const users: Record<string, SessionUser> = {
    vera: { id: 2, username: 'vera', isAdmin: false, mustChangePassword: false },
    admin: { id: 1, username: 'admin', isAdmin: true, mustChangePassword: false },
  };
  // As the users table has them: a disabled account is still there, marked.
  const byId = (id: number) => {
    const user = Object.values(users).find((u) => u.id === id);
    return user ? { ...user, disabled: options.disabled?.includes(user.username) ?? false } : null;
  };
  return {
    sessionSecret: secret,
    sessionCookieName: cookieName,
    env: { sessionMaxAge: 3600 },
    engine: {
      db: {
        tokens: {
          authenticate: async (presented: string) =>
            presented === goodToken ? { id: 9, userId: 2, name: 'ci' } : null,
        },
        users: { getById: async (id: number) => byId(id) },
      },
    },
    accounts: {
      get: async (username: string) =>
        options.disabled?.includes(username) ? null : (users[username] ?? null),
      sessions: {
        resume: async (sid: string, userId: number) => {
          const live = liveSessions.get(sid);
          return live && live[1] === userId ? { id: live[0] } : null;
        },
      },
    },
    members: {
      rolesOf: async (id: number) => new Map(id === 2 ? [['default', 'viewer' as const]] : []),
    },
    connections: new LiveConnections(),
  } as unknown as BerthServices;
}

async function sessionCookie(username: string, sid = `${username}-session`): Promise<string> {
  const token = await encode({ token: { username, sid }, secret, salt: cookieName, maxAge: 3600 });
  return `${cookieName}=${token}`;
}

describe('bearerSecret', () => {
  it('reads Bearer tokens; anything else in Authorization is an attempt that must fail', () => {
    expect(bearerSecret(new Headers())).toBeNull();
    expect(bearerSecret(new Headers({ authorization: `Bearer ${goodToken}` }))).toBe(goodToken);
    expect(bearerSecret({ authorization: `bearer  ${goodToken} ` })).toBe(goodToken);
    expect(bearerSecret({ authorization: 'Basic dmVyYTp4' })).toBe('');
  });
});

describe('authenticateRequest', () => {
  it('authenticates a bearer token as its user, with the user’s roles', async () => {
    const user = await authenticateRequest(
      new Headers({ authorization: `Bearer ${goodToken}` }),
      services(),
    );
    expect(user).toMatchObject({
      id: 2,
      username: 'vera',
      isAdmin: false,
      via: 'token',
      tokenId: 9,
    });
    expect([...user!.roles]).toEqual([['default', 'viewer']]);
  });

  it('refuses unknown, malformed and disabled users’ tokens, even with a valid cookie', async () => {
    const cookie = await sessionCookie('admin');
    for (const authorization of ['Bearer berth_deadbeef', 'Bearer nope', 'Basic abc']) {
      expect(
        await authenticateRequest(new Headers({ authorization, cookie }), services()),
      ).toBeNull();
    }
    expect(
      await authenticateRequest(
        { authorization: `Bearer ${goodToken}` },
        services({ disabled: ['vera'] }),
      ),
    ).toBeNull();
  });

  it('authenticates the session cookie (fetch or Node headers), as the account is now', async () => {
    const cookie = await sessionCookie('admin');
    expect(await authenticateRequest(new Headers({ cookie }), services())).toMatchObject({
      id: 1,
      username: 'admin',
      isAdmin: true,
      via: 'session',
      sessionId: 7,
    });
    expect(await authenticateRequest({ cookie: `other=1; ${cookie}` }, services())).toMatchObject({
      username: 'admin',
    });
    expect(await authenticateRequest({ cookie }, services({ disabled: ['admin'] }))).toBeNull();
  });

  it('refuses a cookie whose server-side session ended, is another user’s, or is missing', async () => {
    // Signed out (or ended by a password change): the cookie still decrypts, but counts no more.
    expect(
      await authenticateRequest({ cookie: await sessionCookie('admin', 'ended') }, services()),
    ).toBeNull();
    // vera's session in a cookie that names admin.
    expect(
      await authenticateRequest(
        { cookie: await sessionCookie('admin', 'vera-session') },
        services(),
      ),
    ).toBeNull();
    // A cookie from before sessions were kept server side.
    const old = await encode({ token: { username: 'admin' }, secret, salt: cookieName });
    expect(await authenticateRequest({ cookie: `${cookieName}=${old}` }, services())).toBeNull();
  });

  it('answers null without credentials or with a forged cookie', async () => {
    expect(await authenticateRequest(new Headers(), services())).toBeNull();
    expect(await authenticateRequest({ cookie: `${cookieName}=not-a-jwt` }, services())).toBeNull();
    const forged = await encode({
      token: { username: 'admin', sid: 'admin-session' },
      secret: 'another-secret-of-enough-length-xx',
      salt: cookieName,
    });
    expect(await authenticateRequest({ cookie: `${cookieName}=${forged}` }, services())).toBeNull();
  });
});

describe('localSocketUser', () => {
  it('is the server administrator, as LXD treats its unix socket, with no account behind it', () => {
    const user = localSocketUser();
    expect(user).toMatchObject({ username: 'unix-socket', via: 'unix-socket', expiresAt: null });
    expect(can(user, 'server')).toBe(true);
    expect(can(user, 'delete', 'any-project')).toBe(true);
    // Each caller gets its own roles map, never the policy's own object.
    expect(user.roles).not.toBe(localSocketUser().roles);
  });
});
