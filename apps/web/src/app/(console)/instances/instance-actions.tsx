'use client';
import { useMutation } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { memo, useCallback, useMemo, useState } from 'react';
import { Button } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';

export interface InstanceActionsController {
  mayLifecycle: boolean;
  mayDelete: boolean;
  start(name: string): void;
  stop(name: string): void;
  remove(name: string): void;
}

/**
 * Start / stop / delete for the instances of one page: one set of mutations
 * however many rows show them; errors go to `onError`. The actions keep their
 * identity while requests come and go (rows re-render only for `pending`).
 */
export function useInstanceActions(
  project: string,
  onError: (message: string | null) => void,
  afterDelete?: string,
): { actions: InstanceActionsController; pending: ReadonlySet<string> } {
  const trpc = useTRPC();
  const router = useRouter();
  const { can } = usePermissions();
  const [pending, setPending] = useState<ReadonlySet<string>>(new Set());
  const { mutateAsync: mutateState } = useMutation(trpc.instances.changeState.mutationOptions());
  const { mutateAsync: mutateDelete } = useMutation(trpc.instances.delete.mutationOptions());

  const run = useCallback(
    async (name: string, action: () => Promise<unknown>, done?: () => void) => {
      setPending((old) => new Set(old).add(name));
      try {
        await action();
        onError(null);
        done?.();
      } catch (error) {
        onError(describeError(error).message);
      } finally {
        setPending((old) => {
          const next = new Set(old);
          next.delete(name);
          return next;
        });
      }
    },
    [onError],
  );

  // The server refuses these too; the role only decides what is offered.
  const mayLifecycle = can('lifecycle', project);
  const mayDelete = can('delete', project);
  const actions = useMemo<InstanceActionsController>(
    () => ({
      mayLifecycle,
      mayDelete,
      start: (name) =>
        void run(name, () => mutateState({ project, name, state: { action: 'start' } })),
      stop: (name) =>
        void run(name, () => mutateState({ project, name, state: { action: 'stop' } })),
      remove: (name) => {
        if (window.confirm(`Delete instance "${name}"? This cannot be undone.`))
          void run(
            name,
            () => mutateDelete({ project, name }),
            afterDelete ? () => router.push(afterDelete) : undefined,
          );
      },
    }),
    [mayLifecycle, mayDelete, run, mutateState, mutateDelete, project, afterDelete, router],
  );
  return { actions, pending };
}

/** The buttons for one instance. */
export const InstanceActions = memo(function InstanceActions({
  name,
  status,
  busy,
  actions,
}: {
  name: string;
  status: string;
  busy: boolean;
  actions: InstanceActionsController;
}) {
  const roleNote = actions.mayLifecycle
    ? undefined
    : 'Your role in this project does not allow this';
  const running = status === 'Running' || status === 'Frozen';
  return (
    <div className="flex gap-1">
      {running ? (
        <Button
          aria-label={`Stop ${name}`}
          disabled={busy || !actions.mayLifecycle}
          title={roleNote}
          onClick={() => actions.stop(name)}
        >
          Stop
        </Button>
      ) : (
        <Button
          aria-label={`Start ${name}`}
          disabled={busy || !actions.mayLifecycle}
          title={roleNote}
          onClick={() => actions.start(name)}
        >
          Start
        </Button>
      )}
      {actions.mayDelete && (
        <Button
          variant="danger"
          aria-label={`Delete ${name}`}
          disabled={busy || running}
          title={running ? 'Stop the instance first' : undefined}
          onClick={() => actions.remove(name)}
        >
          Delete
        </Button>
      )}
    </div>
  );
});
