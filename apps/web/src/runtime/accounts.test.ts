// Password sign-in: the person signing in is told only "invalid"; the reason
// (kept for the audit log) tells an unknown user, a wrong password, an
// account without a password and a disabled one apart.
import { describe, expect, it } from 'vitest';
import { hashPassword, type Database, type UserRecord } from '@berth/db';
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
