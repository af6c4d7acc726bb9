'use client';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorBanner, PageHeader, StatusBadge, formatDate, tableClass } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { useProject } from '../../../providers.tsx';
import { InstanceActions } from '../instance-actions.tsx';
import { imageOf, ipv4Of } from '../instance-info.ts';

function formatBytes(n: number): string {
  if (!n) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export default function InstancePage() {
  const { name: rawName } = useParams<{ name: string }>();
  const name = decodeURIComponent(rawName);
  const { project } = useProject();
  const trpc = useTRPC();
  const [actionError, setActionError] = useState<string | null>(null);
  const instance = useQuery(trpc.instances.get.queryOptions({ project, name }));
  const i = instance.data;

  if (instance.error) return <ErrorBanner message={describeError(instance.error).message} />;
  if (!i) return <p className="text-slate-500">Loading…</p>;

  const overview: [string, string][] = [
    ['Type', i.type],
    ['Architecture', i.architecture],
    ['Image', imageOf(i)],
    ['IPv4', ipv4Of(i).join(', ') || '—'],
    ['Profiles', i.profiles.join(', ')],
    ['Created', formatDate(i.created_at)],
    ['Last used', formatDate(i.last_used_at)],
    ['Location', i.location],
    ['Memory', formatBytes(i.state?.memory.usage ?? 0)],
    ['Processes', i.state && i.state.processes >= 0 ? String(i.state.processes) : '—'],
    ['PID', i.state?.pid ? String(i.state.pid) : '—'],
  ];
  const localKeys = new Set(Object.keys(i.config));

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
          project={project}
          name={i.name}
          status={i.status}
          onError={setActionError}
          afterDelete="/instances"
        />
      </PageHeader>
      <ErrorBanner message={actionError} />
      {i.description && <p className="mb-4 text-slate-600 dark:text-slate-400">{i.description}</p>}
      <section aria-labelledby="overview" className="mb-8">
        <h2 id="overview" className="mb-2 text-lg font-medium">
          Overview
        </h2>
        <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1 text-sm">
          {overview.map(([k, v]) => (
            <div key={k} className="contents">
              <dt className="text-slate-500">{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      </section>
      <section aria-labelledby="config" className="mb-8">
        <h2 id="config" className="mb-2 text-lg font-medium">
          Configuration{' '}
          <span className="text-sm font-normal text-slate-500">
            (expanded: profiles, then the instance's own keys)
          </span>
        </h2>
        <table className={tableClass}>
          <thead>
            <tr>
              <th>Key</th>
              <th>Value</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(i.expanded_config)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, v]) => (
                <tr key={k}>
                  <td className="font-mono text-xs">{k}</td>
                  <td className="font-mono text-xs break-all">{v}</td>
                  <td className="text-xs text-slate-500">
                    {localKeys.has(k) ? 'instance' : 'profile'}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="devices">
        <h2 id="devices" className="mb-2 text-lg font-medium">
          Devices
        </h2>
        <table className={tableClass}>
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Settings</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(i.expanded_devices).map(([dev, { type, ...rest }]) => (
              <tr key={dev}>
                <td className="font-mono text-xs">{dev}</td>
                <td>{type}</td>
                <td className="font-mono text-xs">
                  {Object.entries(rest)
                    .map(([k, v]) => `${k}=${v}`)
                    .join('  ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
