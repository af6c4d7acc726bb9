'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { SecretNotice } from '~/components/secret-notice.tsx';
import {
  Button,
  ErrorBanner,
  PageHeader,
  formatDate,
  tableClass,
  TextField,
} from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';

export default function TokensPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.tokens.list.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.tokens.list.queryKey() });
  const create = useMutation(trpc.tokens.create.mutationOptions());
  const remove = useMutation(trpc.tokens.delete.mutationOptions({ onSuccess: () => refresh() }));
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState('');
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const error = create.error ? describeError(create.error) : null;
  const fieldMessage = (field: string) =>
    error?.fieldErrors[field] ?? (error?.field === field ? error.message : null);

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(
      { name, ...(expiry ? { expiresInDays: Number(expiry) } : {}) },
      {
        onSuccess: (out) => {
          setSecret({ name: out.token.name, secret: out.secret });
          setName('');
          setExpiry('');
          void refresh();
        },
      },
    );
  }

  return (
    <>
      <PageHeader title="API tokens" />
      <p className="mb-4 max-w-3xl text-sm text-slate-600 dark:text-slate-400">
        A token acts as you, with your roles, for scripts and tools: send it as{' '}
        <code className="font-mono">Authorization: Bearer berth_…</code>. Only you see your tokens.
      </p>
      {secret && (
        <SecretNotice
          title={`New token "${secret.name}"`}
          note="Copy it now: it is shown only once and Berth keeps only a hash of it."
          secret={secret.secret}
          onDismiss={() => setSecret(null)}
        />
      )}
      <ErrorBanner message={remove.error ? describeError(remove.error).message : null} />
      <table className={tableClass} aria-label="API tokens">
        <thead>
          <tr>
            <th>Name</th>
            <th>Starts with</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Expires</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.data?.map((t) => (
            <tr key={t.id} data-token={t.name}>
              <td className="font-medium">{t.name}</td>
              <td className="font-mono text-xs">{t.prefix}…</td>
              <td>{formatDate(t.createdAt)}</td>
              <td>{t.lastUsedAt ? formatDate(t.lastUsedAt) : 'never'}</td>
              <td>
                {t.expiresAt
                  ? `${formatDate(t.expiresAt)}${new Date(t.expiresAt) <= new Date() ? ' (expired)' : ''}`
                  : 'never'}
              </td>
              <td className="text-right">
                <Button
                  variant="danger"
                  aria-label={`Delete token ${t.name}`}
                  disabled={remove.isPending}
                  onClick={() => {
                    if (window.confirm(`Delete token "${t.name}"? Tools using it stop working.`))
                      remove.mutate({ id: t.id });
                  }}
                >
                  Delete
                </Button>
              </td>
            </tr>
          ))}
          {tokens.data?.length === 0 && (
            <tr>
              <td colSpan={6} className="text-center text-slate-500">
                No tokens yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <form onSubmit={submit} className="mt-8 max-w-xl space-y-3" aria-labelledby="new-token">
        <h2 id="new-token" className="text-lg font-medium">
          New token
        </h2>
        <TextField
          label="Token name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          autoComplete="off"
          error={fieldMessage('name')}
        />
        <TextField
          label="Expires after (days, empty for never)"
          type="number"
          min={1}
          max={3650}
          value={expiry}
          onChange={(e) => setExpiry(e.target.value)}
          error={fieldMessage('expiresInDays')}
        />
        {error && !error.field && <ErrorBanner message={error.message} />}
        <Button type="submit" variant="primary" disabled={create.isPending}>
          Create token
        </Button>
      </form>
    </>
  );
}
