'use client';
// What the signed-in user may do, for showing or disabling controls. The
// same policy module the server enforces; the server still checks every call.
import { useQuery } from '@tanstack/react-query';
import { useCallback, useMemo } from 'react';
import {
  can,
  isProjectRole,
  type Action,
  type PolicyUser,
  type ProjectRole,
} from '~/server/policy.ts';
import { useTRPC } from './trpc.ts';

export function usePermissions() {
  const trpc = useTRPC();
  const me = useQuery(trpc.account.me.queryOptions());
  const user = useMemo<PolicyUser | null>(() => {
    if (!me.data) return null;
    const roles = new Map<string, ProjectRole>();
    for (const [project, role] of Object.entries(me.data.roles))
      if (isProjectRole(role)) roles.set(project, role);
    return { isAdmin: me.data.isAdmin, roles };
  }, [me.data]);
  const allowed = useCallback(
    (action: Action, project?: string) => can(user, action, project),
    [user],
  );
  return { me: me.data, loading: me.isPending, can: allowed };
}
