'use client';
import Link from 'next/link';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useDeferredValue, useState } from 'react';
import {
  Button,
  ErrorBanner,
  PageHeader,
  StatusBadge,
  formatDate,
  inputClass,
  tableClass,
} from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { useProject } from '../../providers.tsx';
import { CreateInstanceDialog } from './create-instance-dialog.tsx';
import { InstanceActions } from './instance-actions.tsx';
import { imageOf, ipv4Of } from './instance-info.ts';

const quickFilters = [
  { label: 'All', filter: '' },
  { label: 'Running', filter: 'status eq Running' },
  { label: 'Stopped', filter: 'status eq Stopped' },
  { label: 'Containers', filter: 'type eq container' },
];

export default function InstancesPage() {
  const trpc = useTRPC();
  const { project } = useProject();
  const [filter, setFilter] = useState('');
  const deferredFilter = useDeferredValue(filter.trim());
  const [creating, setCreating] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const instances = useQuery({
    ...trpc.instances.list.queryOptions({ project, filter: deferredFilter }),
    placeholderData: keepPreviousData,
  });
  const filterError = instances.error ? describeError(instances.error).message : null;

  return (
    <>
      <PageHeader title="Instances">
        <Button variant="primary" onClick={() => setCreating(true)}>
          Create instance
        </Button>
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
      <table className={tableClass} aria-label="Instances">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Type</th>
            <th>IPv4</th>
            <th>Image</th>
            <th>Profiles</th>
            <th>Created</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {instances.data?.map((i) => (
            <tr key={i.name} data-instance={i.name}>
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
              <td className="font-mono text-xs">{ipv4Of(i).join(', ') || '—'}</td>
              <td>{imageOf(i)}</td>
              <td>{i.profiles.join(', ')}</td>
              <td>{formatDate(i.created_at)}</td>
              <td>
                <InstanceActions
                  project={project}
                  name={i.name}
                  status={i.status}
                  onError={setActionError}
                />
              </td>
            </tr>
          ))}
          {instances.data?.length === 0 && (
            <tr>
              <td colSpan={8} className="text-center text-slate-500">
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
