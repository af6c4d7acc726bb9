'use client';
// Create a `dir` storage pool: name, optional source folder (absolute, empty
// or absent), description. Errors come back under their field.
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { StoragePoolsPost } from '@berth/engine/schemas';
import { Button, ErrorBanner, TextField, useModalDialog } from '~/components/ui.tsx';
import { formErrorsOf, type FormErrors } from '~/lib/form-errors.ts';
import { useTRPC } from '~/lib/trpc.ts';

export function CreatePoolDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose(): void;
  onCreated(name: string): void;
}) {
  const trpc = useTRPC();
  const dialog = useModalDialog(open);
  const [name, setName] = useState('');
  const [source, setSource] = useState('');
  const [description, setDescription] = useState('');
  const [server, setServer] = useState<FormErrors | null>(null);
  const create = useMutation(
    trpc.storage.create.mutationOptions({
      onSuccess: (pool) => {
        setName('');
        setSource('');
        setDescription('');
        setServer(null);
        onCreated(pool.name);
      },
      onError: (error) => setServer(formErrorsOf(error)),
    }),
  );

  const config: Record<string, string> = source.trim() ? { source: source.trim() } : {};
  const request = { name: name.trim(), driver: 'dir' as const, description, config };
  const local = StoragePoolsPost.safeParse(request);
  const errors: Record<string, string> = { ...(server?.fields ?? {}) };
  if (!local.success && name)
    for (const issue of local.error.issues) errors[issue.path.join('.')] ??= issue.message;
  const otherError = server && !Object.keys(server.fields).length ? server.message : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (local.success) create.mutate(request);
  }

  return (
    <dialog
      ref={dialog}
      onClose={onClose}
      aria-labelledby="create-pool-title"
      className="m-auto w-full max-w-lg rounded-lg border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-100"
    >
      <form onSubmit={submit} className="space-y-4 p-6">
        <h2 id="create-pool-title" className="text-lg font-semibold">
          Create storage pool (dir)
        </h2>
        <TextField
          label="Name"
          value={name}
          onChange={(e) => (setName(e.target.value), setServer(null))}
          error={errors.name}
          autoComplete="off"
          autoFocus
        />
        <TextField
          label="Source folder (optional; empty or absent)"
          value={source}
          onChange={(e) => (setSource(e.target.value), setServer(null))}
          error={errors.source}
          placeholder="/srv/berth/pool1"
          className="font-mono"
          autoComplete="off"
        />
        <TextField
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          error={errors.description}
        />
        <ErrorBanner message={otherError} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" disabled={create.isPending || !local.success}>
            {create.isPending ? 'Creating…' : 'Create'}
          </Button>
        </div>
      </form>
    </dialog>
  );
}
