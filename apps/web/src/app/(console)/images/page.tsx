'use client';
// The project's images, and the built-in ones to build: busybox as a
// container image, and as a virtual machine image (a Debian kernel booted
// directly, a busybox root disk and the guest agent). A build is an
// operation: its progress shows in the queue, and the list refreshes when it ends.
import { useMutation, useQuery } from '@tanstack/react-query';
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
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { useProject } from '../../providers.tsx';

export default function ImagesPage() {
  const trpc = useTRPC();
  const { project } = useProject();
  const images = useQuery(trpc.images.list.queryOptions({ project }));
  const queue = useOperationQueue();
  const build = useMutation(
    trpc.images.buildBusybox.mutationOptions({
      onSuccess: (op) => queue.track(op, 'Building busybox image'),
    }),
  );
  const buildVm = useMutation(
    trpc.images.buildBusyboxVm.mutationOptions({
      onSuccess: (op) => queue.track(op, 'Building busybox VM image'),
    }),
  );
  const [alias, setAlias] = useState('busybox');
  const [vmAlias, setVmAlias] = useState('busybox-vm');

  function submit(event: FormEvent) {
    event.preventDefault();
    build.mutate({ project, ...(alias ? { alias } : {}) });
  }

  function submitVm(event: FormEvent) {
    event.preventDefault();
    buildVm.mutate({ project, ...(vmAlias ? { alias: vmAlias } : {}) });
  }

  return (
    <>
      <PageHeader title="Images" />
      <div className="mb-4 flex flex-wrap items-end gap-6">
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2">
          <label className="space-y-1 text-sm">
            <span>Container image alias</span>
            <input
              value={alias}
              onChange={(e) => setAlias(e.target.value)}
              className={inputClass}
            />
          </label>
          <Button type="submit" variant="primary" disabled={build.isPending}>
            Build busybox image
          </Button>
        </form>
        <form onSubmit={submitVm} className="flex flex-wrap items-end gap-2">
          <label className="space-y-1 text-sm">
            <span>VM image alias</span>
            <input
              value={vmAlias}
              onChange={(e) => setVmAlias(e.target.value)}
              className={inputClass}
            />
          </label>
          <Button type="submit" variant="primary" disabled={buildVm.isPending}>
            Build busybox VM image
          </Button>
        </form>
      </div>
      <ErrorBanner message={build.error ? describeError(build.error).message : null} />
      <ErrorBanner message={buildVm.error ? describeError(buildVm.error).message : null} />
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
          </tr>
        </thead>
        <tbody>
          {images.data?.map((img) => (
            <tr key={img.fingerprint}>
              <td>{img.aliases.map((a) => a.name).join(', ') || '—'}</td>
              <td className="font-mono text-xs">{img.fingerprint.slice(0, 12)}</td>
              <td>
                {img.properties.description ??
                  `${img.properties.os ?? ''} ${img.properties.release ?? ''}`}
              </td>
              <td>{img.type}</td>
              <td>{(img.size / 1024 / 1024).toFixed(1)} MiB</td>
              <td>{formatDate(img.uploaded_at)}</td>
            </tr>
          ))}
          {images.data?.length === 0 && (
            <tr>
              <td colSpan={6} className="text-center text-slate-500">
                No images yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </>
  );
}
