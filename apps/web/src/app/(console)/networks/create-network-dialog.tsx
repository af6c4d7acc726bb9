'use client';
// Create a managed bridge: name, IPv4 gateway address (or auto/none), DHCP,
// NAT and a description. The name is checked as you type with the engine's
// own schema; the address (and a taken name) come back under their field.
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { NetworksPost } from '@berth/engine/schemas';
import { Button, ErrorBanner, TextField, useModalDialog } from '~/components/ui.tsx';
import { formErrorsOf, type FormErrors } from '~/lib/form-errors.ts';
import { useTRPC } from '~/lib/trpc.ts';

export function CreateNetworkDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose(): void;
  onCreated(name: string): void;
}) {
  const trpc = useTRPC();
  const dialog = useModalDialog(open);
  const [name, setName] = useState('');
  const [address, setAddress] = useState('');
  const [dhcp, setDhcp] = useState(true);
  const [nat, setNat] = useState(false);
  const [description, setDescription] = useState('');
  const [server, setServer] = useState<FormErrors | null>(null);

  const create = useMutation(
    trpc.networks.create.mutationOptions({
      onSuccess: (network) => {
        setName('');
        setAddress('');
        setDescription('');
        setServer(null);
        onCreated(network.name);
      },
      onError: (error) => setServer(formErrorsOf(error)),
    }),
  );

  const request = {
    name: name.trim(),
    description,
    config: {
      'ipv4.address': address.trim() || 'auto',
      'ipv4.dhcp': String(dhcp),
      'ipv4.nat': String(nat),
    },
  };
  const local = NetworksPost.safeParse(request);
  const errors: Record<string, string> = { ...(server?.fields ?? {}) };
  if (!local.success && name)
    for (const issue of local.error.issues) errors[issue.path.join('.')] ??= issue.message;
  const otherError = server && !Object.keys(server.fields).length ? server.message : null;
  const edited = () => setServer(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (local.success) create.mutate(request);
  }

  return (
    <dialog
      ref={dialog}
      onClose={onClose}
      aria-labelledby="create-network-title"
      className="m-auto w-full max-w-lg rounded-lg border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-black/40 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-100"
    >
      <form onSubmit={submit} className="space-y-4 p-6">
        <h2 id="create-network-title" className="text-lg font-semibold">
          Create network
        </h2>
        <TextField
          label="Name"
          value={name}
          onChange={(e) => (setName(e.target.value), edited())}
          error={errors.name}
          placeholder="berthbr1"
          autoComplete="off"
          autoFocus
        />
        <TextField
          label="IPv4 address (gateway/prefix, auto or none)"
          value={address}
          onChange={(e) => (setAddress(e.target.value), edited())}
          error={errors['ipv4.address']}
          placeholder="auto (e.g. 10.42.0.1/24)"
          className="font-mono"
          autoComplete="off"
        />
        <div className="flex gap-6 text-sm">
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={dhcp} onChange={(e) => setDhcp(e.target.checked)} />
            <span>DHCP (ipv4.dhcp)</span>
          </label>
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={nat} onChange={(e) => setNat(e.target.checked)} />
            <span>NAT (ipv4.nat)</span>
          </label>
        </div>
        {(errors['ipv4.dhcp'] ?? errors['ipv4.nat']) && (
          <p role="alert" className="text-sm text-red-600 dark:text-red-400">
            {errors['ipv4.dhcp'] ?? errors['ipv4.nat']}
          </p>
        )}
        <TextField
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          error={errors.description}
        />
        <ErrorBanner message={otherError} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" disabled={create.isPending || !local.success}>
            {create.isPending ? 'Creating…' : 'Create'}
          </Button>
        </div>
      </form>
    </dialog>
  );
}
