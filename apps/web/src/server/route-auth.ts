// Route handlers (downloads and uploads tRPC cannot carry) authorise through
// the same context and policy.ts's authorize() as tRPC procedures, answer
// errors with the status of the one table (error-codes.ts), and write what
// they change to the audit log as tRPC's middleware does for mutations.
import { TRPCError } from '@trpc/server';
import { ProjectName } from '@berth/engine/schemas';
import { createContext } from './trpc/context.ts';
import type { Context } from './trpc/init.ts';
import { auditEntry } from './trpc/audit-entry.ts';
import { toTRPCError } from './trpc/error-format.ts';
import { codedErrorOf, errorCodes } from './error-codes.ts';
import { authorize, type ProjectAction } from './policy.ts';

export type RouteContext = Context & { user: NonNullable<Context['user']> };

function problem(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}

/**
 * The signed-in user may do `action` in `project` (authorize()), or the
 * Response to send: authorize's refusal with the table's status.
 */
export async function authorizeRoute(
  req: Request,
  project: string,
  action: ProjectAction,
): Promise<RouteContext | Response> {
  if (!ProjectName.safeParse(project).success) return problem(400, 'Invalid project name');
  // The request's own credentials: a session cookie or an API token.
  const ctx = await createContext({ req });
  try {
    return { ...ctx, user: authorize(ctx.user, action, project) };
  } catch (error) {
    return errorResponse(error);
  }
}

/** An error thrown while serving a route, as JSON with the table's status (error-codes.ts). */
export function errorResponse(error: unknown): Response {
  const coded = codedErrorOf(error);
  if (coded) return problem(errorCodes[coded.code].http, coded.message);
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
