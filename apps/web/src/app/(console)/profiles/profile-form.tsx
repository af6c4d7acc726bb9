'use client';
// Edit one profile's description, config and devices, validated as you type
// with the engine's tables (as a profile: either instance type may use it).
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ConfigEditor, DevicesEditor } from '~/components/config-editor.tsx';
import { Button, ErrorBanner, inputClass } from '~/components/ui.tsx';
import {
  configFrom,
  configKeyOfField,
  configRowProblems,
  deviceDraftProblems,
  deviceOfField,
  devicesFrom,
  devicesOf,
  rowsFrom,
} from '~/lib/config-rows.ts';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';

type Profile = Outputs['profiles']['list'][number];
const options = { profile: true };

export function ProfileForm({ project, profile }: { project: string; profile: Profile }) {
  const trpc = useTRPC();
  const [description, setDescription] = useState(profile.description);
  const [rows, setRows] = useState(() => rowsFrom(profile.config));
  const [devices, setDevices] = useState(() => devicesFrom(profile.devices));
  const [saved, setSaved] = useState(false);
  const [serverError, setServerError] = useState<{
    message: string;
    config: Record<string, string>;
    devices: Record<string, Record<string, string>>;
  } | null>(null);
  const update = useMutation(
    trpc.profiles.update.mutationOptions({
      onSuccess: () => {
        setSaved(true);
        setServerError(null);
      },
      onError: (error) => {
        const d = describeError(error);
        const message = d.message.replace(/^(?:config|devices)\[[^:]*\]:\s*/, '');
        const config: Record<string, string> = {};
        const devs: Record<string, Record<string, string>> = {};
        const key = configKeyOfField(d.field);
        const device = deviceOfField(d.field);
        if (key) config[key] = message;
        else if (device) (devs[device[0]] ??= {})[device[1] ?? ''] = message;
        setServerError({ message: d.message, config, devices: devs });
      },
    }),
  );
  const invalid =
    Object.keys(configRowProblems(rows, options)).length > 0 ||
    Object.keys(deviceDraftProblems(devices, options)).length > 0;
  const touched = () => setSaved(false);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (invalid) return;
    update.mutate({
      project,
      name: profile.name,
      put: { description, config: configFrom(rows), devices: devicesOf(devices) },
    });
  }

  const otherError =
    serverError &&
    !Object.keys(serverError.config).length &&
    !Object.keys(serverError.devices).length
      ? serverError.message
      : null;
  return (
    <form onSubmit={submit} aria-label={`Edit profile ${profile.name}`} className="space-y-6">
      <label className="block space-y-1 text-sm">
        <span>Description</span>
        <input
          value={description}
          onChange={(e) => {
            touched();
            setDescription(e.target.value);
          }}
          className={inputClass}
        />
      </label>
      <section className="space-y-2">
        <h3 className="font-medium">Configuration</h3>
        <ConfigEditor
          label="Profile config"
          rows={rows}
          onChange={(r) => {
            touched();
            setRows(r);
          }}
          options={options}
          serverErrors={serverError?.config ?? {}}
        />
      </section>
      <section className="space-y-2">
        <h3 className="font-medium">Devices</h3>
        <DevicesEditor
          drafts={devices}
          onChange={(d) => {
            touched();
            setDevices(d);
          }}
          options={options}
          serverErrors={serverError?.devices ?? {}}
        />
      </section>
      <ErrorBanner message={otherError} />
      <div className="flex items-center gap-2">
        <Button type="submit" variant="primary" disabled={update.isPending || invalid}>
          {update.isPending ? 'Saving…' : 'Save profile'}
        </Button>
        {invalid && (
          <span className="text-sm text-red-600">Fix the fields marked above to save.</span>
        )}
        {saved && (
          <span role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
            Saved; instances using it are updated.
          </span>
        )}
      </div>
    </form>
  );
}
