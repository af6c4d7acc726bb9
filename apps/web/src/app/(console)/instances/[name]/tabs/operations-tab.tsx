'use client';
// This instance's operations (its snapshots' and backups' too), newest first,
// with progress bars from `metadata.progress` and cancel where allowed.
import { useMutation, useQuery } from '@tanstack/react-query';
import { ProgressBar } from '~/components/operation-queue.tsx';
import { Button, ErrorBanner, StatusBadge, formatDate, tableClass } from '~/components/ui.tsx';
import { isFinished, progressOf } from '~/lib/operations.ts';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';

type Instance = Outputs['instances']['get'];

export function OperationsTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const operations = useQuery({
    ...trpc.instances.operations.queryOptions({ project, name: instance.name }),
    refetchInterval: (q) => (q.state.data?.some((o) => !isFinished(o.status)) ? 1000 : false),
  });
  const cancel = useMutation(trpc.operations.cancel.mutationOptions());
  return (
    <div className="space-y-2">
      <ErrorBanner message={cancel.error ? describeError(cancel.error).message : null} />
      <table className={tableClass} aria-label="Instance operations">
        <thead>
          <tr>
            <th>Description</th>
            <th>Status</th>
            <th>Progress</th>
            <th>Created</th>
            <th>Error</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {operations.data?.map((op) => {
            const progress = progressOf(op.metadata);
            const running = !isFinished(op.status);
            return (
              <tr key={op.id} title={op.id}>
                <td>{op.description}</td>
                <td>
                  <StatusBadge status={op.status} />
                </td>
                <td className="w-40">
                  {running ? (
                    <ProgressBar
                      percent={progress?.percent ?? null}
                      label={`${op.description} progress`}
                    />
                  ) : (
                    '—'
                  )}
                </td>
                <td>{formatDate(op.created_at)}</td>
                <td className="text-red-700 dark:text-red-300">{op.err}</td>
                <td>
                  {running && op.may_cancel && (
                    <Button variant="danger" onClick={() => cancel.mutate({ project, id: op.id })}>
                      Cancel
                    </Button>
                  )}
                </td>
              </tr>
            );
          })}
          {operations.data?.length === 0 && (
            <tr>
              <td colSpan={6} className="text-center text-slate-500">
                No operations for this instance.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
