// Reading operations in the browser: progress from `metadata.progress` (LXD
// reports the percent as a string), and which statuses are final.
export interface OperationProgress {
  percent: number;
  stage: string;
}

export function progressOf(metadata: unknown): OperationProgress | null {
  const p = (metadata as { progress?: { percent?: unknown; stage?: unknown } } | null)?.progress;
  if (!p) return null;
  const percent = typeof p.percent === 'number' ? p.percent : Number(p.percent);
  if (!Number.isFinite(percent)) return null;
  return { percent, stage: typeof p.stage === 'string' ? p.stage : '' };
}

export function isFinished(status: string): boolean {
  return status === 'Success' || status === 'Failure' || status === 'Cancelled';
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || n < 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** CPU time as the instance reports it (nanoseconds), for people. */
export function formatCpuTime(ns: number | null | undefined): string {
  if (!ns || ns < 0) return '—';
  const s = ns / 1e9;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${(s / 3600).toFixed(1)} h`;
}
