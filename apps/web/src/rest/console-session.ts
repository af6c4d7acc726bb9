// `POST /1.0/instances/<name>/console` (type "console"), as LXD's consoleWs
// (lxd/instance_console.go): a websocket operation offering `0` (the
// console, both ways) and `control` (window-resize). The console is
// attached once `0` is connected; the operation ends when the client
// detaches (closes control, as `lxc console`'s Ctrl+a q does) or ends its
// stream, and the console is released for the next client. The secrets are
// the owner's alone (operation-sockets.ts).
import type { ConsoleStream } from '@berth/engine';
import { WebSocket, type RawData } from 'ws';
import { RestError } from './envelope.ts';
import { CONNECT_TIMEOUT_MS } from './exec-session.ts';
import { invalidSecret, type SocketOperation } from './operation-sockets.ts';
import { channelOfSecret, channelSecrets, parseControlMessage } from './ws-protocol.ts';

type ConsoleChannel = '0' | 'control';

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class ConsoleSession implements SocketOperation {
  readonly action = 'console' as const;
  readonly #secrets = channelSecrets<ConsoleChannel>(['0', 'control']);
  readonly #claimed = new Set<ConsoleChannel>();
  readonly #conns = new Map<ConsoleChannel, WebSocket>();
  #console: ConsoleStream | null = null;
  #detach: () => void = () => {};
  readonly #detached = new Promise<void>((resolve) => (this.#detach = resolve));
  #connected: () => void = () => {};
  readonly #dataConnected = new Promise<void>((resolve) => (this.#connected = resolve));
  #ended = false;

  constructor(readonly project: string) {}

  /** LXD's consoleWs.Metadata() is its secrets alone: the owner's. */
  secretMetadata(): Record<string, unknown> {
    return { fds: { ...this.#secrets } };
  }

  claim(secret: string): string {
    const channel = channelOfSecret(this.#secrets, secret);
    if (!channel) throw invalidSecret();
    if (this.#claimed.has(channel)) throw RestError.badRequest('Websocket already connected');
    if (this.#ended) throw RestError.badRequest('The console session has ended');
    this.#claimed.add(channel);
    return channel;
  }

  attach(channel: string, ws: WebSocket): void {
    const ch = channel as ConsoleChannel;
    this.#conns.set(ch, ws);
    ws.on('error', () => {});
    ws.once('close', () => this.#detach());
    if (ch === 'control') {
      ws.on('message', (data, isBinary) => {
        // Nothing is taken from a websocket being closed (a revoked credential's).
        if (isBinary || ws.readyState !== WebSocket.OPEN) return;
        const msg = parseControlMessage(toBuffer(data).toString('utf8'));
        if (msg?.command === 'window-resize') this.#console?.resize(msg.cols, msg.rows);
      });
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      // An empty text message ends the client's stream: it is detaching.
      if (!isBinary) return this.#detach();
      this.#console?.input.write(toBuffer(data));
    });
    this.#connected();
  }

  abort(): void {
    this.#detach();
  }

  /** The operation's work: attach with `open` once `0` is connected, mirror until detached. */
  async run(open: () => Promise<ConsoleStream>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#dataConnected,
        this.#detached.then(() => {
          throw new Error('The client went before the console was attached');
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('Timed out waiting for websockets to connect')),
            CONNECT_TIMEOUT_MS,
          );
        }),
      ]);
      clearTimeout(timer);
      const stream = await open();
      this.#console = stream;
      const ws = this.#conns.get('0');
      stream.output.on('data', (chunk: Buffer | string) => {
        if (ws?.readyState === WebSocket.OPEN)
          ws.send(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, { binary: true });
      });
      // The console going away (the instance stopped) ends the session too.
      stream.output.once('end', () => this.#detach());
      stream.output.once('close', () => this.#detach());
      await this.#detached;
      stream.close();
      // As LXD, a new line so the client's prompt starts clean.
      if (ws?.readyState === WebSocket.OPEN) ws.send(Buffer.from('\n\r'), { binary: true });
    } finally {
      clearTimeout(timer);
      this.#ended = true;
      for (const conn of this.#conns.values()) {
        if (conn.readyState === WebSocket.OPEN || conn.readyState === WebSocket.CONNECTING)
          conn.close(1000);
      }
    }
  }
}
