'use client';
// State at a glance: status, addresses, CPU, memory, disk, processes. The
// state refetches on the engine's events (providers.tsx) and, while the
// instance runs, every few seconds (usage changes without an event).
import { useQuery } from '@tanstack/react-query';
import { useRef } from 'react';
import { StatusBadge, formatDate, tableClass } from '~/components/ui.tsx';
import { formatBytes, formatCpuTime } from '~/lib/operations.ts';
import { useTRPC, type Outputs } from '~/lib/trpc.ts';
import { imageOf } from '~/lib/instance-row.ts';

type Instance = Outputs['instances']['get'];

export function OverviewTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const running = instance.status === 'Running' || instance.status === 'Frozen';
  const state = useQuery({
    ...trpc.instances.state.queryOptions({ project, name: instance.name }),
    refetchInterval: running ? 3000 : false,
  });
  const s = state.data ?? instance.state;
  // CPU use as a share of one CPU between two refetches.
  const last = useRef<{ at: number; usage: number } | null>(null);
  const cpuShare = useRef<number | null>(null);
  if (s?.cpu.usage !== undefined && state.dataUpdatedAt) {
    const prev = last.current;
    if (!prev || prev.at !== state.dataUpdatedAt) {
      if (prev && s.cpu.usage >= prev.usage && state.dataUpdatedAt > prev.at)
        cpuShare.current = (s.cpu.usage - prev.usage) / 1e6 / (state.dataUpdatedAt - prev.at);
      last.current = { at: state.dataUpdatedAt, usage: s.cpu.usage };
    }
  }

  const facts: [string, string][] = [
    ['Type', instance.type],
    ['Architecture', instance.architecture],
    ['Image', imageOf(instance)],
    ['Profiles', instance.profiles.join(', ')],
    ['Created', formatDate(instance.created_at)],
    ['Last used', formatDate(instance.last_used_at)],
    ['Location', instance.location],
    ['PID', s?.pid ? String(s.pid) : '—'],
    ['Processes', s && s.processes >= 0 ? String(s.processes) : '—'],
    [
      'CPU time',
      `${formatCpuTime(s?.cpu.usage)}${running && cpuShare.current !== null ? ` (now ${(cpuShare.current * 100).toFixed(1)}% of a CPU)` : ''}`,
    ],
    [
      'Memory',
      s?.memory.usage
        ? `${formatBytes(s.memory.usage)} (peak ${formatBytes(s.memory.usage_peak)}${instance.expanded_config['limits.memory'] ? `, limit ${instance.expanded_config['limits.memory']}` : ''})`
        : '—',
    ],
    ['Swap', s?.memory.swap_usage ? formatBytes(s.memory.swap_usage) : '—'],
  ];
  const networks = Object.entries(s?.network ?? {});
  const disks = Object.entries(s?.disk ?? {});

  return (
    <div className="space-y-6" data-testid="overview">
      <div className="flex items-center gap-2">
        <span className="text-slate-500">Status</span>
        <StatusBadge status={s?.status ?? instance.status} />
      </div>
      <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1 text-sm">
        {facts.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="text-slate-500">{k}</dt>
            <dd data-fact={k}>{v}</dd>
          </div>
        ))}
      </dl>
      <section aria-labelledby="networks">
        <h3 id="networks" className="mb-2 font-medium">
          Network
        </h3>
        <table className={tableClass} aria-label="Network interfaces">
          <thead>
            <tr>
              <th>Interface</th>
              <th>Addresses</th>
              <th>MAC</th>
              <th>Host side</th>
              <th>Received</th>
              <th>Sent</th>
            </tr>
          </thead>
          <tbody>
            {networks.map(([dev, net]) => (
              <tr key={dev}>
                <td className="font-mono text-xs">{dev}</td>
                <td className="font-mono text-xs">
                  {net.addresses.map((a) => `${a.address}/${a.netmask} (${a.scope})`).join(', ') ||
                    '—'}
                </td>
                <td className="font-mono text-xs">{net.hwaddr || '—'}</td>
                <td className="font-mono text-xs">{net.host_name || '—'}</td>
                <td>{formatBytes(net.counters.bytes_received)}</td>
                <td>{formatBytes(net.counters.bytes_sent)}</td>
              </tr>
            ))}
            {networks.length === 0 && (
              <tr>
                <td colSpan={6} className="text-slate-500">
                  {running ? 'No interfaces reported.' : 'The instance is not running.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="disks">
        <h3 id="disks" className="mb-2 font-medium">
          Disk
        </h3>
        <table className={tableClass} aria-label="Disk usage">
          <thead>
            <tr>
              <th>Device</th>
              <th>Used</th>
              <th>Size</th>
            </tr>
          </thead>
          <tbody>
            {disks.map(([dev, d]) => (
              <tr key={dev}>
                <td className="font-mono text-xs">{dev}</td>
                <td>{formatBytes(d.usage)}</td>
                <td>{d.total ? formatBytes(d.total) : '—'}</td>
              </tr>
            ))}
            {disks.length === 0 && (
              <tr>
                <td colSpan={3} className="text-slate-500">
                  No disk usage reported.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
    </div>
  );
}
