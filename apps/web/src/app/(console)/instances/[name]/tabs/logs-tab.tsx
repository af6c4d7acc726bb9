'use client';
// The console log: what the instance printed on its console (boot messages).
import { useQuery } from '@tanstack/react-query';
import { Button, ErrorBanner } from '~/components/ui.tsx';
import { describeError, useTRPC, type Outputs } from '~/lib/trpc.ts';

type Instance = Outputs['instances']['get'];

/** Drops ANSI escape sequences and carriage returns, for the plain-text log view. */
function plainText(log: string): string {
  // eslint-disable-next-line no-control-regex
  return log.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]|\r/g, '');
}

export function LogsTab({ project, instance }: { project: string; instance: Instance }) {
  const trpc = useTRPC();
  const log = useQuery(trpc.instances.consoleLog.queryOptions({ project, name: instance.name }));
  return (
    <div className="space-y-2">
      <div className="flex items-center justify-between">
        <h3 className="font-medium">Console log</h3>
        <Button onClick={() => void log.refetch()} disabled={log.isFetching}>
          Refresh
        </Button>
      </div>
      <ErrorBanner message={log.error ? describeError(log.error).message : null} />
      <pre
        data-testid="console-log"
        className="max-h-[32rem] overflow-auto rounded-md bg-slate-950 p-3 font-mono text-xs whitespace-pre-wrap text-slate-100"
      >
        {log.data ? plainText(log.data) : log.isLoading ? 'Loading…' : 'The console log is empty.'}
      </pre>
    </div>
  );
}
