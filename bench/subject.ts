// What every bench subject (raw LXC, the real LXD, Berth) offers: the same
// handful of primitives, so one scenario drives all three identically and
// their numbers are comparable row by row.

export type SubjectId = 'raw' | 'lxd' | 'berth';

export type OperationId =
  'launch' | 'start' | 'stop' | 'exec' | 'exec-cli' | 'snapshot' | 'list-1' | 'list-2';

/**
 * Thrown when a subject, or one operation of it, cannot run on this host or
 * in this build (LXD not installed, a Berth API not written yet). It is a
 * skip, shown as such, never a number.
 */
export class NotAvailable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotAvailable';
  }
}

export interface Subject {
  readonly id: SubjectId;
  readonly label: string;
  /** How each operation is done, printed under the table so a reader can judge the numbers. */
  readonly method: string;
  /** Why a cell is empty on purpose (e.g. raw LXC has no separate CLI row). */
  readonly notApplicable?: Partial<Record<OperationId, string>>;

  /** Checks the subject can run and sets up what it needs (image, temp dirs). Throws NotAvailable when it cannot. */
  prepare(): Promise<void>;
  /** Create from the busybox image and start; resolves once the instance is Running. */
  launch(name: string): Promise<void>;
  /** Read back the status (untimed sanity check that "launched" means Running). */
  status(name: string): Promise<string>;
  start(name: string): Promise<void>;
  stopForce(name: string): Promise<void>;
  /** Runs `true` and resolves once its exit code is known; throws unless it is 0. */
  exec(name: string): Promise<void>;
  /** The same through the subject's command-line client, when it has one worth timing. */
  execCli?(name: string): Promise<void>;
  snapshot(name: string, snapshot: string): Promise<void>;
  /** Create a stopped instance (set-up for the listing, not timed). */
  createStopped(name: string): Promise<void>;
  /** Stop if needed and delete one instance with its snapshots. */
  remove(name: string): Promise<void>;
  /** List all instances with the given recursion; returns how many were listed. */
  list(recursion: 1 | 2): Promise<number>;
  /**
   * Removes everything this subject created (instances by name, temp dirs,
   * bridges, LXD projects). Safe after a partial failure and when called
   * twice. Returns warnings about anything it could not remove.
   */
  cleanup(): Promise<string[]>;
}
