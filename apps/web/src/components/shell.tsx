'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { signOut } from 'next-auth/react';
import { useQuery } from '@tanstack/react-query';
import { useEffect, type ReactNode } from 'react';
import { useTRPC } from '~/lib/trpc.ts';
import { useLive, useProject } from '~/app/providers.tsx';
import { AccountMenu } from './account-menu.tsx';

const links = [
  { href: '/instances', label: 'Instances' },
  { href: '/profiles', label: 'Profiles' },
  { href: '/images', label: 'Images' },
  { href: '/networks', label: 'Networks' },
  { href: '/storage', label: 'Storage' },
  { href: '/operations', label: 'Operations' },
  { href: '/projects', label: 'Projects' },
];

/** Shown to server admins (users) and to any admin, of the server or a project (audit). */
const adminLinks = [
  { href: '/users', label: 'Users', serverOnly: true },
  { href: '/audit', label: 'Audit log', serverOnly: false },
];

export function Shell({ username, children }: { username: string; children: ReactNode }) {
  const pathname = usePathname();
  const trpc = useTRPC();
  const live = useLive();
  const { project, setProject } = useProject();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const names = projects.data?.map((p) => p.name) ?? [];
  const me = useQuery(trpc.account.me.queryOptions());
  const anyAdmin = Object.values(me.data?.roles ?? {}).includes('admin');
  const navLinks = [
    ...links,
    ...adminLinks.filter((l) => me.data?.isAdmin || (!l.serverOnly && anyAdmin)),
  ];
  // A remembered project that is gone (or not visible) falls back to the first one.
  useEffect(() => {
    if (names.length && !names.includes(project)) setProject(names[0]!);
  }, [names, project, setProject]);

  return (
    <div className="flex min-h-screen flex-col">
      <header className="border-b border-slate-200 bg-slate-50 dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-4 px-4 py-2">
          <Link href="/instances" className="text-lg font-semibold">
            Berth
          </Link>
          <nav aria-label="Main" className="flex gap-1">
            {navLinks.map((l) => (
              <Link
                key={l.href}
                href={l.href}
                aria-current={pathname.startsWith(l.href) ? 'page' : undefined}
                className="rounded-md px-3 py-1.5 text-sm hover:bg-slate-200 aria-[current=page]:bg-slate-200 aria-[current=page]:font-medium dark:hover:bg-slate-800 dark:aria-[current=page]:bg-slate-800"
              >
                {l.label}
              </Link>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-3 text-sm">
            <label className="flex items-center gap-1">
              <span className="text-slate-500">Project</span>
              <select
                aria-label="Project"
                value={project}
                onChange={(e) => setProject(e.target.value)}
                className="rounded-md border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-900"
              >
                {names.map((n) => (
                  <option key={n}>{n}</option>
                ))}
              </select>
            </label>
            <span
              data-testid="live"
              data-live={live ? 'true' : 'false'}
              title={live ? 'Live updates on' : 'Live updates off'}
              className={`h-2 w-2 rounded-full ${live ? 'bg-emerald-500' : 'bg-slate-400'}`}
            />
            <AccountMenu username={username} />
            <button
              type="button"
              onClick={() => void signOut({ redirectTo: '/login' })}
              className="rounded-md px-2 py-1 hover:bg-slate-200 dark:hover:bg-slate-800"
            >
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main className="mx-auto w-full max-w-7xl flex-1 px-4 py-6">{children}</main>
    </div>
  );
}
