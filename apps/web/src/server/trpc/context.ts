// The context of one tRPC request: the user behind it (session cookie or API
// token, see request-auth.ts) as the database has it now, with the project
// roles the policy needs, the engine, and the audit log mutations go to.
import { headers } from 'next/headers';
import { getBerth } from '../berth.ts';
import { authenticateRequest } from '../request-auth.ts';
import type { Context } from './init.ts';

/** tRPC passes the request; route handlers may call it bare (Next's request headers). */
export async function createContext(options?: { req: Request }): Promise<Context> {
  const berth = getBerth();
  const user = await authenticateRequest(options?.req.headers ?? (await headers()), berth);
  return { engine: berth.engine, user, audit: berth.engine.db.audit };
}
