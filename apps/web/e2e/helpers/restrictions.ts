// The entry paths a restricted project's rules must hold on, as plain
// clients reach them: REST over the network with an API token, REST over
// the local unix socket (server admin), tRPC with a token, and raw uploads.
import { request as httpRequest } from 'node:http';
import path from 'node:path';

export interface RestReply {
  status: number;
  body: {
    type: string;
    status_code: number;
    error_code: number;
    error: string;
    operation: string;
    metadata: unknown;
  };
}

export interface RestCall {
  /** JSON body. */
  body?: unknown;
  /** Raw body (a tarball), with its headers. */
  raw?: Buffer;
  headers?: Record<string, string>;
}

/** A /1.0 call over the network with `Authorization: Bearer <token>`. */
export async function restWithToken(
  base: string,
  token: string,
  method: string,
  url: string,
  call: RestCall = {},
): Promise<RestReply> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(call.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...call.headers,
    },
    ...(call.body !== undefined
      ? { body: JSON.stringify(call.body) }
      : call.raw !== undefined
        ? { body: new Uint8Array(call.raw) }
        : {}),
  });
  return { status: res.status, body: (await res.json()) as RestReply['body'] };
}

/** A /1.0 call over `<dataDir>/unix.socket`: whoever opens it is the server admin. */
export function restOverSocket(
  dataDir: string,
  method: string,
  url: string,
  call: RestCall = {},
): Promise<RestReply> {
  const payload =
    call.body !== undefined ? Buffer.from(JSON.stringify(call.body)) : (call.raw ?? undefined);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath: path.join(dataDir, 'unix.socket'),
        host: 'localhost',
        method,
        path: url,
        headers: {
          ...(call.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(payload ? { 'Content-Length': String(payload.length) } : {}),
          ...call.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as RestReply['body'],
            });
          } catch (error) {
            reject(error as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Waits for an async REST answer's operation; returns the finished operation. */
export async function waitRest(
  reply: RestReply,
  wait: (url: string) => Promise<RestReply>,
): Promise<{ status: string; err: string; metadata: unknown }> {
  if (reply.status !== 202) throw new Error(`expected 202, got ${JSON.stringify(reply)}`);
  const done = await wait(`${reply.body.operation}/wait?timeout=120`);
  return done.body.metadata as { status: string; err: string; metadata: unknown };
}

/** A tRPC mutation with an API token and no cookie, as a script would send it. */
export async function trpcMutationWithToken<T = unknown>(
  base: string,
  token: string,
  procedure: string,
  input: unknown,
): Promise<{ status: number; code: string | null; message: string | null; data: T | null }> {
  const res = await fetch(`${base}/api/trpc/${procedure}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(input),
  });
  const body = (await res.json()) as {
    result?: { data: T };
    error?: { message: string; data?: { code?: string } };
  };
  return {
    status: res.status,
    code: body.error?.data?.code ?? null,
    message: body.error?.message ?? null,
    data: body.result?.data ?? null,
  };
}
