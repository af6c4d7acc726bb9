'use client';
// The operation queue (after lxd-ui's): an action that returns an operation
// hands its id here; the queue shows its progress bar (from the operation's
// `metadata.progress`), refreshes what is on screen when it ends, and keeps
// a failure on screen until dismissed.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Button } from './ui.tsx';
import { useTRPC } from '~/lib/trpc.ts';
import { isFinished, progressOf } from '~/lib/operations.ts';

export interface TrackedOperation {
  id: string;
  label: string;
  onDone?: (status: string, metadata: unknown) => void;
}

export function useOperationQueue() {
  const [operations, setOperations] = useState<TrackedOperation[]>([]);
  const track = useCallback(
    (op: { id: string }, label: string, onDone?: TrackedOperation['onDone']) =>
      setOperations((all) => [...all, { id: op.id, label, ...(onDone ? { onDone } : {}) }]),
    [],
  );
  const dismiss = useCallback(
    (id: string) => setOperations((all) => all.filter((o) => o.id !== id)),
    [],
  );
  return { operations, track, dismiss };
}

export function ProgressBar({ percent, label }: { percent: number | null; label: string }) {
  const value = percent === null ? null : Math.max(0, Math.min(100, percent));
  return (
    <div
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      {...(value === null ? {} : { 'aria-valuenow': value })}
      className="h-2 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
    >
      <div
        className={`h-full bg-sky-600 transition-[width] ${value === null ? 'w-1/3 animate-pulse' : ''}`}
        style={value === null ? undefined : { width: `${value}%` }}
      />
    </div>
  );
}

function QueuedOperation({
  project,
  operation,
  onDismiss,
}: {
  project: string;
  operation: TrackedOperation;
  onDismiss(): void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const op = useQuery({
    ...trpc.operations.get.queryOptions({ project, id: operation.id }),
    // Events refetch it too; polling covers a socket that is down.
    refetchInterval: (q) => (q.state.data && isFinished(q.state.data.status) ? false : 1000),
  });
  const status = op.data?.status ?? 'Pending';
  const finished = isFinished(status);
  const reported = useRef(false);
  const latest = useRef({ operation, onDismiss });
  latest.current = { operation, onDismiss };
  const metadata = op.data?.metadata;
  useEffect(() => {
    if (!finished || reported.current) return;
    reported.current = true;
    void queryClient.invalidateQueries();
    latest.current.operation.onDone?.(status, metadata);
  }, [finished, status, metadata, queryClient]);
  // Successes clear themselves; failures stay until dismissed.
  useEffect(() => {
    if (status !== 'Success') return;
    const timer = setTimeout(() => latest.current.onDismiss(), 3000);
    return () => clearTimeout(timer);
  }, [status]);
  const progress = progressOf(op.data?.metadata);

  return (
    <li
      data-operation={operation.id}
      data-status={status}
      className="space-y-1 rounded-md border border-slate-200 px-3 py-2 text-sm dark:border-slate-800"
    >
      <div className="flex items-center justify-between gap-2">
        <span>
          {operation.label}{' '}
          <span className="text-slate-500">
            — {status}
            {progress && !finished
              ? ` ${progress.percent}%${progress.stage ? ` (${progress.stage})` : ''}`
              : ''}
          </span>
        </span>
        {finished && (
          <Button aria-label={`Dismiss ${operation.label}`} onClick={onDismiss}>
            Dismiss
          </Button>
        )}
      </div>
      {!finished && (
        <ProgressBar percent={progress?.percent ?? null} label={`${operation.label} progress`} />
      )}
      {op.data?.err && (
        <p role="alert" className="text-red-700 dark:text-red-300">
          {op.data.err}
        </p>
      )}
    </li>
  );
}

export function OperationQueue({
  project,
  operations,
  onDismiss,
}: {
  project: string;
  operations: TrackedOperation[];
  onDismiss(id: string): void;
}) {
  if (!operations.length) return null;
  return (
    <ul aria-label="Operations in progress" className="mb-4 space-y-2">
      {operations.map((o) => (
        <QueuedOperation
          key={o.id}
          project={project}
          operation={o}
          onDismiss={() => onDismiss(o.id)}
        />
      ))}
    </ul>
  );
}
