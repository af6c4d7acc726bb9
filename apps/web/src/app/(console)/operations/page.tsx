'use client';
import { useQuery } from '@tanstack/react-query';
import { OperationsTable } from '~/components/operations-table.tsx';
import { PageHeader } from '~/components/ui.tsx';
import { isFinished } from '~/lib/operations.ts';
import { useTRPC } from '~/lib/trpc.ts';
import { useProject } from '../../providers.tsx';

export default function OperationsPage() {
  const trpc = useTRPC();
  const { project } = useProject();
  const operations = useQuery({
    ...trpc.operations.list.queryOptions({ project }),
    refetchInterval: (q) => (q.state.data?.some((o) => !isFinished(o.status)) ? 1000 : false),
  });
  return (
    <>
      <PageHeader title="Operations" />
      <OperationsTable
        project={project}
        operations={operations.data}
        label="Operations"
        showResources
        emptyText="No operations."
      />
    </>
  );
}
