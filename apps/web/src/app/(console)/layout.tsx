import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { auth } from '~/server/auth.ts';
import { Shell } from '~/components/shell.tsx';
import { Providers } from '../providers.tsx';

export const dynamic = 'force-dynamic';

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const session = await auth();
  if (!session?.user?.username) redirect('/login');
  if (session.user.mustChangePassword) redirect('/change-password');
  return (
    <Providers>
      <Shell username={session.user.username}>{children}</Shell>
    </Providers>
  );
}
