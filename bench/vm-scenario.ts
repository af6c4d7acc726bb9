// The one sequence every VM subject goes through, once per path (API, then
// CLI). Under TCG an idle guest still costs CPU, so at most one of the
// bench's VMs runs at a time: each iteration launches a fresh VM (timed to
// its agent's first successful exec), runs `true` in it, stops it
// gracefully, starts it again, stops it with --force and deletes it.
import type { Outcome } from './scenario.ts';
import { timed } from './stats.ts';
import { NotAvailable, type PathId } from './subject.ts';
import type { VmPath, VmRowId, VmScenarioId, VmSubject } from './vm-subject.ts';

export interface VmReport {
  subject: VmSubject;
  outcomes: Partial<Record<VmRowId, Outcome>>;
  /** The accelerator the subject's VMs ran on (read from their QEMU), when it could tell. */
  accelerator: string | null;
  durationMs: number;
  warnings: string[];
}

export interface VmScenarioOptions {
  iterations: number;
  namePrefix: string;
  log: (line: string) => void;
  /** Aborted on Ctrl-C: the scenario stops at the next step and goes straight to clean-up. */
  signal?: AbortSignal;
}

/** The order a path's steps run in (and the VM table's rows). */
export const VM_STEPS: readonly VmScenarioId[] = [
  'vm-launch',
  'vm-exec',
  'vm-stop',
  'vm-start',
  'vm-stop-force',
  'vm-delete',
];

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function outcomeOf(error: unknown): Outcome {
  return error instanceof NotAvailable
    ? { kind: 'not-available', reason: error.message }
    : { kind: 'failed', reason: reasonOf(error) };
}

export function vmRowsOf(subject: VmSubject): VmRowId[] {
  return (Object.keys(subject.paths) as PathId[]).flatMap((pathId) =>
    VM_STEPS.map((step) => `${pathId}:${step}` as VmRowId),
  );
}

export async function runVmScenario(
  subject: VmSubject,
  options: VmScenarioOptions,
): Promise<VmReport> {
  const { iterations, namePrefix, log } = options;
  const began = performance.now();
  const outcomes: VmReport['outcomes'] = {};
  const warnings: string[] = [];
  let accelerator: string | null = null;
  const report = (): VmReport => ({
    subject,
    outcomes,
    accelerator,
    durationMs: performance.now() - began,
    warnings,
  });

  /** One path: `iterations` VMs one after the other; the first failure ends the path. */
  const lifecycle = async (pathId: PathId, path: VmPath): Promise<void> => {
    const samples = new Map<VmScenarioId, number[]>(VM_STEPS.map((s) => [s, []]));
    const row = (step: VmScenarioId) => `${pathId}:${step}` as VmRowId;
    const tag = `${subject.label} ${pathId}`;
    let failed: { step: VmScenarioId; outcome: Outcome } | null = null;
    const step = async (id: VmScenarioId, fn: () => Promise<void>) => {
      options.signal?.throwIfAborted();
      samples.get(id)!.push(await timed(fn));
    };
    // What was measured is kept, also when Ctrl-C ends the path half-way.
    try {
      for (let i = 0; i < iterations && !failed; i++) {
        const name = `${namePrefix}-v${pathId[0]}${i}`;
        let current: VmScenarioId = 'vm-launch';
        try {
          log(`${tag}: VM ${i + 1}/${iterations}: launch until its agent runs \`true\``);
          await step('vm-launch', () => path.launch(name));
          const status = await subject.status(name);
          if (status.toLowerCase() !== 'running')
            throw new Error(`after launch the status is ${status}, not Running`);
          accelerator ??= await subject.accelerator(name);
          current = 'vm-exec';
          log(
            `${tag}: VM ${i + 1}/${iterations}: exec ×${iterations}, stop, start, stop --force, delete`,
          );
          // One untimed warm-up, as for containers: the first exec pays for
          // the agent's first fork and page faults.
          await path.exec(name).catch(() => undefined);
          for (let j = 0; j < iterations; j++) await step('vm-exec', () => path.exec(name));
          current = 'vm-stop';
          await step('vm-stop', () => path.stop(name));
          current = 'vm-start';
          await step('vm-start', () => path.start(name));
          current = 'vm-stop-force';
          await step('vm-stop-force', () => path.stopForce(name));
          current = 'vm-delete';
          await step('vm-delete', () => path.delete(name));
        } catch (error) {
          if (options.signal?.aborted) throw error;
          failed = { step: current, outcome: outcomeOf(error) };
          log(`  ${row(current)}: ${failed.outcome.kind}: ${reasonOf(error)}`);
        } finally {
          options.signal?.throwIfAborted();
          // Gone already after a delete; otherwise whatever the failure left.
          await subject
            .remove(name)
            .catch((error: unknown) => void warnings.push(`${name}: ${reasonOf(error)}`));
        }
      }
    } finally {
      for (const id of VM_STEPS) {
        const taken = samples.get(id)!;
        if (failed?.step === id) outcomes[row(id)] = failed.outcome;
        else if (taken.length > 0) outcomes[row(id)] = { kind: 'measured', samples: taken };
        else if (failed) {
          const reason = `needs ${failed.step}: ${failed.outcome.kind === 'measured' ? '' : failed.outcome.reason}`;
          outcomes[row(id)] =
            failed.outcome.kind === 'not-available'
              ? { kind: 'not-available', reason }
              : { kind: 'failed', reason };
        }
      }
    }
  };

  log(`${subject.label} (VMs): preparing`);
  try {
    await subject.prepare();
  } catch (error) {
    for (const row of vmRowsOf(subject)) outcomes[row] ??= outcomeOf(error);
    log(
      `  ${subject.label} (VMs): ${error instanceof NotAvailable ? 'not available' : 'set-up failed'}: ${reasonOf(error)}`,
    );
    warnings.push(...(await subject.cleanup()));
    return report();
  }
  try {
    for (const [pathId, path] of Object.entries(subject.paths) as [PathId, VmPath][])
      await lifecycle(pathId, path);
  } catch (error) {
    for (const row of vmRowsOf(subject)) outcomes[row] ??= outcomeOf(error);
    log(`  ${subject.label} (VMs): aborted: ${reasonOf(error)}`);
  } finally {
    log(`${subject.label} (VMs): cleaning up`);
    warnings.push(...(await subject.cleanup()));
  }
  return report();
}
