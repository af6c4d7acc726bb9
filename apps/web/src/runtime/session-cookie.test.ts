// The session cookie outside Next.js (socket.io handshakes, REST, tRPC):
// signed by our secret, within its lifetime, naming a server-side session
// that is still live, and only for an account that is still enabled.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encode } from 'next-auth/jwt';
import { hashToken, type Database, type SessionRecord, type UserRecord } from '@berth/db';
import type { BerthServices } from '../server/berth.ts';
import { LiveConnections } from '../server/live-connections.ts';
import { createAccounts } from './accounts.ts';
import { renewedSessionCookie, sessionClaims, sessionFromCookie } from './session-cookie.ts';

const cookieName = 'authjs.session-token';
const secret = 'a-test-session-secret-of-enough-length';

/** The real accounts over in-memory users and sessions tables. */
async function services() {
  const vera: UserRecord = {
    id: 2,
    username: 'vera',
    email: null,
    name: null,
    passwordHash: null,
    isAdmin: false,
    disabled: false,
    mustChangePassword: false,
    createdAt: new Date(),
  };
  const rows = new Map<string, SessionRecord>();
  let ids = 0;
  const sessions = {
    async create(userId: number, expires: Date) {
      const sid = `secret-${++ids}`;
      const session = { id: ids, userId, expires, createdAt: new Date() };
      rows.set(hashToken(sid), session);
      return { session, secret: sid };
    },
    async find(sid: string, now = new Date()) {
      const session = rows.get(hashToken(sid));
      return session && session.expires > now ? session : null;
    },
    async extend(id: number, expires: Date) {
      for (const row of rows.values()) if (row.id === id) row.expires = expires;
    },
    async delete(sid: string) {
      const session = rows.get(hashToken(sid)) ?? null;
      rows.delete(hashToken(sid));
      return session;
    },
    async deleteForUser(userId: number) {
      for (const [key, row] of rows) if (row.userId === userId) rows.delete(key);
      return 0;
    },
    async deleteExpired() {
      return 0;
    },
  };
  const db = {
    users: { get: async (name: string) => (name === vera.username ? vera : null) },
    sessions,
  };
  const accounts = await createAccounts(db as unknown as Database);
  const berth = {
    sessionSecret: secret,
    sessionCookieName: cookieName,
    secureCookies: false,
    env: { sessionMaxAge: 3600 },
    accounts,
    connections: new LiveConnections(),
  } as unknown as BerthServices;
  /** A signed-in session's cookie, as Auth.js's jwt callback makes it. */
  const signIn = async (username = 'vera', maxAge = 3600) => {
    const sid = await accounts.sessions.start(vera.id, maxAge);
    const token = await encode({ token: { username, sid }, secret, salt: cookieName, maxAge });
    return { sid, cookie: `${cookieName}=${token}` };
  };
  return { berth, vera, signIn };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('sessionFromCookie', () => {
  it('accepts a cookie within its lifetime and says when it ends', async () => {
    const { berth, signIn } = await services();
    const session = await sessionFromCookie(berth, (await signIn('vera', 60)).cookie);
    expect(session?.user).toMatchObject({ id: 2, username: 'vera' });
    expect(session?.sessionId).toBe(1);
    expect(session!.expires - Date.now() / 1000).toBeGreaterThan(55);
    expect(session!.expires - Date.now() / 1000).toBeLessThanOrEqual(60);
  });

  it('refuses a cookie once its session has expired', async () => {
    const { berth, signIn } = await services();
    // Only the clock is moved: the JWT library allows 15 s of clock skew, so
    // a real wait past a 1 s lifetime would take more than 16 s.
    vi.useFakeTimers({ toFake: ['Date'] });
    const { cookie } = await signIn('vera', 1);
    expect(await sessionFromCookie(berth, cookie)).not.toBeNull();
    vi.setSystemTime(Date.now() + 17_000);
    expect(await sessionFromCookie(berth, cookie)).toBeNull();
  });

  it('stops accepting a disabled user’s cookie, and accepts it again once re-enabled', async () => {
    const { berth, vera, signIn } = await services();
    const { cookie } = await signIn();
    vera.disabled = true;
    expect(await sessionFromCookie(berth, cookie)).toBeNull();
    vera.disabled = false;
    expect(await sessionFromCookie(berth, cookie)).not.toBeNull();
  });

  it('refuses a deleted user’s cookie, and a cookie signed with another secret', async () => {
    const { berth, signIn } = await services();
    expect(await sessionFromCookie(berth, (await signIn('gone')).cookie)).toBeNull();
    const forged = await encode({
      token: { username: 'vera', sid: (await signIn()).sid },
      secret: 'another-secret-of-enough-length-xx',
      salt: cookieName,
    });
    expect(await sessionFromCookie(berth, `${cookieName}=${forged}`)).toBeNull();
  });

  it('refuses the cookie of a session that was signed out, even replayed', async () => {
    const { berth, signIn } = await services();
    const { sid, cookie } = await signIn();
    const other = await signIn();
    expect(await berth.accounts.sessions.end(sid)).toEqual({ id: 1, userId: 2 });
    expect(await sessionFromCookie(berth, cookie)).toBeNull();
    // The account's other session goes on.
    expect(await sessionFromCookie(berth, other.cookie)).not.toBeNull();
  });

  it('refuses every cookie of an account whose sessions all ended, and one without a session', async () => {
    const { berth, vera, signIn } = await services();
    const first = await signIn();
    const second = await signIn();
    await berth.accounts.sessions.endAll(vera.id);
    expect(await sessionFromCookie(berth, first.cookie)).toBeNull();
    expect(await sessionFromCookie(berth, second.cookie)).toBeNull();
    const sessionless = await encode({ token: { username: 'vera' }, secret, salt: cookieName });
    expect(await sessionFromCookie(berth, `${cookieName}=${sessionless}`)).toBeNull();
  });
});

describe('sessionClaims', () => {
  it('answers a cookie decrypted before with the same claims, each caller its own copy', async () => {
    const { berth, signIn } = await services();
    const { sid, cookie } = await signIn();
    const first = await sessionClaims(berth, cookie);
    expect(first).toMatchObject({ username: 'vera', sid });
    first!.username = 'changed by a caller';
    expect(await sessionClaims(berth, cookie)).toMatchObject({ username: 'vera', sid });
    // Remembered under its secret: the same cookie is nothing to a server with another one.
    const other = {
      ...berth,
      sessionSecret: 'another-secret-of-enough-length-xx',
    } as BerthServices;
    expect(await sessionClaims(other, cookie)).toBeNull();
  });
});

describe('renewedSessionCookie', () => {
  it('carries the session on under a new server-side session, with Auth.js’s attributes', async () => {
    const { berth, vera, signIn } = await services();
    const { cookie } = await signIn();
    await berth.accounts.sessions.endAll(vera.id);
    const sid = await berth.accounts.sessions.start(vera.id, 3600);
    const setCookie = await renewedSessionCookie(berth, cookie, sid);
    expect(setCookie).toMatch(
      /^authjs\.session-token=[^;]+; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/,
    );
    const renewed = setCookie!.split(';')[0]!;
    expect(await sessionFromCookie(berth, renewed)).toMatchObject({
      user: { username: 'vera' },
      sessionId: 2,
    });
    expect(await sessionFromCookie(berth, cookie)).toBeNull();
    expect(await renewedSessionCookie(berth, undefined, sid)).toBeNull();
  });
});
