'use client';
// Networks: the host's managed bridges with their address, DHCP, NAT, MTU and
// link state; one opened below with its state, leases, users and config.
// Any signed-in user sees them; server admins create, edit and delete.
import { useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, ErrorBanner, PageHeader, tableClass } from '~/components/ui.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { usePermissions } from '~/lib/use-permissions.ts';
import { CreateNetworkDialog } from './create-network-dialog.tsx';
import { NetworkDetail } from './network-detail.tsx';

const truthy = new Set(['true', '1', 'yes', 'on']);

function yesNo(on: boolean) {
  return on ? 'yes' : 'no';
}

export default function NetworksPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.networks.pathKey() });
  const { can } = usePermissions();
  const mayManage = can('host:manage');
  const networks = useQuery(trpc.networks.list.queryOptions());
  const states = useQueries({
    queries: (networks.data ?? []).map((n) => trpc.networks.state.queryOptions({ name: n.name })),
  });
  const [open, setOpen] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const current = networks.data?.find((n) => n.name === open);

  return (
    <>
      <PageHeader title="Networks">
        {mayManage && (
          <Button variant="primary" onClick={() => setCreating(true)}>
            Create network
          </Button>
        )}
      </PageHeader>
      <ErrorBanner message={networks.error ? describeError(networks.error).message : null} />
      <table className={tableClass} aria-label="Networks">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Managed</th>
            <th>IPv4</th>
            <th>DHCP</th>
            <th>NAT</th>
            <th>MTU</th>
            <th>State</th>
            <th>Used by</th>
            <th>Description</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {networks.data?.map((n, index) => {
            const state = states[index]?.data;
            const address = n.config['ipv4.address'] ?? 'none';
            const dhcp = address !== 'none' && n.config['ipv4.dhcp'] !== 'false';
            const up = state?.state === 'up';
            return (
              <tr key={n.name} data-network={n.name}>
                <td className="font-mono text-xs">{n.name}</td>
                <td>{n.type}</td>
                <td>{yesNo(n.managed)}</td>
                <td data-column="ipv4" className="font-mono text-xs">
                  {address}
                </td>
                <td data-column="dhcp">{yesNo(dhcp)}</td>
                <td data-column="nat">
                  {yesNo(truthy.has((n.config['ipv4.nat'] ?? '').toLowerCase()))}
                </td>
                <td>{state?.mtu || n.config['bridge.mtu'] || '—'}</td>
                <td data-column="state">
                  <span
                    className={`rounded-full px-2 py-0.5 text-xs font-medium ${
                      up
                        ? 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200'
                        : 'bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300'
                    }`}
                  >
                    {state?.state ?? '…'}
                  </span>
                </td>
                <td data-column="used-by">{n.used_by.length}</td>
                <td data-column="description">{n.description}</td>
                <td>
                  <Button
                    aria-label={`Details of ${n.name}`}
                    aria-pressed={open === n.name}
                    onClick={() => setOpen(open === n.name ? null : n.name)}
                  >
                    Details
                  </Button>
                </td>
              </tr>
            );
          })}
          {networks.data?.length === 0 && (
            <tr>
              <td colSpan={11} className="text-center text-slate-500">
                No networks.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {current && (
        <NetworkDetail
          key={current.name}
          network={current}
          mayManage={mayManage}
          onDeleted={() => {
            setOpen(null);
            refresh();
          }}
        />
      )}
      <CreateNetworkDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(name) => {
          setCreating(false);
          setOpen(name);
          refresh();
        }}
      />
    </>
  );
}
