'use client';
// `used_by` of a server-wide object (network, storage pool, volume): LXD's API
// URLs, instances shown as links that switch to the instance's project.
import Link from 'next/link';
import { projectOfUrl } from '~/server/policy.ts';
import { useProject } from '~/app/providers.tsx';

/** `/1.0/instances/c1?project=p` → `{ project: 'p', instance: 'c1' }`; other kinds keep their path. */
export function usedByEntry(url: string): {
  project: string;
  instance: string | null;
  label: string;
} {
  const path = url.replace(/\?.*$/, '');
  const project = projectOfUrl(url);
  const m = /^\/1\.0\/instances\/([^/]+)$/.exec(path);
  const instance = m ? decodeURIComponent(m[1]!) : null;
  const name = instance ?? path;
  return { project, instance, label: project === 'default' ? name : `${name} (${project})` };
}

export function UsedByLinks({ urls }: { urls: readonly string[] }) {
  const { setProject } = useProject();
  if (urls.length === 0) return <span className="text-slate-500">—</span>;
  return (
    <ul className="flex flex-wrap gap-x-3 gap-y-1">
      {urls.map((url) => {
        const u = usedByEntry(url);
        return (
          <li key={url}>
            {u.instance ? (
              <Link
                href={`/instances/${encodeURIComponent(u.instance)}`}
                onClick={() => setProject(u.project)}
                className="text-sky-700 hover:underline dark:text-sky-400"
              >
                {u.label}
              </Link>
            ) : (
              <span className="font-mono text-xs">{u.label}</span>
            )}
          </li>
        );
      })}
    </ul>
  );
}
