// A QGA client: qemu-guest-agent's JSON protocol on the VM's virtio-serial
// chardev (a unix socket QEMU listens on; the guest end is the port
// org.qemu.guest_agent.0). The channel has no connect/disconnect the guest
// sees, so a connection starts with guest-sync-delimited: a 0xFF byte (which
// resets the agent's parser), then a sync with a fresh id; the agent answers
// 0xFF and {"return": id}, and everything before that (answers meant for an
// earlier client, the parse error the 0xFF causes) is dropped. After that,
// one request at a time: the agent answers in order, one JSON object a line.
// A request that gets no answer in time closes the connection (a late answer
// would otherwise be taken for the next request's); the next use reconnects
// and syncs again. No answer to the sync means no agent runs in the guest:
// LXD's "VM agent isn't currently running". A sync that times out keeps the
// connection (its late answer has an old id, and is dropped while the next
// sync waits for its own; a sync is sent once, since sending it again would
// bring a second answer that the next request takes for its own, and every
// answer after it would belong to the request before): a guest still
// booting is asked again on the same one. QEMU reads nothing from the socket
// while the guest's port is closed, so a client that hung up then is never
// noticed; the connection QEMU holds for it takes the only slot, and every
// connection after it waits for ever. One connection per VM avoids that.
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { EngineError } from '../../errors.ts';

export const AGENT_NOT_RUNNING = "VM agent isn't currently running";

const DELIMITER = 0xff;

/** An error the agent answered with (`{"error": {"class", "desc"}}`). */
export class QgaError extends Error {
  override readonly name = 'QgaError';
  readonly errorClass: string;

  constructor(command: string, errorClass: string, desc: string) {
    super(`${command}: ${desc}`);
    this.errorClass = errorClass;
  }
}

export function agentNotRunning(cause?: unknown): EngineError {
  // CONFLICT: the VM runs, but not in a state that can do this (LXD answers it as an error too).
  return new EngineError('CONFLICT', AGENT_NOT_RUNNING, cause === undefined ? {} : { cause });
}

export type QgaResponse = { return: unknown } | { error: { class: string; desc: string } };

/**
 * Splits the agent's byte stream: until synced, everything up to a 0xFF is
 * dropped; then one JSON object per line. Lines that are not JSON objects
 * (noise from a half-written earlier answer) are dropped too.
 */
export class QgaFramer {
  #buffer = Buffer.alloc(0);
  #synced = false;

  /** Drop what is buffered and wait for the next 0xFF again (a new sync was sent). */
  resync(): void {
    this.#buffer = Buffer.alloc(0);
    this.#synced = false;
  }

  push(chunk: Buffer): QgaResponse[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const out: QgaResponse[] = [];
    for (;;) {
      if (!this.#synced) {
        const at = this.#buffer.indexOf(DELIMITER);
        if (at < 0) {
          this.#buffer = Buffer.alloc(0);
          return out;
        }
        this.#buffer = this.#buffer.subarray(at + 1);
        this.#synced = true;
      }
      const end = this.#buffer.indexOf(0x0a);
      if (end < 0) return out;
      // A 0xFF inside a line is the agent re-syncing: keep what follows it.
      let line = this.#buffer.subarray(0, end);
      const ff = line.lastIndexOf(DELIMITER);
      if (ff >= 0) line = line.subarray(ff + 1);
      this.#buffer = this.#buffer.subarray(end + 1);
      const text = line.toString('utf8').trim();
      if (text === '') continue;
      try {
        const parsed: unknown = JSON.parse(text);
        if (
          typeof parsed === 'object' &&
          parsed !== null &&
          ('return' in parsed || 'error' in parsed)
        )
          out.push(parsed as QgaResponse);
      } catch {
        // not an answer
      }
    }
  }
}

export function encodeQgaCommand(execute: string, args?: Record<string, unknown>): string {
  return `${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`;
}

interface Waiting {
  command: string;
  /** Whether an answer is this request's; others are dropped (default: every answer is). */
  accept?: (message: QgaResponse) => boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export interface QgaConnectOptions {
  /** How long the agent may take to answer the sync (it may not run at all). */
  syncTimeoutMs?: number;
}

export class QgaClient {
  readonly #socket: net.Socket;
  readonly #framer = new QgaFramer();
  readonly #closedHandlers: (() => void)[] = [];
  /** The one request on the wire, if any. */
  #waiting: Waiting | undefined;
  /** Requests run one after the other. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const message of this.#framer.push(chunk)) this.#answer(message);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
  }

  /** Connects and syncs; EngineError CONFLICT "VM agent isn't currently running" when the agent does not answer. */
  static async connect(socketPath: string, options: QgaConnectOptions = {}): Promise<QgaClient> {
    const client = await QgaClient.open(socketPath);
    try {
      await client.sync(options.syncTimeoutMs ?? 5_000);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Connects without syncing: the caller syncs (again, on a timeout) before any request. */
  static async open(socketPath: string): Promise<QgaClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', (error) => reject(agentNotRunning(error)));
    });
    return new QgaClient(socket);
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(handler: () => void): void {
    if (this.#closed) handler();
    else this.#closedHandlers.push(handler);
  }

  /**
   * guest-sync-delimited with a fresh id, sent once; answers meant for anyone
   * else (an earlier sync on this connection that timed out, answered late)
   * are dropped and the next one is waited for. Sending the sync again would
   * bring a second answer with our id, which the next request would take for
   * its own, and every answer after it would belong to the request before.
   */
  async sync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    await this.#enqueue(async () => {
      this.#framer.resync();
      this.#socket.write(Buffer.from([DELIMITER]));
      // A late answer carries this id, which no later sync waits for: the connection stays.
      await this.#request('guest-sync-delimited', { id }, timeoutMs, () => agentNotRunning(), {
        closeOnTimeout: false,
        accept: (message) => 'return' in message && message.return === id,
      });
    });
  }

  /** One command and its `return`; a QgaError for the agent's error; no answer in time: not running. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    timeoutMs = 10_000,
  ): Promise<T> {
    return this.#enqueue(() =>
      this.#request(command, args, timeoutMs, () => agentNotRunning(), { closeOnTimeout: true }),
    ) as Promise<T>;
  }

  /**
   * A command the agent does not answer when it works (guest-shutdown): sent,
   * then an error answer is waited for `graceMs`. Resolves when none came (or
   * the connection closed, as it does when the guest goes down).
   */
  sendUnanswered(command: string, args?: Record<string, unknown>, graceMs = 1_000): Promise<void> {
    return this.#enqueue(async () => {
      try {
        await this.#request(command, args, graceMs, () => new QuietError(), {
          closeOnTimeout: true,
        });
      } catch (error) {
        if (error instanceof QuietError) return;
        if (error instanceof QgaError) throw error;
        // closed: the guest is going down
      }
    }) as Promise<void>;
  }

  close(): void {
    this.#socket.destroy();
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  #request(
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
    onTimeout: () => Error,
    options: { closeOnTimeout: boolean; accept?: Waiting['accept'] },
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(agentNotRunning());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        // A late answer must not be taken for the next request's.
        if (options.closeOnTimeout) this.close();
        reject(onTimeout());
      }, timeoutMs);
      this.#waiting = {
        command,
        ...(options.accept ? { accept: options.accept } : {}),
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#socket.write(encodeQgaCommand(command, args));
    });
  }

  #answer(message: QgaResponse): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    if (waiting.accept && !waiting.accept(message)) return;
    this.#waiting = undefined;
    if ('error' in message)
      waiting.reject(new QgaError(waiting.command, message.error.class, message.error.desc));
    else waiting.resolve(message.return);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(agentNotRunning());
    for (const handler of this.#closedHandlers.splice(0)) handler();
  }
}

/** The timeout of a request that expects no answer. */
class QuietError extends Error {}
