// "Agent ready", as a user of Berth or LXD finds it: `launch` returns once
// QEMU runs, long before the guest has booted, so the user's first exec is
// retried until one succeeds. How fast a subject notices its agent is part
// of its number (Berth waits up to 5 s on each agent sync before it answers
// "VM agent isn't currently running").
import { setTimeout as sleep } from 'node:timers/promises';
import { NotAvailable } from './subject.ts';

/** A boot under TCG on a loaded two-core host takes seconds; give it plenty. */
export const AGENT_READY_MS = 180_000;
/** Between a failed attempt and the next: short against a boot, long enough not to spin. */
const RETRY_MS = 100;

/** Runs `exec` until it succeeds; throws its last error once `timeoutMs` have passed. */
export async function untilExecSucceeds(
  exec: () => Promise<void>,
  timeoutMs = AGENT_READY_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await exec();
      return;
    } catch (error) {
      // Not built is not "not booted yet": no point in asking again.
      if (error instanceof NotAvailable) throw error;
      if (Date.now() >= deadline) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`no exec of \`true\` succeeded within ${timeoutMs / 1000} s: ${reason}`);
      }
    }
    await sleep(RETRY_MS);
  }
}
