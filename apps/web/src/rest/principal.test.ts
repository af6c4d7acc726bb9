import { describe, expect, it } from 'vitest';
import type { RestUser } from './auth.ts';
import { principalOf, revocablePrincipal, samePrincipal } from './principal.ts';

const base = { mustChangePassword: false, isAdmin: false, roles: new Map() };
const session = (id: number): RestUser => ({ ...base, id, username: `u${id}`, via: 'session' });
const token = (id: number, tokenId: number): RestUser =>
  ({ ...base, id, username: `u${id}`, via: 'token', tokenId }) as RestUser;
const unix: RestUser = {
  ...base,
  id: 0,
  username: 'unix-socket',
  isAdmin: true,
  via: 'unix-socket',
};

describe('principalOf / samePrincipal', () => {
  it('binds a token-made operation to that token, not to the user’s other credentials', () => {
    const made = principalOf(token(7, 70));
    expect(samePrincipal(made, principalOf(token(7, 70)))).toBe(true);
    expect(samePrincipal(made, principalOf(token(7, 71)))).toBe(false);
    expect(samePrincipal(made, principalOf(session(7)))).toBe(false);
    expect(samePrincipal(made, principalOf(token(8, 70)))).toBe(false);
  });

  it('binds a session-made operation to the user, whatever the session', () => {
    expect(samePrincipal(principalOf(session(7)), principalOf(session(7)))).toBe(true);
    expect(samePrincipal(principalOf(session(7)), principalOf(session(8)))).toBe(false);
  });

  it('makes the unix socket its own principal, never a user (not even user 0)', () => {
    expect(samePrincipal(principalOf(unix), principalOf(unix))).toBe(true);
    expect(samePrincipal(principalOf(unix), principalOf(session(0)))).toBe(false);
    expect(samePrincipal(principalOf(session(0)), principalOf(unix))).toBe(false);
  });
});

describe('revocablePrincipal', () => {
  it('tracks users with their token or session for revocation, never the unix socket', () => {
    expect(revocablePrincipal(token(7, 70))).toEqual({ userId: 7, tokenId: 70, via: 'token' });
    const browser = { ...session(7), sessionId: 5 } as RestUser;
    expect(revocablePrincipal(browser)).toEqual({ userId: 7, sessionId: 5, via: 'session' });
    expect(revocablePrincipal(unix)).toBeNull();
  });
});
