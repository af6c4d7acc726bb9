// How a section fills its cells: time a step n times, or record one
// quantity; an error ends that row (not the section) with its reason, an
// interruption (Ctrl-C) ends the section so clean-up starts at once.
import { LxdError, type LxdClient } from './lxd-client.ts';
import { reasonOf, type Figure, type SectionContext } from './section-types.ts';
import { timed } from './stats.ts';
import { NotAvailable } from './subject.ts';

export function figureOf(error: unknown): Figure {
  // 501 is what a daemon answers for an API it does not have (Berth's NOT_IMPLEMENTED).
  if (error instanceof NotAvailable || (error instanceof LxdError && error.status === 501))
    return { kind: 'not-available', reason: reasonOf(error) };
  return { kind: 'failed', reason: reasonOf(error) };
}

export class Cells {
  readonly figures: Record<string, Figure> = {};
  constructor(private readonly ctx: SectionContext) {}

  /** Times `fn` `n` times, one after the other. */
  async sample(row: string, n: number, fn: (i: number) => Promise<void>): Promise<boolean> {
    const samples: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        this.ctx.signal.throwIfAborted();
        samples.push(await timed(() => fn(i)));
      }
      this.figures[row] = { kind: 'samples', samples };
      return true;
    } catch (error) {
      return this.fail(row, error);
    }
  }

  /** Records samples gathered some other way (concurrent clients). */
  samples(row: string, samples: number[]): void {
    this.figures[row] = { kind: 'samples', samples };
  }

  value(row: string, value: number, unit: string, note?: string): void {
    this.figures[row] = { kind: 'value', value, unit, ...(note ? { note } : {}) };
  }

  /** Marks a row from an error (rethrows an interruption); false, for `if (!await …) return`. */
  fail(row: string, error: unknown): false {
    if (this.ctx.signal.aborted) throw error;
    this.figures[row] = figureOf(error);
    this.ctx.log(`  ${this.ctx.label} ${row}: ${this.figures[row].kind}: ${reasonOf(error)}`);
    return false;
  }

  /** Every row not filled yet gets `error`'s figure. */
  failRest(rows: readonly string[], error: unknown): void {
    for (const row of rows) if (!this.figures[row]) this.fail(row, error);
  }
}

/**
 * Like runPool, but on the first error (or Ctrl-C) it takes no new items and
 * waits for the calls in flight before rejecting: clean-up then never races
 * a create that is still running (which would leave its instance behind).
 */
export async function runPoolSettled<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (!failure && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
}

/** exec `true` as the operations table runs it (POST exec {record-output}, then its wait); exit 0 or an error. */
export async function execTrue(client: LxdClient, name: string): Promise<void> {
  const op = await client.run('POST', `/1.0/instances/${name}/exec`, {
    command: ['true'],
    environment: {},
    'wait-for-websocket': false,
    interactive: false,
    'record-output': true,
  });
  if (op.metadata?.['return'] !== 0)
    throw new Error(`exec true in ${name}: exit code ${String(op.metadata?.['return'])}`);
}

/** Creates stopped containers from the bench image through the daemon's API, a few at a time. */
export async function createStopped(
  ctx: SectionContext,
  names: readonly string[],
  alias: string,
  onCreated: () => void = () => {},
): Promise<void> {
  const { client, created } = ctx.project;
  await runPoolSettled(names, ctx.counts.createConcurrency, async (name) => {
    ctx.signal.throwIfAborted();
    created.add(name);
    await client.run('POST', '/1.0/instances', {
      name,
      type: 'container',
      source: { type: 'image', alias },
    });
    onCreated();
  });
}

/** Starts containers through the API, a few at a time. */
export async function startAll(ctx: SectionContext, names: readonly string[]): Promise<void> {
  await runPoolSettled(names, ctx.counts.createConcurrency, async (name) => {
    ctx.signal.throwIfAborted();
    await ctx.project.client.run('PUT', `/1.0/instances/${name}/state`, {
      action: 'start',
      force: false,
      timeout: 30,
    });
  });
}

/** Stops (if needed) and deletes, a few at a time; gone already is fine. */
export async function removeAll(ctx: SectionContext, names: readonly string[]): Promise<void> {
  await runPoolSettled(names, ctx.counts.createConcurrency, (name) => ctx.project.remove(name));
}
