'use client';
import { useMutation } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { Button } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';

/** Start / stop / delete for one instance; errors go to `onError`. */
export function InstanceActions({
  project,
  name,
  status,
  onError,
  afterDelete,
}: {
  project: string;
  name: string;
  status: string;
  onError(message: string | null): void;
  afterDelete?: string;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const options = {
    onError: (e: unknown) => onError(describeError(e).message),
    onSuccess: () => onError(null),
  };
  const changeState = useMutation(trpc.instances.changeState.mutationOptions(options));
  const remove = useMutation(
    trpc.instances.delete.mutationOptions({
      ...options,
      onSuccess: () => {
        onError(null);
        if (afterDelete) router.push(afterDelete);
      },
    }),
  );
  const busy = changeState.isPending || remove.isPending;
  const { can } = usePermissions();
  // The server refuses these too; the role only decides what is offered.
  const mayLifecycle = can('lifecycle', project);
  const mayDelete = can('delete', project);
  const roleNote = mayLifecycle ? undefined : 'Your role in this project does not allow this';
  const running = status === 'Running' || status === 'Frozen';
  return (
    <div className="flex gap-1">
      {running ? (
        <Button
          aria-label={`Stop ${name}`}
          disabled={busy || !mayLifecycle}
          title={roleNote}
          onClick={() => changeState.mutate({ project, name, state: { action: 'stop' } })}
        >
          Stop
        </Button>
      ) : (
        <Button
          aria-label={`Start ${name}`}
          disabled={busy || !mayLifecycle}
          title={roleNote}
          onClick={() => changeState.mutate({ project, name, state: { action: 'start' } })}
        >
          Start
        </Button>
      )}
      {mayDelete && (
        <Button
          variant="danger"
          aria-label={`Delete ${name}`}
          disabled={busy || running}
          title={running ? 'Stop the instance first' : undefined}
          onClick={() => {
            if (window.confirm(`Delete instance "${name}"? This cannot be undone.`))
              remove.mutate({ project, name });
          }}
        >
          Delete
        </Button>
      )}
    </div>
  );
}
