import { redirect } from 'next/navigation';
import { auth } from '~/server/auth.ts';
import { getBerth } from '~/server/berth.ts';
import { LoginForm } from './login-form.tsx';

export const dynamic = 'force-dynamic';

export default async function LoginPage() {
  const session = await auth();
  if (session?.user?.username)
    redirect(session.user.mustChangePassword ? '/change-password' : '/instances');
  const oidc = getBerth().env.oidc;
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <LoginForm oidcName={oidc ? oidc.name : null} />
    </main>
  );
}
