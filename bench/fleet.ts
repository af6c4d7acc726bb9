// The listing fleet: N stopped containers created through the daemon's own
// API (POST /1.0/instances, a few at a time), the first K of them with S
// snapshots each, never started. Made once per daemon, by whichever of the
// `memory` and `lists` sections runs first, and removed before `density`.
import { IMAGE_ALIAS } from './bench-image.ts';
import { createStopped, removeAll, runPoolSettled } from './section-measure.ts';
import type { SectionContext } from './section-types.ts';

export interface Fleet {
  names: string[];
  /** Wall-clock seconds to create the instances and to take the snapshots. */
  createSeconds: number;
  snapshotSeconds: number;
  /** e.g. "1000 stopped instances, 10 snapshots on each of the first 100". */
  description: string;
}

/** Per daemon, the one attempt at making the fleet: a failure is not retried by the next section. */
const attempts = new WeakMap<
  SectionContext['shared'],
  { names: string[]; fleet: Promise<Fleet> }
>();

export function describeFleet(count: number, snapshots: number, snapshotted: number): string {
  const which = snapshotted >= count ? 'each' : `each of the first ${snapshotted}`;
  return `${count} stopped instances${snapshots > 0 && snapshotted > 0 ? `, ${snapshots} snapshots on ${which}` : ', no snapshots'}`;
}

export function ensureFleet(ctx: SectionContext): Promise<Fleet> {
  const existing = attempts.get(ctx.shared);
  if (existing) return existing.fleet;
  const names = Array.from({ length: ctx.counts.listCount }, (_, i) => `${ctx.namePrefix}-l${i}`);
  const fleet = makeFleet(ctx, names);
  // Awaited by each caller; the rejection is theirs to report.
  fleet.catch(() => undefined);
  attempts.set(ctx.shared, { names, fleet });
  return fleet;
}

async function makeFleet(ctx: SectionContext, names: string[]): Promise<Fleet> {
  await ctx.dropProbe();
  const { listCount, listSnapshots } = ctx.counts;
  const snapshotted = Math.min(ctx.counts.listSnapshotted, listCount);
  ctx.log(`${ctx.label}: creating ${listCount} stopped instances`);
  let t = performance.now();
  let made = 0;
  try {
    await createStopped(ctx, names, IMAGE_ALIAS, () => made++);
  } catch (error) {
    throw new Error(
      `creating the ${listCount} instances failed after ${made} were created: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const createSeconds = (performance.now() - t) / 1000;
  ctx.log(
    `${ctx.label}: ${listCount} created in ${createSeconds.toFixed(1)} s; ${listSnapshots} snapshots on ${snapshotted}`,
  );
  t = performance.now();
  // One instance's snapshots one after the other (a daemon serialises them
  // per instance anyway), different instances at once.
  await runPoolSettled(names.slice(0, snapshotted), ctx.counts.createConcurrency, async (name) => {
    for (let s = 0; s < listSnapshots; s++) {
      ctx.signal.throwIfAborted();
      await ctx.project.client.run('POST', `/1.0/instances/${name}/snapshots`, { name: `s${s}` });
    }
  });
  return {
    names,
    createSeconds,
    snapshotSeconds: (performance.now() - t) / 1000,
    description: describeFleet(listCount, listSnapshots, snapshotted),
  };
}

/** Removes the fleet if one was made (untimed; logged, since it can take minutes). */
export async function dropFleet(ctx: SectionContext): Promise<void> {
  const attempt = attempts.get(ctx.shared);
  if (!attempt) return;
  await attempt.fleet.catch(() => undefined);
  // Every name, made or not (a failed attempt leaves some): gone already is fine.
  ctx.log(`${ctx.label}: removing the ${attempt.names.length} listed instances`);
  const t = performance.now();
  await removeAll(ctx, attempt.names);
  attempts.delete(ctx.shared);
  ctx.log(`${ctx.label}: removed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
