// Request bodies: read with a size cap, parse JSON, validate with the
// engine's zod schemas. A bad body is a 400 that names the field.
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { RestError } from './envelope.ts';

export const jsonBodyLimit = 8 * 1024 * 1024;
/** File pushes are held in memory before they reach the driver. */
export const fileBodyLimit = 512 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return readLimited(req as AsyncIterable<Buffer>, req.headers['content-length'], limit);
}

/**
 * A body of at most `limit` bytes: refused (413) from its declared
 * Content-Length before a byte is read, and a chunked one as soon as its
 * count passes the limit, so nothing larger is ever held or parsed. Used by
 * REST and by the tRPC endpoint.
 */
export async function readLimited(
  chunks: AsyncIterable<Uint8Array>,
  declaredLength: string | null | undefined,
  limit: number,
): Promise<Buffer> {
  const tooLarge = () => new RestError(413, `Request body is larger than ${limit} bytes`);
  if (Number(declaredLength ?? 0) > limit) throw tooLarge();
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** JSON of a body; an empty body is `{}` (LXD clients send none for some POSTs). */
export function parseJson(raw: Buffer): unknown {
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw RestError.badRequest(`Invalid JSON body: ${(error as Error).message}`);
  }
}

/**
 * What LXD's Go client sends for fields the user left alone: `null` for a
 * nil list, map or pointer (`"profiles": null`: the default profile
 * applies; `"expires_at": null`: the configured expiry) and `""` for an
 * unset type or architecture. Both mean "not given", as they do to LXD.
 * Only for bodies whose schema gives null no meaning of its own.
 */
export function withoutGoZeroValues(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (value === null) continue;
    if (value === '' && (key === 'type' || key === 'architecture')) continue;
    out[key] = value;
  }
  return out;
}

/** The field path of a zod issue as LXD-ish text: `config.limits.cpu`, `command[0]`. */
export function fieldOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || 'body';
}

/** Validates `input` with `schema`; the first problem becomes a 400 naming the field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw RestError.badRequest(
    `Invalid request body: ${fieldOf(issue?.path ?? [])}: ${issue?.message ?? 'invalid value'}`,
  );
}
