// Backup names (they follow snapshot names, as in LXD, and become file
// names) and the URL a backup is known by in events and operations.
import { EngineError, isEngineError } from '../errors.ts';
import { checkSegment } from '../storage/pool-paths.ts';
import { validSnapshotName } from '../validation/index.ts';

/** Backup names follow snapshot names (LXD), and become file names. */
export function validBackupName(name: string): void {
  try {
    validSnapshotName(name);
    checkSegment('name', name);
  } catch (error) {
    if (!isEngineError(error)) throw error;
    throw EngineError.invalid(
      'name',
      error.message.replace(/snapshot name/g, 'backup name').replace(/^name: /, ''),
    );
  }
}

/** `backup0`, `backup1`, ...: one more than the highest taken. */
export function nextBackupName(existing: readonly string[]): string {
  let highest = -1;
  for (const name of existing) {
    const match = /^backup(\d+)$/.exec(name);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return `backup${highest + 1}`;
}
