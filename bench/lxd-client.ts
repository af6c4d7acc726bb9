// A minimal client for LXD's REST API over a unix socket: the one HTTP
// client the bench drives both LXD and Berth's server with, so the two get
// the same requests byte for byte over the same kind of connection. (The
// `lxc` CLI rows add the Go client's start-up, ≈ 20–30 ms per command, to
// both alike.)
import http from 'node:http';

/** LXD's own directory (LXD_DIR), where its unix.socket is. */
export const DEFAULT_LXD_DIR = process.env.LXD_DIR || '/var/lib/lxd';
export const DEFAULT_LXD_SOCKET = `${DEFAULT_LXD_DIR}/unix.socket`;

/** LXD's response envelope (sync, async or error). */
export interface LxdResponse<T = unknown> {
  type: 'sync' | 'async' | 'error';
  status_code: number;
  error: string;
  error_code: number;
  operation: string;
  metadata: T;
}

export interface LxdOperation {
  id: string;
  status: string;
  status_code: number;
  err: string;
  metadata: Record<string, unknown> | null;
}

export class LxdError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'LxdError';
  }
}

/** Berth's network listener instead of a unix socket, with its credentials (bench/profile.ts). */
export interface NetworkEndpoint {
  host: string;
  port: number;
  /** Sent with every request: `authorization: Bearer …`, or a session `cookie` and its `origin`. */
  headers: Record<string, string>;
}

export class LxdClient {
  // Keep-alive: one connection reused across requests, as a long-lived
  // client (and LXD's own Go client within a command) would.
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    readonly socketPath = DEFAULT_LXD_SOCKET,
    /** Added as `?project=` to every request when set. */
    public project?: string,
    /** Given, requests go over TCP to it (plain HTTP: loopback) and socketPath is unused. */
    readonly network?: NetworkEndpoint,
  ) {}

  request<T>(
    method: string,
    path: string,
    body?: unknown,
    query: Record<string, string> = {},
  ): Promise<LxdResponse<T>> {
    const params = new URLSearchParams(query);
    if (this.project && !params.has('project')) params.set('project', this.project);
    const search = params.size > 0 ? `${path.includes('?') ? '&' : '?'}${params}` : '';
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          ...(this.network
            ? { host: this.network.host, port: this.network.port }
            : { socketPath: this.socketPath }),
          agent: this.#agent,
          method,
          path: path + search,
          headers: {
            ...this.network?.headers,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': payload.length }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            let parsed: LxdResponse<T>;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LxdResponse<T>;
            } catch {
              return reject(
                new LxdError(
                  res.statusCode ?? 0,
                  `${method} ${path}: HTTP ${res.statusCode}, not JSON`,
                ),
              );
            }
            if (parsed.type === 'error')
              return reject(new LxdError(parsed.error_code, `${method} ${path}: ${parsed.error}`));
            resolve(parsed);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Waits for an operation to finish and throws unless it succeeded. */
  async wait(operation: string, timeoutSeconds = 120): Promise<LxdOperation> {
    // `operation` is the URL LXD returned, e.g. /1.0/operations/<uuid>.
    const res = await this.request<LxdOperation>('GET', `${operation}/wait`, undefined, {
      timeout: String(timeoutSeconds),
    });
    const op = res.metadata;
    if (op.status !== 'Success')
      throw new LxdError(op.status_code, `operation ${op.id}: ${op.status}: ${op.err}`);
    return op;
  }

  /** Sends an async request and waits for its operation, which is what a user waits for. */
  async run(method: string, path: string, body?: unknown): Promise<LxdOperation> {
    const res = await this.request(method, path, body);
    if (res.type !== 'async')
      throw new LxdError(
        res.status_code,
        `${method} ${path}: expected an operation, got ${res.type}`,
      );
    return this.wait(res.operation);
  }

  close(): void {
    this.#agent.destroy();
  }
}
