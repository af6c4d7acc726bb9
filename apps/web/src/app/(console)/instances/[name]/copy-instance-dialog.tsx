'use client';
// Copy an instance (or one of its snapshots) to a new one, as `lxc copy`:
// the new name checked as you type with the engine's validator, what only the
// server can judge (a taken name, a gone snapshot) under its field, and the
// copy's operation with its progress until it is done.
import Link from 'next/link';
import { useMutation } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { nameProblem } from '@berth/engine/validation';
import { OperationQueue, useOperationQueue } from '~/components/operation-queue.tsx';
import { Button, ErrorBanner, TextField } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';

export function CopyInstanceDialog({
  project,
  instance,
  snapshot,
  open,
  onClose,
}: {
  project: string;
  instance: string;
  /** Copy from this snapshot of `instance` (its content and config, no snapshots). */
  snapshot?: string | undefined;
  open: boolean;
  onClose(): void;
}) {
  const trpc = useTRPC();
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const queue = useOperationQueue();
  const [name, setName] = useState('');
  const [withSnapshots, setWithSnapshots] = useState(true);
  const [serverError, setServerError] = useState<{ message: string; field?: string } | null>(null);
  const [copied, setCopied] = useState<string | null>(null);

  const copy = useMutation(
    trpc.instances.copy.mutationOptions({
      onSuccess: ({ operation, instance: made }, v) => {
        setServerError(null);
        queue.track(operation, `Copy to ${made.name}`, (status) => {
          if (status === 'Success') setCopied(v.newName);
        });
      },
      onError: (error) => {
        const d = describeError(error);
        setServerError({ message: d.message, ...(d.field ? { field: d.field } : {}) });
      },
    }),
  );

  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) {
      setName('');
      setCopied(null);
      setServerError(null);
      el.showModal();
    }
    if (!open && el.open) el.close();
  }, [open]);

  const nameError =
    (name ? nameProblem(name, 'instance')?.message : undefined) ??
    (serverError?.field === 'newName' || serverError?.field === 'name'
      ? serverError.message
      : undefined);
  const sourceError = serverError?.field?.startsWith('source') ? serverError.message : undefined;
  const otherError = serverError && !nameError && !sourceError ? serverError.message : null;
  const source = snapshot ? `${instance}/${snapshot}` : instance;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!name || nameError) return;
    setCopied(null);
    copy.mutate({
      project,
      name: instance,
      newName: name,
      ...(snapshot ? { snapshot } : {}),
      instanceOnly: snapshot ? true : !withSnapshots,
    });
  }

  return (
    <dialog
      ref={dialog}
      onClose={onClose}
      aria-labelledby={titleId}
      className="m-auto w-full max-w-lg rounded-lg border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-100"
    >
      <form onSubmit={submit} className="space-y-4 p-6">
        <h2 id={titleId} className="text-lg font-semibold">
          Copy “{source}”
        </h2>
        <TextField
          label="New instance name"
          name="copy-name"
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            setServerError(null);
          }}
          error={nameError}
          autoFocus
        />
        {!snapshot && (
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              name="with-snapshots"
              checked={withSnapshots}
              onChange={(e) => setWithSnapshots(e.target.checked)}
            />
            Copy its snapshots too
          </label>
        )}
        {sourceError && <p className="text-sm text-red-600 dark:text-red-400">{sourceError}</p>}
        <ErrorBanner message={otherError} />
        <OperationQueue project={project} operations={queue.operations} onDismiss={queue.dismiss} />
        {copied && (
          <p className="text-sm">
            Copied:{' '}
            <Link
              href={`/instances/${encodeURIComponent(copied)}`}
              className="text-sky-700 hover:underline dark:text-sky-400"
            >
              {copied}
            </Link>
          </p>
        )}
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Close</Button>
          <Button
            type="submit"
            variant="primary"
            disabled={copy.isPending || !name || Boolean(nameError)}
          >
            {copy.isPending ? 'Copying…' : 'Copy'}
          </Button>
        </div>
      </form>
    </dialog>
  );
}
