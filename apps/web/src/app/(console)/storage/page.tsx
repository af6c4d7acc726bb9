'use client';
// Storage pools: driver, folder, space and inodes used, what uses them; one
// opened below with its custom volumes (managed there) and all its volumes.
// Any signed-in user sees them; server admins create `dir` pools and delete
// empty ones.
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, ErrorBanner, PageHeader, tableClass } from '~/components/ui.tsx';
import { formatBytes } from '~/lib/operations.ts';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import { CreatePoolDialog } from './create-pool-dialog.tsx';
import { CustomVolumes } from './custom-volumes.tsx';
import { PoolVolumes } from './pool-volumes.tsx';

/** A bar of `used` out of `total`, amber past 80 %, red past 95 %. */
function UsageBar({ pool, used, total }: { pool: string; used: number; total: number }) {
  const share = total > 0 ? Math.min(1, used / total) : 0;
  const colour = share > 0.95 ? 'bg-red-500' : share > 0.8 ? 'bg-amber-500' : 'bg-sky-600';
  return (
    <div className="min-w-48 space-y-1">
      <div
        role="meter"
        aria-label={`Space used in ${pool}`}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={used}
        aria-valuetext={`${formatBytes(used)} of ${formatBytes(total)}`}
        className="h-2 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-700"
      >
        <div className={`h-full ${colour}`} style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
      <div className="text-xs text-slate-600 dark:text-slate-400">
        {formatBytes(used)} of {formatBytes(total)} ({Math.round(share * 100)} %)
      </div>
    </div>
  );
}

export default function StoragePage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.storage.pathKey() });
  const { can } = usePermissions();
  const mayManage = can('host:manage');
  const pools = useQuery(trpc.storage.list.queryOptions());
  const resources = useQueries({
    queries: (pools.data ?? []).map((p) => trpc.storage.resources.queryOptions({ name: p.name })),
  });
  const [chosen, setChosen] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const remove = useMutation(
    trpc.storage.delete.mutationOptions({
      onSuccess: (_, v) => {
        setError(null);
        if (chosen === v.name) setChosen(null);
        refresh();
      },
      onError: (e) => setError(describeError(e).message),
    }),
  );
  // The first pool's volumes show until another is chosen.
  const open = pools.data?.some((p) => p.name === chosen)
    ? chosen
    : (pools.data?.[0]?.name ?? null);

  return (
    <>
      <PageHeader title="Storage pools">
        {mayManage && (
          <Button variant="primary" onClick={() => setCreating(true)}>
            Create pool
          </Button>
        )}
      </PageHeader>
      <ErrorBanner
        message={error ?? (pools.error ? describeError(pools.error).message : null)}
        testId="storage-error"
      />
      <table className={tableClass} aria-label="Storage pools">
        <thead>
          <tr>
            <th>Name</th>
            <th>Driver</th>
            <th>Source</th>
            <th>Space</th>
            <th>Inodes</th>
            <th>Used by</th>
            <th>Status</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {pools.data?.map((p, index) => {
            const r = resources[index]?.data;
            return (
              <tr key={p.name} data-pool={p.name}>
                <td className="font-mono text-xs">
                  {p.name}
                  {p.description && <div className="font-sans text-slate-500">{p.description}</div>}
                </td>
                <td>{p.driver}</td>
                <td data-column="source" className="font-mono text-xs break-all">
                  {p.config.source ?? '—'}
                </td>
                <td data-column="space">
                  {r ? <UsageBar pool={p.name} used={r.space.used} total={r.space.total} /> : '…'}
                </td>
                <td data-column="inodes" className="text-xs">
                  {r
                    ? `${r.inodes.used.toLocaleString()} of ${r.inodes.total.toLocaleString()}`
                    : '…'}
                </td>
                <td data-column="used-by">{p.used_by.length}</td>
                <td>
                  <span
                    className={`rounded-full px-2 py-0.5 text-xs font-medium ${
                      p.status === 'Created'
                        ? 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200'
                        : 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-200'
                    }`}
                  >
                    {p.status}
                  </span>
                </td>
                <td>
                  <div className="flex gap-1">
                    <Button
                      aria-label={`Volumes of ${p.name}`}
                      aria-pressed={open === p.name}
                      onClick={() => setChosen(p.name)}
                    >
                      Volumes
                    </Button>
                    {mayManage && (
                      <Button
                        variant="danger"
                        aria-label={`Delete ${p.name}`}
                        disabled={remove.isPending}
                        onClick={() => {
                          if (window.confirm(`Delete storage pool "${p.name}"?`))
                            remove.mutate({ name: p.name });
                        }}
                      >
                        Delete
                      </Button>
                    )}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {open && <CustomVolumes key={`custom-${open}`} pool={open} />}
      {open && <PoolVolumes key={open} pool={open} />}
      <CreatePoolDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(name) => {
          setCreating(false);
          setChosen(name);
          refresh();
        }}
      />
    </>
  );
}
