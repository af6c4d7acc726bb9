import { describe, expect, it } from 'vitest';
import { CLOSED, CONNECTING, OPEN, SocketChannel } from './socket-channel.ts';

/** A socket.io client socket: what the server sends is `receive`d, what the client emits is recorded. */
class RecordingSocket {
  readonly #listeners = new Map<string, ((...args: never[]) => void)[]>();
  sent: unknown[][] = [];
  disconnected = 0;
  on(event: string, listener: (...args: never[]) => void) {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
  }
  receive(event: string, ...args: unknown[]) {
    for (const listener of this.#listeners.get(event) ?? [])
      (listener as (...a: unknown[]) => void)(...args);
  }
  emit(event: string, ...args: unknown[]) {
    this.sent.push([event, ...args]);
  }
  disconnect() {
    this.disconnected++;
    this.receive('disconnect', 'io client disconnect');
  }
}

function channelOn() {
  const socket = new RecordingSocket();
  const channel = new SocketChannel(socket);
  const seen: string[] = [];
  channel.onopen = () => seen.push('open');
  channel.onmessage = ({ data }) => seen.push(`message ${Buffer.from(data).toString()}`);
  channel.onclose = ({ code, reason, wasClean }) =>
    seen.push(`close ${code} ${reason} ${wasClean}`);
  channel.onerror = ({ message }) => seen.push(`error ${message}`);
  return { socket, channel, seen };
}

describe('the socket.io channel noVNC speaks through', () => {
  it('has every property noVNC checks for, by name', () => {
    const { channel } = channelOn();
    const names = [
      ...Object.keys(channel),
      ...Object.getOwnPropertyNames(Object.getPrototypeOf(channel)),
    ];
    for (const prop of [
      'send',
      'close',
      'binaryType',
      'onerror',
      'onmessage',
      'onopen',
      'protocol',
      'readyState',
    ])
      expect(names).toContain(prop);
  });

  it('opens at the server’s ready, not before, and passes bytes both ways as copies', () => {
    const { socket, channel, seen } = channelOn();
    socket.receive('data', Buffer.from('early'));
    channel.send(new Uint8Array([1]));
    expect(channel.readyState).toBe(CONNECTING);
    expect(socket.sent).toEqual([]);

    socket.receive('ready');
    expect(channel.readyState).toBe(OPEN);
    socket.receive('data', new TextEncoder().encode('RFB 003.008\n').buffer);
    const buffer = new Uint8Array([9, 8, 7, 6]);
    channel.send(buffer.subarray(1, 3));
    buffer.fill(0);
    expect(seen).toEqual(['open', 'message RFB 003.008\n']);
    expect(socket.sent).toEqual([['data', new Uint8Array([8, 7])]]);
  });

  it('closes once when the VM stops, and sends nothing after', () => {
    const { socket, channel, seen } = channelOn();
    socket.receive('ready');
    socket.receive('exit', { code: null });
    socket.receive('disconnect', 'io server disconnect');
    channel.send(new Uint8Array([1]));
    expect(channel.readyState).toBe(CLOSED);
    expect(seen).toEqual(['open', 'close 1000 The VM stopped true']);
    expect(socket.sent).toEqual([]);
  });

  it('reports the server’s refusal as an error, then a close with its words', () => {
    const { socket, seen } = channelOn();
    socket.receive('error', { code: 'FORBIDDEN', message: 'Forbidden: no console for you' });
    expect(seen).toEqual([
      'error Forbidden: no console for you',
      'close 1011 Forbidden: no console for you false',
    ]);
  });

  it('close() disconnects the socket and closes cleanly', () => {
    const { socket, channel, seen } = channelOn();
    socket.receive('ready');
    channel.close();
    channel.close();
    expect(socket.disconnected).toBe(1);
    expect(seen).toEqual(['open', 'close 1000 io client disconnect true']);
  });
});
