// The REST API as an LXD client drives it, for security tests: calls with a
// token, websockets (an exec's channels, /1.0/events) that resolve with the
// open socket or with the refusal the server answered, and the /1.0/events
// line stream read as it comes.
import WebSocket from 'ws';

export interface Reply<M = unknown> {
  status: number;
  /** The raw body, to compare answers byte for byte or search for leaked secrets. */
  text: string;
  body: { type: string; status_code: number; error: string; metadata: M; operation?: string };
}

export function restClient(base: string) {
  async function call<M = unknown>(
    token: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Reply<M>> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Reply<M>['body'] };
  }

  /** An async call that must succeed: waits for its operation and checks it succeeded. */
  async function succeed(token: string, method: string, path: string, body?: unknown) {
    const started = await call(token, method, path, body);
    if (started.status !== 202) throw new Error(`${method} ${path}: ${started.text}`);
    const done = await call<{ status: string; err: string }>(
      token,
      'GET',
      `${started.body.operation}/wait?timeout=120`,
    );
    if (done.body.metadata.status !== 'Success')
      throw new Error(`${method} ${path}: ${done.body.metadata.err}`);
    return done.body.metadata;
  }

  return { call, succeed };
}

export interface Refusal {
  status: number;
  body: string;
}

/** Opens a websocket on the server; resolves with it, or with the HTTP refusal (status and body). */
export function openSocket(
  base: string,
  path: string,
  token?: string,
): Promise<WebSocket | Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${path}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

export function isRefusal(value: WebSocket | Refusal): value is Refusal {
  return !(value instanceof WebSocket);
}

/** A websocket that must open. */
export async function mustOpen(base: string, path: string, token: string): Promise<WebSocket> {
  const ws = await openSocket(base, path, token);
  if (isRefusal(ws)) throw new Error(`${path}: refused ${ws.status} ${ws.body}`);
  return ws;
}

/** Resolves with the close code once the websocket is closed (by either side); call it while open. */
export function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed: its close code is lost');
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

/** Every text message a websocket receives, as it comes. */
export function collectMessages(ws: WebSocket): string[] {
  const messages: string[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(String(data));
  });
  return messages;
}

/** The binary output of an exec channel until its end-of-stream (an empty text message). */
export function channelOutput(ws: WebSocket): { text(): string; ended: Promise<string> } {
  const chunks: Buffer[] = [];
  const ended = new Promise<string>((resolve) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) chunks.push(data as Buffer);
      else resolve(Buffer.concat(chunks).toString());
    });
    ws.once('close', () => resolve(Buffer.concat(chunks).toString()));
  });
  return { text: () => Buffer.concat(chunks).toString(), ended };
}

/** `GET /1.0/events` as a line stream: the lines so far, and when the server ends it. */
export async function openLineStream(
  base: string,
  path: string,
  token: string,
): Promise<{ lines: string[]; ended: Promise<void>; cancel(): void }> {
  const abort = new AbortController();
  const res = await fetch(`${base}${path}`, {
    headers: { Authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body)
    throw new Error(`${path}: ${res.status} ${await res.text()}`);
  const lines: string[] = [];
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const ended = (async () => {
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      rest += decoder.decode(value, { stream: true });
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l.trim()));
    }
  })();
  return { lines, ended, cancel: () => abort.abort() };
}

/** Polls `fn` until it returns something other than undefined. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
