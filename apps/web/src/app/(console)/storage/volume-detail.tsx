'use client';
// One custom volume: its usage, description and config (size and the
// snapshot keys), the instances it is attached to (attach: a disk device
// added to an instance through `instances.patch`; detach: the instance's
// devices PUT without it), and its snapshots: take, restore, rename, delete.
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import {
  Button,
  ErrorBanner,
  formatDate,
  inputClass,
  tableClass,
  TextField,
} from '~/components/ui.tsx';
import type { TrackedOperation } from '~/components/operation-queue.tsx';
import { usedByEntry } from '~/components/used-by-links.tsx';
import { deviceOfField } from '~/lib/config-rows.ts';
import { formatBytes } from '~/lib/operations.ts';
import { describeError, useTRPC, useTRPCClient, type Outputs } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import { freeDeviceName, putWithoutVolume, snapshotNameOf, volumeDisk } from './volume-devices.ts';
import { volumeErrorsOf, type VolumeFormErrors } from './volume-errors.ts';

type Volume = Outputs['storageVolumes']['get'];
type Track = (op: { id: string }, label: string, onDone?: TrackedOperation['onDone']) => void;

/** The keys the form edits; any other key of the volume is kept as it is. */
const EDITED = ['size', 'snapshots.schedule', 'snapshots.expiry', 'snapshots.pattern'] as const;

export function VolumeDetail({
  pool,
  project,
  volume,
  track,
  onChanged,
}: {
  pool: string;
  project: string;
  volume: Volume;
  track: Track;
  onChanged(): void;
}) {
  const trpc = useTRPC();
  const { can } = usePermissions();
  const name = volume.name;
  const state = useQuery(trpc.storageVolumes.state.queryOptions({ project, pool, name }));
  const usage = state.data?.usage;
  return (
    <section
      aria-labelledby="volume-detail"
      className="mt-6 space-y-6 rounded-lg border border-slate-200 p-4 dark:border-slate-800"
    >
      <h3 id="volume-detail" className="text-base font-medium">
        Volume “{name}”
      </h3>
      <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 text-sm" aria-label="Volume state">
        <dt className="text-slate-500">Content type</dt>
        <dd>{volume.content_type}</dd>
        <dt className="text-slate-500">Used</dt>
        <dd data-testid="volume-usage">
          {usage
            ? `${formatBytes(usage.used)}${usage.total > 0 ? ` of ${formatBytes(usage.total)}` : ''}`
            : '…'}
        </dd>
      </dl>
      <div className="grid gap-6 lg:grid-cols-2">
        <VolumeConfigForm
          pool={pool}
          project={project}
          volume={volume}
          mayEdit={can('config', project)}
          onChanged={onChanged}
        />
        <VolumeAttachments
          pool={pool}
          project={project}
          volume={volume}
          mayEdit={can('config', project)}
          onChanged={onChanged}
        />
      </div>
      <VolumeSnapshots
        pool={pool}
        project={project}
        volume={volume}
        mayEdit={can('snapshots', project)}
        track={track}
        onChanged={onChanged}
      />
    </section>
  );
}

function VolumeConfigForm({
  pool,
  project,
  volume,
  mayEdit,
  onChanged,
}: {
  pool: string;
  project: string;
  volume: Volume;
  mayEdit: boolean;
  onChanged(): void;
}) {
  const trpc = useTRPC();
  const initial = () => ({
    description: volume.description,
    ...Object.fromEntries(EDITED.map((k) => [k, volume.config[k] ?? ''])),
  });
  const [draft, setDraft] = useState<Record<string, string>>(initial);
  const [server, setServer] = useState<VolumeFormErrors | null>(null);
  const [saved, setSaved] = useState(false);
  const update = useMutation(
    trpc.storageVolumes.update.mutationOptions({
      onSuccess: () => (setServer(null), setSaved(true), onChanged()),
      onError: (e) => (setServer(volumeErrorsOf(e)), setSaved(false)),
    }),
  );
  const set = (key: string, value: string) => (
    setDraft((d) => ({ ...d, [key]: value })),
    setSaved(false),
    setServer(null)
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    // PUT: the config as it is (volatile keys are the engine's), the edited keys as typed.
    const config: Record<string, string> = Object.fromEntries(
      Object.entries(volume.config).filter(
        ([k]) => !k.startsWith('volatile.') && !(EDITED as readonly string[]).includes(k),
      ),
    );
    for (const k of EDITED) if (draft[k]?.trim()) config[k] = draft[k].trim();
    update.mutate({
      project,
      pool,
      name: volume.name,
      put: { description: draft.description ?? '', config },
    });
  }

  const errors = server?.fields ?? {};
  const known = ['description', ...EDITED];
  const other = server && !known.some((k) => errors[k]) ? server.message : null;
  const labels: Record<(typeof EDITED)[number], string> = {
    size: 'Size',
    'snapshots.schedule': 'Snapshot schedule (cron or @daily)',
    'snapshots.expiry': 'Snapshot expiry (e.g. 7d)',
    'snapshots.pattern': 'Snapshot name pattern (e.g. snap%d)',
  };
  return (
    <form onSubmit={submit} aria-label={`Configuration of ${volume.name}`} className="space-y-3">
      <h4 className="font-medium">Configuration</h4>
      <fieldset disabled={!mayEdit} className="space-y-3">
        <TextField
          label="Description"
          value={draft.description ?? ''}
          onChange={(e) => set('description', e.target.value)}
          error={errors.description}
        />
        {EDITED.map((k) => (
          <TextField
            key={k}
            label={labels[k]}
            value={draft[k] ?? ''}
            onChange={(e) => set(k, e.target.value)}
            error={errors[k]}
            className="font-mono"
            autoComplete="off"
          />
        ))}
      </fieldset>
      <ErrorBanner message={other} />
      {mayEdit && (
        <div className="flex items-center gap-3">
          <Button type="submit" variant="primary" disabled={update.isPending}>
            Save
          </Button>
          {saved && (
            <span role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
              Saved
            </span>
          )}
        </div>
      )}
    </form>
  );
}

function VolumeAttachments({
  pool,
  project,
  volume,
  mayEdit,
  onChanged,
}: {
  pool: string;
  project: string;
  volume: Volume;
  mayEdit: boolean;
  onChanged(): void;
}) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const instances = useQuery(trpc.instances.list.queryOptions({ project }));
  const [instance, setInstance] = useState('');
  const [mountPath, setMountPath] = useState(`/mnt/${volume.name}`);
  const [server, setServer] = useState<{ message: string; path: string | null } | null>(null);
  const [detachError, setDetachError] = useState<string | null>(null);
  const attach = useMutation(
    trpc.instances.patch.mutationOptions({
      onSuccess: () => (setServer(null), setInstance(''), onChanged()),
      onError: (e) => {
        const d = describeError(e);
        const device = deviceOfField(d.field);
        const message = d.message.replace(/^devices\[[^:]*\]:\s*/, '');
        setServer({ message: d.message, path: device?.[1] === 'path' ? message : null });
      },
    }),
  );
  const detach = useMutation({
    mutationFn: async (target: { project: string; name: string }) => {
      // Fresh, so a change made meanwhile is not undone by this PUT.
      const current = await client.instances.get.query(target);
      await client.instances.update.mutate({
        ...target,
        put: putWithoutVolume(current, pool, volume.name),
      });
    },
    onSuccess: () => (setDetachError(null), onChanged()),
    onError: (e) => setDetachError(describeError(e).message),
  });

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!instance) return;
    setServer(null);
    let devices: Record<string, Record<string, string>>;
    try {
      devices = (await client.instances.get.query({ project, name: instance })).devices;
    } catch (e) {
      setServer({ message: describeError(e).message, path: null });
      return;
    }
    attach.mutate({
      project,
      name: instance,
      patch: {
        devices: {
          [freeDeviceName(devices, volume.name)]: volumeDisk(pool, volume.name, mountPath.trim()),
        },
      },
    });
  }

  const users = volume.used_by.map(usedByEntry);
  const attached = new Set(users.filter((u) => u.instance).map((u) => u.instance!));
  return (
    <div className="space-y-3">
      <h4 className="font-medium">Attached to</h4>
      <ul aria-label={`Instances using ${volume.name}`} className="space-y-1 text-sm">
        {users.map((u) => (
          <li key={u.label} className="flex items-center gap-2">
            <span className="font-mono text-xs">{u.label}</span>
            {mayEdit && u.instance && (
              <Button
                aria-label={`Detach from ${u.instance}`}
                disabled={detach.isPending}
                onClick={() => detach.mutate({ project: u.project, name: u.instance! })}
              >
                Detach
              </Button>
            )}
          </li>
        ))}
        {users.length === 0 && <li className="text-slate-500">Not attached.</li>}
      </ul>
      <ErrorBanner message={detachError} testId="volume-detach-error" />
      {mayEdit && (
        <form
          onSubmit={submit}
          aria-label={`Attach ${volume.name}`}
          className="flex flex-wrap items-start gap-2"
        >
          <label className="space-y-1 text-sm">
            <span className="block">Instance</span>
            <select
              value={instance}
              onChange={(e) => (setInstance(e.target.value), setServer(null))}
              className={inputClass}
            >
              <option value="">Choose…</option>
              {(instances.data ?? [])
                .filter((i) => !attached.has(i.name))
                .map((i) => (
                  <option key={i.name} value={i.name}>
                    {i.name} ({i.status.toLowerCase()})
                  </option>
                ))}
            </select>
          </label>
          <div className="min-w-48 flex-1">
            <TextField
              label={volume.content_type === 'block' ? 'Path (VMs: empty)' : 'Mount path'}
              value={mountPath}
              onChange={(e) => (setMountPath(e.target.value), setServer(null))}
              error={server?.path}
              className="font-mono"
              autoComplete="off"
            />
          </div>
          <Button
            type="submit"
            variant="primary"
            className="mt-6"
            disabled={!instance || attach.isPending}
          >
            Attach
          </Button>
        </form>
      )}
      <ErrorBanner
        message={server && !server.path ? server.message : null}
        testId="volume-attach-error"
      />
    </div>
  );
}

function VolumeSnapshots({
  pool,
  project,
  volume,
  mayEdit,
  track,
  onChanged,
}: {
  pool: string;
  project: string;
  volume: Volume;
  mayEdit: boolean;
  track: Track;
  onChanged(): void;
}) {
  const trpc = useTRPC();
  const name = volume.name;
  const snapshots = useQuery(trpc.storageVolumes.snapshots.queryOptions({ project, pool, name }));
  const [newName, setNewName] = useState('');
  const [createError, setCreateError] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<{ from: string; to: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [restored, setRestored] = useState<string | null>(null);
  const onError = (e: unknown) => (setError(describeError(e).message), setRestored(null));
  const create = useMutation(
    trpc.storageVolumes.createSnapshot.mutationOptions({
      onSuccess: (op) => (
        setNewName(''),
        setCreateError(null),
        track(op, `Snapshot ${name}`),
        onChanged()
      ),
      onError: (e) => setCreateError(volumeErrorsOf(e).fields.name ?? describeError(e).message),
    }),
  );
  const restore = useMutation(
    trpc.storageVolumes.restoreSnapshot.mutationOptions({
      onSuccess: (_, v) => (setError(null), setRestored(v.snapshot), onChanged()),
      onError,
    }),
  );
  const rename = useMutation(
    trpc.storageVolumes.renameSnapshot.mutationOptions({
      onSuccess: (op, v) => (
        setError(null),
        setRenaming(null),
        track(op, `Rename snapshot ${v.snapshot}`),
        onChanged()
      ),
      onError,
    }),
  );
  const remove = useMutation(
    trpc.storageVolumes.deleteSnapshot.mutationOptions({
      onSuccess: (op, v) => (
        setError(null),
        track(op, `Delete snapshot ${v.snapshot}`),
        onChanged()
      ),
      onError,
    }),
  );

  return (
    <div className="space-y-3">
      <h4 className="font-medium">Snapshots</h4>
      {mayEdit && (
        <form
          aria-label={`Snapshot ${name}`}
          className="flex flex-wrap items-start gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate({
              project,
              pool,
              name,
              snapshot: newName.trim() ? { name: newName.trim() } : {},
            });
          }}
        >
          <TextField
            label="Snapshot name (empty: from the pattern)"
            value={newName}
            onChange={(e) => (setNewName(e.target.value), setCreateError(null))}
            error={createError}
            autoComplete="off"
          />
          <Button type="submit" variant="primary" className="mt-6" disabled={create.isPending}>
            Take snapshot
          </Button>
        </form>
      )}
      <ErrorBanner message={error} testId="volume-snapshot-error" />
      {restored && (
        <p role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
          Restored from “{restored}”.
        </p>
      )}
      <table className={tableClass} aria-label={`Snapshots of ${name}`}>
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Expires</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {snapshots.data?.map((s) => {
            const snap = snapshotNameOf(s.name);
            return (
              <tr key={snap} data-snapshot={snap}>
                <td className="font-mono text-xs">
                  {renaming?.from === snap ? (
                    <form
                      className="flex gap-1"
                      onSubmit={(e) => {
                        e.preventDefault();
                        rename.mutate({
                          project,
                          pool,
                          name,
                          snapshot: snap,
                          newName: renaming.to.trim(),
                        });
                      }}
                    >
                      <input
                        aria-label={`New name for snapshot ${snap}`}
                        value={renaming.to}
                        onChange={(e) => setRenaming({ from: snap, to: e.target.value })}
                        className={inputClass}
                        autoFocus
                      />
                      <Button type="submit" disabled={!renaming.to.trim() || rename.isPending}>
                        Save
                      </Button>
                      <Button onClick={() => setRenaming(null)}>Cancel</Button>
                    </form>
                  ) : (
                    snap
                  )}
                </td>
                <td>{formatDate(s.created_at)}</td>
                <td>{formatDate(s.expires_at)}</td>
                <td>
                  {mayEdit && (
                    <div className="flex flex-wrap gap-1">
                      <Button
                        aria-label={`Restore ${snap}`}
                        disabled={restore.isPending}
                        onClick={() => {
                          if (
                            window.confirm(
                              `Restore volume "${name}" from snapshot "${snap}"? What it holds now is replaced.`,
                            )
                          )
                            restore.mutate({ project, pool, name, snapshot: snap });
                        }}
                      >
                        Restore
                      </Button>
                      <Button
                        aria-label={`Rename snapshot ${snap}`}
                        onClick={() => setRenaming({ from: snap, to: snap })}
                      >
                        Rename
                      </Button>
                      <Button
                        variant="danger"
                        aria-label={`Delete snapshot ${snap}`}
                        disabled={remove.isPending}
                        onClick={() => {
                          if (window.confirm(`Delete snapshot "${snap}" of "${name}"?`))
                            remove.mutate({ project, pool, name, snapshot: snap });
                        }}
                      >
                        Delete
                      </Button>
                    </div>
                  )}
                </td>
              </tr>
            );
          })}
          {snapshots.data?.length === 0 && (
            <tr>
              <td colSpan={4} className="text-center text-slate-500">
                No snapshots.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
