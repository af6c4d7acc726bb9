// `POST /1.0/instances/<name>/exec` with `wait-for-websocket: true`, as LXD's
// execWs (lxd/instance_exec.go): the operation offers one secret per channel
// (ws-protocol.ts), waits up to 5 s for the client to connect the required
// ones, then runs the command and mirrors its streams:
//
//   non-interactive   0 → stdin, stdout → 1, stderr → 2 (separate pipes)
//   interactive       0 ↔ one pty (stdin in, stdout and stderr out)
//   control           window-resize (interactive), signal
//
// The command's end is told as LXD tells it: each output channel gets an
// empty text message once its stream is drained, then the operation ends
// with the exit status in its metadata (`return`). A client that drops the
// control channel (or, without one, its stdout channel) while the command
// runs has gone: the command is killed, as LXD kills it.
//
// Unlike LXD, the secrets and the environment are not in the operation's
// public metadata (operation-sockets.ts says why): `metadata()` is what
// everyone who can read the project sees, `secretMetadata()` the owner only.
import type { ExecProcess } from '@berth/engine';
import { WebSocket, type RawData } from 'ws';
import { RestError } from './envelope.ts';
import { invalidSecret, type SocketOperation } from './operation-sockets.ts';
import {
  channelOfSecret,
  channelSecrets,
  execChannels,
  parseControlMessage,
  requiredChannels,
  type ExecChannel,
} from './ws-protocol.ts';

/** LXD gives a client 5 s to connect its websockets. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** LXD's keepalive on exec websockets. */
const PING_INTERVAL_MS = 10_000;
/** Output waits (the command blocks on its pipe) while this much is unsent to a slow client. */
const HIGH_WATER = 1024 * 1024;

export interface ExecSessionRequest {
  command: string[];
  environment: Record<string, string>;
  interactive: boolean;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class ExecSession implements SocketOperation {
  readonly action = 'exec' as const;
  readonly #secrets: Record<ExecChannel, string>;
  readonly #required: ExecChannel[];
  readonly #claimed = new Set<ExecChannel>();
  readonly #conns = new Map<ExecChannel, WebSocket>();
  readonly #pings = new Set<NodeJS.Timeout>();
  /** stdin received before the command started. */
  readonly #pendingInput: (Buffer | 'eof')[] = [];
  #proc: ExecProcess | null = null;
  #exited = false;
  #aborted = false;
  #connected: () => void = () => {};
  #cancelled: (error: Error) => void = () => {};
  readonly #allConnected: Promise<void>;

  constructor(
    readonly project: string,
    private readonly request: ExecSessionRequest,
  ) {
    this.#secrets = channelSecrets(execChannels(request.interactive));
    this.#required = requiredChannels(request.interactive);
    this.#allConnected = new Promise<void>((resolve, reject) => {
      this.#connected = resolve;
      this.#cancelled = reject;
    });
    this.#allConnected.catch(() => {});
  }

  /** LXD's execWs.Metadata() without what only the owner may see: shown to every reader. */
  metadata(): Record<string, unknown> {
    return { command: this.request.command, interactive: this.request.interactive };
  }

  /** The rest of LXD's execWs.Metadata(): the channels' secrets and the command's environment. */
  secretMetadata(): Record<string, unknown> {
    return { fds: { ...this.#secrets }, environment: { ...this.request.environment } };
  }

  claim(secret: string): string {
    const channel = channelOfSecret(this.#secrets, secret);
    // A wrong secret for an operation that exists is 403, as LXD answers it.
    if (!channel) throw invalidSecret();
    if (this.#claimed.has(channel))
      throw RestError.badRequest('Websocket number already connected');
    if (this.#aborted || this.#exited) throw RestError.badRequest('The command has ended');
    this.#claimed.add(channel);
    return channel;
  }

  attach(channel: string, ws: WebSocket): void {
    const ch = channel as ExecChannel;
    this.#conns.set(ch, ws);
    ws.on('error', () => {});
    const ping = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.ping('keepalive');
    }, PING_INTERVAL_MS);
    this.#pings.add(ping);
    ws.once('close', () => {
      clearInterval(ping);
      this.#pings.delete(ping);
    });
    if (ch === '0') this.#wireInput(ws);
    if (ch === 'control') this.#wireControl(ws);
    if (ch === '1' && !this.request.interactive) this.#wireStdoutClose(ws);
    if (this.#required.every((c) => this.#conns.has(c))) this.#connected();
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#cancelled(new Error('The server is stopping'));
    this.#kill();
    this.#closeAll();
  }

  /**
   * The operation's work: waits for the websockets, starts the command with
   * `start`, mirrors it, and returns the final metadata (with `return`).
   */
  async run(start: () => Promise<ExecProcess>): Promise<Record<string, unknown>> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#allConnected,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('Timed out waiting for websockets to connect')),
            CONNECT_TIMEOUT_MS,
          );
        }),
      ]);
      clearTimeout(timer);
      const proc = await start();
      this.#proc = proc;
      if (this.#aborted) this.#kill();
      for (const item of this.#pendingInput.splice(0)) this.#input(item);
      const outputs = this.request.interactive
        ? [this.#pump(proc.stdout, '0')]
        : [this.#pump(proc.stdout, '1'), this.#pump(proc.stderr, '2')];
      const code = await proc.wait();
      this.#exited = true;
      await Promise.all(outputs);
      return { ...this.metadata(), return: code };
    } finally {
      clearTimeout(timer);
      this.#exited = true;
      this.#closeAll();
    }
  }

  #input(item: Buffer | 'eof'): void {
    const proc = this.#proc;
    if (!proc) {
      this.#pendingInput.push(item);
      return;
    }
    if (this.#exited) return;
    // The end of input closes stdin; on a pty that hangs the command's
    // terminal up, as LXD closes its pty then (DefaultWriter in LXD 5.0.2).
    if (item === 'eof') proc.stdin.end();
    else proc.stdin.write(item);
  }

  #wireInput(ws: WebSocket): void {
    let ended = false;
    ws.on('message', (data, isBinary) => {
      // Nothing is taken from a websocket being closed (a revoked credential's).
      if (ended || ws.readyState !== WebSocket.OPEN) return;
      // An empty text message is the end of the stream (LXD's barrier).
      if (!isBinary) {
        ended = true;
        this.#input('eof');
        return;
      }
      this.#input(toBuffer(data));
    });
    ws.once('close', () => {
      if (this.#exited) return;
      if (this.request.interactive) {
        // The terminal went away: hang up, as a closed pty does.
        this.#proc?.signal('SIGHUP');
      } else if (!ended) {
        ended = true;
        this.#input('eof');
      }
    });
  }

  #wireControl(ws: WebSocket): void {
    ws.on('message', (data, isBinary) => {
      if (isBinary || ws.readyState !== WebSocket.OPEN) return;
      const msg = parseControlMessage(toBuffer(data).toString('utf8'));
      const proc = this.#proc;
      if (!msg || !proc || this.#exited) return;
      if (msg.command === 'window-resize') {
        // Only a pty has a size (LXD ignores it otherwise too).
        if (this.request.interactive) proc.resize(msg.cols, msg.rows);
      } else {
        proc.signal(msg.signal);
      }
    });
    ws.once('close', () => {
      if (!this.#exited) this.#kill();
    });
  }

  /** Without a control channel, a client that goes shows on stdout (LXD's rule). */
  #wireStdoutClose(ws: WebSocket): void {
    ws.once('close', () => {
      if (!this.#exited && !this.#conns.has('control')) this.#kill();
    });
  }

  #kill(): void {
    if (this.#proc && !this.#exited) this.#proc.signal('SIGKILL');
  }

  /** Sends a stream's bytes as binary messages, then the empty text message that ends it. */
  #pump(stream: NodeJS.ReadableStream | null, channel: ExecChannel): Promise<void> {
    return new Promise<void>((resolve) => {
      let finished = false;
      let paused = false;
      const ws = () => {
        const conn = this.#conns.get(channel);
        return conn?.readyState === WebSocket.OPEN ? conn : undefined;
      };
      const resumeWhenSent = () => {
        const conn = ws();
        if (paused && (!conn || conn.bufferedAmount < HIGH_WATER / 2)) {
          paused = false;
          stream?.resume();
        }
      };
      const finish = () => {
        if (finished) return;
        finished = true;
        const conn = ws();
        if (!conn) return resolve();
        conn.send('', { binary: false }, () => resolve());
      };
      if (!stream) return finish();
      stream.on('data', (chunk: Buffer | string) => {
        const conn = ws();
        // Nobody to send to: keep reading so the command never blocks on a full pipe.
        if (!conn) return;
        conn.send(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, { binary: true }, () =>
          resumeWhenSent(),
        );
        if (!paused && conn.bufferedAmount > HIGH_WATER) {
          paused = true;
          stream.pause();
        }
      });
      stream.once('end', finish);
      stream.once('close', finish);
      stream.once('error', finish);
    });
  }

  #closeAll(): void {
    for (const ping of this.#pings) clearInterval(ping);
    this.#pings.clear();
    for (const ws of this.#conns.values()) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)
        ws.close(1000);
    }
  }
}
