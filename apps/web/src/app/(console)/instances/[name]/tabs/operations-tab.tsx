'use client';
// This instance's operations (its snapshots' and backups' too), newest first.
import { useQuery } from '@tanstack/react-query';
import { OperationsTable } from '~/components/operations-table.tsx';
import { isFinished } from '~/lib/operations.ts';
import { useTRPC, type Outputs } from '~/lib/trpc.ts';

type Instance = Outputs['instances']['get'];

export function OperationsTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const operations = useQuery({
    ...trpc.instances.operations.queryOptions({ project, name: instance.name }),
    refetchInterval: (q) => (q.state.data?.some((o) => !isFinished(o.status)) ? 1000 : false),
  });
  return (
    <OperationsTable
      project={project}
      operations={operations.data}
      label="Instance operations"
      emptyText="No operations for this instance."
    />
  );
}
