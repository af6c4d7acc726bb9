'use client';
// The project's images, and the built-in ones to build: busybox (seconds)
// and Debian 12 (minutes, debootstrapped from the host's archive), each as a
// container image or a virtual machine image. A build is an operation: its
// progress shows in the queue, and the list refreshes when it ends.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import {
  Button,
  ErrorBanner,
  PageHeader,
  formatDate,
  inputClass,
  tableClass,
} from '~/components/ui.tsx';
import { OperationQueue, useOperationQueue } from '~/components/operation-queue.tsx';
import { describeError, useTRPC, useTRPCClient } from '~/lib/trpc.ts';
import { useProject } from '../../providers.tsx';

type Client = ReturnType<typeof useTRPCClient>;

/** The built-in builders, as the form offers them. */
const builders = {
  busybox: {
    label: 'busybox (container)',
    alias: 'busybox',
    build: (c: Client, project: string, alias?: string) =>
      c.images.buildBusybox.mutate({ project, alias }),
  },
  'busybox-vm': {
    label: 'busybox (virtual machine)',
    alias: 'busybox-vm',
    build: (c: Client, project: string, alias?: string) =>
      c.images.buildBusyboxVm.mutate({ project, alias }),
  },
  debian: {
    label: 'Debian 12 (container)',
    alias: 'debian/12',
    build: (c: Client, project: string, alias?: string) =>
      c.images.buildDebian.mutate({ project, release: '12', alias }),
  },
  'debian-vm': {
    label: 'Debian 12 (virtual machine)',
    alias: 'debian/12-vm',
    build: (c: Client, project: string, alias?: string) =>
      c.images.buildDebian.mutate({ project, release: '12', vm: true, alias }),
  },
} as const;
type Builder = keyof typeof builders;

export default function ImagesPage() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const { project } = useProject();
  const images = useQuery(trpc.images.list.queryOptions({ project }));
  const refresh = () => queryClient.invalidateQueries(trpc.images.list.queryFilter({ project }));
  const queue = useOperationQueue();
  const [builder, setBuilder] = useState<Builder>('busybox');
  const [alias, setAlias] = useState<string>(builders.busybox.alias);
  const build = useMutation({
    mutationFn: (input: { builder: Builder; alias: string }) =>
      builders[input.builder].build(client, project, input.alias || undefined),
    onSuccess: (op, input) => queue.track(op, `Building ${builders[input.builder].label} image`),
  });
  const remove = useMutation(trpc.images.delete.mutationOptions({ onSuccess: () => refresh() }));

  function choose(next: Builder) {
    // The alias follows the choice unless the user typed their own.
    if (Object.values(builders).some((b) => b.alias === alias) || alias === '')
      setAlias(builders[next].alias);
    setBuilder(next);
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    build.mutate({ builder, alias });
  }

  return (
    <>
      <PageHeader title="Images" />
      <form onSubmit={submit} className="mb-4 flex flex-wrap items-end gap-2">
        <label className="space-y-1 text-sm">
          <span>Built-in image</span>
          <select
            value={builder}
            onChange={(e) => choose(e.target.value as Builder)}
            className={inputClass}
          >
            {Object.entries(builders).map(([id, b]) => (
              <option key={id} value={id}>
                {b.label}
              </option>
            ))}
          </select>
        </label>
        <label className="space-y-1 text-sm">
          <span>Alias</span>
          <input value={alias} onChange={(e) => setAlias(e.target.value)} className={inputClass} />
        </label>
        <Button type="submit" variant="primary" disabled={build.isPending}>
          Build image
        </Button>
      </form>
      <ErrorBanner message={build.error ? describeError(build.error).message : null} />
      <ErrorBanner message={remove.error ? describeError(remove.error).message : null} />
      <OperationQueue project={project} operations={queue.operations} onDismiss={queue.dismiss} />
      <table className={tableClass} aria-label="Images">
        <thead>
          <tr>
            <th>Aliases</th>
            <th>Fingerprint</th>
            <th>Description</th>
            <th>Type</th>
            <th>Size</th>
            <th>Uploaded</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {images.data?.map((img) => {
            const name = img.aliases.map((a) => a.name).join(', ');
            return (
              <tr key={img.fingerprint}>
                <td>{name || '—'}</td>
                <td className="font-mono text-xs">{img.fingerprint.slice(0, 12)}</td>
                <td>
                  {img.properties.description ??
                    `${img.properties.os ?? ''} ${img.properties.release ?? ''}`}
                </td>
                <td>{img.type}</td>
                <td>{(img.size / 1024 / 1024).toFixed(1)} MiB</td>
                <td>{formatDate(img.uploaded_at)}</td>
                <td>
                  <Button
                    variant="danger"
                    aria-label={`Delete image ${name || img.fingerprint.slice(0, 12)}`}
                    disabled={remove.isPending}
                    onClick={() => {
                      if (window.confirm(`Delete image ${name || img.fingerprint.slice(0, 12)}?`))
                        remove.mutate({ project, fingerprint: img.fingerprint });
                    }}
                  >
                    Delete
                  </Button>
                </td>
              </tr>
            );
          })}
          {images.data?.length === 0 && (
            <tr>
              <td colSpan={7} className="text-center text-slate-500">
                No images yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </>
  );
}
