// Long-lived connections (socket.io terminals and event subscriptions, REST
// exec/console websockets, /1.0/events streams) outlive the request that
// authenticated them. Each registers here with the principal it acts for, so
// that revoking that principal (token deleted, user disabled or deleted,
// password changed or reset, membership changed, signed out) closes it at
// once instead of letting it run on old credentials.

/** Who a connection acts for: the user, and the API token or browser session it came with. */
export interface ConnectionPrincipal {
  userId: number;
  tokenId?: number;
  /** The server-side session (`session` connections): its end (sign-out) ends them too. */
  sessionId?: number;
  via?: 'session' | 'token' | 'unix-socket';
}

/** The principal of a connection opened by `user` (request-auth.ts's RequestUser, a RestUser, ...). */
export function connectionPrincipal(user: {
  id: number;
  tokenId?: number | undefined;
  sessionId?: number | undefined;
  via?: ConnectionPrincipal['via'] | undefined;
}): ConnectionPrincipal {
  return {
    userId: user.id,
    ...(user.tokenId !== undefined ? { tokenId: user.tokenId } : {}),
    ...(user.sessionId !== undefined ? { sessionId: user.sessionId } : {}),
    ...(user.via !== undefined ? { via: user.via } : {}),
  };
}

/** What ended a principal's right to its connections (the reason the client is told). */
export type Revocation =
  | { kind: 'token'; tokenId: number }
  | { kind: 'session'; sessionId: number; reason: string }
  | { kind: 'user'; userId: number; reason: string };

function reaches(revocation: Revocation, principal: ConnectionPrincipal): boolean {
  switch (revocation.kind) {
    case 'token':
      return principal.tokenId === revocation.tokenId;
    case 'session':
      return principal.sessionId === revocation.sessionId;
    case 'user':
      // The unix socket's caller (user 0) is no account: nothing revokes it.
      return principal.via !== 'unix-socket' && principal.userId === revocation.userId;
  }
}

interface Tracked {
  principal: ConnectionPrincipal;
  close: (reason: string) => void;
}

export class LiveConnections {
  readonly #open = new Set<Tracked>();

  /** Registers an open connection; call the returned function when it closes on its own. */
  track(principal: ConnectionPrincipal, close: (reason: string) => void): () => void {
    const entry: Tracked = { principal, close };
    this.#open.add(entry);
    return () => this.#open.delete(entry);
  }

  /** Closes every connection the revocation reaches; returns how many it closed. */
  revoke(revocation: Revocation): number {
    let closed = 0;
    for (const entry of [...this.#open]) {
      if (!reaches(revocation, entry.principal)) continue;
      this.#open.delete(entry);
      closed++;
      const reason = revocation.kind === 'token' ? 'The API token was revoked' : revocation.reason;
      try {
        entry.close(reason);
      } catch (error) {
        console.error('berth: closing a revoked connection', error);
      }
    }
    return closed;
  }

  /** How many connections are open (for tests and diagnostics). */
  get size(): number {
    return this.#open.size;
  }
}
