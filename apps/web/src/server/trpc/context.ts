// The context of one tRPC request: the user behind it (session cookie or API
// token, see request-auth.ts) as the database has it now, with the project
// roles the policy needs, the engine, and the audit log mutations go to.
import { headers } from 'next/headers';
import { getBerth } from '../berth.ts';
import { authenticateRequest } from '../request-auth.ts';
import type { Context } from './init.ts';

/**
 * tRPC passes the request and the response's headers (a procedure may set a
 * cookie there); route handlers may call it bare (Next's request headers).
 */
export async function createContext(options?: {
  req: Request;
  resHeaders?: Headers;
}): Promise<Context> {
  const berth = getBerth();
  const requestHeaders = options?.req.headers ?? (await headers());
  const user = await authenticateRequest(requestHeaders, berth);
  return {
    engine: berth.engine,
    user,
    audit: berth.engine.db.audit,
    requestHeaders,
    ...(options?.resHeaders ? { resHeaders: options.resHeaders } : {}),
  };
}
