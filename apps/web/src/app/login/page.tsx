import { redirect } from 'next/navigation';
import { auth } from '~/server/auth.ts';
import { getBerth } from '~/server/berth.ts';
import { LoginForm } from './login-form.tsx';
import { loginErrorMessage } from './login-messages.ts';

export const dynamic = 'force-dynamic';

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const session = await auth();
  if (session?.user?.username)
    redirect(session.user.mustChangePassword ? '/change-password' : '/instances');
  const oidc = getBerth().env.oidc;
  // Auth.js sends failed sign-ins (single sign-on refused, provider errors) back here.
  const query = await searchParams;
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <LoginForm
        oidcName={oidc ? oidc.name : null}
        initialError={loginErrorMessage(first(query.error), first(query.code))}
      />
    </main>
  );
}
