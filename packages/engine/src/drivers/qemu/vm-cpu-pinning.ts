// `limits.cpu` as a set ("0-1", "2,5") pins a VM's vCPUs, as LXD does:
// vCPU i runs only on the set's i-th host CPU (its QEMU thread's affinity,
// from QMP query-cpus-fast). A count ("2") leaves the scheduler free.
import { parseCpuLimit } from '../../config/index.ts';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { ConfigMap } from '../../schemas/index.ts';

interface VcpuThread {
  'cpu-index': number;
  'thread-id': number;
}

/** Host CPU per vCPU index; null when `limits.cpu` is unset or a count. */
export function vcpuPinning(config: ConfigMap): number[] | null {
  const value = config['limits.cpu'];
  if (!value) return null;
  const limit = parseCpuLimit(value);
  return limit.kind === 'set' ? limit.cpus : null;
}

export async function pinVcpus(
  config: ConfigMap,
  qmp: (command: string) => Promise<unknown>,
): Promise<void> {
  const cpus = vcpuPinning(config);
  if (!cpus) return;
  const threads = (await qmp('query-cpus-fast')) as VcpuThread[];
  for (const thread of threads) {
    const cpu = cpus[thread['cpu-index'] % cpus.length]!;
    await runCommand('taskset', ['-p', '-c', String(cpu), String(thread['thread-id'])], {
      timeoutMs: 10_000,
    }).catch((error: unknown) => {
      throw EngineError.invalid(
        'config["limits.cpu"]',
        `cannot pin vCPU ${thread['cpu-index']} to host CPU ${cpu}: ${(error as Error).message.split('\n').pop() ?? ''}`,
      );
    });
  }
}
