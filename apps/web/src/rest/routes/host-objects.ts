// Networks and storage pools are the host's, shared by every project: any
// signed-in user reads them, and `used_by` names only objects in projects
// the caller may read, as tRPC's.
import { visibleUsedBy, type PolicyUser } from '../../server/policy.ts';
import type { RestContext } from '../context.ts';
import { sync, type RestResult } from '../envelope.ts';

interface HostObject {
  name: string;
  used_by: string[];
}

function asSeenBy<T extends HostObject>(user: PolicyUser, item: T): T {
  return { ...item, used_by: visibleUsedBy(user, item.used_by) };
}

/** GET /1.0/<collection>: the objects' URLs (`urlOf`), or with recursion the objects as the caller may see them. */
export async function listHostObjects<T extends HostObject>(
  ctx: RestContext,
  urlOf: (name: string) => string,
  list: () => Promise<T[]>,
): Promise<RestResult> {
  const user = ctx.allow('read');
  const items = await list();
  return sync(
    ctx.query.recursion > 0
      ? items.map((item) => asSeenBy(user, item))
      : items.map((item) => urlOf(item.name)),
  );
}

/** GET /1.0/<collection>/<name>, as the caller may see it. */
export async function getHostObject<T extends HostObject>(
  ctx: RestContext,
  get: () => Promise<T>,
): Promise<RestResult> {
  const user = ctx.allow('read');
  return sync(asSeenBy(user, await get()));
}
