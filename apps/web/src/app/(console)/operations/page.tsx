'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import {
  Button,
  ErrorBanner,
  PageHeader,
  StatusBadge,
  formatDate,
  tableClass,
} from '~/components/ui.tsx';
import { progressOf as readProgress } from '~/lib/operations.ts';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { useProject } from '../../providers.tsx';

/** The operation's percent; the engine reports it as LXD does, as a string. */
function progressOf(metadata: unknown): number | null {
  return readProgress(metadata)?.percent ?? null;
}

export default function OperationsPage() {
  const trpc = useTRPC();
  const { project } = useProject();
  const operations = useQuery(trpc.operations.list.queryOptions({ project }));
  const cancel = useMutation(trpc.operations.cancel.mutationOptions());
  const sorted = [...(operations.data ?? [])].sort((a, b) =>
    b.created_at.localeCompare(a.created_at),
  );

  return (
    <>
      <PageHeader title="Operations" />
      <ErrorBanner message={cancel.error ? describeError(cancel.error).message : null} />
      <table className={tableClass} aria-label="Operations">
        <thead>
          <tr>
            <th>Description</th>
            <th>Status</th>
            <th>Progress</th>
            <th>Resources</th>
            <th>Created</th>
            <th>Error</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((op) => {
            const progress = progressOf(op.metadata);
            const running = op.status === 'Running' || op.status === 'Pending';
            return (
              <tr key={op.id}>
                <td title={op.id}>{op.description}</td>
                <td>
                  <StatusBadge status={op.status} />
                </td>
                <td>
                  {progress !== null && running ? (
                    <progress
                      max={100}
                      value={progress}
                      aria-label={`${progress}%`}
                      className="w-24"
                    />
                  ) : (
                    '—'
                  )}
                </td>
                <td className="font-mono text-xs">
                  {Object.values(op.resources ?? {})
                    .flat()
                    .map((url) => url.replace(/^\/1\.0\//, '').replace(/\?.*$/, ''))
                    .join(', ')}
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
              <td colSpan={7} className="text-center text-slate-500">
                No operations.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </>
  );
}
