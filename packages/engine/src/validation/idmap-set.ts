import { EngineError } from '../errors';
import {
  assertNoOverlap,
  formatRange,
  idmapEntryProblem,
  parseRawIdmapLines,
  rangesOverlap,
  rawIdmapLineError,
  sameKind,
  type IdmapEntry,
  type RawIdmapLine,
} from './raw-idmap';
import type { SubidRange } from './subid-file';

export type IdKind = 'uid' | 'gid';

/** Container IDs 0..65535: what a distribution needs, and LXD's minimum useful range. */
export const DEFAULT_IDMAP_SIZE = 65536;

function hasKind(entry: IdmapEntry, kind: IdKind): boolean {
  return kind === 'uid' ? entry.isUid : entry.isGid;
}

// both < uid < gid, so sorted maps read the same way every time.
function kindOrder(entry: IdmapEntry): number {
  if (entry.isUid && entry.isGid) return 0;
  return entry.isUid ? 1 : 2;
}

function compareEntries(a: IdmapEntry, b: IdmapEntry): number {
  return a.nsId - b.nsId || kindOrder(a) - kindOrder(b) || a.hostId - b.hostId;
}

function numbered(entries: readonly IdmapEntry[]): RawIdmapLine[] {
  return entries.map((entry, index) => ({ line: index + 1, entry: { ...entry } }));
}

/**
 * What is left of `base` once `hole`'s container IDs are taken out, for the
 * kinds they share; `base` keeps any kind `hole` does not map.
 */
function punch(base: IdmapEntry, hole: IdmapEntry): IdmapEntry[] {
  if (!sameKind(base, hole) || !rangesOverlap(base.nsId, base.maprange, hole.nsId, hole.maprange)) {
    return [base];
  }
  const pieces: IdmapEntry[] = [];
  const untouched = { isUid: base.isUid && !hole.isUid, isGid: base.isGid && !hole.isGid };
  if (untouched.isUid || untouched.isGid) pieces.push({ ...base, ...untouched });

  const shared = { isUid: base.isUid && hole.isUid, isGid: base.isGid && hole.isGid };
  const baseEnd = base.nsId + base.maprange;
  const holeEnd = hole.nsId + hole.maprange;
  if (hole.nsId > base.nsId) {
    pieces.push({
      ...shared,
      hostId: base.hostId,
      nsId: base.nsId,
      maprange: hole.nsId - base.nsId,
    });
  }
  if (holeEnd < baseEnd) {
    pieces.push({
      ...shared,
      hostId: base.hostId + (holeEnd - base.nsId),
      nsId: holeEnd,
      maprange: baseEnd - holeEnd,
    });
  }
  return pieces;
}

function pickRange(ranges: readonly SubidRange[], size: number, file: string): SubidRange {
  // Like LXD, the first range big enough wins; smaller ones are skipped.
  const range = ranges.find((candidate) => candidate.size >= size);
  if (range === undefined) {
    throw EngineError.invalid(file, `no subordinate ID range with at least ${size} IDs`);
  }
  return range;
}

/**
 * An instance's uid/gid map. Immutable: `withRawIdmap` returns a new set.
 * Entries are kept sorted by container ID.
 */
export class IdmapSet {
  readonly entries: readonly IdmapEntry[];

  private constructor(entries: IdmapEntry[]) {
    this.entries = entries.sort(compareEntries);
  }

  /** A set from explicit entries; throws if one is malformed or two overlap. */
  static fromEntries(entries: readonly IdmapEntry[]): IdmapSet {
    const fail = (entry: number, reason: string): EngineError =>
      EngineError.invalid('idmap', `entry ${entry}: ${reason}`);
    const lines = numbered(entries);
    for (const { line, entry } of lines) {
      const problem = idmapEntryProblem(entry);
      if (problem !== undefined) throw fail(line, problem);
    }
    assertNoOverlap(lines, fail, 'entry');
    return new IdmapSet(lines.map(({ entry }) => entry));
  }

  /**
   * The default map for an unprivileged container: container IDs 0..size-1 onto
   * the start of the first subuid (and subgid) range with at least `size` IDs.
   * LXD maps the whole range (often 1,000,000,000 IDs); we map only what the
   * container needs, so the rest of the range stays free for isolated maps.
   */
  static fromSubid(
    subuid: readonly SubidRange[],
    subgid: readonly SubidRange[],
    size: number = DEFAULT_IDMAP_SIZE,
  ): IdmapSet {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw EngineError.invalid('size', `must be a positive integer, got ${size}`);
    }
    const uid = pickRange(subuid, size, '/etc/subuid');
    const gid = pickRange(subgid, size, '/etc/subgid');
    return new IdmapSet([
      { isUid: true, isGid: false, hostId: uid.start, nsId: 0, maprange: size },
      { isUid: false, isGid: true, hostId: gid.start, nsId: 0, maprange: size },
    ]);
  }

  /**
   * This map with `raw.idmap` merged in, as LXD does: each raw entry punches a
   * hole in the ranges covering its container IDs and fills it. A raw entry may
   * not use host IDs this map already uses ("Host id is in the range of
   * subids"). Entries given as objects are numbered from 1 in errors.
   */
  withRawIdmap(raw: string | readonly IdmapEntry[]): IdmapSet {
    let lines: RawIdmapLine[];
    if (typeof raw === 'string') {
      lines = parseRawIdmapLines(raw);
    } else {
      lines = numbered(raw);
      for (const { line, entry } of lines) {
        const problem = idmapEntryProblem(entry);
        if (problem !== undefined) throw rawIdmapLineError(line, problem);
      }
      assertNoOverlap(lines);
    }

    for (const { line, entry } of lines) {
      // Checked against the whole map, not what is left after earlier holes:
      // those host IDs still belong to the subordinate range.
      const clash = this.entries.find(
        (base) =>
          sameKind(base, entry) &&
          rangesOverlap(base.hostId, base.maprange, entry.hostId, entry.maprange),
      );
      if (clash !== undefined) {
        throw rawIdmapLineError(
          line,
          `Host id is in the range of subids: host IDs ${formatRange(entry.hostId, entry.maprange)} ` +
            `overlap ${formatRange(clash.hostId, clash.maprange)}`,
        );
      }
    }

    let pieces: IdmapEntry[] = this.entries.map((entry) => ({ ...entry }));
    for (const { entry } of lines) {
      pieces = pieces.flatMap((piece) => punch(piece, entry));
    }
    return new IdmapSet([...pieces, ...lines.map(({ entry }) => entry)]);
  }

  /** LXC's `lxc.idmap` values (`u NSID HOSTID RANGE`), all uid lines first. */
  toLxc(): string[] {
    const lines = (kind: IdKind, prefix: string): string[] =>
      this.entries
        .filter((entry) => hasKind(entry, kind))
        .map((entry) => `${prefix} ${entry.nsId} ${entry.hostId} ${entry.maprange}`);
    return [...lines('uid', 'u'), ...lines('gid', 'g')];
  }

  /** The host ID a container ID maps to, or `undefined` if it is unmapped. */
  toHost(kind: IdKind, nsId: number): number | undefined {
    const entry = this.entries.find(
      (candidate) =>
        hasKind(candidate, kind) && rangesOverlap(candidate.nsId, candidate.maprange, nsId, 1),
    );
    return entry === undefined ? undefined : entry.hostId + (nsId - entry.nsId);
  }

  /** The container ID a host ID appears as, or `undefined` if it is unmapped. */
  toNs(kind: IdKind, hostId: number): number | undefined {
    const entry = this.entries.find(
      (candidate) =>
        hasKind(candidate, kind) && rangesOverlap(candidate.hostId, candidate.maprange, hostId, 1),
    );
    return entry === undefined ? undefined : entry.nsId + (hostId - entry.hostId);
  }
}

/** `IdmapSet.fromSubid`, as a function. */
export function defaultIdmapSet(
  subuid: readonly SubidRange[],
  subgid: readonly SubidRange[],
  size: number = DEFAULT_IDMAP_SIZE,
): IdmapSet {
  return IdmapSet.fromSubid(subuid, subgid, size);
}
