'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { NotAllowed } from '~/components/secret-notice.tsx';
import { Button, ErrorBanner, PageHeader, inputClass, tableClass } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import { projectRoles, type ProjectRole } from '~/server/policy.ts';

const selectClass =
  'rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900';

export default function MembersPage() {
  const project = decodeURIComponent(useParams<{ name: string }>().name);
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { me, can } = usePermissions();
  const allowed = can('members', project);
  const members = useQuery({ ...trpc.members.list.queryOptions({ project }), enabled: allowed });
  // Server admins pick from every account; project admins type a user name.
  const users = useQuery({ ...trpc.users.list.queryOptions(), enabled: can('server') });
  const refresh = () =>
    queryClient.invalidateQueries({ queryKey: trpc.members.list.queryKey({ project }) });
  const set = useMutation(trpc.members.set.mutationOptions({ onSuccess: () => refresh() }));
  const remove = useMutation(trpc.members.remove.mutationOptions({ onSuccess: () => refresh() }));
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<ProjectRole>('viewer');
  const error = set.error ? describeError(set.error) : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    set.mutate({ project, username, role }, { onSuccess: () => setUsername('') });
  }

  const back = (
    <Link href="/projects" className="text-sm text-sky-700 hover:underline dark:text-sky-400">
      All projects
    </Link>
  );
  if (me && !allowed)
    return (
      <>
        <PageHeader title={`Members of ${project}`}>{back}</PageHeader>
        <NotAllowed>
          Only this project's administrators and server administrators manage its members.
        </NotAllowed>
      </>
    );

  return (
    <>
      <PageHeader title={`Members of ${project}`}>{back}</PageHeader>
      <p className="mb-4 max-w-3xl text-sm text-slate-600 dark:text-slate-400">
        Viewers read; operators also start, stop, use consoles, files and snapshots; admins also
        change configuration, profiles, members and delete. Server administrators may do everything
        in every project.
      </p>
      <ErrorBanner
        message={
          (remove.error ? describeError(remove.error).message : null) ??
          (members.error ? describeError(members.error).message : null)
        }
      />
      <table className={tableClass} aria-label="Members">
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.data?.map((m) => (
            <tr key={m.username} data-member={m.username}>
              <td className="font-medium">{m.username}</td>
              <td>
                <select
                  aria-label={`Role of ${m.username}`}
                  value={m.role}
                  disabled={set.isPending}
                  onChange={(e) =>
                    set.mutate({
                      project,
                      username: m.username,
                      role: e.target.value as ProjectRole,
                    })
                  }
                  className={selectClass}
                >
                  {projectRoles.map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              </td>
              <td className="text-right">
                <Button
                  variant="danger"
                  aria-label={`Remove ${m.username}`}
                  disabled={remove.isPending}
                  onClick={() => {
                    if (window.confirm(`Remove "${m.username}" from project "${project}"?`))
                      remove.mutate({ project, username: m.username });
                  }}
                >
                  Remove
                </Button>
              </td>
            </tr>
          ))}
          {members.data?.length === 0 && (
            <tr>
              <td colSpan={3} className="text-center text-slate-500">
                No members yet{can('server') ? ' (server administrators see every project)' : ''}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <form
        onSubmit={submit}
        className="mt-8 flex max-w-2xl flex-wrap items-end gap-3"
        aria-labelledby="add-member"
      >
        <h2 id="add-member" className="w-full text-lg font-medium">
          Add a member or change a role
        </h2>
        <label className="block flex-1 space-y-1 text-sm">
          <span>User name</span>
          <input
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
            list={users.data ? 'member-candidates' : undefined}
            autoComplete="off"
            aria-invalid={error?.field === 'username' ? true : undefined}
            className={inputClass}
          />
          {users.data && (
            <datalist id="member-candidates">
              {users.data.map((u) => (
                <option key={u.id} value={u.username} />
              ))}
            </datalist>
          )}
        </label>
        <label className="block space-y-1 text-sm">
          <span>Role</span>
          <select
            aria-label="Role"
            value={role}
            onChange={(e) => setRole(e.target.value as ProjectRole)}
            className={`${selectClass} block py-1.5`}
          >
            {projectRoles.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <Button type="submit" variant="primary" disabled={set.isPending}>
          Save member
        </Button>
        {error && (
          <div className="w-full">
            <ErrorBanner message={error.fieldErrors.username ?? error.message} />
          </div>
        )}
      </form>
    </>
  );
}
