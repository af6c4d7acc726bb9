// Revocation reaches exactly the connections of the token, session or user revoked.
import { describe, expect, it } from 'vitest';
import { connectionPrincipal, LiveConnections } from './live-connections.ts';

function open(connections: LiveConnections, user: Parameters<typeof connectionPrincipal>[0]) {
  const closed: string[] = [];
  const untrack = connections.track(connectionPrincipal(user), (reason) => closed.push(reason));
  return { closed, untrack };
}

describe('LiveConnections', () => {
  it('closes a deleted token’s connections, and no one else’s', () => {
    const connections = new LiveConnections();
    const token = open(connections, { id: 2, tokenId: 9, via: 'token' });
    const otherToken = open(connections, { id: 2, tokenId: 10, via: 'token' });
    const session = open(connections, { id: 2, sessionId: 4, via: 'session' });
    expect(connections.revoke({ kind: 'token', tokenId: 9 })).toBe(1);
    expect(token.closed).toEqual(['The API token was revoked']);
    expect(otherToken.closed).toEqual([]);
    expect(session.closed).toEqual([]);
  });

  it('closes a signed-out session’s connections, not the user’s other sessions', () => {
    const connections = new LiveConnections();
    const signedOut = open(connections, { id: 2, sessionId: 4, via: 'session' });
    const other = open(connections, { id: 2, sessionId: 5, via: 'session' });
    connections.revoke({ kind: 'session', sessionId: 4, reason: 'Signed out' });
    expect(signedOut.closed).toEqual(['Signed out']);
    expect(other.closed).toEqual([]);
  });

  it('closes every connection of a revoked user, but never the unix socket’s', () => {
    const connections = new LiveConnections();
    const token = open(connections, { id: 2, tokenId: 9, via: 'token' });
    const session = open(connections, { id: 2, sessionId: 4, via: 'session' });
    const someoneElse = open(connections, { id: 3, sessionId: 6, via: 'session' });
    const unix = open(connections, { id: 0, via: 'unix-socket' });
    expect(
      connections.revoke({ kind: 'user', userId: 2, reason: 'The account was disabled' }),
    ).toBe(2);
    expect(token.closed).toEqual(['The account was disabled']);
    expect(session.closed).toEqual(['The account was disabled']);
    expect(someoneElse.closed).toEqual([]);
    expect(connections.revoke({ kind: 'user', userId: 0, reason: 'x' })).toBe(0);
    expect(unix.closed).toEqual([]);
  });

  it('forgets connections that closed on their own, and closes each revoked one once', () => {
    const connections = new LiveConnections();
    const gone = open(connections, { id: 2, tokenId: 9, via: 'token' });
    gone.untrack();
    expect(connections.revoke({ kind: 'token', tokenId: 9 })).toBe(0);
    const live = open(connections, { id: 2, tokenId: 9, via: 'token' });
    connections.revoke({ kind: 'token', tokenId: 9 });
    connections.revoke({ kind: 'user', userId: 2, reason: 'again' });
    expect(live.closed).toEqual(['The API token was revoked']);
    expect(connections.size).toBe(0);
  });
});
