'use client';
import { signIn } from 'next-auth/react';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { Button, ErrorBanner, inputClass } from '~/components/ui.tsx';
import { loginErrorMessage } from './login-messages.ts';

export function LoginForm({
  oidcName,
  initialError,
}: {
  oidcName: string | null;
  /** Why the last sign-in failed (single sign-on comes back here with a reason). */
  initialError: string | null;
}) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(initialError);
  const [busy, setBusy] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    const result = await signIn('credentials', {
      username: String(form.get('username') ?? ''),
      password: String(form.get('password') ?? ''),
      redirect: false,
    }).catch(() => ({ error: 'CredentialsSignin', code: 'invalid' }));
    setBusy(false);
    if (result?.error) {
      setError(loginErrorMessage(result.error, result.code ?? 'invalid'));
      return;
    }
    router.replace('/instances');
    router.refresh();
  }

  return (
    <form
      onSubmit={onSubmit}
      className="w-full max-w-sm space-y-4 rounded-lg border border-slate-200 p-6 shadow-sm dark:border-slate-800"
      aria-labelledby="login-title"
    >
      <h1 id="login-title" className="text-xl font-semibold">
        Sign in to Berth
      </h1>
      <label className="block space-y-1 text-sm">
        <span>User name</span>
        <input name="username" autoComplete="username" required autoFocus className={inputClass} />
      </label>
      <label className="block space-y-1 text-sm">
        <span>Password</span>
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          className={inputClass}
        />
      </label>
      <ErrorBanner message={error} />
      <Button type="submit" variant="primary" disabled={busy} className="w-full justify-center">
        {busy ? 'Signing in…' : 'Sign in'}
      </Button>
      {oidcName && (
        <Button
          onClick={() => {
            setError(null);
            // Auth.js leaves for the provider; a failure comes back here with ?error=.
            void signIn('oidc', { redirectTo: '/instances' });
          }}
          className="w-full justify-center"
        >
          Sign in with {oidcName}
        </Button>
      )}
    </form>
  );
}
