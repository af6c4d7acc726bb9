'use client';
// Snapshots: take (optional name and expiry), restore, rename, delete, and
// the schedule keys, validated as you type with the engine's key table.
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { OperationQueue, useOperationQueue } from '~/components/operation-queue.tsx';
import { Button, ErrorBanner, formatDate, inputClass, tableClass } from '~/components/ui.tsx';
import { configRowProblems, newRow } from '~/lib/config-rows.ts';
import { formatBytes } from '~/lib/operations.ts';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';
import { CopyInstanceDialog } from '../copy-instance-dialog.tsx';

type Instance = Outputs['instances']['get'];

const scheduleFields = [
  { key: 'snapshots.schedule', label: 'Schedule', placeholder: '@daily, or cron: 0 6 * * *' },
  { key: 'snapshots.expiry', label: 'Expire after', placeholder: '2w (units: M H d w m y)' },
  { key: 'snapshots.pattern', label: 'Name pattern', placeholder: 'snap%d' },
] as const;

export function SnapshotsTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const queue = useOperationQueue();
  const [error, setError] = useState<string | null>(null);
  const onError = (e: unknown) => setError(describeError(e).message);
  const snapshots = useQuery(
    trpc.snapshots.list.queryOptions({ project, instance: instance.name }),
  );
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const [stateful, setStateful] = useState(false);
  // LXD's rule: a running VM whose migration.stateful is on can save its memory with the snapshot.
  const canSaveState =
    instance.type === 'virtual-machine' &&
    instance.status !== 'Stopped' &&
    instance.expanded_config['migration.stateful'] === 'true';
  const [renaming, setRenaming] = useState<{ from: string; to: string } | null>(null);
  const [copying, setCopying] = useState<string | null>(null);

  const create = useMutation(
    trpc.snapshots.create.mutationOptions({
      onSuccess: (op) => {
        setError(null);
        setName('');
        setExpires('');
        queue.track(op, `Snapshot of ${instance.name}`);
      },
      onError,
    }),
  );
  const restore = useMutation(
    trpc.snapshots.restore.mutationOptions({
      onSuccess: (op, v) => {
        setError(null);
        queue.track(op, `Restore ${v.name}`);
      },
      onError,
    }),
  );
  const rename = useMutation(
    trpc.snapshots.rename.mutationOptions({
      onSuccess: () => {
        setError(null);
        setRenaming(null);
        void snapshots.refetch();
      },
      onError,
    }),
  );
  const remove = useMutation(
    trpc.snapshots.delete.mutationOptions({
      onSuccess: () => {
        setError(null);
        void snapshots.refetch();
      },
      onError,
    }),
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({
      project,
      instance: instance.name,
      snapshot: {
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(expires
          ? { expires_at: new Date(expires).toISOString().replace(/\.\d{3}Z$/, 'Z') }
          : {}),
        ...(canSaveState && stateful ? { stateful: true } : {}),
      },
    });
  }

  return (
    <div className="space-y-8">
      <OperationQueue project={project} operations={queue.operations} onDismiss={queue.dismiss} />
      <ErrorBanner message={error} testId="snapshot-error" />
      <form
        onSubmit={submit}
        aria-label="Take a snapshot"
        className="flex flex-wrap items-end gap-2"
      >
        <label className="space-y-1 text-sm">
          <span className="block">Snapshot name (empty: from the pattern)</span>
          <input value={name} onChange={(e) => setName(e.target.value)} className={inputClass} />
        </label>
        <label className="space-y-1 text-sm">
          <span className="block">Expires (empty: from snapshots.expiry)</span>
          <input
            type="datetime-local"
            value={expires}
            onChange={(e) => setExpires(e.target.value)}
            className={inputClass}
          />
        </label>
        {canSaveState && (
          <label className="flex items-center gap-2 pb-2 text-sm">
            <input
              type="checkbox"
              checked={stateful}
              onChange={(e) => setStateful(e.target.checked)}
            />
            Save the running state (memory)
          </label>
        )}
        <Button type="submit" variant="primary" disabled={create.isPending}>
          Take snapshot
        </Button>
      </form>
      <table className={tableClass} aria-label="Snapshots">
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Size</th>
            <th>State</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {snapshots.data?.map((s) => (
            <tr key={s.name} data-snapshot={s.name}>
              <td className="font-mono text-xs">
                {renaming?.from === s.name ? (
                  <form
                    className="flex gap-1"
                    onSubmit={(e) => {
                      e.preventDefault();
                      rename.mutate({
                        project,
                        instance: instance.name,
                        name: s.name,
                        newName: renaming.to,
                      });
                    }}
                  >
                    <input
                      aria-label={`New name for ${s.name}`}
                      value={renaming.to}
                      onChange={(e) => setRenaming({ from: s.name, to: e.target.value })}
                      className={inputClass}
                      autoFocus
                    />
                    <Button type="submit">Save</Button>
                    <Button onClick={() => setRenaming(null)}>Cancel</Button>
                  </form>
                ) : (
                  s.name
                )}
              </td>
              <td>{formatDate(s.created_at)}</td>
              <td>{formatDate(s.expires_at)}</td>
              <td>{s.size > 0 ? formatBytes(s.size) : '—'}</td>
              <td>{s.stateful ? 'saved' : '—'}</td>
              <td>
                <div className="flex gap-1">
                  <Button
                    aria-label={`Restore ${s.name}`}
                    disabled={restore.isPending}
                    onClick={() => {
                      if (
                        window.confirm(
                          s.stateful
                            ? `Restore "${instance.name}" to snapshot "${s.name}" and run on from its saved state? Changes since then are lost.`
                            : `Restore "${instance.name}" to snapshot "${s.name}"? Changes since then are lost.`,
                        )
                      )
                        restore.mutate({
                          project,
                          instance: instance.name,
                          name: s.name,
                          ...(s.stateful ? { stateful: true } : {}),
                        });
                    }}
                  >
                    Restore
                  </Button>
                  <Button aria-label={`Copy ${s.name}`} onClick={() => setCopying(s.name)}>
                    Copy
                  </Button>
                  <Button
                    aria-label={`Rename ${s.name}`}
                    onClick={() => setRenaming({ from: s.name, to: s.name })}
                  >
                    Rename
                  </Button>
                  <Button
                    variant="danger"
                    aria-label={`Delete snapshot ${s.name}`}
                    onClick={() => {
                      if (window.confirm(`Delete snapshot "${s.name}"?`))
                        remove.mutate({ project, instance: instance.name, name: s.name });
                    }}
                  >
                    Delete
                  </Button>
                </div>
              </td>
            </tr>
          ))}
          {snapshots.data?.length === 0 && (
            <tr>
              <td colSpan={6} className="text-center text-slate-500">
                No snapshots yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <CopyInstanceDialog
        project={project}
        instance={instance.name}
        snapshot={copying ?? undefined}
        open={copying !== null}
        onClose={() => setCopying(null)}
      />
      <ScheduleForm project={project} instance={instance} />
    </div>
  );
}

function ScheduleForm({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const initial = () => ({
    'snapshots.schedule': instance.config['snapshots.schedule'] ?? '',
    'snapshots.expiry': instance.config['snapshots.expiry'] ?? '',
    'snapshots.pattern': instance.config['snapshots.pattern'] ?? '',
    'snapshots.schedule.stopped': instance.config['snapshots.schedule.stopped'] ?? '',
  });
  const [values, setValues] = useState(initial);
  const [saved, setSaved] = useState(false);
  const save = useMutation(
    trpc.snapshots.setSchedule.mutationOptions({ onSuccess: () => setSaved(true) }),
  );
  // The engine's verdict on each non-empty key, as you type.
  const rows = Object.entries(values)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => ({ ...newRow(k, v), id: k }));
  const problems = configRowProblems(rows, { profile: false, instanceType: instance.type });
  const serverError = save.error ? describeError(save.error) : null;
  const inherited = (key: string) =>
    instance.config[key] === undefined ? instance.expanded_config[key] : undefined;

  return (
    <form
      aria-label="Snapshot schedule"
      className="space-y-3"
      onSubmit={(e) => {
        e.preventDefault();
        if (Object.keys(problems).length) return;
        setSaved(false);
        save.mutate({ project, instance: instance.name, config: values });
      }}
    >
      <h3 className="font-medium">Schedule</h3>
      {scheduleFields.map((f) => {
        const error = problems[f.key];
        return (
          <label key={f.key} className="block max-w-xl space-y-1 text-sm">
            <span className="block">
              {f.label} <span className="font-mono text-xs text-slate-500">{f.key}</span>
              {inherited(f.key) && (
                <span className="text-xs text-slate-500">
                  {' '}
                  (from a profile: {inherited(f.key)})
                </span>
              )}
            </span>
            <input
              value={values[f.key]}
              placeholder={f.placeholder}
              aria-invalid={error ? true : undefined}
              onChange={(e) => {
                setSaved(false);
                setValues({ ...values, [f.key]: e.target.value });
              }}
              className={`${inputClass} font-mono aria-invalid:border-red-500`}
            />
            {error && (
              <span role="alert" className="block text-xs text-red-600 dark:text-red-400">
                {error}
              </span>
            )}
          </label>
        );
      })}
      <label className="flex items-center gap-2 text-sm">
        <input
          type="checkbox"
          checked={values['snapshots.schedule.stopped'] === 'true'}
          onChange={(e) =>
            setValues({ ...values, 'snapshots.schedule.stopped': e.target.checked ? 'true' : '' })
          }
        />
        Also take scheduled snapshots while the instance is stopped
      </label>
      <ErrorBanner message={serverError?.message} />
      <div className="flex items-center gap-2">
        <Button
          type="submit"
          variant="primary"
          disabled={save.isPending || Object.keys(problems).length > 0}
        >
          Save schedule
        </Button>
        {saved && (
          <span role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
            Saved.
          </span>
        )}
      </div>
    </form>
  );
}
