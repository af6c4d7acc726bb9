// The context of one tRPC request: the session's user as the database has it
// now, with the project roles the policy needs, and the engine.
import { auth } from '../auth.ts';
import { getBerth } from '../berth.ts';
import type { Context } from './init.ts';

export async function createContext(): Promise<Context> {
  const berth = getBerth();
  const session = await auth();
  const sessionUser = session?.user?.username
    ? await berth.accounts.get(session.user.username)
    : null;
  const user = sessionUser
    ? { ...sessionUser, roles: await berth.members.rolesOf(sessionUser.id) }
    : null;
  return { engine: berth.engine, user };
}
