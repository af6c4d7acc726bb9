import { EngineError } from '../errors';
import { timestampNanos } from './timestamp';

/** What two snapshot lists are compared by (LXD's `ComparableSnapshot`). */
export interface ComparableSnapshot {
  /** The bare snapshot name (`snap0`). */
  name: string;
  /** RFC 3339 (LXD's wire format, nanoseconds kept) or a `Date`. */
  created_at: string | Date;
  /**
   * An identifier that survives copies (LXD uses the volume UUID). Missing
   * counts as empty, so it only matters when either side sets it.
   */
  id?: string;
}

export interface SnapshotComparison<S, T> {
  /** Source snapshots the target lacks or holds a different version of. */
  toSync: S[];
  /** Target snapshots the source lacks, or that differ from the source's. */
  toDelete: T[];
}

interface Keyed<X> {
  snapshot: X;
  nanos: bigint;
}

function index<X extends ComparableSnapshot>(
  snapshots: readonly X[],
  side: 'source' | 'target',
): Map<string, Keyed<X>> {
  const byName = new Map<string, Keyed<X>>();
  snapshots.forEach((snapshot, position) => {
    // LXD would let the last duplicate win; one instance cannot hold two
    // snapshots of the same name, so a duplicate means the caller's list is wrong.
    if (byName.has(snapshot.name)) {
      throw EngineError.invalid(
        `${side}[${position}].name`,
        `duplicate snapshot name "${snapshot.name}"`,
      );
    }
    const nanos = timestampNanos(snapshot.created_at, `${side}[${position}].created_at`);
    byName.set(snapshot.name, { snapshot, nanos });
  });
  return byName;
}

function same(a: Keyed<ComparableSnapshot>, b: Keyed<ComparableSnapshot>): boolean {
  return a.nanos === b.nanos && (a.snapshot.id ?? '') === (b.snapshot.id ?? '');
}

/**
 * Which snapshots a copy or refresh must transfer and which the target must
 * drop, as LXD's `storage.CompareSnapshots`: matched by name; a snapshot whose
 * creation date (or id) differs is both re-synced and deleted, since it is a
 * different snapshot under the same name. Both lists keep their input order.
 */
export function compareSnapshots<S extends ComparableSnapshot, T extends ComparableSnapshot>(
  source: readonly S[],
  target: readonly T[],
): SnapshotComparison<S, T> {
  const sourceByName = index(source, 'source');
  const targetByName = index(target, 'target');

  const toDelete: T[] = [];
  for (const keyed of targetByName.values()) {
    const match = sourceByName.get(keyed.snapshot.name);
    if (match === undefined || !same(match, keyed)) toDelete.push(keyed.snapshot);
  }

  const toSync: S[] = [];
  for (const keyed of sourceByName.values()) {
    const match = targetByName.get(keyed.snapshot.name);
    if (match === undefined || !same(match, keyed)) toSync.push(keyed.snapshot);
  }

  return { toSync, toDelete };
}
