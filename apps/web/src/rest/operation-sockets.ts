// Websocket operations (LXD's class "websocket": exec, console) by id: what
// `GET /1.0/operations/<id>/websocket?secret=…` connects to. An operation
// registers itself while it runs and is gone from here when it ends.
//
// Each is bound to the principal that created it (principal.ts). LXD lets
// anyone who can read the project see the channels' secrets and connect
// them, so a viewer could take another user's root shell over
// (CVE-2025-54289). Here the secrets and the command's environment live in
// memory only (never in the engine's stored operation, never in events),
// are shown to the owner alone, and only the owner may connect a channel:
// anyone else gets the answer a wrong secret gets, and so can neither use
// the secrets nor lock the owner out by taking a channel first.
import type { Operation } from '@berth/engine';
import type { WebSocket } from 'ws';
import { authorize, can, type Action } from '../server/policy.ts';
import type { RestUser } from './auth.ts';
import { RestError } from './envelope.ts';
import { principalOf, samePrincipal, type RestPrincipal } from './principal.ts';

export interface SocketOperation {
  readonly project: string;
  /** What the caller must be allowed in `project` to connect (besides knowing a secret). */
  readonly action: Action;
  /** What only the owner sees in the operation's metadata: `fds` (and an exec's `environment`). */
  secretMetadata(): Record<string, unknown>;
  /**
   * Reserves the channel a secret opens, before the upgrade is answered:
   * throws invalidSecret() for a wrong secret, 400 for a channel already taken.
   */
  claim(secret: string): string;
  /** Takes the upgraded websocket of a claimed channel. */
  attach(channel: string, ws: WebSocket): void;
  /** The server is stopping: end now. */
  abort(): void;
}

/** The answer to a wrong secret, and to anyone but the owner whatever secret it presents. */
export function invalidSecret(): RestError {
  return new RestError(403, 'Invalid websocket secret');
}

/** An unknown id and an operation of a project the caller may not see answer alike. */
function operationNotFound(): RestError {
  return RestError.notFound('Operation not found');
}

/** An operation's metadata with the owner's secrets added. */
export function withSecrets(operation: Operation, secrets: Record<string, unknown>): Operation {
  return { ...operation, metadata: { ...(operation.metadata ?? {}), ...secrets } };
}

interface Registered {
  operation: SocketOperation;
  owner: RestPrincipal;
}

export class OperationSockets {
  readonly #byId = new Map<string, Registered>();

  /** Registers a running operation of `owner`; call the returned function when it ends. */
  register(id: string, operation: SocketOperation, owner: RestPrincipal): () => void {
    const entry = { operation, owner };
    this.#byId.set(id, entry);
    return () => {
      if (this.#byId.get(id) === entry) this.#byId.delete(id);
    };
  }

  /**
   * Claims the channel `secret` opens for `user`: 404 as for an unknown id
   * when the operation is not running or its project is hidden from the
   * user, the policy's 403 when the role is too low, invalidSecret() for a
   * wrong secret or a caller other than the owner.
   */
  claim(
    id: string,
    user: RestUser,
    secret: string,
  ): { operation: SocketOperation; channel: string } {
    const entry = this.#byId.get(id);
    if (!entry || !can(user, 'read', entry.operation.project)) throw operationNotFound();
    authorize(user, entry.operation.action, entry.operation.project);
    if (!samePrincipal(entry.owner, principalOf(user))) throw invalidSecret();
    return { operation: entry.operation, channel: entry.operation.claim(secret) };
  }

  /** The operation as `user` may see it: with its secrets for the owner while it runs. */
  shownTo(operation: Operation, user: RestUser): Operation {
    const entry = this.#byId.get(operation.id);
    if (!entry || !samePrincipal(entry.owner, principalOf(user))) return operation;
    return withSecrets(operation, entry.operation.secretMetadata());
  }

  abortAll(): void {
    for (const { operation } of this.#byId.values()) operation.abort();
  }
}
