'use client';
// Every volume of one pool (instances', images' and custom ones, in the
// projects the user may read), read only; custom-volumes.tsx manages them.
import { useQuery } from '@tanstack/react-query';
import { ErrorBanner, formatDate, tableClass } from '~/components/ui.tsx';
import { UsedByLinks } from '~/components/used-by-links.tsx';
import { describeError, useTRPC } from '~/lib/trpc.ts';

export function PoolVolumes({ pool }: { pool: string }) {
  const trpc = useTRPC();
  const volumes = useQuery(trpc.storage.volumes.queryOptions({ name: pool }));
  return (
    <section aria-labelledby="pool-volumes" className="mt-8">
      <h2 id="pool-volumes" className="mb-4 text-lg font-medium">
        Volumes in “{pool}”
      </h2>
      <ErrorBanner message={volumes.error ? describeError(volumes.error).message : null} />
      <table className={tableClass} aria-label={`Volumes in ${pool}`}>
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Content</th>
            <th>Project</th>
            <th>Used by</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {volumes.data?.map((v) => (
            <tr key={`${v.project}/${v.type}/${v.name}`} data-volume={v.name}>
              <td className="font-mono text-xs">{v.name}</td>
              <td>{v.type}</td>
              <td>{v.content_type}</td>
              <td>{v.project}</td>
              <td>
                <UsedByLinks urls={v.used_by} />
              </td>
              <td>{formatDate(v.created_at)}</td>
            </tr>
          ))}
          {volumes.data?.length === 0 && (
            <tr>
              <td colSpan={6} className="text-center text-slate-500">
                No volumes.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
