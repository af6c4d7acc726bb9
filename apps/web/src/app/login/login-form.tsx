'use client';
import { signIn } from 'next-auth/react';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { Button, ErrorBanner, inputClass } from '~/components/ui.tsx';

const messages: Record<string, string> = {
  invalid: 'Wrong user name or password.',
  rate_limited: 'Too many failed attempts. Wait a minute and try again.',
};

export function LoginForm({ oidcName }: { oidcName: string | null }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
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
      setError(messages[result.code ?? 'invalid'] ?? messages.invalid!);
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
          onClick={() => void signIn('oidc', { redirectTo: '/instances' })}
          className="w-full justify-center"
        >
          Sign in with {oidcName}
        </Button>
      )}
    </form>
  );
}
