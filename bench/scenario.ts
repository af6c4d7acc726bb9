// The one sequence every subject goes through. Each lifecycle operation acts
// on its own fresh instance where it can (launch N, stop those N, start those
// N), so a sample is never an operation on an instance that a previous
// sample left in an unusual state. Exec and snapshot repeat on one running
// instance, which is how they are used.
import { runPool } from './pool.ts';
import { timed } from './stats.ts';
import { NotAvailable, type OperationId, type Subject } from './subject.ts';

export type Outcome =
  | { kind: 'measured'; samples: number[] }
  | { kind: 'not-available'; reason: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'not-applicable'; reason: string };

export interface SubjectReport {
  subject: Subject;
  outcomes: Partial<Record<OperationId, Outcome>>;
  /** Wall-clock time of the whole subject, set-up and clean-up included. */
  durationMs: number;
  warnings: string[];
}

export interface ScenarioOptions {
  iterations: number;
  listCount: number;
  /** Prefix for instance names; unique per run so nothing collides with an admin's instances. */
  namePrefix: string;
  /** How many stopped instances to create at once for the listing set-up. */
  createConcurrency: number;
  log: (line: string) => void;
  /**
   * Aborted on Ctrl-C: the scenario stops at the next step and goes straight
   * to the subject's clean-up, so clean-up never races a running operation.
   */
  signal?: AbortSignal;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function outcomeOf(error: unknown): Outcome {
  return error instanceof NotAvailable
    ? { kind: 'not-available', reason: error.message }
    : { kind: 'failed', reason: reasonOf(error) };
}

/** An operation skipped because the one it builds on produced nothing. */
function dependentOutcome(on: string, prior: Outcome): Outcome {
  const reason = `needs ${on}: ${prior.kind === 'measured' ? 'nothing was created' : prior.reason}`;
  return prior.kind === 'not-available'
    ? { kind: 'not-available', reason }
    : { kind: 'failed', reason };
}

export async function runScenario(
  subject: Subject,
  options: ScenarioOptions,
): Promise<SubjectReport> {
  const { iterations, listCount, namePrefix, log } = options;
  const began = performance.now();
  const outcomes: SubjectReport['outcomes'] = {};
  let warnings: string[] = [];
  const report = (): SubjectReport => ({
    subject,
    outcomes,
    durationMs: performance.now() - began,
    warnings,
  });

  for (const [op, reason] of Object.entries(subject.notApplicable ?? {})) {
    outcomes[op as OperationId] = { kind: 'not-applicable', reason };
  }
  const allOps: OperationId[] = [
    'launch',
    'start',
    'stop',
    'exec',
    'exec-cli',
    'snapshot',
    'list-1',
    'list-2',
  ];
  const markAll = (outcome: Outcome) => {
    for (const op of allOps) outcomes[op] ??= outcome;
  };

  /** Times `fn` once per item; any error ends the operation with no numbers. */
  const measure = async <T>(
    op: OperationId,
    items: readonly T[],
    fn: (item: T, index: number) => Promise<void>,
  ): Promise<T[]> => {
    const samples: number[] = [];
    const done: T[] = [];
    try {
      for (const [index, item] of items.entries()) {
        options.signal?.throwIfAborted();
        samples.push(await timed(() => fn(item, index)));
        done.push(item);
      }
      outcomes[op] = { kind: 'measured', samples };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      outcomes[op] = outcomeOf(error);
      log(`  ${op}: ${outcomes[op].kind}: ${reasonOf(error)}`);
    }
    return done;
  };

  log(`${subject.label}: preparing`);
  try {
    await subject.prepare();
  } catch (error) {
    markAll(outcomeOf(error));
    log(
      `  ${subject.label}: ${error instanceof NotAvailable ? 'not available' : 'set-up failed'}: ${reasonOf(error)}`,
    );
    warnings = await subject.cleanup();
    return report();
  }

  try {
    const names = Array.from({ length: iterations }, (_, i) => `${namePrefix}-${i}`);

    log(`${subject.label}: launch ×${iterations}`);
    const launched = await measure('launch', names, (name) => subject.launch(name));
    if (launched.length > 0 && outcomes.launch?.kind === 'measured') {
      const status = await subject.status(launched[0]!);
      if (status.toLowerCase() !== 'running')
        outcomes.launch = {
          kind: 'failed',
          reason: `after launch the status is ${status}, not Running`,
        };
    }

    const target = launched[0];
    if (target === undefined || outcomes.launch?.kind !== 'measured') {
      for (const op of ['exec', 'exec-cli', 'snapshot', 'stop', 'start'] as const)
        outcomes[op] ??= dependentOutcome('launch', outcomes.launch!);
    } else {
      const repeats = Array.from({ length: iterations }, (_, i) => i);
      log(`${subject.label}: exec ×${iterations}`);
      // One untimed warm-up: the first attach to a fresh container faults in
      // pages and fills caches that every later exec finds warm.
      await subject.exec(target).catch(() => undefined);
      await measure('exec', repeats, () => subject.exec(target));
      const execCli = subject.execCli?.bind(subject);
      if (execCli && !outcomes['exec-cli']) {
        await execCli(target).catch(() => undefined);
        await measure('exec-cli', repeats, () => execCli(target));
      }
      log(`${subject.label}: snapshot ×${iterations}`);
      await measure('snapshot', repeats, (i) => subject.snapshot(target, `snap${i}`));
      log(`${subject.label}: stop --force ×${launched.length}`);
      const stopped = await measure('stop', launched, (name) => subject.stopForce(name));
      if (outcomes.stop?.kind !== 'measured')
        outcomes.start = dependentOutcome('stop', outcomes.stop!);
      else {
        log(`${subject.label}: start ×${stopped.length}`);
        await measure('start', stopped, (name) => subject.start(name));
      }
    }
    // Listing counts every instance, so the lifecycle ones go first.
    log(`${subject.label}: removing ${launched.length} lifecycle instances`);
    options.signal?.throwIfAborted();
    for (const name of launched) await subject.remove(name);

    log(`${subject.label}: creating ${listCount} stopped instances for the listing`);
    const listNames = Array.from({ length: listCount }, (_, i) => `${namePrefix}-l${i}`);
    let created: Outcome | undefined;
    try {
      await runPool(listNames, options.createConcurrency, async (name) => {
        options.signal?.throwIfAborted();
        await subject.createStopped(name);
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      created = outcomeOf(error);
    }
    for (const recursion of [1, 2] as const) {
      const op = `list-${recursion}` as const;
      if (created) {
        outcomes[op] = dependentOutcome(`${listCount} stopped instances`, created);
        continue;
      }
      log(`${subject.label}: list recursion=${recursion} ×${iterations}`);
      await measure(
        op,
        Array.from({ length: iterations }, (_, i) => i),
        async () => {
          const count = await subject.list(recursion);
          if (count !== listCount)
            throw new Error(`listed ${count} instances, expected ${listCount}`);
        },
      );
    }
  } catch (error) {
    // A set-up step between measurements broke (e.g. remove): keep what was
    // measured, mark the rest.
    markAll(outcomeOf(error));
    log(`  ${subject.label}: aborted: ${reasonOf(error)}`);
  } finally {
    log(`${subject.label}: cleaning up`);
    warnings = await subject.cleanup();
  }
  return report();
}
