// Long-lived connections (socket.io terminals and event subscriptions, REST
// exec/console websockets, /1.0/events streams) outlive the request that
// authenticated them. Each registers here with the principal it acts for, so
// that revoking that principal (token deleted, user disabled or deleted,
// password changed or reset, membership changed, signed out) closes it at
// once instead of letting it run on old credentials.

/** Who a connection acts for: the user, and the API token when it came with one. */
export interface ConnectionPrincipal {
  userId: number;
  tokenId?: number;
  /** `session` connections are also ended by the session's own end (sign-out, password change). */
  via?: 'session' | 'token' | 'unix-socket';
}

/** What ended a principal's right to its connections (the reason the client is told). */
export type Revocation =
  { kind: 'token'; tokenId: number } | { kind: 'user'; userId: number; reason: string };

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
      const reached =
        revocation.kind === 'token'
          ? entry.principal.tokenId === revocation.tokenId
          : entry.principal.userId === revocation.userId;
      if (!reached) continue;
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
