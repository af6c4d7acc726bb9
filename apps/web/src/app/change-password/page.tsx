import { redirect } from 'next/navigation';
import { auth } from '~/server/auth.ts';
import { Providers } from '../providers.tsx';
import { ChangePasswordForm } from './change-password-form.tsx';

export const dynamic = 'force-dynamic';

export default async function ChangePasswordPage() {
  const session = await auth();
  if (!session?.user?.username) redirect('/login');
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <Providers>
        <ChangePasswordForm required={session.user.mustChangePassword} />
      </Providers>
    </main>
  );
}
