'use client';
import { useMutation } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { Button, ErrorBanner, inputClass } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';

export function ChangePasswordForm({ required }: { required: boolean }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [mismatch, setMismatch] = useState<string | null>(null);
  const change = useMutation(
    trpc.account.changePassword.mutationOptions({
      onSuccess: () => {
        router.replace('/instances');
        router.refresh();
      },
    }),
  );
  const error = change.error ? describeError(change.error) : null;

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = String(form.get('next') ?? '');
    if (next !== String(form.get('confirm') ?? '')) {
      setMismatch('The new passwords differ.');
      return;
    }
    setMismatch(null);
    change.mutate({ current: String(form.get('current') ?? ''), next });
  }

  return (
    <form
      onSubmit={onSubmit}
      className="w-full max-w-sm space-y-4 rounded-lg border border-slate-200 p-6 shadow-sm dark:border-slate-800"
    >
      <h1 className="text-xl font-semibold">Change your password</h1>
      {required && (
        <p className="text-sm text-slate-600 dark:text-slate-400">
          You must choose a new password before you continue.
        </p>
      )}
      <label className="block space-y-1 text-sm">
        <span>Current password</span>
        <input
          name="current"
          type="password"
          autoComplete="current-password"
          required
          autoFocus
          className={inputClass}
        />
        {error?.fieldErrors.current || error?.field === 'current' ? (
          <span className="text-red-600">{error.fieldErrors.current ?? error.message}</span>
        ) : null}
      </label>
      <label className="block space-y-1 text-sm">
        <span>New password (at least 12 characters)</span>
        <input
          name="next"
          type="password"
          autoComplete="new-password"
          required
          minLength={12}
          className={inputClass}
        />
        {error?.fieldErrors.next || error?.field === 'next' ? (
          <span className="text-red-600">{error.fieldErrors.next ?? error.message}</span>
        ) : null}
      </label>
      <label className="block space-y-1 text-sm">
        <span>New password again</span>
        <input
          name="confirm"
          type="password"
          autoComplete="new-password"
          required
          className={inputClass}
        />
      </label>
      <ErrorBanner message={mismatch ?? (error && !error.field ? error.message : null)} />
      <Button
        type="submit"
        variant="primary"
        disabled={change.isPending}
        className="w-full justify-center"
      >
        Change password
      </Button>
    </form>
  );
}
