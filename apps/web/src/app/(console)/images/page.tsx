'use client';
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
import { describeError, useTRPC } from '~/lib/trpc.ts';
import { useProject } from '../../providers.tsx';

export default function ImagesPage() {
  const trpc = useTRPC();
  const { project } = useProject();
  const images = useQuery(trpc.images.list.queryOptions({ project }));
  const build = useMutation(trpc.images.buildBusybox.mutationOptions());
  const [alias, setAlias] = useState('busybox');

  function submit(event: FormEvent) {
    event.preventDefault();
    build.mutate({ project, ...(alias ? { alias } : {}) });
  }

  return (
    <>
      <PageHeader title="Images" />
      <form onSubmit={submit} className="mb-4 flex flex-wrap items-end gap-2">
        <label className="space-y-1 text-sm">
          <span>Alias</span>
          <input value={alias} onChange={(e) => setAlias(e.target.value)} className={inputClass} />
        </label>
        <Button type="submit" variant="primary" disabled={build.isPending}>
          Build busybox image
        </Button>
      </form>
      <ErrorBanner message={build.error ? describeError(build.error).message : null} />
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
