import { describe, expect, it } from 'vitest';
import { sessionUserFor, signInMethodOf, ssoUsername } from './sign-in-method.ts';

const pending = { id: 7, username: 'alice', isAdmin: false, mustChangePassword: true };

describe('sign-in method', () => {
  it('is single sign-on only when the token says so', () => {
    expect(signInMethodOf({ method: 'oidc' })).toBe('oidc');
    expect(signInMethodOf({ method: 'password' })).toBe('password');
    expect(signInMethodOf({})).toBe('password');
    expect(signInMethodOf(null)).toBe('password');
  });

  it('holds up password sessions, not single sign-on ones, for a pending password change', () => {
    expect(sessionUserFor(pending, 'password').mustChangePassword).toBe(true);
    expect(sessionUserFor(pending, 'oidc')).toEqual({ ...pending, mustChangePassword: false });
    // The account itself is not changed.
    expect(pending.mustChangePassword).toBe(true);
  });

  it('matches the preferred_username claim only, exactly', () => {
    expect(ssoUsername({ preferred_username: 'alice', email: 'bob@example.test' })).toBe('alice');
    expect(ssoUsername({ email: 'alice@example.test', name: 'alice' })).toBeNull();
    expect(ssoUsername({ preferred_username: '' })).toBeNull();
    expect(ssoUsername({ preferred_username: 42 })).toBeNull();
    expect(ssoUsername(undefined)).toBeNull();
  });
});
