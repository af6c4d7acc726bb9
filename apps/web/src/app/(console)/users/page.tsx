'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { NotAllowed, SecretNotice } from '~/components/secret-notice.tsx';
import {
  Button,
  ErrorBanner,
  PageHeader,
  formatDate,
  tableClass,
  TextField,
} from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';

interface Shown {
  username: string;
  password: string;
}

export default function UsersPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { me, can } = usePermissions();
  const admin = can('server');
  const users = useQuery({ ...trpc.users.list.queryOptions(), enabled: admin });
  const [shown, setShown] = useState<Shown | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const after = {
    onSuccess: () => (setActionError(null), void refresh()),
    onError: (e: unknown) => setActionError(describeError(e).message),
  };
  const disable = useMutation(trpc.users.disable.mutationOptions(after));
  const enable = useMutation(trpc.users.enable.mutationOptions(after));
  const remove = useMutation(trpc.users.delete.mutationOptions(after));
  const reset = useMutation(
    trpc.users.resetPassword.mutationOptions({
      ...after,
      onSuccess: (out, input) => {
        after.onSuccess();
        setShown({ username: input.username, password: out.generatedPassword });
      },
    }),
  );

  if (me && !admin)
    return (
      <>
        <PageHeader title="Users" />
        <NotAllowed>Only server administrators manage users.</NotAllowed>
      </>
    );

  return (
    <>
      <PageHeader title="Users" />
      {shown && (
        <SecretNotice
          title={`Password for ${shown.username}`}
          note="Shown once. Give it to the user; they must choose a new one when they sign in."
          secret={shown.password}
          onDismiss={() => setShown(null)}
        />
      )}
      <ErrorBanner
        message={actionError ?? (users.error ? describeError(users.error).message : null)}
      />
      <table className={tableClass} aria-label="Users">
        <thead>
          <tr>
            <th>User</th>
            <th>Server role</th>
            <th>Projects</th>
            <th>Status</th>
            <th>Created</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {users.data?.map((u) => {
            const self = u.username === me?.username;
            return (
              <tr key={u.id} data-user={u.username}>
                <td className="font-medium">
                  {u.username}
                  {self && <span className="ml-1 text-xs text-slate-500">(you)</span>}
                </td>
                <td>{u.isAdmin ? 'Administrator' : '—'}</td>
                <td className="text-xs">
                  {u.roles.map((r) => `${r.project}: ${r.role}`).join(', ') || '—'}
                </td>
                <td>
                  {u.disabled ? (
                    <span className="text-red-700 dark:text-red-300">Disabled</span>
                  ) : (
                    'Active'
                  )}
                  {u.mustChangePassword && !u.disabled && (
                    <span className="ml-1 text-xs text-slate-500">(password change pending)</span>
                  )}
                </td>
                <td>{formatDate(u.createdAt)}</td>
                <td>
                  {!self && (
                    <div className="flex justify-end gap-1">
                      <Button
                        aria-label={`Reset password of ${u.username}`}
                        onClick={() => {
                          if (
                            window.confirm(
                              `Reset the password of "${u.username}"? Their current password stops working.`,
                            )
                          )
                            reset.mutate({ username: u.username });
                        }}
                      >
                        Reset password
                      </Button>
                      {u.disabled ? (
                        <Button
                          aria-label={`Enable ${u.username}`}
                          onClick={() => enable.mutate({ username: u.username })}
                        >
                          Enable
                        </Button>
                      ) : (
                        <Button
                          aria-label={`Disable ${u.username}`}
                          onClick={() => disable.mutate({ username: u.username })}
                        >
                          Disable
                        </Button>
                      )}
                      <Button
                        variant="danger"
                        aria-label={`Delete ${u.username}`}
                        onClick={() => {
                          if (window.confirm(`Delete user "${u.username}"? This cannot be undone.`))
                            remove.mutate({ username: u.username });
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
        </tbody>
      </table>
      {admin && (
        <CreateUserForm
          onCreated={(username, password) => {
            void refresh();
            if (password) setShown({ username, password });
          }}
        />
      )}
    </>
  );
}

function CreateUserForm({
  onCreated,
}: {
  onCreated(username: string, generatedPassword: string | undefined): void;
}) {
  const trpc = useTRPC();
  const create = useMutation(trpc.users.create.mutationOptions());
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [isAdmin, setIsAdmin] = useState(false);
  const error = create.error ? describeError(create.error) : null;
  const fieldMessage = (field: string) =>
    error?.fieldErrors[field] ?? (error?.field === field ? error.message : null);

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(
      { username, isAdmin, ...(password ? { password } : {}) },
      {
        onSuccess: (out) => {
          onCreated(out.user.username, out.generatedPassword);
          setUsername('');
          setPassword('');
          setIsAdmin(false);
        },
      },
    );
  }

  return (
    <form onSubmit={submit} className="mt-8 max-w-xl space-y-3" aria-labelledby="new-user">
      <h2 id="new-user" className="text-lg font-medium">
        New user
      </h2>
      <TextField
        label="User name"
        value={username}
        onChange={(e) => setUsername(e.target.value)}
        required
        autoComplete="off"
        error={fieldMessage('username')}
      />
      <TextField
        label="Password (leave empty to generate one)"
        type="password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        autoComplete="new-password"
        error={fieldMessage('password')}
      />
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} />
        <span>Server administrator</span>
      </label>
      <p className="text-xs text-slate-500">
        The user must choose a new password when they first sign in.
      </p>
      {error && !error.field && <ErrorBanner message={error.message} />}
      <Button type="submit" variant="primary" disabled={create.isPending}>
        Create user
      </Button>
    </form>
  );
}
