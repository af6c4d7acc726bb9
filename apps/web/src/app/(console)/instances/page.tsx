'use client';
import Link from 'next/link';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { memo, startTransition, useCallback, useDeferredValue, useEffect, useState } from 'react';
import { OperationQueue, useOperationQueue } from '~/components/operation-queue.tsx';
import {
  Button,
  ErrorBanner,
  PageHeader,
  StatusBadge,
  formatDate,
  inputClass,
  tableClass,
} from '~/components/ui.tsx';
import { formatBytes, formatCpuTime } from '~/lib/operations.ts';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import { useProject } from '../../providers.tsx';
import { BulkActions } from './bulk-actions.tsx';
import { CreateInstanceDialog } from './create-instance-dialog.tsx';
import type { InstanceRow } from '~/lib/instance-row.ts';
import {
  InstanceActions,
  useInstanceActions,
  type InstanceActionsController,
} from './instance-actions.tsx';

/** Rows rendered before the first paint (more than a tall screen shows). */
const FIRST_SCREEN = 60;

const quickFilters = [
  { label: 'All', filter: '' },
  { label: 'Running', filter: 'status eq Running' },
  { label: 'Stopped', filter: 'status eq Stopped' },
  { label: 'Containers', filter: 'type eq container' },
  { label: 'VMs', filter: 'type eq virtual-machine' },
];

export default function InstancesPage() {
  const trpc = useTRPC();
  const { project } = useProject();
  const { can } = usePermissions();
  const [filter, setFilter] = useState('');
  const deferredFilter = useDeferredValue(filter.trim());
  const [creating, setCreating] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const instances = useQuery({
    ...trpc.instances.list.queryOptions({ project, filter: deferredFilter }),
    placeholderData: keepPreviousData,
  });
  const filterError = instances.error ? describeError(instances.error).message : null;
  const queue = useOperationQueue();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const rows = instances.data ?? [];
  // The first screenful paints at once; the rest follows in an interruptible
  // background render, so hundreds of rows never hold the page up.
  const [shown, setShown] = useState(FIRST_SCREEN);
  useEffect(() => {
    if (rows.length > shown) startTransition(() => setShown(Number.POSITIVE_INFINITY));
  }, [rows.length, shown]);
  // Only what is listed now stays selected (a filter or a delete drops the rest).
  const selectedRows = rows.filter((i) => selected.has(i.name));
  const allSelected = rows.length > 0 && selectedRows.length === rows.length;
  const toggle = useCallback(
    (name: string, on: boolean) =>
      setSelected((old) => {
        const next = new Set(old);
        if (on) next.add(name);
        else next.delete(name);
        return next;
      }),
    [],
  );
  const { actions, pending } = useInstanceActions(project, setActionError);

  return (
    <>
      <PageHeader title="Instances">
        {can('config', project) && (
          <Button variant="primary" onClick={() => setCreating(true)}>
            Create instance
          </Button>
        )}
      </PageHeader>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <input
          type="search"
          aria-label="Filter instances"
          placeholder="Filter, LXD syntax: status eq Running and config.limits.cpu eq 2"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          className={`${inputClass} max-w-xl font-mono`}
        />
        {quickFilters.map((q) => (
          <Button
            key={q.label}
            aria-pressed={filter === q.filter}
            onClick={() => setFilter(q.filter)}
            className="aria-pressed:bg-slate-200 dark:aria-pressed:bg-slate-700"
          >
            {q.label}
          </Button>
        ))}
      </div>
      <div className="space-y-2">
        <ErrorBanner message={filterError} testId="filter-error" />
        <ErrorBanner message={actionError} />
      </div>
      <BulkActions
        project={project}
        selected={selectedRows.map((i) => ({ name: i.name, status: i.status }))}
        onTrack={queue.track}
        onError={setActionError}
        onDeleted={(names) =>
          setSelected((old) => new Set([...old].filter((n) => !names.includes(n))))
        }
      />
      <OperationQueue project={project} operations={queue.operations} onDismiss={queue.dismiss} />
      <table className={tableClass} aria-label="Instances">
        <thead>
          <tr>
            <th className="w-8">
              <input
                type="checkbox"
                aria-label="Select all instances"
                checked={allSelected}
                onChange={(e) =>
                  setSelected(e.target.checked ? new Set(rows.map((i) => i.name)) : new Set())
                }
              />
            </th>
            <th>Name</th>
            <th>Status</th>
            <th>Type</th>
            <th>IPv4</th>
            <th>Image</th>
            <th>Profiles</th>
            <th>Memory</th>
            <th>CPU time</th>
            <th>Created</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, shown).map((i) => (
            <Row
              key={i.name}
              instance={i}
              selected={selected.has(i.name)}
              busy={pending.has(i.name)}
              onToggle={toggle}
              actions={actions}
            />
          ))}
          {instances.data?.length === 0 && (
            <tr>
              <td colSpan={11} className="text-center text-slate-500">
                {deferredFilter ? 'No instance matches the filter.' : 'No instances yet.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <CreateInstanceDialog project={project} open={creating} onClose={() => setCreating(false)} />
    </>
  );
}

/**
 * One instance. React Query keeps an unchanged row's object across refreshes,
 * so a live update re-renders only the rows it touches.
 */
const Row = memo(function Row({
  instance: i,
  selected,
  busy,
  onToggle,
  actions,
}: {
  instance: InstanceRow;
  selected: boolean;
  busy: boolean;
  onToggle(name: string, on: boolean): void;
  actions: InstanceActionsController;
}) {
  return (
    <tr data-instance={i.name}>
      <td>
        <input
          type="checkbox"
          aria-label={`Select ${i.name}`}
          checked={selected}
          onChange={(e) => onToggle(i.name, e.target.checked)}
        />
      </td>
      <td>
        <Link
          href={`/instances/${encodeURIComponent(i.name)}`}
          className="font-medium text-sky-700 hover:underline dark:text-sky-400"
        >
          {i.name}
        </Link>
      </td>
      <td>
        <StatusBadge status={i.status} />
      </td>
      <td>{i.type}</td>
      <td className="font-mono text-xs">{i.ipv4.join(', ') || '—'}</td>
      <td>{i.image}</td>
      <td>{i.profiles.join(', ')}</td>
      <td data-column="memory">{i.memory ? formatBytes(i.memory) : '—'}</td>
      <td data-column="cpu">{formatCpuTime(i.cpu)}</td>
      <td>{formatDate(i.created_at)}</td>
      <td>
        <InstanceActions name={i.name} status={i.status} busy={busy} actions={actions} />
      </td>
    </tr>
  );
});
