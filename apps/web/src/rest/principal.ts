// Who a REST caller acts as, for what outlives one request: the owner of an
// exec or console operation (only it may connect the channels and see their
// secrets), and the principal a revocation closes websockets and streams of.
//
// A user acting through an API token is that token (deleting it ends what
// it opened); a browser session is the user; the local unix socket's caller
// has no account and is its own principal.
import { connectionPrincipal, type ConnectionPrincipal } from '../server/live-connections.ts';
import type { RestUser } from './auth.ts';

export type RestPrincipal =
  { kind: 'unix-socket' } | { kind: 'user'; userId: number; tokenId: number | null };

export function principalOf(user: RestUser): RestPrincipal {
  if (user.via === 'unix-socket') return { kind: 'unix-socket' };
  // request-auth.ts's RequestUser carries the token's id; RestUser does not declare it.
  const tokenId = 'tokenId' in user && typeof user.tokenId === 'number' ? user.tokenId : null;
  return { kind: 'user', userId: user.id, tokenId };
}

/** The same principal: the unix socket, or the same user through the same token (or none). */
export function samePrincipal(a: RestPrincipal, b: RestPrincipal): boolean {
  if (a.kind === 'unix-socket' || b.kind === 'unix-socket') return a.kind === b.kind;
  return a.userId === b.userId && a.tokenId === b.tokenId;
}

/**
 * What LiveConnections tracks for a connection `user` opened (its token or
 * browser session included); null for the unix socket (no account to revoke).
 */
export function revocablePrincipal(user: RestUser): ConnectionPrincipal | null {
  if (user.via === 'unix-socket') return null;
  // request-auth.ts's RequestUser carries tokenId and sessionId; RestUser does not declare them.
  return connectionPrincipal(user);
}
