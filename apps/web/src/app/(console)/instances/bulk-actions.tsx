'use client';
// Start / stop / restart / freeze / delete for the selected instances. Each
// lifecycle change is an operation handed to the page's operation queue;
// delete asks first and forces running instances down.
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { Button } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';

type Action = 'start' | 'stop' | 'restart' | 'freeze';
const actions: { action: Action; label: string; applies(status: string): boolean }[] = [
  { action: 'start', label: 'Start', applies: (s) => s === 'Stopped' || s === 'Frozen' },
  { action: 'stop', label: 'Stop', applies: (s) => s === 'Running' || s === 'Frozen' },
  { action: 'restart', label: 'Restart', applies: (s) => s === 'Running' },
  { action: 'freeze', label: 'Freeze', applies: (s) => s === 'Running' },
];

export function BulkActions({
  project,
  selected,
  onTrack,
  onError,
  onDeleted,
}: {
  project: string;
  /** Selected instances and their status. */
  selected: { name: string; status: string }[];
  onTrack(op: { id: string }, label: string): void;
  onError(message: string | null): void;
  onDeleted(names: string[]): void;
}) {
  const trpc = useTRPC();
  const { can } = usePermissions();
  const [busy, setBusy] = useState(false);
  const changeState = useMutation(trpc.instances.changeState.mutationOptions());
  const remove = useMutation(trpc.instances.delete.mutationOptions());

  async function each(names: string[], run: (name: string) => Promise<void>) {
    setBusy(true);
    const results = await Promise.allSettled(names.map(run));
    setBusy(false);
    const failed = results
      .map((r, i) =>
        r.status === 'rejected' ? `${names[i]}: ${describeError(r.reason).message}` : null,
      )
      .filter((m): m is string => m !== null);
    onError(failed.length ? failed.join('; ') : null);
    return results;
  }

  async function lifecycle(action: Action) {
    // Only those the action applies to (starting a running one is an error, not a no-op).
    const names = selected
      .filter((s) => actions.find((a) => a.action === action)!.applies(s.status))
      .map((s) => s.name);
    await each(names, async (name) => {
      const op = await changeState.mutateAsync({ project, name, state: { action } });
      onTrack(op, `${action} ${name}`);
    });
  }

  async function deleteAll() {
    const names = selected.map((s) => s.name);
    const running = selected.filter((s) => s.status !== 'Stopped').map((s) => s.name);
    const warning = running.length
      ? `\nRunning ones are stopped first: ${running.join(', ')}.`
      : '';
    if (
      !window.confirm(
        `Delete ${names.length} instance(s): ${names.join(', ')}?${warning}\nThis cannot be undone.`,
      )
    )
      return;
    const results = await each(names, (name) => remove.mutateAsync({ project, name, force: true }));
    onDeleted(names.filter((_, i) => results[i]!.status === 'fulfilled'));
  }

  if (!selected.length) return null;
  const mayLifecycle = can('lifecycle', project);
  return (
    <div
      role="toolbar"
      aria-label="Selected instances"
      className="mb-3 flex flex-wrap items-center gap-2 rounded-md border border-sky-200 bg-sky-50 px-3 py-2 text-sm dark:border-sky-900 dark:bg-sky-950"
    >
      <span data-testid="selected-count">{selected.length} selected</span>
      {actions.map((a) => (
        <Button
          key={a.action}
          disabled={busy || !mayLifecycle || !selected.some((s) => a.applies(s.status))}
          onClick={() => void lifecycle(a.action)}
        >
          {a.label} selected
        </Button>
      ))}
      {can('delete', project) && (
        <Button variant="danger" disabled={busy} onClick={() => void deleteAll()}>
          Delete selected
        </Button>
      )}
    </div>
  );
}
