'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Button, ErrorBanner, PageHeader, inputClass, tableClass } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import Link from 'next/link';
import { useProject } from '../../providers.tsx';

export default function ProjectsPage() {
  const trpc = useTRPC();
  const { project: current, setProject } = useProject();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const me = useQuery(trpc.account.me.queryOptions());
  const { can } = usePermissions();
  const create = useMutation(trpc.projects.create.mutationOptions());
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ name, description }, { onSuccess: () => (setName(''), setDescription('')) });
  }

  return (
    <>
      <PageHeader title="Projects" />
      <table className={tableClass} aria-label="Projects">
        <thead>
          <tr>
            <th>Name</th>
            <th>Description</th>
            <th>Configuration</th>
            <th>Used by</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {projects.data?.map((p) => (
            <tr key={p.name}>
              <td className="font-medium">{p.name}</td>
              <td>{p.description}</td>
              <td className="font-mono text-xs">
                {Object.entries(p.config)
                  .map(([k, v]) => `${k}=${v}`)
                  .join('  ') || '—'}
              </td>
              <td>{p.used_by.length}</td>
              <td>
                <div className="flex items-center justify-end gap-2">
                  {can('members', p.name) && (
                    <Link
                      href={`/projects/${encodeURIComponent(p.name)}/members`}
                      aria-label={`Members of ${p.name}`}
                      className="rounded-md px-2 py-1 text-sm text-sky-700 hover:underline dark:text-sky-400"
                    >
                      Members
                    </Link>
                  )}
                  {p.name === current ? (
                    <span className="text-sm text-slate-500">current</span>
                  ) : (
                    <Button onClick={() => setProject(p.name)}>Switch to</Button>
                  )}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {me.data?.isAdmin && (
        <form onSubmit={submit} className="mt-8 max-w-xl space-y-3" aria-labelledby="new-project">
          <h2 id="new-project" className="text-lg font-medium">
            New project
          </h2>
          <label className="block space-y-1 text-sm">
            <span>Name</span>
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              className={inputClass}
            />
          </label>
          <label className="block space-y-1 text-sm">
            <span>Description</span>
            <input
              value={description}
              onChange={(e) => setDescription(e.target.value)}
              className={inputClass}
            />
          </label>
          <ErrorBanner message={create.error ? describeError(create.error).message : null} />
          <Button type="submit" variant="primary" disabled={create.isPending}>
            Create project
          </Button>
        </form>
      )}
    </>
  );
}
