'use client';
// A pool's custom volumes in the current project (after lxd-ui's storage
// volumes page): content type, size, who uses them, how many snapshots;
// filtered by name and content type; created, renamed and deleted here, one
// opened below with its config, snapshots and attachments. Project admins
// change them, operators take and restore snapshots, everyone reads.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, ErrorBanner, formatDate, inputClass, tableClass } from '~/components/ui.tsx';
import { OperationQueue, useOperationQueue } from '~/components/operation-queue.tsx';
import { UsedByLinks } from '~/components/used-by-links.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import { useProject } from '../../providers.tsx';
import { CreateVolumeDialog } from './create-volume-dialog.tsx';
import { VolumeDetail } from './volume-detail.tsx';
import { volumeErrorsOf } from './volume-errors.ts';

export function CustomVolumes({ pool }: { pool: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { project } = useProject();
  const { can } = usePermissions();
  const mayConfig = can('config', project);
  const mayDelete = can('delete', project);
  const queue = useOperationQueue();
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.storageVolumes.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.storage.pathKey() });
  };
  // The custom type's list holds the snapshots too (`v1/snap0`): counted, not shown.
  const listed = useQuery(trpc.storageVolumes.list.queryOptions({ project, pool }));
  const [filter, setFilter] = useState('');
  const [contentType, setContentType] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<{ from: string; to: string } | null>(null);
  const [renameError, setRenameError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const rename = useMutation(
    trpc.storageVolumes.rename.mutationOptions({
      onSuccess: (answer, v) => {
        setRenaming(null);
        setRenameError(null);
        setError(null);
        if (answer.operation) queue.track(answer.operation, `Move ${v.name}`);
        if (open === v.name) setOpen(v.post.name);
        refresh();
      },
      onError: (e) => setRenameError(volumeErrorsOf(e).fields.name ?? describeError(e).message),
    }),
  );
  const remove = useMutation(
    trpc.storageVolumes.delete.mutationOptions({
      onSuccess: (_, v) => {
        setError(null);
        if (open === v.name) setOpen(null);
        refresh();
      },
      onError: (e) => setError(describeError(e).message),
    }),
  );

  const all = listed.data ?? [];
  const volumes = all.filter((v) => !v.name.includes('/'));
  const snapshotCount = (name: string) => all.filter((v) => v.name.startsWith(`${name}/`)).length;
  const needle = filter.trim().toLowerCase();
  const shown = volumes.filter(
    (v) =>
      (!contentType || v.content_type === contentType) &&
      (!needle ||
        v.name.toLowerCase().includes(needle) ||
        v.description.toLowerCase().includes(needle) ||
        v.used_by.some((u) => decodeURIComponent(u).toLowerCase().includes(needle))),
  );
  const current = volumes.find((v) => v.name === open);

  return (
    <section aria-labelledby="custom-volumes" className="mt-8 space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="custom-volumes" className="text-lg font-medium">
          Custom volumes in “{pool}”
        </h2>
        <div className="flex flex-wrap items-center gap-2 sm:flex-nowrap">
          <input
            type="search"
            aria-label="Filter volumes"
            placeholder="Filter by name, description or user"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            className={`${inputClass} sm:w-64`}
          />
          <select
            aria-label="Content type filter"
            value={contentType}
            onChange={(e) => setContentType(e.target.value)}
            className={`${inputClass} sm:w-36`}
          >
            <option value="">All types</option>
            <option value="filesystem">filesystem</option>
            <option value="block">block</option>
          </select>
          {mayConfig && (
            <Button variant="primary" onClick={() => setCreating(true)}>
              Create volume
            </Button>
          )}
        </div>
      </div>
      <OperationQueue project={project} operations={queue.operations} onDismiss={queue.dismiss} />
      <ErrorBanner
        message={error ?? (listed.error ? describeError(listed.error).message : null)}
        testId="volume-error"
      />
      <table className={tableClass} aria-label={`Custom volumes of ${pool}`}>
        <thead>
          <tr>
            <th>Name</th>
            <th>Content type</th>
            <th>Size</th>
            <th>Used by</th>
            <th>Snapshots</th>
            <th>Created</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map((v) => (
            <tr key={v.name} data-custom-volume={v.name}>
              <td className="font-mono text-xs">
                {renaming?.from === v.name ? (
                  <form
                    className="space-y-1"
                    onSubmit={(e) => {
                      e.preventDefault();
                      rename.mutate({
                        project,
                        pool,
                        name: v.name,
                        post: { name: renaming.to.trim() },
                      });
                    }}
                  >
                    <div className="flex gap-1">
                      <input
                        aria-label={`New name for ${v.name}`}
                        aria-invalid={renameError ? true : undefined}
                        value={renaming.to}
                        onChange={(e) => (
                          setRenaming({ from: v.name, to: e.target.value }),
                          setRenameError(null)
                        )}
                        className={inputClass}
                        autoFocus
                      />
                      <Button type="submit" disabled={rename.isPending || !renaming.to.trim()}>
                        Save
                      </Button>
                      <Button onClick={() => (setRenaming(null), setRenameError(null))}>
                        Cancel
                      </Button>
                    </div>
                    {renameError && (
                      <p className="font-sans text-red-600 dark:text-red-400">{renameError}</p>
                    )}
                  </form>
                ) : (
                  <>
                    {v.name}
                    {v.description && (
                      <div className="font-sans text-slate-500">{v.description}</div>
                    )}
                  </>
                )}
              </td>
              <td data-column="content-type">{v.content_type}</td>
              <td data-column="size">{v.config.size ?? '—'}</td>
              <td data-column="used-by">
                <UsedByLinks urls={v.used_by} />
              </td>
              <td data-column="snapshots">{snapshotCount(v.name)}</td>
              <td>{formatDate(v.created_at)}</td>
              <td>
                <div className="flex flex-wrap gap-1">
                  <Button
                    aria-label={`Details of ${v.name}`}
                    aria-pressed={open === v.name}
                    onClick={() => setOpen(open === v.name ? null : v.name)}
                  >
                    Details
                  </Button>
                  {mayConfig && (
                    <Button
                      aria-label={`Rename ${v.name}`}
                      onClick={() => (
                        setRenaming({ from: v.name, to: v.name }),
                        setRenameError(null)
                      )}
                    >
                      Rename
                    </Button>
                  )}
                  {mayDelete && (
                    <Button
                      variant="danger"
                      aria-label={`Delete ${v.name}`}
                      disabled={remove.isPending}
                      onClick={() => {
                        if (
                          window.confirm(
                            `Delete volume "${v.name}" and its ${snapshotCount(v.name)} snapshot(s)? Its data is lost.`,
                          )
                        )
                          remove.mutate({ project, pool, name: v.name });
                      }}
                    >
                      Delete
                    </Button>
                  )}
                </div>
              </td>
            </tr>
          ))}
          {listed.data && shown.length === 0 && (
            <tr>
              <td colSpan={7} className="text-center text-slate-500">
                {volumes.length ? 'No volume matches the filter.' : 'No custom volumes.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {current && (
        <VolumeDetail
          key={current.name}
          pool={pool}
          project={project}
          volume={current}
          track={queue.track}
          onChanged={() => (setError(null), refresh())}
        />
      )}
      <CreateVolumeDialog
        pool={pool}
        project={project}
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(name) => {
          setCreating(false);
          setOpen(name);
          refresh();
        }}
      />
    </section>
  );
}
