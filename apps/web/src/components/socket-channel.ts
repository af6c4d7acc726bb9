// A socket.io socket on `/terminals` (kind `vga`) dressed as the
// WebSocket-like channel noVNC's RFB accepts in place of a URL, so the VNC
// bytes take the console's one authenticated, audited, revocable path
// instead of a WebSocket of their own:
//
//   socket.io 'ready'                → readyState OPEN, onopen
//   socket.io 'data' (binary)        → onmessage({ data: ArrayBuffer })
//   send(bytes)                      → socket.io 'data' (binary)
//   'exit', 'error', a disconnect    → readyState CLOSED, onclose({ code, reason })
//   close()                          → the socket disconnects (the server then closes VNC)
//
// The channel opens only at 'ready' (the server has the VM's screen), never
// at the transport's connect: noVNC must not speak RFB before then.

/** WebSocket's readyState values, which noVNC compares against. */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** What the channel needs of a socket.io client socket. */
export interface ChannelSocket {
  on(event: string, listener: (...args: never[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  disconnect(): unknown;
}

export interface ChannelClose {
  code: number;
  reason: string;
  wasClean: boolean;
}

function arrayBufferOf(data: unknown): ArrayBuffer | null {
  if (data instanceof ArrayBuffer) return data;
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
  return null;
}

export class SocketChannel {
  // Own properties, all present from the start: noVNC checks them by name.
  binaryType = 'arraybuffer';
  protocol = '';
  readyState = CONNECTING;
  onopen: ((event: { type: string }) => void) | null = null;
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
  onclose: ((event: ChannelClose) => void) | null = null;
  onerror: ((event: { type: string; message?: string }) => void) | null = null;
  readonly #socket: ChannelSocket;

  constructor(socket: ChannelSocket) {
    this.#socket = socket;
    socket.on('ready', () => {
      if (this.readyState !== CONNECTING) return;
      this.readyState = OPEN;
      this.onopen?.({ type: 'open' });
    });
    socket.on('data', (data: unknown) => {
      const bytes = arrayBufferOf(data);
      if (this.readyState === OPEN && bytes) this.onmessage?.({ data: bytes });
    });
    socket.on('exit', () => this.#closed(1000, 'The VM stopped'));
    socket.on('error', (error: { message?: string }) => this.#failed(error.message ?? 'failed'));
    socket.on('connect_error', (error: Error) => this.#failed(error.message));
    socket.on('disconnect', (reason: string) => this.#closed(1006, reason));
  }

  send(data: ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== OPEN) return;
    // A copy: noVNC reuses its send buffer, and socket.io may send later.
    const bytes = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice()
      : new Uint8Array(data).slice();
    this.#socket.emit('data', bytes);
  }

  close(): void {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this.#socket.disconnect();
    // A socket that never connected reports no disconnect.
    this.#closed(1000, '');
  }

  #failed(message: string): void {
    this.onerror?.({ type: 'error', message });
    this.#closed(1011, message);
  }

  #closed(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    const clean = this.readyState === CLOSING || code === 1000;
    this.readyState = CLOSED;
    this.onclose?.({ code: clean ? 1000 : code, reason, wasClean: clean });
  }
}
