// Progress of long image and backup work, reported through its operation
// without flooding it.
import type { OperationContext } from './operations.ts';

export type Progress = (percent: number, stage: string) => Promise<void>;

/** Scales a 0–100 progress into [from, to] of an outer one. */
export function scaled(progress: Progress, from: number, to: number): Progress {
  return (percent, stage) => progress(from + ((to - from) * percent) / 100, stage);
}

/** Reports at most every 250 ms (each report is a database write and an event). */
export function throttled(ctx: OperationContext | null): Progress {
  let last = 0;
  let lastStage = '';
  return async (percent, stage) => {
    const now = performance.now();
    if (!ctx || (now - last < 250 && stage === lastStage && percent < 100)) return;
    last = now;
    lastStage = stage;
    await ctx.progress(percent, stage);
  };
}
