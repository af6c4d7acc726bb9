'use client';
// The instance's own config, devices and profiles, edited with per-key
// validation as you type (the engine's key table), saved with a PUT; what the
// server refuses appears under its field. Below, read-only, the expanded
// config and devices with where each value comes from.
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ConfigEditor, DevicesEditor } from '~/components/config-editor.tsx';
import { Button, ErrorBanner, inputClass, tableClass } from '~/components/ui.tsx';
import {
  configFrom,
  configKeyOfField,
  configRowProblems,
  deviceDraftProblems,
  deviceOfField,
  devicesFrom,
  devicesOf,
  rowsFrom,
  type DeviceDraft,
  type KeyValueRow,
} from '~/lib/config-rows.ts';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';

type Instance = Outputs['instances']['get'];

const isVolatile = (key: string) => key.startsWith('volatile.');

interface Draft {
  description: string;
  rows: KeyValueRow[];
  devices: DeviceDraft[];
  profiles: string[];
}

function draftOf(i: Instance): Draft {
  return {
    description: i.description,
    rows: rowsFrom(i.config, isVolatile),
    devices: devicesFrom(i.devices),
    profiles: [...i.profiles],
  };
}

export function ConfigurationTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const [draft, setDraft] = useState(() => draftOf(instance));
  const [serverError, setServerError] = useState<{
    message: string;
    config: Record<string, string>;
    devices: Record<string, Record<string, string>>;
  } | null>(null);
  const [saved, setSaved] = useState(false);
  const profiles = useQuery(trpc.profiles.list.queryOptions({ project }));
  const options = { profile: false, instanceType: instance.type };

  const update = useMutation(
    trpc.instances.update.mutationOptions({
      onSuccess: (next) => {
        setServerError(null);
        setSaved(true);
        setDraft(draftOf({ ...instance, ...next }));
      },
      onError: (error) => {
        const d = describeError(error);
        const message = d.message.replace(/^(?:config|devices)\[[^:]*\]:\s*/, '');
        const config: Record<string, string> = {};
        const devices: Record<string, Record<string, string>> = {};
        const key = configKeyOfField(d.field);
        const device = deviceOfField(d.field);
        if (key) config[key] = message;
        else if (device) (devices[device[0]] ??= {})[device[1] ?? ''] = message;
        setServerError({ message: d.message, config, devices });
      },
    }),
  );

  const configProblems = configRowProblems(draft.rows, options);
  const deviceProblems = deviceDraftProblems(draft.devices, options);
  const invalid = Object.keys(configProblems).length > 0 || Object.keys(deviceProblems).length > 0;
  const change = (next: Partial<Draft>) => {
    setSaved(false);
    setDraft((d) => ({ ...d, ...next }));
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    if (invalid) return;
    // Volatile keys are not sent: the engine keeps them on a PUT.
    update.mutate({
      project,
      name: instance.name,
      put: {
        description: draft.description,
        config: configFrom(draft.rows),
        devices: devicesOf(draft.devices),
        profiles: draft.profiles,
        ephemeral: instance.ephemeral,
      },
    });
  }

  const available = (profiles.data ?? [])
    .map((p) => p.name)
    .filter((n) => !draft.profiles.includes(n));
  const move = (index: number, by: number) => {
    const next = [...draft.profiles];
    const [item] = next.splice(index, 1);
    next.splice(index + by, 0, item!);
    change({ profiles: next });
  };
  const otherError =
    serverError &&
    !Object.keys(serverError.config).length &&
    !Object.keys(serverError.devices).length
      ? serverError.message
      : null;

  return (
    <div className="space-y-8">
      <form onSubmit={submit} className="space-y-6" aria-label="Instance configuration">
        <label className="block space-y-1 text-sm">
          <span>Description</span>
          <input
            value={draft.description}
            onChange={(e) => change({ description: e.target.value })}
            className={inputClass}
          />
        </label>
        <section aria-labelledby="local-config" className="space-y-2">
          <h3 id="local-config" className="font-medium">
            Configuration{' '}
            <span className="text-sm font-normal text-slate-500">
              (this instance's own keys; volatile keys are Berth's and not shown)
            </span>
          </h3>
          <ConfigEditor
            label="Instance config"
            rows={draft.rows}
            onChange={(rows) => change({ rows })}
            options={options}
            serverErrors={serverError?.config ?? {}}
          />
        </section>
        <section aria-labelledby="local-devices" className="space-y-2">
          <h3 id="local-devices" className="font-medium">
            Devices{' '}
            <span className="text-sm font-normal text-slate-500">(this instance's own)</span>
          </h3>
          <DevicesEditor
            drafts={draft.devices}
            onChange={(devices) => change({ devices })}
            options={options}
            serverErrors={serverError?.devices ?? {}}
          />
        </section>
        <section aria-labelledby="profiles-order" className="space-y-2">
          <h3 id="profiles-order" className="font-medium">
            Profiles{' '}
            <span className="text-sm font-normal text-slate-500">
              (applied in this order; the instance's own keys win)
            </span>
          </h3>
          <ol className="space-y-1" aria-label="Profiles in order">
            {draft.profiles.map((p, index) => (
              <li key={p} className="flex items-center gap-2 text-sm">
                <span className="w-6 text-slate-500">{index + 1}.</span>
                <span className="min-w-32 font-mono">{p}</span>
                <Button
                  aria-label={`Move ${p} up`}
                  disabled={index === 0}
                  onClick={() => move(index, -1)}
                >
                  ↑
                </Button>
                <Button
                  aria-label={`Move ${p} down`}
                  disabled={index === draft.profiles.length - 1}
                  onClick={() => move(index, 1)}
                >
                  ↓
                </Button>
                <Button
                  aria-label={`Remove profile ${p}`}
                  onClick={() => change({ profiles: draft.profiles.filter((x) => x !== p) })}
                >
                  Remove
                </Button>
              </li>
            ))}
          </ol>
          {available.length > 0 && (
            <select
              aria-label="Add profile"
              value=""
              onChange={(e) =>
                e.target.value && change({ profiles: [...draft.profiles, e.target.value] })
              }
              className={`${inputClass} max-w-xs`}
            >
              <option value="">Add a profile…</option>
              {available.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          )}
        </section>
        <ErrorBanner message={otherError} testId="config-save-error" />
        <div className="flex items-center gap-2">
          <Button type="submit" variant="primary" disabled={update.isPending || invalid}>
            {update.isPending ? 'Saving…' : 'Save'}
          </Button>
          <Button
            onClick={() => {
              setDraft(draftOf(instance));
              setServerError(null);
              setSaved(false);
            }}
          >
            Reset
          </Button>
          {invalid && (
            <span className="text-sm text-red-600">Fix the fields marked above to save.</span>
          )}
          {saved && (
            <span role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
              Saved.
            </span>
          )}
        </div>
      </form>
      <ExpandedView instance={instance} profiles={profiles.data ?? []} />
    </div>
  );
}

/** Where each expanded value comes from: the last profile setting it, or the instance. */
function ExpandedView({
  instance,
  profiles,
}: {
  instance: Instance;
  profiles: Outputs['profiles']['list'];
}) {
  const configSource: Record<string, string> = {};
  const deviceSource: Record<string, string> = {};
  for (const name of instance.profiles) {
    const p = profiles.find((x) => x.name === name);
    for (const k of Object.keys(p?.config ?? {})) configSource[k] = `profile ${name}`;
    for (const k of Object.keys(p?.devices ?? {})) deviceSource[k] = `profile ${name}`;
  }
  for (const k of Object.keys(instance.config)) configSource[k] = 'instance';
  for (const k of Object.keys(instance.devices)) deviceSource[k] = 'instance';
  return (
    <section aria-labelledby="expanded" className="space-y-4">
      <h3 id="expanded" className="font-medium">
        Expanded{' '}
        <span className="text-sm font-normal text-slate-500">
          (read-only: profiles, then the instance)
        </span>
      </h3>
      <table className={tableClass} aria-label="Expanded configuration">
        <thead>
          <tr>
            <th>Key</th>
            <th>Value</th>
            <th>From</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(instance.expanded_config)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => (
              <tr key={k}>
                <td className="font-mono text-xs">{k}</td>
                <td className="font-mono text-xs break-all">{v}</td>
                <td className="text-xs text-slate-500">{configSource[k] ?? 'profile'}</td>
              </tr>
            ))}
        </tbody>
      </table>
      <table className={tableClass} aria-label="Expanded devices">
        <thead>
          <tr>
            <th>Device</th>
            <th>Type</th>
            <th>Settings</th>
            <th>From</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(instance.expanded_devices).map(([dev, { type, ...rest }]) => (
            <tr key={dev}>
              <td className="font-mono text-xs">{dev}</td>
              <td>{type}</td>
              <td className="font-mono text-xs">
                {Object.entries(rest)
                  .map(([k, v]) => `${k}=${v}`)
                  .join('  ')}
              </td>
              <td className="text-xs text-slate-500">{deviceSource[dev] ?? 'profile'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
