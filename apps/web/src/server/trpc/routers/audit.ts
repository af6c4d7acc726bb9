// The audit log: server admins read all of it; a project's admins read that
// project's entries. Newest first, paged by id.
import { z } from 'zod';
import { TRPCError } from '@trpc/server';
import type { AuditEntry } from '@berth/db';
import { ProjectName } from '@berth/engine/schemas';
import { authorize, can } from '../../policy.ts';
import { router, userProcedure } from '../init.ts';

function toEntry(entry: AuditEntry) {
  return { ...entry, at: entry.at.toISOString() };
}

export const auditRouter = router({
  list: userProcedure
    .input(
      z.object({
        /** Omitted: every project the user administers (everything for server admins). */
        project: ProjectName.optional(),
        /** Entries older than this id (the previous page's `nextBeforeId`). */
        beforeId: z.number().int().positive().optional(),
        limit: z.number().int().min(1).max(200).default(50),
      }),
    )
    .query(async ({ ctx, input }) => {
      const db = ctx.engine.db;
      const page = { limit: input.limit, ...(input.beforeId ? { beforeId: input.beforeId } : {}) };
      let entries: AuditEntry[];
      if (input.project !== undefined) {
        authorize(ctx.user, 'audit', input.project);
        entries = await db.audit.list({ ...page, project: input.project });
      } else if (can(ctx.user, 'server')) {
        entries = await db.audit.list(page);
      } else {
        const projects = [...ctx.user.roles.keys()].filter((p) => can(ctx.user, 'audit', p));
        if (projects.length === 0)
          throw new TRPCError({
            code: 'FORBIDDEN',
            message: 'Only server administrators and project administrators may read the audit log',
          });
        // One page from each, merged: still the newest `limit` entries overall.
        const pages = await Promise.all(
          projects.map((project) => db.audit.list({ ...page, project })),
        );
        entries = pages
          .flat()
          .sort((a, b) => b.id - a.id)
          .slice(0, input.limit);
      }
      const last = entries.at(-1);
      return {
        entries: entries.map(toEntry),
        nextBeforeId: entries.length === input.limit && last ? last.id : null,
      };
    }),
});
