'use client';
// One table of operations, newest first: status, a progress bar from
// `metadata.progress`, what they touch, errors, and cancel where allowed.
// The operations page and an instance's Operations tab both show it.
import { useMutation } from '@tanstack/react-query';
import type { Operation } from '@berth/engine/schemas';
import { ProgressBar } from '~/components/operation-queue.tsx';
import { Button, ErrorBanner, StatusBadge, formatDate, tableClass } from '~/components/ui.tsx';
import { isFinished, progressOf } from '~/lib/operations.ts';
import { describeError, useTRPC } from '~/lib/trpc.ts';

export function OperationsTable({
  project,
  operations,
  label,
  showResources = false,
  emptyText,
}: {
  project: string;
  // What tRPC hands back (its `metadata` is optional after serialisation).
  operations: readonly (Omit<Operation, 'metadata'> & { metadata?: unknown })[] | undefined;
  label: string;
  showResources?: boolean;
  emptyText: string;
}) {
  const trpc = useTRPC();
  const cancel = useMutation(trpc.operations.cancel.mutationOptions());
  const sorted = [...(operations ?? [])].sort((a, b) => b.created_at.localeCompare(a.created_at));
  const columns = showResources ? 7 : 6;
  return (
    <div className="space-y-2">
      <ErrorBanner message={cancel.error ? describeError(cancel.error).message : null} />
      <table className={tableClass} aria-label={label}>
        <thead>
          <tr>
            <th>Description</th>
            <th>Status</th>
            <th>Progress</th>
            {showResources && <th>Resources</th>}
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
                {showResources && (
                  <td className="font-mono text-xs">
                    {Object.values(op.resources ?? {})
                      .flat()
                      .map((url) => url.replace(/^\/1\.0\//, '').replace(/\?.*$/, ''))
                      .join(', ')}
                  </td>
                )}
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
          {operations?.length === 0 && (
            <tr>
              <td colSpan={columns} className="text-center text-slate-500">
                {emptyText}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
