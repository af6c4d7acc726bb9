'use client';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { NotAllowed } from '~/components/secret-notice.tsx';
import { Button, ErrorBanner, PageHeader, formatDate, tableClass } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';

const pageSize = 50;

export default function AuditPage() {
  const trpc = useTRPC();
  const { me, can } = usePermissions();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const auditable = (projects.data ?? []).map((p) => p.name).filter((p) => can('audit', p));
  const serverAdmin = can('server');
  const allowed = serverAdmin || auditable.length > 0;
  const [project, setProject] = useState('');
  // The `beforeId` of each page shown so far: the last one is on screen.
  const [pages, setPages] = useState<(number | undefined)[]>([undefined]);
  const beforeId = pages.at(-1);
  const entries = useQuery({
    ...trpc.audit.list.queryOptions({
      limit: pageSize,
      ...(project ? { project } : {}),
      ...(beforeId ? { beforeId } : {}),
    }),
    enabled: allowed,
  });

  if (me && projects.data && !allowed)
    return (
      <>
        <PageHeader title="Audit log" />
        <NotAllowed>
          Only server administrators and project administrators read the audit log.
        </NotAllowed>
      </>
    );

  return (
    <>
      <PageHeader title="Audit log">
        <label className="flex items-center gap-2 text-sm">
          <span>Project</span>
          <select
            aria-label="Filter by project"
            value={project}
            onChange={(e) => {
              setProject(e.target.value);
              setPages([undefined]);
            }}
            className="rounded-md border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-900"
          >
            <option value="">{serverAdmin ? 'All (server-wide too)' : 'All I administer'}</option>
            {auditable.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      <ErrorBanner message={entries.error ? describeError(entries.error).message : null} />
      <table className={tableClass} aria-label="Audit log">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>Action</th>
            <th>Project</th>
            <th>Object</th>
            <th>Result</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          {entries.data?.entries.map((e) => {
            const ok = e.result === 'success';
            return (
              <tr
                key={e.id}
                data-audit-action={e.action}
                data-audit-result={ok ? 'success' : 'failure'}
              >
                <td className="whitespace-nowrap">{formatDate(e.at)}</td>
                <td>{e.actor}</td>
                <td className="font-mono text-xs">{e.action}</td>
                <td>{e.project ?? '—'}</td>
                <td>
                  <span className="text-slate-500">{e.objectType}</span> {e.objectName ?? ''}
                </td>
                <td
                  className={
                    ok ? 'text-emerald-700 dark:text-emerald-300' : 'text-red-700 dark:text-red-300'
                  }
                >
                  {e.result}
                </td>
                <td className="max-w-xs truncate font-mono text-xs" title={e.detail ?? undefined}>
                  {e.detail ?? ''}
                </td>
              </tr>
            );
          })}
          {entries.data?.entries.length === 0 && (
            <tr>
              <td colSpan={7} className="text-center text-slate-500">
                Nothing recorded yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <nav aria-label="Audit log pages" className="mt-3 flex gap-2">
        <Button disabled={pages.length < 2} onClick={() => setPages((p) => p.slice(0, -1))}>
          Newer
        </Button>
        <Button
          disabled={!entries.data?.nextBeforeId}
          onClick={() => {
            const next = entries.data?.nextBeforeId;
            if (next) setPages((p) => [...p, next]);
          }}
        >
          Older
        </Button>
      </nav>
    </>
  );
}
