// Terminals in tests: the xterm.js widget in a page, and the `/terminals`
// socket.io namespace driven directly (as an API client would).
import { io, type Socket } from 'socket.io-client';
import type { BrowserContext, Page } from 'playwright-core';

export type TerminalKind = 'console' | 'exec';

/** The rendered rows of a terminal on the instance page (xterm's DOM renderer). */
export function terminalRows(page: Page, kind: TerminalKind) {
  return page.getByTestId(`terminal-${kind}`).locator('.xterm-rows');
}

/** Focuses the terminal and types `text` as keystrokes (then Enter unless `enter: false`). */
export async function typeInTerminal(
  page: Page,
  kind: TerminalKind,
  text: string,
  { enter = true } = {},
): Promise<void> {
  await page.getByTestId(`terminal-${kind}`).locator('.xterm-screen').click();
  if (text) await page.keyboard.type(text);
  if (enter) await page.keyboard.press('Enter');
}

/** The browser's cookies for `url`, as a Cookie header (to hand a session to a Node client). */
export async function cookieHeader(context: BrowserContext, url: string): Promise<string> {
  return (await context.cookies(url)).map((c) => `${c.name}=${c.value}`).join('; ');
}

/** A socket on `/terminals`, authenticated by a session cookie, an API token, or nothing. */
export function connectTerminal(
  url: string,
  credentials: { cookie?: string; token?: string } = {},
): Socket {
  return io(`${url}/terminals`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(credentials.token ? { auth: { token: credentials.token } } : {}),
    ...(credentials.cookie ? { extraHeaders: { cookie: credentials.cookie } } : {}),
  });
}

/** Resolves once connected; rejects with the handshake's refusal. */
export function connected(socket: Socket, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection in time')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export interface TerminalRequest {
  kind: TerminalKind;
  project?: string;
  instance: string;
  command?: string[];
  cols?: number;
  rows?: number;
}

export interface TerminalOutcome {
  output: string;
  exit?: number | null;
  error?: { code: string; message: string };
}

/**
 * Opens a terminal on a connected socket, writes `input` once it is ready,
 * and collects output until it exits, fails or the socket closes.
 */
export function runTerminal(
  socket: Socket,
  request: TerminalRequest,
  { input, timeoutMs = 30_000 }: { input?: string; timeoutMs?: number } = {},
): Promise<TerminalOutcome> {
  return new Promise((resolve, reject) => {
    const outcome: TerminalOutcome = { output: '' };
    const timer = setTimeout(
      () => reject(new Error(`terminal did not end in time; output so far: ${outcome.output}`)),
      timeoutMs,
    );
    socket.on('data', (data: ArrayBuffer | Buffer | string) => {
      outcome.output +=
        typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer).toString('utf8');
    });
    socket.once('ready', () => {
      if (input !== undefined) socket.emit('data', input);
    });
    socket.once('exit', ({ code }: { code: number | null }) => (outcome.exit = code));
    socket.once('error', (error: { code: string; message: string }) => (outcome.error = error));
    socket.once('disconnect', () => {
      clearTimeout(timer);
      resolve(outcome);
    });
    socket.emit('open', { cols: 80, rows: 24, ...request });
  });
}
