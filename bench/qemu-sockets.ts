// QEMU's two JSON sockets, spoken by hand for the raw-QEMU floor: QMP (the
// monitor: greeting, qmp_capabilities, then commands, with events in
// between) and QGA (qemu-guest-agent over its virtio-serial chardev: a
// 0xFF byte resets the agent's parser, guest-sync-delimited answers with a
// 0xFF and its id, then one JSON answer a line). Deliberately the least a
// client can do, with no retries or reconnects: it is the floor.
import net from 'node:net';

type Message = Record<string, unknown>;

/** A unix socket carrying one JSON object a line (0xFF bytes dropped: QGA's delimiters). */
class JsonLines {
  readonly #socket: net.Socket;
  #buffer = Buffer.alloc(0);
  readonly #queue: Message[] = [];
  #waiter: ((message: Message | null) => void) | null = null;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
      this.#waiter?.(null);
      this.#waiter = null;
    });
  }

  static connect(socketPath: string): Promise<JsonLines> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      socket.once('connect', () => resolve(new JsonLines(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (let end = this.#buffer.indexOf(0x0a); end >= 0; end = this.#buffer.indexOf(0x0a)) {
      const line = Buffer.from(this.#buffer.subarray(0, end).filter((b) => b !== 0xff));
      this.#buffer = this.#buffer.subarray(end + 1);
      let message: unknown;
      try {
        message = JSON.parse(line.toString('utf8'));
      } catch {
        continue; // the parse error a 0xFF reset leaves, or noise
      }
      if (typeof message !== 'object' || message === null) continue;
      if (this.#waiter) {
        const waiter = this.#waiter;
        this.#waiter = null;
        waiter(message as Message);
      } else this.#queue.push(message as Message);
    }
  }

  send(data: Message | Buffer): void {
    this.#socket.write(Buffer.isBuffer(data) ? data : `${JSON.stringify(data)}\n`);
  }

  /** The next message; null when none came within `timeoutMs` (or the socket closed). */
  next(timeoutMs: number): Promise<Message | null> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        resolve(null);
      }, timeoutMs);
      this.#waiter = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

function answerOf(command: string, message: Message): unknown {
  if ('error' in message) {
    const error = message['error'] as { desc?: string };
    throw new Error(`${command}: ${error.desc ?? JSON.stringify(error)}`);
  }
  return message['return'];
}

/** QMP: capabilities negotiated at connect, then one command at a time. */
export class RawQmp {
  private constructor(readonly lines: JsonLines) {}

  static async connect(socketPath: string, timeoutMs = 10_000): Promise<RawQmp> {
    const lines = await JsonLines.connect(socketPath);
    const qmp = new RawQmp(lines);
    const greeting = await lines.next(timeoutMs);
    if (!greeting || !('QMP' in greeting)) {
      lines.close();
      throw new Error(`${socketPath}: no QMP greeting`);
    }
    await qmp.execute('qmp_capabilities', undefined, timeoutMs);
    return qmp;
  }

  async execute(command: string, args?: Message, timeoutMs = 10_000): Promise<unknown> {
    this.lines.send(args ? { execute: command, arguments: args } : { execute: command });
    for (;;) {
      const message = await this.lines.next(timeoutMs);
      if (!message) throw new Error(`QMP ${command}: no answer in ${timeoutMs} ms`);
      if ('event' in message) continue;
      return answerOf(command, message);
    }
  }

  close(): void {
    this.lines.close();
  }
}

interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
}

/** QGA on one connection, kept for the VM's life as Berth keeps its own. */
export class RawQga {
  #nextId = 1 + Math.floor(Math.random() * 1_000_000);

  private constructor(readonly lines: JsonLines) {}

  static async connect(socketPath: string): Promise<RawQga> {
    return new RawQga(await JsonLines.connect(socketPath));
  }

  get closed(): boolean {
    return this.lines.closed;
  }

  /**
   * Resolves once the agent answers a guest-sync-delimited. What is written
   * before the guest opens its port waits in the socket (QEMU reads nothing
   * until then), so the answer comes as soon as the agent reads; a fresh
   * sync goes out every `resendMs` in case the agent dropped what it found
   * waiting. Then one more sync, whose answer comes after every earlier
   * one's, so none is taken for a later command's.
   */
  async waitReady(timeoutMs: number, resendMs = 1_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const sent = new Set<number>();
    const sync = () => {
      const id = this.#nextId++;
      sent.add(id);
      this.lines.send(Buffer.from([0xff]));
      this.lines.send({ execute: 'guest-sync-delimited', arguments: { id } });
      return id;
    };
    let answered = false;
    while (!answered) {
      if (Date.now() >= deadline)
        throw new Error(`the guest agent did not answer in ${timeoutMs} ms`);
      sync();
      const resendAt = Date.now() + resendMs;
      for (;;) {
        const left = Math.min(resendAt, deadline) - Date.now();
        if (left <= 0) break;
        const message = await this.lines.next(left);
        if (this.lines.closed) throw new Error('the agent socket closed');
        if (message && sent.has(message['return'] as number)) {
          answered = true;
          break;
        }
      }
    }
    const last = sync();
    for (;;) {
      const message = await this.lines.next(Math.max(1, deadline - Date.now()));
      if (!message) throw new Error(`the guest agent stopped answering`);
      if (message['return'] === last) return;
    }
  }

  async execute(command: string, args?: Message, timeoutMs = 10_000): Promise<unknown> {
    this.lines.send(args ? { execute: command, arguments: args } : { execute: command });
    const message = await this.lines.next(timeoutMs);
    if (!message) throw new Error(`QGA ${command}: no answer in ${timeoutMs} ms`);
    return answerOf(command, message);
  }

  /** guest-exec of `argv` with its output captured, then guest-exec-status back to back until it exited; its exit code. */
  async run(argv: [string, ...string[]]): Promise<number> {
    const { pid } = (await this.execute('guest-exec', {
      path: argv[0],
      arg: argv.slice(1),
      'capture-output': true,
    })) as { pid: number };
    for (;;) {
      const status = (await this.execute('guest-exec-status', { pid })) as ExecStatus;
      if (status.exited) return status.signal ? 128 + status.signal : (status.exitcode ?? -1);
    }
  }

  /** guest-shutdown: the agent answers nothing when it works (the guest goes down). */
  shutdown(): void {
    this.lines.send({ execute: 'guest-shutdown', arguments: { mode: 'powerdown' } });
  }

  close(): void {
    this.lines.close();
  }
}
