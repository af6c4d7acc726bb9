// A VM's memory and device state saved to a file and loaded back: LXD's
// stateful stop, stateful snapshots and their restore (migration.stateful).
// The state is QEMU's own migration stream, written while the VM is paused
// (QMP `stop`, then `migrate` to `exec:cat > FILE`: QEMU 7.2 has no `file:`
// URI, and a paused guest dirties nothing, so one pass is the whole of it)
// and read by a new QEMU started with `-incoming defer` and the same
// devices (`migrate-incoming` from `exec:cat FILE`), which runs the guest
// on from where it was. The file is the volume's `state` (LXD's StatePath),
// so a snapshot's copy of the volume carries it and a restore brings it
// back. What QEMU cannot migrate (a 9p share) it refuses with its reason,
// which the caller hears.
import { rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.ts';
import { sleep } from '../driver-common.ts';

/** Runs one QMP command on the VM. */
export type Qmp = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

/** The state file in a VM's volume. */
export const statePath = (volumeDir: string): string => path.join(volumeDir, 'state');

/** `exec:` runs its command through /bin/sh: the path as one quoted word. */
export function shellQuoted(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A paused VM writes its whole RAM at once: no throttle (QEMU's default is 32 MiB/s). */
const UNTHROTTLED = 64 * 1024 ** 3;
/** How long a save or a load may take (a VM's RAM through a pipe into a file). */
const MIGRATION_TIMEOUT_MS = 10 * 60_000;

interface MigrationInfo {
  status?: string;
  'error-desc'?: string;
}

/** query-migrate until the migration ended; its error when it failed. */
async function migrationDone(qmp: Qmp, what: string): Promise<void> {
  const deadline = Date.now() + MIGRATION_TIMEOUT_MS;
  let delay = 5;
  for (;;) {
    const info = (await qmp('query-migrate')) as MigrationInfo;
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled')
      throw new EngineError(
        'INTERNAL',
        `${what} failed: ${info['error-desc'] ?? `the migration was ${info.status}`}`,
      );
    if (Date.now() > deadline) {
      await qmp('migrate_cancel').catch(() => {});
      throw new EngineError('INTERNAL', `${what} did not finish in ${MIGRATION_TIMEOUT_MS} ms`);
    }
    await sleep(delay);
    delay = Math.min(100, delay * 2);
  }
}

/** What QEMU says when it cannot migrate the VM at all (`QMP error GenericError: <why>`). */
function refusal(error: unknown): EngineError {
  const message = error instanceof Error ? error.message : String(error);
  const why = message.replace(/^QMP error \w+: /, '');
  return new EngineError('CONFLICT', `The VM's state cannot be saved: ${why}`, { cause: error });
}

/**
 * Writes the paused VM's state to `file` (through a temporary beside it,
 * so `file` is whole or absent). The VM stays paused; after a completed
 * save QEMU needs a `cont` to run it again (which takes its disks back).
 */
export async function saveState(qmp: Qmp, file: string): Promise<void> {
  const partial = `${file}.partial`;
  await rm(partial, { force: true });
  try {
    await qmp('migrate-set-parameters', { 'max-bandwidth': UNTHROTTLED });
    try {
      await qmp('migrate', { uri: `exec:cat > ${shellQuoted(partial)}` });
    } catch (error) {
      throw refusal(error);
    }
    await migrationDone(qmp, 'Saving the VM state');
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

/**
 * Loads `file` into a VM started to wait for it (qemu-args `incoming`) and runs it. The file
 * is left to the caller (removed once the start is known to have worked).
 */
export async function loadState(qmp: Qmp, file: string): Promise<void> {
  if (!existsSync(file))
    throw new EngineError('CONFLICT', 'Instance has no existing state to restore');
  await qmp('migrate-incoming', { uri: `exec:cat ${shellQuoted(file)}` });
  await migrationDone(qmp, 'Restoring the VM state');
  // QEMU runs the guest once the state is in (no -S); a guest saved while paused is resumed.
  const status = (await qmp('query-status')) as { status?: string };
  if (status.status !== 'running') await qmp('cont');
}
