// tRPC's one set-up: the context (session, policy user, engine), the error
// formatter, and the procedures routers build on. Routers stay thin: parse
// with the engine's schemas, authorise here, call the engine, return.
import { initTRPC, type TRPCError } from '@trpc/server';
import type { Engine } from '@berth/engine';
import { z } from 'zod';
import { ProjectName } from '@berth/engine/schemas';
import type { SessionUser } from '../berth.ts';
import {
  authorize,
  visibleProjects,
  type Access,
  type PolicyUser,
  type ProjectAction,
  type ServerAction,
} from '../policy.ts';
import { errorData, toTRPCError } from './error-format.ts';
import { auditEntry, type AuditActor, type AuditScope, type AuditSink } from './audit-entry.ts';

export interface Context {
  engine: Engine;
  user: (SessionUser & PolicyUser & Partial<AuditActor> & { sessionId?: number }) | null;
  /** Where mutations are recorded (the database's audit log); absent in some unit tests. */
  audit?: AuditSink;
  /** The request's headers (its session cookie, to carry a session on). */
  requestHeaders?: Headers;
  /** The response's headers, where a procedure sets a renewed session cookie. */
  resHeaders?: Headers;
}

/**
 * What a procedure declares: the access it needs (policy.ts's Access). The
 * procedures below set it with the authorize() middleware that checks it;
 * access-path.test.ts holds every procedure of the app router to it.
 */
export interface ProcedureMeta {
  access: Access;
}

const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    errorFormatter({ shape, error }) {
      return { ...shape, data: { ...shape.data, ...errorData(error) } };
    },
  });

export const router = t.router;

/** Every procedure: EngineErrors and authorize's refusals become the tRPC error of error-codes.ts. */
const mapErrors = t.procedure.use(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error);
  return result;
});

/**
 * Every mutation of every router is written to the audit log, once, here:
 * who, `router.procedure`, project, object and result. Queries are not.
 * Calls without a user (refused as UNAUTHORIZED) have no one to record.
 */
const base = mapErrors.use(async ({ ctx, type, path, getRawInput, next }) => {
  const scope: AuditScope = {};
  const result = await next({ ctx: { auditScope: scope } });
  if (type !== 'mutation' || !ctx.user || !ctx.audit) return result;
  const error = result.ok ? undefined : (toTRPCError(result.error) as TRPCError);
  const rawInput = await getRawInput().catch(() => undefined);
  const entry = auditEntry({ path, rawInput, actor: ctx.user, scope, error });
  // The log must not change the answer: a failed write is reported, not thrown.
  await ctx.audit.record(entry).catch((e: unknown) => console.error('berth: audit log', e));
  return result;
});

/** A signed-in user, even one who must still change their password (the account router). */
export const accountProcedure = base
  .meta({ access: 'account' })
  .use(({ ctx, next }) => next({ ctx: { ...ctx, user: authorize(ctx.user, 'account') } }));

/** Signed in, the password change (if one was due) done. */
export const userProcedure = base
  .meta({ access: 'user' })
  .use(({ ctx, next }) => next({ ctx: { ...ctx, user: authorize(ctx.user, 'user') } }));

/**
 * An action outside any project (networks and storage pools: the host's);
 * who may do it is policy.ts's `serverActionAllows`.
 */
export function serverProcedure(action: ServerAction) {
  return userProcedure.meta({ access: action }).use(({ ctx, next }) => {
    authorize(ctx.user, action);
    return next();
  });
}

/** Server-wide actions (creating projects, users, ...): server admins only. */
export const serverAdminProcedure = serverProcedure('server');

export const ProjectInput = z.object({ project: ProjectName.default('default') });

/**
 * A procedure on one project's objects: input carries `project`; the user
 * must hold a role allowing `action` there (a project the user may not read
 * is answered as not found, so its name does not leak).
 */
export function projectProcedure(action: ProjectAction) {
  return userProcedure
    .meta({ access: action })
    .input(ProjectInput)
    .use(({ ctx, input, next }) => {
      ctx.auditScope.project = input.project;
      authorize(ctx.user, action, input.project);
      return next();
    });
}

export { visibleProjects };
