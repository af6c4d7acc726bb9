'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { InstancesPost } from '@berth/engine/schemas';
import { nameProblem } from '@berth/engine/validation';
import { Button, ErrorBanner, inputClass, useModalDialog } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';

interface FieldErrors {
  [field: string]: string;
}

/**
 * Create an instance: image, name, type, profiles. Only images of the chosen
 * type are offered (a VM cannot boot a container's image, nor the other way
 * round); the first one is picked until the user picks. The shape and the name
 * rules are checked as you type with the engine's own schema and validator;
 * what only the server can judge (a taken name, limits, restrictions) comes
 * back under its field.
 */
export function CreateInstanceDialog({
  project,
  open,
  onClose,
}: {
  project: string;
  open: boolean;
  onClose(): void;
}) {
  const trpc = useTRPC();
  const dialog = useModalDialog(open);
  const aliases = useQuery({ ...trpc.images.aliases.queryOptions({ project }), enabled: open });
  const profiles = useQuery({ ...trpc.profiles.list.queryOptions({ project }), enabled: open });
  const [name, setName] = useState('');
  /** The alias picked; null: none picked yet (the first of the type), '' an empty instance. */
  const [picked, setPicked] = useState<string | null>(null);
  const [type, setType] = useState<'container' | 'virtual-machine'>('container');
  const [chosen, setChosen] = useState<string[]>(['default']);
  const [serverErrors, setServerErrors] = useState<{ message: string; fields: FieldErrors } | null>(
    null,
  );

  const create = useMutation(
    trpc.instances.create.mutationOptions({
      onSuccess: () => {
        setName('');
        setServerErrors(null);
        onClose();
      },
      onError: (error) => {
        const d = describeError(error);
        const fields: FieldErrors = {};
        for (const [k, v] of Object.entries(d.fieldErrors))
          fields[k.replace(/^instance\./, '')] = v;
        if (d.field) fields[d.field.replace(/^instance\./, '')] ??= d.message;
        setServerErrors({ message: d.message, fields });
      },
    }),
  );

  const images = aliases.data?.filter((a) => a.type === type) ?? [];
  const image =
    picked !== null && (picked === '' || images.some((a) => a.name === picked))
      ? picked
      : (images[0]?.name ?? '');

  const request = {
    ...(name ? { name } : {}),
    type,
    profiles: chosen,
    source: image ? { type: 'image' as const, alias: image } : { type: 'none' as const },
  };
  const local = InstancesPost.safeParse(request);
  const nameError = name ? nameProblem(name, 'instance')?.message : undefined;
  const errors: FieldErrors = { ...(serverErrors?.fields ?? {}) };
  if (!local.success)
    for (const issue of local.error.issues) errors[issue.path.join('.')] ??= issue.message;
  if (nameError) errors.name ??= nameError;
  const fieldOf = (key: string) =>
    errors[key] ??
    Object.entries(errors).find(([k]) => k.startsWith(`${key}.`) || k.startsWith(`${key}[`))?.[1];
  const otherError =
    serverErrors && !Object.keys(serverErrors.fields).length ? serverErrors.message : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!local.success || nameError) return;
    create.mutate({ project, instance: request });
  }

  return (
    <dialog
      ref={dialog}
      onClose={onClose}
      aria-labelledby="create-title"
      className="m-auto w-full max-w-lg rounded-lg border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-100"
    >
      <form onSubmit={submit} className="space-y-4 p-6">
        <h2 id="create-title" className="text-lg font-semibold">
          Create instance in “{project}”
        </h2>
        <label className="block space-y-1 text-sm">
          <span>Image</span>
          <select
            name="image"
            value={image}
            onChange={(e) => setPicked(e.target.value)}
            className={inputClass}
          >
            <option value="">(none: an empty instance)</option>
            {images.map((a) => (
              <option key={a.name} value={a.name}>
                {a.name}
              </option>
            ))}
          </select>
          {aliases.data && images.length === 0 && (
            <span className="text-slate-500">
              No {type === 'virtual-machine' ? 'virtual machine' : 'container'} images in this
              project yet: build one on the Images page.
            </span>
          )}
          {fieldOf('source') && <span className="text-red-600">{fieldOf('source')}</span>}
        </label>
        <label className="block space-y-1 text-sm">
          <span>Name (empty: a generated one)</span>
          <input
            name="name"
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              setServerErrors(null);
            }}
            aria-invalid={fieldOf('name') ? true : undefined}
            aria-describedby="name-error"
            className={inputClass}
            autoFocus
          />
          {fieldOf('name') && (
            <span id="name-error" role="alert" className="text-red-600">
              {fieldOf('name')}
            </span>
          )}
        </label>
        <fieldset className="space-y-1 text-sm">
          <legend>Type</legend>
          <div className="flex gap-4">
            {(['container', 'virtual-machine'] as const).map((t) => (
              <label key={t} className="flex items-center gap-1">
                <input
                  type="radio"
                  name="type"
                  value={t}
                  checked={type === t}
                  onChange={() => {
                    setType(t);
                    setPicked(null);
                    setServerErrors(null);
                  }}
                />{' '}
                {t}
              </label>
            ))}
          </div>
          {fieldOf('type') && <span className="text-red-600">{fieldOf('type')}</span>}
        </fieldset>
        <fieldset className="space-y-1 text-sm">
          <legend>Profiles (applied in this order)</legend>
          <div className="flex flex-wrap gap-4">
            {profiles.data?.map((p) => (
              <label key={p.name} className="flex items-center gap-1">
                <input
                  type="checkbox"
                  checked={chosen.includes(p.name)}
                  onChange={(e) => {
                    setServerErrors(null);
                    setChosen(
                      e.target.checked ? [...chosen, p.name] : chosen.filter((c) => c !== p.name),
                    );
                  }}
                />
                {p.name}
              </label>
            ))}
          </div>
          {fieldOf('profiles') && <span className="text-red-600">{fieldOf('profiles')}</span>}
        </fieldset>
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
