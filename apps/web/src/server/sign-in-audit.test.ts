import { describe, expect, it } from 'vitest';
import { signInEntry, signOutEntry } from './sign-in-audit.ts';

describe('sign-in audit entries', () => {
  it('records a password sign-in as a server-wide action on the user, with the address', () => {
    expect(
      signInEntry({ username: 'vera', userId: 2, method: 'password', address: '192.0.2.1' }),
    ).toEqual({
      userId: 2,
      actor: 'vera',
      action: 'auth.signIn',
      project: null,
      objectType: 'user',
      objectName: 'vera',
      result: 'success',
      detail: 'with a password from 192.0.2.1',
    });
  });

  it('records refusals with their reason, for names that are no account too', () => {
    expect(
      signInEntry({
        username: 'nobody',
        userId: null,
        method: 'password',
        address: '192.0.2.1',
        refused: 'unknown user',
      }),
    ).toMatchObject({ userId: null, actor: 'nobody', result: 'failure: unknown user' });
    expect(
      signInEntry({
        username: null,
        userId: null,
        method: 'oidc',
        provider: 'Dex',
        subject: 'CiQwOGE4',
        address: null,
        refused: 'the provider sent no preferred_username',
      }),
    ).toMatchObject({
      actor: '?',
      objectName: null,
      result: 'failure: the provider sent no preferred_username',
      detail: 'with single sign-on (Dex, subject "CiQwOGE4")',
    });
  });

  it('keeps a typed user name short', () => {
    const entry = signInEntry({
      username: 'x'.repeat(500),
      userId: null,
      method: 'password',
      address: null,
      refused: 'username: Too big',
    });
    expect(entry.actor).toHaveLength(64);
    expect(entry.objectName).toHaveLength(64);
  });

  it('records a sign-out with how the session was signed in', () => {
    expect(
      signOutEntry({
        username: 'vera',
        userId: 2,
        method: 'oidc',
        provider: 'Dex',
        address: '::1',
      }),
    ).toMatchObject({
      actor: 'vera',
      action: 'auth.signOut',
      objectName: 'vera',
      result: 'success',
      detail: 'signed in with single sign-on (Dex) from ::1',
    });
  });
});
