// What every VM subject (raw QEMU, the real LXD, Berth's server, Berth's
// engine in-process) offers for the virtual-machine section: a handful of
// primitives on one or two paths, so one scenario (vm-scenario.ts) drives
// them all identically. Kept apart from the container subjects: a VM's
// "ready" is its guest agent answering, and its stop can be graceful.
import type { PathId, SubjectId } from './subject.ts';

export type VmScenarioId =
  'vm-launch' | 'vm-exec' | 'vm-stop' | 'vm-start' | 'vm-stop-force' | 'vm-delete';

/** One row of the VM table: a scenario through one path. */
export type VmRowId = `${PathId}:${VmScenarioId}`;

/** The timed VM operations, as one path does them. */
export interface VmPath {
  /** How each operation is done, printed under the table. */
  readonly method: string;
  /** Create from the busybox VM image and start; resolves once an exec of `true` through the agent succeeded. */
  launch(name: string): Promise<void>;
  /** Start a stopped VM; resolves once an exec of `true` through the agent succeeded. */
  start(name: string): Promise<void>;
  /** Runs `true` through the agent (non-interactive) and resolves once its exit code is known; throws unless 0. */
  exec(name: string): Promise<void>;
  /** Graceful stop: the guest shuts itself down; resolves once QEMU has exited. */
  stop(name: string): Promise<void>;
  /** Forced stop: QEMU is told to quit; resolves once it has exited. */
  stopForce(name: string): Promise<void>;
  /** Deletes a stopped VM. */
  delete(name: string): Promise<void>;
}

export interface VmSubject {
  readonly id: SubjectId;
  readonly label: string;
  readonly paths: Partial<Record<PathId, VmPath>>;
  /** Checks the subject can run VMs and sets up what it needs. Throws NotAvailable when it cannot. */
  prepare(): Promise<void>;
  /** Untimed sanity check that "launched" means Running. */
  status(name: string): Promise<string>;
  /**
   * The accelerator the running VM `name` got (`kvm` or `tcg`, read from its
   * QEMU's command line), so every column is known to run on the same one;
   * null when the subject cannot tell.
   */
  accelerator(name: string): Promise<string | null>;
  /** Stop (forced) if needed and delete one VM; gone already is fine (untimed). */
  remove(name: string): Promise<void>;
  /** Removes everything this subject created, by name and pid. Returns warnings. */
  cleanup(): Promise<string[]>;
}
