// Password sign-in: the person signing in is told only "invalid"; the reason
// (kept for the audit log) tells an unknown user, a wrong password, an
// account without a password and a disabled one apart.
import { describe, expect, it } from 'vitest';
import { hashPassword, type Database, type UserRecord } from '@berth/db';
import { LoginLimiter } from '../server/rate-limit.ts';
import { createAccounts } from './accounts.ts';

async function user(id: number, username: string, password: string | null, disabled = false) {
  const record: UserRecord = {
    id,
    username,
    email: null,
    name: null,
    passwordHash: password === null ? null : await hashPassword(password),
    isAdmin: false,
    disabled,
    mustChangePassword: false,
    createdAt: new Date(),
  };
  return record;
}

describe('accounts.login', () => {
  it('says why a password was refused, and lets the right one in', async () => {
    const users = [
      await user(2, 'vera', 'vera-own-password-1'),
      await user(3, 'dora', 'dora-own-password-1', true),
      await user(4, 'sso-only', null),
    ];
    const db = {
      users: { get: async (name: string) => users.find((u) => u.username === name) ?? null },
    };
    const accounts = await createAccounts(db as unknown as Database);
    const login = (name: string, password: string) => accounts.login(name, password, '192.0.2.1');

    expect(await login('vera', 'vera-own-password-1')).toMatchObject({ ok: true, user: { id: 2 } });
    expect(await login('vera', 'not-her-password')).toEqual({
      ok: false,
      reason: 'invalid',
      cause: 'wrong password',
      userId: 2,
    });
    expect(await login('nobody', 'whatever')).toMatchObject({
      cause: 'unknown user',
      userId: null,
    });
    expect(await login('sso-only', 'whatever')).toMatchObject({
      cause: 'no password set',
      userId: 4,
    });
    expect(await login('dora', 'dora-own-password-1')).toMatchObject({
      cause: 'account disabled',
      userId: 3,
    });
    // A disabled account with the wrong password: the password is what failed first.
    expect(await login('dora', 'nope')).toMatchObject({ cause: 'wrong password' });
  });
});

describe('accounts.login rate limits', () => {
  it('never locks the account itself: the right password from another address still works', async () => {
    const users = [await user(1, 'admin', 'the-admin-password-1')];
    const db = {
      users: { get: async (name: string) => users.find((u) => u.username === name) ?? null },
    };
    const limiter = new LoginLimiter(
      {
        perPair: { freeFailures: 3, initialMs: 60_000, maxMs: 600_000, forgetMs: 3_600_000 },
        perAddress: { capacity: 100, refillMs: 60_000 },
      },
      () => 0,
    );
    const accounts = await createAccounts(db as unknown as Database, { limiter });
    for (let i = 0; i < 10; i++) await accounts.login('admin', `guess-${i}`, '203.0.113.9');
    // The attacker's address waits, even with the right password.
    expect(await accounts.login('admin', 'the-admin-password-1', '203.0.113.9')).toMatchObject({
      ok: false,
      reason: 'rate_limited',
    });
    // The owner, elsewhere, signs in.
    expect(await accounts.login('admin', 'the-admin-password-1', '192.0.2.1')).toMatchObject({
      ok: true,
      user: { id: 1 },
    });
  });
});
