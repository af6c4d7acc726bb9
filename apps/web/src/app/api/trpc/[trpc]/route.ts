import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { jsonBodyLimit, readLimited } from '~/rest/body.ts';
import { RestError } from '~/rest/envelope.ts';
import { appRouter } from '~/server/trpc/root.ts';
import { createContext } from '~/server/trpc/context.ts';

export const dynamic = 'force-dynamic';

/** tRPC's own error shape, so its client reports the message as for any other error. */
function payloadTooLarge(message: string): Response {
  return Response.json(
    { error: { message, code: -32413, data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } } },
    { status: 413 },
  );
}

/**
 * tRPC reads a whole body and parses it before any procedure runs: bound it
 * as REST bounds its JSON bodies, by Content-Length first and by counting
 * a chunked body as it arrives, so a huge body is refused before it is held.
 */
async function bounded(req: Request): Promise<Request | Response> {
  if (req.method !== 'POST' || req.body === null) return req;
  try {
    const body = await readLimited(
      req.body as unknown as AsyncIterable<Uint8Array>,
      req.headers.get('content-length'),
      jsonBodyLimit,
    );
    return new Request(req.url, {
      method: req.method,
      headers: req.headers,
      body: new Uint8Array(body),
      signal: req.signal,
    });
  } catch (error) {
    if (error instanceof RestError && error.status === 413) return payloadTooLarge(error.message);
    throw error;
  }
}

async function handler(incoming: Request) {
  const req = await bounded(incoming);
  if (req instanceof Response) return req;
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext,
    onError({ error, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR')
        console.error(`tRPC ${path ?? '?'}:`, error.cause ?? error);
    },
  });
}

export { handler as GET, handler as POST };
