// The one sequence every subject goes through, once per path (API, then
// CLI). Each lifecycle operation acts on its own fresh instance where it can
// (launch N, stop those N, start those N, delete those N), so a sample is
// never an operation on an instance that a previous sample left in an
// unusual state. Exec and snapshot repeat on one running instance, which is
// how they are used. The listings run last, over one set of stopped
// instances that every path lists.
import { runPool } from './pool.ts';
import { timed } from './stats.ts';
import {
  NotAvailable,
  type ListingId,
  type PathId,
  type RowId,
  type Subject,
  type SubjectPath,
} from './subject.ts';

export type Outcome =
  | { kind: 'measured'; samples: number[] }
  | { kind: 'not-available'; reason: string }
  | { kind: 'failed'; reason: string };

export interface SubjectReport {
  subject: Subject;
  outcomes: Partial<Record<RowId, Outcome>>;
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

/** Every row a subject has: each of its paths' lifecycle operations and listings. */
export function rowsOf(subject: Subject): RowId[] {
  const rows: RowId[] = [];
  for (const [pathId, path] of Object.entries(subject.paths) as [PathId, SubjectPath][]) {
    for (const op of ['launch', 'start', 'stop', 'exec', 'snapshot', 'delete'] as const)
      rows.push(`${pathId}:${op}`);
    for (const listing of Object.keys(path.lists) as ListingId[]) rows.push(`${pathId}:${listing}`);
  }
  return rows;
}

export async function runScenario(
  subject: Subject,
  options: ScenarioOptions,
): Promise<SubjectReport> {
  const { iterations, listCount, namePrefix, log } = options;
  const began = performance.now();
  const outcomes: SubjectReport['outcomes'] = {};
  const warnings: string[] = [];
  const report = (): SubjectReport => ({
    subject,
    outcomes,
    durationMs: performance.now() - began,
    warnings,
  });
  const markAll = (outcome: Outcome) => {
    for (const row of rowsOf(subject)) outcomes[row] ??= outcome;
  };
  const repeats = Array.from({ length: iterations }, (_, i) => i);

  /** Times `fn` once per item; any error ends the row with no numbers. Returns the items done. */
  const measure = async <T>(
    row: RowId,
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
      outcomes[row] = { kind: 'measured', samples };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      outcomes[row] = outcomeOf(error);
      log(`  ${row}: ${outcomes[row].kind}: ${reasonOf(error)}`);
    }
    return done;
  };

  /** Removes instances (untimed), a few at a time; returns warnings instead of throwing. */
  const removeAll = async (names: readonly string[]): Promise<void> => {
    await runPool(names, options.createConcurrency, (name) =>
      subject
        .remove(name)
        .catch((error: unknown) => void warnings.push(`${name}: ${reasonOf(error)}`)),
    );
  };

  /** launch, exec, snapshot, stop, start and delete through one path. */
  const lifecycle = async (pathId: PathId, path: SubjectPath): Promise<void> => {
    const row = (op: string) => `${pathId}:${op}` as RowId;
    const names = repeats.map((i) => `${namePrefix}-${pathId[0]}${i}`);
    const tag = `${subject.label} ${pathId}`;
    const left = new Set(names);
    try {
      log(`${tag}: launch ×${iterations}`);
      const launched = await measure(row('launch'), names, (name) => path.launch(name));
      const launch = outcomes[row('launch')]!;
      if (launched.length > 0 && launch.kind === 'measured') {
        const status = await subject.status(launched[0]!);
        if (status.toLowerCase() !== 'running')
          outcomes[row('launch')] = {
            kind: 'failed',
            reason: `after launch the status is ${status}, not Running`,
          };
      }
      const target = launched[0];
      if (target === undefined || outcomes[row('launch')]?.kind !== 'measured') {
        for (const op of ['exec', 'snapshot', 'stop', 'start', 'delete'])
          outcomes[row(op)] ??= dependentOutcome('launch', outcomes[row('launch')]!);
        return;
      }
      log(`${tag}: exec ×${iterations}`);
      // One untimed warm-up: the first attach to a fresh container faults in
      // pages and fills caches that every later exec finds warm.
      await path.exec(target).catch(() => undefined);
      await measure(row('exec'), repeats, () => path.exec(target));
      log(`${tag}: snapshot ×${iterations}`);
      await measure(row('snapshot'), repeats, (i) => path.snapshot(target, `snap${i}`));
      log(`${tag}: stop --force ×${launched.length}`);
      const stopped = await measure(row('stop'), launched, (name) => path.stopForce(name));
      if (outcomes[row('stop')]?.kind !== 'measured') {
        for (const op of ['start', 'delete'])
          outcomes[row(op)] = dependentOutcome('stop', outcomes[row('stop')]!);
        return;
      }
      log(`${tag}: start ×${stopped.length}`);
      const started = await measure(row('start'), stopped, (name) => path.start(name));
      // Delete times the deletion of a stopped instance (what `lxc delete -f`
      // does after its own stop), so the stop that comes first is untimed.
      for (const name of started) await path.stopForce(name);
      log(`${tag}: delete ×${stopped.length}`);
      const deleted = await measure(row('delete'), stopped, (name) => path.delete(name));
      for (const name of deleted) left.delete(name);
    } finally {
      options.signal?.throwIfAborted();
      await removeAll([...left]);
    }
  };

  log(`${subject.label}: preparing`);
  try {
    await subject.prepare();
  } catch (error) {
    markAll(outcomeOf(error));
    log(
      `  ${subject.label}: ${error instanceof NotAvailable ? 'not available' : 'set-up failed'}: ${reasonOf(error)}`,
    );
    warnings.push(...(await subject.cleanup()));
    return report();
  }

  try {
    const paths = Object.entries(subject.paths) as [PathId, SubjectPath][];
    for (const [pathId, path] of paths) await lifecycle(pathId, path);

    // Listing counts every instance, so the lifecycle ones are gone by now.
    log(`${subject.label}: creating ${listCount} stopped instances for the listings`);
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
    for (const [pathId, path] of paths) {
      for (const [listing, list] of Object.entries(path.lists) as [
        ListingId,
        () => Promise<number>,
      ][]) {
        const row: RowId = `${pathId}:${listing}`;
        if (created) {
          outcomes[row] = dependentOutcome(`${listCount} stopped instances`, created);
          continue;
        }
        log(`${subject.label} ${pathId}: ${listing} ×${iterations}`);
        await measure(row, repeats, async () => {
          const count = await list();
          if (count !== listCount)
            throw new Error(`listed ${count} instances, expected ${listCount}`);
        });
      }
    }
    log(`${subject.label}: removing the ${listCount} listed instances`);
    options.signal?.throwIfAborted();
    await removeAll(listNames);
  } catch (error) {
    // A set-up step between measurements broke (e.g. remove): keep what was
    // measured, mark the rest.
    markAll(outcomeOf(error));
    log(`  ${subject.label}: aborted: ${reasonOf(error)}`);
  } finally {
    log(`${subject.label}: cleaning up`);
    warnings.push(...(await subject.cleanup()));
  }
  return report();
}
