'use client';
// One network: its state (addresses, counters), DHCP leases, what uses it,
// and for server admins its description and config keys, and delete.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Button, ErrorBanner, inputClass, tableClass } from '~/components/ui.tsx';
import { UsedByLinks } from '~/components/used-by-links.tsx';
import {
  configFrom,
  configKeyOfField,
  newRow,
  rowsFrom,
  type KeyValueRow,
} from '~/lib/config-rows.ts';
import { formErrorsOf } from '~/lib/form-errors.ts';
import { formatBytes } from '~/lib/operations.ts';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';

type Network = Outputs['networks']['list'][number];

export function NetworkDetail({
  network,
  mayManage,
  onDeleted,
}: {
  network: Network;
  mayManage: boolean;
  onDeleted(): void;
}) {
  const trpc = useTRPC();
  const name = network.name;
  // Counters move while guests talk; everything else refreshes on events.
  const state = useQuery({
    ...trpc.networks.state.queryOptions({ name }),
    refetchInterval: 5_000,
  });
  const leases = useQuery(trpc.networks.leases.queryOptions({ name }));
  const [error, setError] = useState<string | null>(null);
  const remove = useMutation(
    trpc.networks.delete.mutationOptions({
      onSuccess: () => (setError(null), onDeleted()),
      onError: (e) => setError(describeError(e).message),
    }),
  );
  const s = state.data;

  return (
    <section aria-labelledby="network-detail" className="mt-8 space-y-6">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="network-detail" className="text-lg font-medium">
          Network “{name}”
        </h2>
        {mayManage && (
          <Button
            variant="danger"
            aria-label={`Delete ${name}`}
            disabled={remove.isPending}
            onClick={() => {
              if (window.confirm(`Delete network "${name}"? Its bridge is removed from the host.`))
                remove.mutate({ name });
            }}
          >
            Delete
          </Button>
        )}
      </div>
      <ErrorBanner message={error} testId="network-error" />

      <div className="grid gap-6 md:grid-cols-2">
        <div>
          <h3 className="mb-2 font-medium">State</h3>
          <dl className="grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 text-sm" aria-label="State">
            <dt className="text-slate-500">State</dt>
            <dd data-testid="network-state">{s?.state ?? '…'}</dd>
            <dt className="text-slate-500">Addresses</dt>
            <dd className="font-mono text-xs">
              {s?.addresses.length
                ? s.addresses.map((a) => `${a.address}/${a.netmask}`).join(', ')
                : '—'}
            </dd>
            <dt className="text-slate-500">MAC address</dt>
            <dd className="font-mono text-xs">{s?.hwaddr || '—'}</dd>
            <dt className="text-slate-500">MTU</dt>
            <dd>{s?.mtu || '—'}</dd>
            <dt className="text-slate-500">Received</dt>
            <dd>
              {s
                ? `${formatBytes(s.counters.bytes_received)} (${s.counters.packets_received} packets)`
                : '—'}
            </dd>
            <dt className="text-slate-500">Sent</dt>
            <dd>
              {s
                ? `${formatBytes(s.counters.bytes_sent)} (${s.counters.packets_sent} packets)`
                : '—'}
            </dd>
          </dl>
        </div>
        <div>
          <h3 className="mb-2 font-medium">Used by</h3>
          <div className="text-sm">
            <UsedByLinks urls={network.used_by} />
          </div>
        </div>
      </div>

      <div>
        <h3 className="mb-2 font-medium">DHCP leases</h3>
        <table className={tableClass} aria-label={`Leases of ${name}`}>
          <thead>
            <tr>
              <th>Hostname</th>
              <th>Address</th>
              <th>MAC address</th>
              <th>Type</th>
            </tr>
          </thead>
          <tbody>
            {leases.data?.map((l) => (
              <tr key={`${l.hwaddr}-${l.address}`}>
                <td>{l.hostname || '—'}</td>
                <td className="font-mono text-xs">{l.address}</td>
                <td className="font-mono text-xs">{l.hwaddr}</td>
                <td>{l.type}</td>
              </tr>
            ))}
            {leases.data?.length === 0 && (
              <tr>
                <td colSpan={4} className="text-center text-slate-500">
                  No leases.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>

      {/* Keyed: another network starts a fresh draft. */}
      <NetworkForm key={name} network={network} mayManage={mayManage} />
    </section>
  );
}

/** Description and config keys; saving replaces both (LXD's PUT). */
function NetworkForm({ network, mayManage }: { network: Network; mayManage: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [description, setDescription] = useState(network.description);
  const [rows, setRows] = useState<KeyValueRow[]>(() => rowsFrom(network.config));
  const [saved, setSaved] = useState(false);
  const update = useMutation(
    trpc.networks.update.mutationOptions({
      onSuccess: () => {
        setSaved(true);
        void queryClient.invalidateQueries({ queryKey: trpc.networks.pathKey() });
      },
    }),
  );
  const error = update.error ? describeError(update.error) : null;
  const errorKey = configKeyOfField(error?.field);
  const change = (id: string, patch: Partial<KeyValueRow>) => {
    setSaved(false);
    setRows(rows.map((r) => (r.id === id ? { ...r, ...patch } : r)));
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    update.mutate({ name: network.name, put: { description, config: configFrom(rows) } });
  }

  return (
    <form onSubmit={submit} aria-label={`Configuration of ${network.name}`} className="space-y-3">
      <h3 className="font-medium">Configuration</h3>
      <label className="block max-w-xl space-y-1 text-sm">
        <span>Description</span>
        <input
          value={description}
          onChange={(e) => (setDescription(e.target.value), setSaved(false))}
          readOnly={!mayManage}
          className={inputClass}
        />
      </label>
      <fieldset className="space-y-2" aria-label="Config keys">
        {rows.length === 0 && <p className="text-sm text-slate-500">No keys set.</p>}
        {rows.map((row, index) => {
          const rowError =
            errorKey !== null && errorKey === row.key.trim()
              ? formErrorsOf(update.error).fields[errorKey]
              : null;
          return (
            <div
              key={row.id}
              data-config-row={row.key}
              className="grid grid-cols-[minmax(12rem,1fr)_2fr_auto] gap-2"
            >
              <input
                aria-label={`Key ${index + 1}`}
                value={row.key}
                placeholder="ipv4.dhcp.ranges"
                readOnly={!mayManage}
                onChange={(e) => change(row.id, { key: e.target.value })}
                className={`${inputClass} font-mono`}
              />
              <input
                aria-label={row.key ? `Value of ${row.key}` : `Value ${index + 1}`}
                value={row.value}
                readOnly={!mayManage}
                aria-invalid={rowError ? true : undefined}
                onChange={(e) => change(row.id, { value: e.target.value })}
                className={`${inputClass} font-mono aria-invalid:border-red-500`}
              />
              {mayManage ? (
                <Button
                  aria-label={`Remove ${row.key || `key ${index + 1}`}`}
                  onClick={() => (setSaved(false), setRows(rows.filter((r) => r.id !== row.id)))}
                >
                  Remove
                </Button>
              ) : (
                <span />
              )}
              {rowError && (
                <p role="alert" className="col-span-3 -mt-1 text-xs text-red-600 dark:text-red-400">
                  {rowError}
                </p>
              )}
            </div>
          );
        })}
      </fieldset>
      {error && !rows.some((r) => errorKey !== null && r.key.trim() === errorKey) && (
        <ErrorBanner message={error.message} />
      )}
      {mayManage && (
        <div className="flex items-center gap-2">
          <Button onClick={() => (setSaved(false), setRows([...rows, newRow()]))}>Add key</Button>
          <Button type="submit" variant="primary" disabled={update.isPending}>
            Save
          </Button>
          {saved && (
            <span role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
              Saved
            </span>
          )}
        </div>
      )}
    </form>
  );
}
