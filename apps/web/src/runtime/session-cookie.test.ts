// The session cookie outside Next.js (socket.io handshakes): signed by our
// secret, within its lifetime, and only for an account that is still enabled.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encode } from 'next-auth/jwt';
import type { Database, UserRecord } from '@berth/db';
import type { BerthServices } from '../server/berth.ts';
import { createAccounts } from './accounts.ts';
import { sessionFromCookie } from './session-cookie.ts';

const cookieName = 'authjs.session-token';
const secret = 'a-test-session-secret-of-enough-length';

/** The real accounts over an in-memory users table. */
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
  const db = { users: { get: async (name: string) => (name === vera.username ? vera : null) } };
  const berth = {
    sessionSecret: secret,
    sessionCookieName: cookieName,
    env: { sessionMaxAge: 3600 },
    accounts: await createAccounts(db as unknown as Database),
  } as unknown as BerthServices;
  return { berth, vera };
}

async function cookieFor(username: string, maxAge: number): Promise<string> {
  return `${cookieName}=${await encode({ token: { username }, secret, salt: cookieName, maxAge })}`;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('sessionFromCookie', () => {
  it('accepts a cookie within its lifetime and says when it ends', async () => {
    const { berth } = await services();
    const session = await sessionFromCookie(berth, await cookieFor('vera', 60));
    expect(session?.user).toMatchObject({ id: 2, username: 'vera' });
    expect(session!.expires - Date.now() / 1000).toBeGreaterThan(55);
    expect(session!.expires - Date.now() / 1000).toBeLessThanOrEqual(60);
  });

  it('refuses a cookie once its session has expired', async () => {
    const { berth } = await services();
    // Only the clock is moved: the JWT library allows 15 s of clock skew, so
    // a real wait past a 1 s lifetime would take more than 16 s.
    vi.useFakeTimers({ toFake: ['Date'] });
    const cookie = await cookieFor('vera', 1);
    expect(await sessionFromCookie(berth, cookie)).not.toBeNull();
    vi.setSystemTime(Date.now() + 17_000);
    expect(await sessionFromCookie(berth, cookie)).toBeNull();
  });

  it('stops accepting a disabled user’s cookie, and accepts it again once re-enabled', async () => {
    const { berth, vera } = await services();
    const cookie = await cookieFor('vera', 3600);
    vera.disabled = true;
    expect(await sessionFromCookie(berth, cookie)).toBeNull();
    vera.disabled = false;
    expect(await sessionFromCookie(berth, cookie)).not.toBeNull();
  });

  it('refuses a deleted user’s cookie, and a cookie signed with another secret', async () => {
    const { berth } = await services();
    expect(await sessionFromCookie(berth, await cookieFor('gone', 3600))).toBeNull();
    const forged = await encode({
      token: { username: 'vera' },
      secret: 'another-secret-of-enough-length-xx',
      salt: cookieName,
    });
    expect(await sessionFromCookie(berth, `${cookieName}=${forged}`)).toBeNull();
  });
});
