// Small pure pieces of LXD's websocket protocol (lxd/instance_exec.go,
// shared/network.go, lxd/events.go), unit-tested on their own.
//
// Exec over websockets: the operation's metadata carries one secret per
// channel — `0`, `1`, `2` and `control` (non-interactive: stdin, stdout,
// stderr), or `0` and `control` (interactive: one pty both ways). The client
// opens `GET /1.0/operations/<id>/websocket?secret=<secret>` once per channel.
// Data travels in binary messages; an empty text message is the end of a
// stream (LXD's "barrier"); `control` carries JSON text messages.
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { errorEnvelope } from './envelope.ts';

export type ExecChannel = '0' | '1' | '2' | 'control';

/** The channels an exec operation offers. */
export function execChannels(interactive: boolean): ExecChannel[] {
  return interactive ? ['0', 'control'] : ['0', '1', '2', 'control'];
}

/**
 * The channels that must be connected before the command starts. LXD does
 * not wait for `control` in non-interactive mode: old clients never opened it.
 */
export function requiredChannels(interactive: boolean): ExecChannel[] {
  return interactive ? ['0', 'control'] : ['0', '1', '2'];
}

/** One secret per channel, as LXD's RandomCryptoString (32 random bytes, hex). */
export function channelSecrets<C extends string>(channels: readonly C[]): Record<C, string> {
  const out = {} as Record<C, string>;
  for (const channel of channels) out[channel] = randomBytes(32).toString('hex');
  return out;
}

/** The channel a presented secret opens, if any (every secret is compared). */
export function channelOfSecret<C extends string>(
  secrets: Readonly<Record<C, string>>,
  presented: string,
): C | undefined {
  let found: C | undefined;
  for (const [channel, secret] of Object.entries(secrets) as [C, string][]) {
    if (secret.length === presented.length && secret === presented) found = channel;
  }
  return found;
}

/** A message on the control channel (LXD's InstanceExecControl), as far as Berth acts on it. */
export type ControlMessage =
  { command: 'window-resize'; cols: number; rows: number } | { command: 'signal'; signal: number };

/**
 * Parses a control message: `{"command":"window-resize","args":{"width":"80","height":"24"}}`
 * or `{"command":"signal","signal":15}`. Anything else (bad JSON, unknown
 * commands, absurd values) is null and ignored, as LXD ignores it.
 */
export function parseControlMessage(text: string): ControlMessage | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== 'object') return null;
  const msg = raw as { command?: unknown; args?: unknown; signal?: unknown };
  if (msg.command === 'window-resize') {
    const args = (msg.args ?? {}) as Record<string, unknown>;
    const cols = Number(args.width);
    const rows = Number(args.height);
    const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 10_000;
    return ok(cols) && ok(rows) ? { command: 'window-resize', cols, rows } : null;
  }
  if (msg.command === 'signal') {
    const signal = Number(msg.signal);
    return Number.isInteger(signal) && signal >= 1 && signal <= 64
      ? { command: 'signal', signal }
      : null;
  }
  return null;
}

/**
 * The HTTP answer to an upgrade that is refused, written on the raw socket
 * (no websocket was made): LXD's error envelope with its status.
 */
export function upgradeRefusal(status: number, message: string): string {
  const body = `${JSON.stringify(errorEnvelope(status, message))}\n`;
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
