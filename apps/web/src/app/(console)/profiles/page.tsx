'use client';
// Profiles: list with where each is used, create, edit config and devices
// (validated as you type), rename, delete.
import Link from 'next/link';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Button, ErrorBanner, PageHeader, inputClass, tableClass } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import { useProject } from '../../providers.tsx';
import { ProfileForm } from './profile-form.tsx';

/** `/1.0/instances/c1?project=p` → `c1` (other kinds of users shown as their path). */
function usedByName(url: string): { instance: string | null; label: string } {
  const path = url.replace(/\?.*$/, '');
  const m = /^\/1\.0\/instances\/([^/]+)$/.exec(path);
  return m
    ? { instance: decodeURIComponent(m[1]!), label: decodeURIComponent(m[1]!) }
    : { instance: null, label: path };
}

export default function ProfilesPage() {
  const trpc = useTRPC();
  const { project } = useProject();
  const { can } = usePermissions();
  const mayEdit = can('profiles', project);
  const profiles = useQuery(trpc.profiles.list.queryOptions({ project }));
  const [editing, setEditing] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [newName, setNewName] = useState('');
  const [newDescription, setNewDescription] = useState('');
  const [renaming, setRenaming] = useState<{ from: string; to: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const onError = (e: unknown) => setError(describeError(e).message);

  const create = useMutation(
    trpc.profiles.create.mutationOptions({
      onSuccess: (p) => {
        setError(null);
        setCreating(false);
        setNewName('');
        setNewDescription('');
        setEditing(p.name);
        void profiles.refetch();
      },
      onError,
    }),
  );
  const rename = useMutation(
    trpc.profiles.rename.mutationOptions({
      onSuccess: (p, v) => {
        setError(null);
        setRenaming(null);
        if (editing === v.name) setEditing(p.name);
        void profiles.refetch();
      },
      onError,
    }),
  );
  const remove = useMutation(
    trpc.profiles.delete.mutationOptions({
      onSuccess: (_, v) => {
        setError(null);
        if (editing === v.name) setEditing(null);
        void profiles.refetch();
      },
      onError,
    }),
  );

  function submitCreate(event: FormEvent) {
    event.preventDefault();
    create.mutate({ project, profile: { name: newName.trim(), description: newDescription } });
  }

  const current = profiles.data?.find((p) => p.name === editing);
  return (
    <>
      <PageHeader title="Profiles">
        {mayEdit && (
          <Button variant="primary" onClick={() => setCreating(true)}>
            Create profile
          </Button>
        )}
      </PageHeader>
      <ErrorBanner
        message={error ?? (profiles.error ? describeError(profiles.error).message : null)}
      />
      {creating && (
        <form
          onSubmit={submitCreate}
          aria-label="Create profile"
          className="mb-4 flex flex-wrap items-end gap-2"
        >
          <label className="space-y-1 text-sm">
            <span className="block">Name</span>
            <input
              value={newName}
              onChange={(e) => setNewName(e.target.value)}
              className={inputClass}
              autoFocus
            />
          </label>
          <label className="space-y-1 text-sm">
            <span className="block">Description</span>
            <input
              value={newDescription}
              onChange={(e) => setNewDescription(e.target.value)}
              className={inputClass}
            />
          </label>
          <Button type="submit" variant="primary" disabled={!newName.trim() || create.isPending}>
            Create
          </Button>
          <Button onClick={() => setCreating(false)}>Cancel</Button>
        </form>
      )}
      <table className={tableClass} aria-label="Profiles">
        <thead>
          <tr>
            <th>Name</th>
            <th>Description</th>
            <th>Used by</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {profiles.data?.map((p) => (
            <tr key={p.name} data-profile={p.name}>
              <td className="font-mono text-xs">
                {renaming?.from === p.name ? (
                  <form
                    className="flex gap-1"
                    onSubmit={(e) => {
                      e.preventDefault();
                      rename.mutate({ project, name: p.name, newName: renaming.to.trim() });
                    }}
                  >
                    <input
                      aria-label={`New name for ${p.name}`}
                      value={renaming.to}
                      onChange={(e) => setRenaming({ from: p.name, to: e.target.value })}
                      className={inputClass}
                      autoFocus
                    />
                    <Button type="submit">Save</Button>
                    <Button onClick={() => setRenaming(null)}>Cancel</Button>
                  </form>
                ) : (
                  p.name
                )}
              </td>
              <td>{p.description}</td>
              <td className="text-xs">
                {p.used_by.length === 0
                  ? '—'
                  : p.used_by.map((url, index) => {
                      const u = usedByName(url);
                      return (
                        <span key={url}>
                          {index > 0 && ', '}
                          {u.instance ? (
                            <Link
                              href={`/instances/${encodeURIComponent(u.instance)}`}
                              className="text-sky-700 hover:underline dark:text-sky-400"
                            >
                              {u.label}
                            </Link>
                          ) : (
                            u.label
                          )}
                        </span>
                      );
                    })}
              </td>
              <td>
                <div className="flex gap-1">
                  <Button
                    aria-label={`Edit ${p.name}`}
                    aria-pressed={editing === p.name}
                    onClick={() => setEditing(editing === p.name ? null : p.name)}
                  >
                    {mayEdit ? 'Edit' : 'View'}
                  </Button>
                  {mayEdit && p.name !== 'default' && (
                    <>
                      <Button
                        aria-label={`Rename ${p.name}`}
                        onClick={() => setRenaming({ from: p.name, to: p.name })}
                      >
                        Rename
                      </Button>
                      <Button
                        variant="danger"
                        aria-label={`Delete ${p.name}`}
                        disabled={p.used_by.length > 0}
                        title={p.used_by.length ? 'Profiles in use cannot be deleted' : undefined}
                        onClick={() => {
                          if (window.confirm(`Delete profile "${p.name}"?`))
                            remove.mutate({ project, name: p.name });
                        }}
                      >
                        Delete
                      </Button>
                    </>
                  )}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {current && (
        <section aria-labelledby="profile-editor" className="mt-8">
          <h2 id="profile-editor" className="mb-4 text-lg font-medium">
            Profile “{current.name}”
          </h2>
          {/* Keyed: another profile (or a rename) starts a fresh draft. */}
          <ProfileForm key={current.name} project={project} profile={current} />
        </section>
      )}
    </>
  );
}
