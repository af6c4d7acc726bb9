// A QMP client: QEMU's JSON machine protocol on the instance's unix socket.
// QEMU's monitor socket takes one client at a time, so the driver keeps one
// connection per running VM and sends every command through it; its closing
// is how the driver learns that QEMU exited.
import net from 'node:net';
import { EngineError } from '../../errors.ts';

export type QmpMessage =
  | { QMP: unknown }
  | { return: unknown; id?: unknown }
  | { error: { class: string; desc: string }; id?: unknown }
  | { event: string; data?: unknown; timestamp?: unknown };

/** Splits QMP's byte stream into messages: one JSON object per line (CRLF-terminated). */
export class QmpFramer {
  #buffer = '';

  push(chunk: string): QmpMessage[] {
    this.#buffer += chunk;
    const messages: QmpMessage[] = [];
    let at: number;
    while ((at = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, at).trim();
      this.#buffer = this.#buffer.slice(at + 1);
      if (line === '') continue;
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null) messages.push(parsed as QmpMessage);
    }
    return messages;
  }
}

/** One command on the wire. */
export function encodeQmpCommand(
  execute: string,
  id: number,
  args?: Record<string, unknown>,
): string {
  return `${JSON.stringify(args === undefined ? { execute, id } : { execute, arguments: args, id })}\n`;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class QmpClient {
  readonly #socket: net.Socket;
  readonly #framer = new QmpFramer();
  readonly #pending = new Map<number, Pending>();
  readonly #closedHandlers: (() => void)[] = [];
  #nextId = 1;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(socketPath: string, timeoutMs = 5_000): Promise<QmpClient> {
    const socket = net.createConnection(socketPath);
    const client = new QmpClient(socket);
    const greeting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new EngineError('INTERNAL', `QMP at ${socketPath} sent no greeting in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      let greeted = false;
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        let messages: QmpMessage[];
        try {
          messages = client.#framer.push(chunk);
        } catch (error) {
          socket.destroy(error as Error);
          return;
        }
        for (const message of messages) {
          if (!greeted && 'QMP' in message) {
            greeted = true;
            clearTimeout(timer);
            resolve();
          } else client.#dispatch(message);
        }
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(new EngineError('INTERNAL', `QMP at ${socketPath}: ${error.message}`));
      });
      socket.on('close', () => {
        clearTimeout(timer);
        client.#onClose();
        if (!greeted)
          reject(new EngineError('INTERNAL', `QMP at ${socketPath} closed before its greeting`));
      });
    });
    await greeting;
    await client.execute('qmp_capabilities');
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(handler: () => void): void {
    if (this.#closed) handler();
    else this.#closedHandlers.push(handler);
  }

  execute(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new EngineError('INTERNAL', `QMP connection closed (${command})`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new EngineError('INTERNAL', `QMP ${command} got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.write(encodeQmpCommand(command, id, args));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #dispatch(message: QmpMessage): void {
    if (!('id' in message) || typeof message.id !== 'number') return; // events
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if ('error' in message) {
      pending.reject(
        new EngineError('INTERNAL', `QMP error ${message.error.class}: ${message.error.desc}`),
      );
    } else if ('return' in message) pending.resolve(message.return);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) {
      pending.reject(new EngineError('INTERNAL', 'QMP connection closed (QEMU exited?)'));
    }
    this.#pending.clear();
    for (const handler of this.#closedHandlers.splice(0)) handler();
  }
}
