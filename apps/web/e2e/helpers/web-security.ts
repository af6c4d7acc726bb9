// What another site can make a signed-in browser send, replayed from Node:
// socket.io handshakes and requests with a session cookie and a chosen
// Origin, and a page on another origin that posts a form to Berth.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';

/** A socket.io connection to `namespace` with exactly these extra headers (cookie, origin). */
export function connectWith(
  url: string,
  namespace: '/terminals' | '/events',
  headers: Record<string, string>,
  transport: 'websocket' | 'polling' = 'websocket',
): Socket {
  return io(`${url}${namespace}`, {
    transports: [transport],
    reconnection: false,
    forceNew: true,
    extraHeaders: headers,
  });
}

/** Resolves `true` once connected, `false` with the refusal once the handshake fails. */
export function connectOutcome(
  socket: Socket,
  timeoutMs = 10_000,
): Promise<{ connected: boolean; error?: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ connected: false, error: 'timeout' }), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ connected: true });
    });
    socket.once('connect_error', (error: Error) => {
      clearTimeout(timer);
      resolve({ connected: false, error: error.message });
    });
  });
}

export interface HostileSite {
  /** The page's origin, e.g. http://127.0.0.1:40123 (same site as Berth on loopback, another origin). */
  origin: string;
  close(): Promise<void>;
}

/**
 * Another origin on this host serving one page that, once loaded, submits a
 * `text/plain` form to `action` (the classic CSRF form: no preflight).
 */
export async function hostileFormSite(action: string, body: string): Promise<HostileSite> {
  const escaped = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  const html = `<!doctype html><html><body>
<form id="f" method="POST" enctype="text/plain" action="${escaped(action)}">
<input type="hidden" name="${escaped(body)}" value="">
</form>
<script>document.getElementById('f').submit();</script>
</body></html>`;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
