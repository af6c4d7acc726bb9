'use client';
// Backups: export (an operation with a progress bar) then download through
// the route handler; import a tarball as a new instance, uploaded with a
// progress bar and streamed into the engine.
import Link from 'next/link';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { OperationQueue, ProgressBar, useOperationQueue } from '~/components/operation-queue.tsx';
import { Button, ErrorBanner, formatDate, inputClass, tableClass } from '~/components/ui.tsx';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';

type Instance = Outputs['instances']['get'];

export function backupUrl(project: string, instance: string, backup: string): string {
  return `/api/instances/${encodeURIComponent(project)}/${encodeURIComponent(instance)}/backups/${encodeURIComponent(backup)}`;
}

export function BackupsTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const queue = useOperationQueue();
  const backups = useQuery(trpc.backups.list.queryOptions({ project, instance: instance.name }));
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [instanceOnly, setInstanceOnly] = useState(false);
  const [compression, setCompression] = useState<'gzip' | 'none'>('gzip');
  const [ready, setReady] = useState<string | null>(null);

  const exportBackup = useMutation(
    trpc.backups.export.mutationOptions({
      onSuccess: (op) => {
        setError(null);
        setName('');
        queue.track(op, `Backup of ${instance.name}`, (status, metadata) => {
          const made = (metadata as { name?: unknown } | null)?.name;
          if (status === 'Success' && typeof made === 'string') setReady(made);
        });
      },
      onError: (e) => setError(describeError(e).message),
    }),
  );
  const remove = useMutation(
    trpc.backups.delete.mutationOptions({
      onSuccess: () => void backups.refetch(),
      onError: (e) => setError(describeError(e).message),
    }),
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    setReady(null);
    exportBackup.mutate({
      project,
      instance: instance.name,
      ...(name.trim() ? { name: name.trim() } : {}),
      instanceOnly,
      compression,
    });
  }

  return (
    <div className="space-y-8">
      <OperationQueue project={project} operations={queue.operations} onDismiss={queue.dismiss} />
      <ErrorBanner message={error} testId="backup-error" />
      <form
        onSubmit={submit}
        aria-label="Export a backup"
        className="flex flex-wrap items-end gap-3"
      >
        <label className="space-y-1 text-sm">
          <span className="block">Backup name (empty: the next backupN)</span>
          <input value={name} onChange={(e) => setName(e.target.value)} className={inputClass} />
        </label>
        <label className="space-y-1 text-sm">
          <span className="block">Compression</span>
          <select
            value={compression}
            onChange={(e) => setCompression(e.target.value === 'none' ? 'none' : 'gzip')}
            className={inputClass}
          >
            <option value="gzip">gzip</option>
            <option value="none">none</option>
          </select>
        </label>
        <label className="flex items-center gap-2 pb-2 text-sm">
          <input
            type="checkbox"
            checked={instanceOnly}
            onChange={(e) => setInstanceOnly(e.target.checked)}
          />
          Without snapshots
        </label>
        <Button type="submit" variant="primary" disabled={exportBackup.isPending}>
          Export backup
        </Button>
      </form>
      {ready && (
        <p role="status" className="text-sm">
          Backup “{ready}” is ready:{' '}
          <a
            href={backupUrl(project, instance.name, ready)}
            download
            className="text-sky-700 hover:underline dark:text-sky-400"
          >
            Download {ready}
          </a>
        </p>
      )}
      <table className={tableClass} aria-label="Backups">
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Snapshots</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {backups.data?.map((b) => (
            <tr key={b.name} data-backup={b.name}>
              <td className="font-mono text-xs">{b.name}</td>
              <td>{formatDate(b.created_at)}</td>
              <td>{formatDate(b.expires_at)}</td>
              <td>{b.instance_only ? 'no' : 'yes'}</td>
              <td>
                <div className="flex items-center gap-2">
                  <a
                    href={backupUrl(project, instance.name, b.name)}
                    download
                    aria-label={`Download backup ${b.name}`}
                    className="text-sm text-sky-700 hover:underline dark:text-sky-400"
                  >
                    Download
                  </a>
                  <Button
                    variant="danger"
                    aria-label={`Delete backup ${b.name}`}
                    onClick={() => {
                      if (window.confirm(`Delete backup "${b.name}"?`))
                        remove.mutate({ project, instance: instance.name, name: b.name });
                    }}
                  >
                    Delete
                  </Button>
                </div>
              </td>
            </tr>
          ))}
          {backups.data?.length === 0 && (
            <tr>
              <td colSpan={5} className="text-center text-slate-500">
                No backups yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <ImportBackup project={project} />
    </div>
  );
}

/** Uploads a tarball to the import route with XHR (fetch cannot report upload progress). */
export function ImportBackup({ project }: { project: string }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [sent, setSent] = useState<number | null>(null);
  const [result, setResult] = useState<
    { ok: true; name: string } | { ok: false; error: string } | null
  >(null);
  const busy = sent !== null;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    setResult(null);
    setSent(0);
    const xhr = new XMLHttpRequest();
    const query = name.trim() ? `?name=${encodeURIComponent(name.trim())}` : '';
    xhr.open('POST', `/api/instances/${encodeURIComponent(project)}/import${query}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) =>
      e.lengthComputable && setSent(Math.round((e.loaded / e.total) * 100));
    xhr.onload = () => {
      setSent(null);
      const body = JSON.parse(xhr.responseText || '{}') as { name?: string; error?: string };
      setResult(
        xhr.status < 300 && body.name
          ? { ok: true, name: body.name }
          : { ok: false, error: body.error ?? `Import failed (${xhr.status})` },
      );
    };
    xhr.onerror = () => {
      setSent(null);
      setResult({ ok: false, error: 'The upload failed' });
    };
    xhr.send(file);
  }

  return (
    <form onSubmit={submit} aria-label="Import a backup" className="space-y-2">
      <h3 className="font-medium">Import a backup as a new instance</h3>
      <div className="flex flex-wrap items-end gap-3">
        <label className="space-y-1 text-sm">
          <span className="block">Backup tarball</span>
          <input
            type="file"
            accept=".tar,.tar.gz,.tgz,application/gzip,application/x-tar"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </label>
        <label className="space-y-1 text-sm">
          <span className="block">New instance name (empty: the one in the backup)</span>
          <input value={name} onChange={(e) => setName(e.target.value)} className={inputClass} />
        </label>
        <Button type="submit" variant="primary" disabled={!file || busy}>
          Import
        </Button>
      </div>
      {busy && (
        <div className="max-w-md space-y-1 text-sm">
          <span>{sent < 100 ? `Uploading… ${sent}%` : 'Restoring…'}</span>
          <ProgressBar percent={sent < 100 ? sent : null} label="Import progress" />
        </div>
      )}
      {result?.ok && (
        <p role="status" className="text-sm">
          Imported as{' '}
          <Link
            href={`/instances/${encodeURIComponent(result.name)}`}
            className="text-sky-700 hover:underline dark:text-sky-400"
          >
            {result.name}
          </Link>
          .
        </p>
      )}
      {result && !result.ok && <ErrorBanner message={result.error} />}
    </form>
  );
}
