// Websockets over a daemon's unix socket (the `ws` package, as Berth's
// server uses; `ws+unix:` URLs), for the exec streams and /1.0/events.
import { WebSocket } from 'ws';

/** Opens `path` (with its query) on the unix socket; resolves once open. */
export function openUnixSocket(
  socketPath: string,
  path: string,
  timeoutMs = 30_000,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // No compression: LXD's Go client does not ask for it either.
    const ws = new WebSocket(`ws+unix:${socketPath}:${path}`, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`websocket ${path}: not open after ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        reject(
          new Error(
            `websocket ${path}: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`,
          ),
        ),
      );
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Resolves once the websocket is closed (by either side). */
export function closed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once('close', () => resolve()));
}
