'use client';
// Browse the instance's files from `/`: enter directories, download a file,
// upload one into the current directory, make a directory, delete. Bytes go
// through the files route handler unchanged (binary-safe both ways).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { Button, ErrorBanner, inputClass, tableClass } from '~/components/ui.tsx';
import { formatBytes } from '~/lib/operations.ts';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';

type Instance = Outputs['instances']['get'];

export function fileUrl(project: string, instance: string, path: string): string {
  return `/api/instances/${encodeURIComponent(project)}/${encodeURIComponent(instance)}/files?path=${encodeURIComponent(path)}`;
}

const join = (dir: string, name: string) => `${dir.replace(/\/+$/, '')}/${name}`;

export function FilesTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [cwd, setCwd] = useState('/');
  const [error, setError] = useState<string | null>(null);
  const [dirName, setDirName] = useState('');
  const [uploading, setUploading] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const listing = useQuery(
    trpc.files.list.queryOptions({ project, instance: instance.name, path: cwd }),
  );
  const refresh = () =>
    queryClient.invalidateQueries({
      queryKey: trpc.files.list.queryKey({ project, instance: instance.name, path: cwd }),
    });
  const onError = (e: unknown) => setError(describeError(e).message);
  const mkdir = useMutation(
    trpc.files.mkdir.mutationOptions({
      onSuccess: () => {
        setDirName('');
        setError(null);
        void refresh();
      },
      onError,
    }),
  );
  const remove = useMutation(
    trpc.files.delete.mutationOptions({
      onSuccess: () => {
        setError(null);
        void refresh();
      },
      onError,
    }),
  );

  async function upload(event: FormEvent) {
    event.preventDefault();
    const file = fileInput.current?.files?.[0];
    if (!file) return;
    setUploading(true);
    try {
      const res = await fetch(fileUrl(project, instance.name, join(cwd, file.name)), {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: file,
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: string };
        throw new Error(body.error ?? `Upload failed (${res.status})`);
      }
      setError(null);
      if (fileInput.current) fileInput.current.value = '';
      await refresh();
    } catch (e) {
      onError(e);
    } finally {
      setUploading(false);
    }
  }

  const parts = cwd.split('/').filter(Boolean);
  return (
    <div className="space-y-4">
      <nav aria-label="Path" className="flex flex-wrap items-center gap-1 font-mono text-sm">
        <button
          type="button"
          className="text-sky-700 hover:underline dark:text-sky-400"
          onClick={() => setCwd('/')}
        >
          /
        </button>
        {parts.map((p, i) => (
          <span key={i} className="flex items-center gap-1">
            <button
              type="button"
              className="text-sky-700 hover:underline dark:text-sky-400"
              onClick={() => setCwd(`/${parts.slice(0, i + 1).join('/')}`)}
            >
              {p}
            </button>
            {i < parts.length - 1 && '/'}
          </span>
        ))}
        <span data-testid="cwd" data-path={cwd} className="sr-only">
          {cwd}
        </span>
      </nav>
      <ErrorBanner
        message={error ?? (listing.error ? describeError(listing.error).message : null)}
        testId="files-error"
      />
      <div className="flex flex-wrap items-end gap-6">
        <form
          onSubmit={(e) => void upload(e)}
          aria-label="Upload a file"
          className="flex items-end gap-2"
        >
          <label className="space-y-1 text-sm">
            <span className="block">Upload into {cwd}</span>
            <input ref={fileInput} type="file" aria-label="File to upload" />
          </label>
          <Button type="submit" variant="primary" disabled={uploading}>
            {uploading ? 'Uploading…' : 'Upload'}
          </Button>
        </form>
        <form
          aria-label="Make a directory"
          className="flex items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            if (dirName.trim())
              mkdir.mutate({ project, instance: instance.name, path: join(cwd, dirName.trim()) });
          }}
        >
          <label className="space-y-1 text-sm">
            <span className="block">New directory</span>
            <input
              value={dirName}
              onChange={(e) => setDirName(e.target.value)}
              className={inputClass}
            />
          </label>
          <Button type="submit" disabled={!dirName.trim() || dirName.includes('/')}>
            Make directory
          </Button>
        </form>
      </div>
      <table className={tableClass} aria-label="Files">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Size</th>
            <th>Mode</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {cwd !== '/' && (
            <tr>
              <td colSpan={5}>
                <button
                  type="button"
                  className="font-mono text-sky-700 hover:underline dark:text-sky-400"
                  onClick={() => setCwd(`/${parts.slice(0, -1).join('/')}`)}
                >
                  ..
                </button>
              </td>
            </tr>
          )}
          {listing.data?.entries.map((e) => (
            <tr key={e.name} data-file={e.name}>
              <td className="font-mono text-xs">
                {e.type === 'directory' ? (
                  <button
                    type="button"
                    aria-label={`Open ${e.name}`}
                    className="text-sky-700 hover:underline dark:text-sky-400"
                    onClick={() => setCwd(e.path)}
                  >
                    {e.name}/
                  </button>
                ) : (
                  <>
                    {e.name}
                    {e.target && <span className="text-slate-500"> → {e.target}</span>}
                  </>
                )}
              </td>
              <td>{e.type}</td>
              <td>{e.size === null ? '' : formatBytes(e.size)}</td>
              <td className="font-mono text-xs">
                {e.mode === null ? '' : (e.mode & 0o7777).toString(8).padStart(4, '0')}
              </td>
              <td>
                <div className="flex items-center gap-2">
                  {e.type === 'file' && (
                    <a
                      href={fileUrl(project, instance.name, e.path)}
                      download={e.name}
                      aria-label={`Download ${e.name}`}
                      className="text-sm text-sky-700 hover:underline dark:text-sky-400"
                    >
                      Download
                    </a>
                  )}
                  <Button
                    variant="danger"
                    aria-label={`Delete ${e.name}`}
                    onClick={() => {
                      if (window.confirm(`Delete ${e.path}?`))
                        remove.mutate({ project, instance: instance.name, path: e.path });
                    }}
                  >
                    Delete
                  </Button>
                </div>
              </td>
            </tr>
          ))}
          {listing.data?.entries.length === 0 && (
            <tr>
              <td colSpan={5} className="text-center text-slate-500">
                Empty directory.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
