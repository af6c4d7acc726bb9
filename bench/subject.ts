// What every bench subject (raw LXC, the real LXD, Berth's server, Berth's
// engine in-process) offers: the same handful of primitives on one or two
// paths (the API, the `lxc` CLI), so one scenario drives them all
// identically and their numbers are comparable row by row.

export type SubjectId = 'raw' | 'lxd' | 'berth' | 'berth-engine';

/** How an operation reaches the subject: its API (or the raw tools), or the `lxc` command line. */
export type PathId = 'api' | 'cli';

export type ListingId = 'list-0' | 'list-1' | 'list-2' | 'list';

export type ScenarioId = 'launch' | 'start' | 'stop' | 'exec' | 'snapshot' | ListingId | 'delete';

/** One table row: a scenario through one path. */
export type RowId = `${PathId}:${ScenarioId}`;

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

/** The timed operations, as one path does them. */
export interface SubjectPath {
  /** How each operation is done, printed under the table so a reader can judge the numbers. */
  readonly method: string;
  /** Create from the busybox image and start; resolves once the instance is Running. */
  launch(name: string): Promise<void>;
  start(name: string): Promise<void>;
  stopForce(name: string): Promise<void>;
  /** Runs `true` and resolves once its exit code is known; throws unless it is 0. */
  exec(name: string): Promise<void>;
  snapshot(name: string, snapshot: string): Promise<void>;
  /** Deletes a stopped instance with its snapshots. */
  delete(name: string): Promise<void>;
  /** The listings this path offers; each returns how many instances it saw. */
  readonly lists: Partial<Record<ListingId, () => Promise<number>>>;
}

export interface Subject {
  readonly id: SubjectId;
  readonly label: string;
  /** The paths this subject is timed through, usable once prepare() resolved. */
  readonly paths: Partial<Record<PathId, SubjectPath>>;

  /** Checks the subject can run and sets up what it needs (server, image, project). Throws NotAvailable when it cannot. */
  prepare(): Promise<void>;
  /** Read back the status (untimed sanity check that "launched" means Running). */
  status(name: string): Promise<string>;
  /** Create a stopped instance (set-up for the listing, not timed). */
  createStopped(name: string): Promise<void>;
  /** Stop if needed and delete one instance with its snapshots; gone already is fine (untimed). */
  remove(name: string): Promise<void>;
  /**
   * Removes everything this subject created (instances by name, images,
   * projects, servers by pid, temp dirs, bridges). Safe after a partial
   * failure and when called twice. Returns warnings about anything it could
   * not remove.
   */
  cleanup(): Promise<string[]>;
}
