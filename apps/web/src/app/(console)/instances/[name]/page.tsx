'use client';
// One instance, as tabs: Overview, Configuration, Snapshots, Backups, Files,
// Terminals, Logs, Operations. The tab is kept in the URL's hash; a tab stays
// mounted once opened (a terminal keeps its connection, a form its draft).
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState, type KeyboardEvent, type ReactNode } from 'react';
import { Button, ErrorBanner, PageHeader, StatusBadge } from '~/components/ui.tsx';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';
import { useProject } from '../../../providers.tsx';
import { InstanceActions, useInstanceActions } from '../instance-actions.tsx';
import { CopyInstanceDialog } from './copy-instance-dialog.tsx';
import { InstanceTerminals } from './terminals.tsx';
import { BackupsTab } from './tabs/backups-tab.tsx';
import { ConfigurationTab } from './tabs/configuration-tab.tsx';
import { FilesTab } from './tabs/files-tab.tsx';
import { LogsTab } from './tabs/logs-tab.tsx';
import { OperationsTab } from './tabs/operations-tab.tsx';
import { OverviewTab } from './tabs/overview-tab.tsx';
import { SnapshotsTab } from './tabs/snapshots-tab.tsx';

type Instance = Outputs['instances']['get'];

const tabs: { id: string; label: string; render(project: string, i: Instance): ReactNode }[] = [
  { id: 'overview', label: 'Overview', render: (p, i) => <OverviewTab project={p} instance={i} /> },
  {
    id: 'configuration',
    label: 'Configuration',
    // Keyed by name: a rename starts a fresh draft.
    render: (p, i) => <ConfigurationTab key={i.name} project={p} instance={i} />,
  },
  {
    id: 'snapshots',
    label: 'Snapshots',
    render: (p, i) => <SnapshotsTab project={p} instance={i} />,
  },
  { id: 'backups', label: 'Backups', render: (p, i) => <BackupsTab project={p} instance={i} /> },
  { id: 'files', label: 'Files', render: (p, i) => <FilesTab project={p} instance={i} /> },
  {
    id: 'terminals',
    label: 'Terminals',
    render: (p, i) => (
      <InstanceTerminals project={p} name={i.name} status={i.status} type={i.type} />
    ),
  },
  { id: 'logs', label: 'Logs', render: (p, i) => <LogsTab project={p} instance={i} /> },
  {
    id: 'operations',
    label: 'Operations',
    render: (p, i) => <OperationsTab project={p} instance={i} />,
  },
];

function tabFromHash(): string {
  const hash = typeof window === 'undefined' ? '' : window.location.hash.slice(1);
  return tabs.some((t) => t.id === hash) ? hash : 'overview';
}

export default function InstancePage() {
  const { name: rawName } = useParams<{ name: string }>();
  const name = decodeURIComponent(rawName);
  const { project } = useProject();
  const trpc = useTRPC();
  const [actionError, setActionError] = useState<string | null>(null);
  const [active, setActive] = useState('overview');
  const [opened, setOpened] = useState<Set<string>>(() => new Set(['overview']));
  const [copying, setCopying] = useState(false);
  const instance = useQuery(trpc.instances.get.queryOptions({ project, name }));
  const { actions, pending: actionsPending } = useInstanceActions(
    project,
    setActionError,
    '/instances',
  );

  const select = (id: string) => {
    setActive(id);
    setOpened((o) => (o.has(id) ? o : new Set(o).add(id)));
    window.history.replaceState(null, '', `#${id}`);
  };
  useEffect(() => {
    const fromHash = () => {
      const id = tabFromHash();
      setActive(id);
      setOpened((o) => (o.has(id) ? o : new Set(o).add(id)));
    };
    fromHash();
    window.addEventListener('hashchange', fromHash);
    return () => window.removeEventListener('hashchange', fromHash);
  }, []);

  const i = instance.data;
  if (instance.error) return <ErrorBanner message={describeError(instance.error).message} />;
  if (!i) return <p className="text-slate-500">Loading…</p>;

  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  const onKeyDown = (event: KeyboardEvent) => {
    const index = tabs.findIndex((t) => t.id === active);
    const next =
      event.key === 'ArrowRight' ? index + 1 : event.key === 'ArrowLeft' ? index - 1 : null;
    if (next === null) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length]!;
    select(tab.id);
    document.getElementById(`tab-${tab.id}`)?.focus();
  };

  return (
    <>
      <p className="mb-2 text-sm">
        <Link href="/instances" className="text-sky-700 hover:underline dark:text-sky-400">
          Instances
        </Link>{' '}
        / {i.name}
      </p>
      <PageHeader title={i.name}>
        <StatusBadge status={i.status} />
        <InstanceActions
          name={i.name}
          status={i.status}
          busy={actionsPending.has(i.name)}
          actions={actions}
        />
        <Button onClick={() => setCopying(true)}>Copy</Button>
      </PageHeader>
      <CopyInstanceDialog
        project={project}
        instance={i.name}
        open={copying}
        onClose={() => setCopying(false)}
      />
      <ErrorBanner message={actionError} />
      {i.description && <p className="mb-4 text-slate-600 dark:text-slate-400">{i.description}</p>}
      <div
        role="tablist"
        aria-label="Instance"
        onKeyDown={onKeyDown}
        className="mb-4 flex flex-wrap gap-1 border-b border-slate-200 dark:border-slate-800"
      >
        {tabs.map((t) => (
          <button
            key={t.id}
            id={`tab-${t.id}`}
            type="button"
            role="tab"
            aria-selected={active === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={active === t.id ? 0 : -1}
            onClick={() => select(t.id)}
            className="-mb-px border-b-2 border-transparent px-3 py-2 text-sm hover:text-sky-700 aria-selected:border-sky-600 aria-selected:font-medium dark:hover:text-sky-400"
          >
            {t.label}
          </button>
        ))}
      </div>
      {tabs
        .filter((t) => opened.has(t.id))
        .map((t) => (
          <div
            key={t.id}
            id={`panel-${t.id}`}
            role="tabpanel"
            aria-labelledby={`tab-${t.id}`}
            hidden={active !== t.id}
          >
            {t.render(project, i)}
          </div>
        ))}
    </>
  );
}
