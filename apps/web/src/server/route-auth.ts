// Route handlers (downloads and uploads tRPC cannot carry) authorise through
// the same context and the one policy module as tRPC procedures, answer
// EngineErrors with the status tRPC would use for them, and write what they
// change to the audit log as tRPC's middleware does for mutations.
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPCError } from '@trpc/server';
import { ProjectName } from '@berth/engine/schemas';
import { createContext } from './trpc/context.ts';
import type { Context } from './trpc/init.ts';
import { auditEntry } from './trpc/audit-entry.ts';
import { toTRPCError } from './trpc/error-format.ts';
import { can, type ProjectAction } from './policy.ts';

export type RouteContext = Context & { user: NonNullable<Context['user']> };

function problem(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}

/**
 * The signed-in user may do `action` in `project`, or the Response to send.
 * A project the user may not read is answered as not found (its name does
 * not leak), as in `projectProcedure`.
 */
export async function authorizeRoute(
  req: Request,
  project: string,
  action: ProjectAction,
): Promise<RouteContext | Response> {
  if (!ProjectName.safeParse(project).success) return problem(400, 'Invalid project name');
  // The request's own credentials: a session cookie or an API token.
  const ctx = await createContext({ req });
  if (!ctx.user) return problem(401, 'Sign in first');
  if (ctx.user.mustChangePassword) return problem(403, 'Change your password first');
  if (!can(ctx.user, 'read', project)) return problem(404, `Project "${project}" not found`);
  if (!can(ctx.user, action, project))
    return problem(403, `Your role in project "${project}" does not allow ${action}`);
  return { ...ctx, user: ctx.user };
}

/** An error thrown while serving a route, as JSON with the matching status. */
export function errorResponse(error: unknown): Response {
  const mapped = toTRPCError(error);
  if (mapped instanceof TRPCError)
    return problem(getHTTPStatusCodeFromError(mapped), mapped.message);
  console.error('berth: route failed', error);
  return problem(500, 'Internal error');
}

/** `attachment; filename=...` safe for any name; shared with the REST API's export. */
export { attachment } from './content-disposition.ts';

/**
 * Runs a state-changing route's work and records it in the audit log (who,
 * `action`, project, object, result); the answer is the work's, or the
 * error's as JSON.
 */
export async function audited(
  ctx: RouteContext,
  entry: {
    action: string;
    project: string;
    objectType: string;
    objectName: string;
    detail?: object;
  },
  work: () => Promise<Response>,
): Promise<Response> {
  let error: TRPCError | undefined;
  let response: Response;
  try {
    response = await work();
  } catch (e) {
    const mapped = toTRPCError(e);
    error =
      mapped instanceof TRPCError
        ? mapped
        : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal error', cause: e });
    response = errorResponse(e);
  }
  if (ctx.audit) {
    const record = auditEntry({
      path: entry.action,
      rawInput: { project: entry.project, ...entry.detail },
      actor: ctx.user,
      scope: { project: entry.project, objectType: entry.objectType, objectName: entry.objectName },
      error,
    });
    await ctx.audit.record(record).catch((e: unknown) => console.error('berth: audit log', e));
  }
  return response;
}
