// Websocket operations (LXD's class "websocket": exec, console) by id: what
// `GET /1.0/operations/<id>/websocket?secret=…` connects to. An operation
// registers itself while it runs and is gone from here when it ends.
import type { WebSocket } from 'ws';
import type { Action } from '../server/policy.ts';
import { RestError } from './envelope.ts';

export interface SocketOperation {
  readonly project: string;
  /** What the caller must be allowed in `project` to connect (besides knowing a secret). */
  readonly action: Action;
  /**
   * Reserves the channel a secret opens, before the upgrade is answered:
   * throws RestError 403 for a wrong secret, 400 for a channel already taken.
   */
  claim(secret: string): string;
  /** Takes the upgraded websocket of a claimed channel. */
  attach(channel: string, ws: WebSocket): void;
  /** The server is stopping: end now. */
  abort(): void;
}

export class OperationSockets {
  readonly #byId = new Map<string, SocketOperation>();

  /** Registers a running operation; call the returned function when it ends. */
  register(id: string, operation: SocketOperation): () => void {
    this.#byId.set(id, operation);
    return () => {
      if (this.#byId.get(id) === operation) this.#byId.delete(id);
    };
  }

  get(id: string): SocketOperation {
    const operation = this.#byId.get(id);
    if (!operation) throw RestError.notFound('Operation not found');
    return operation;
  }

  abortAll(): void {
    for (const operation of this.#byId.values()) operation.abort();
  }
}
