'use client';
// Create a custom volume in a pool: name, content type (filesystem or
// block), size, description. The name is checked as you type with the
// engine's own rule; what only the server can judge (a name taken, a bad
// size) comes back under its field.
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { StorageVolumeName } from '@berth/engine/schemas';
import { Button, ErrorBanner, inputClass, TextField, useModalDialog } from '~/components/ui.tsx';
import { useTRPC } from '~/lib/trpc.ts';
import { volumeErrorsOf, type VolumeFormErrors } from './volume-errors.ts';

export function CreateVolumeDialog({
  pool,
  project,
  open,
  onClose,
  onCreated,
}: {
  pool: string;
  project: string;
  open: boolean;
  onClose(): void;
  onCreated(name: string): void;
}) {
  const trpc = useTRPC();
  const dialog = useModalDialog(open);
  const [name, setName] = useState('');
  const [contentType, setContentType] = useState<'filesystem' | 'block'>('filesystem');
  const [size, setSize] = useState('');
  const [description, setDescription] = useState('');
  const [server, setServer] = useState<VolumeFormErrors | null>(null);
  const create = useMutation(
    trpc.storageVolumes.create.mutationOptions({
      onSuccess: (_, v) => {
        setName('');
        setSize('');
        setDescription('');
        setContentType('filesystem');
        setServer(null);
        onCreated(v.volume.name);
      },
      onError: (error) => setServer(volumeErrorsOf(error)),
    }),
  );

  const local = StorageVolumeName.safeParse(name.trim());
  const errors: Record<string, string> = { ...(server?.fields ?? {}) };
  if (!local.success && name) errors.name ??= local.error.issues[0]?.message ?? 'invalid name';
  const known = new Set(['name', 'content_type', 'size', 'description']);
  const otherError =
    server && !Object.keys(server.fields).some((f) => known.has(f)) ? server.message : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!local.success) return;
    create.mutate({
      project,
      pool,
      volume: {
        name: name.trim(),
        content_type: contentType,
        description,
        config: size.trim() ? { size: size.trim() } : {},
      },
    });
  }

  return (
    <dialog
      ref={dialog}
      onClose={onClose}
      aria-labelledby="create-volume-title"
      className="m-auto w-full max-w-lg rounded-lg border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-100"
    >
      <form onSubmit={submit} className="space-y-4 p-6">
        <h2 id="create-volume-title" className="text-lg font-semibold">
          Create volume in “{pool}”
        </h2>
        <TextField
          label="Name"
          value={name}
          onChange={(e) => (setName(e.target.value), setServer(null))}
          error={errors.name}
          autoComplete="off"
          autoFocus
        />
        <label className="block space-y-1 text-sm">
          <span>Content type</span>
          <select
            value={contentType}
            onChange={(e) => (
              setContentType(e.target.value as 'filesystem' | 'block'),
              setServer(null)
            )}
            className={inputClass}
          >
            <option value="filesystem">filesystem</option>
            <option value="block">block</option>
          </select>
          {errors.content_type && (
            <span className="text-red-600 dark:text-red-400">{errors.content_type}</span>
          )}
        </label>
        <TextField
          label={
            contentType === 'block'
              ? 'Size (empty: 10GiB)'
              : 'Size (optional, e.g. 1GiB; a dir pool does not enforce it)'
          }
          value={size}
          onChange={(e) => (setSize(e.target.value), setServer(null))}
          error={errors.size}
          placeholder="1GiB"
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
