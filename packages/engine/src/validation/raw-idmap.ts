import { EngineError } from '../errors';

/** One uid and/or gid range mapping: host IDs `hostId…` appear as `nsId…` in the container. */
export interface IdmapEntry {
  isUid: boolean;
  isGid: boolean;
  hostId: number;
  nsId: number;
  maprange: number;
}

export const RAW_IDMAP_FIELD = 'config["raw.idmap"]';

/** The highest usable ID: `(uid_t)-1` (4294967295) means "no ID" to the kernel. */
export const MAX_ID = 2 ** 32 - 2;

/** Whether two entries share a kind (both map uids, or both map gids). */
export function sameKind(a: IdmapEntry, b: IdmapEntry): boolean {
  return (a.isUid && b.isUid) || (a.isGid && b.isGid);
}

/** Half-open range overlap; `[start, start + size)`. */
export function rangesOverlap(
  aStart: number,
  aSize: number,
  bStart: number,
  bSize: number,
): boolean {
  return aStart < bStart + bSize && bStart < aStart + aSize;
}

export function kindLabel(entry: IdmapEntry): 'both' | 'uid' | 'gid' {
  if (entry.isUid && entry.isGid) return 'both';
  return entry.isUid ? 'uid' : 'gid';
}

/** `1000` or `1000-1009`, the raw.idmap spelling of a range. */
export function formatRange(start: number, size: number): string {
  return size === 1 ? String(start) : `${start}-${start + size - 1}`;
}

/** A parsed raw.idmap line with its 1-based line number, for error messages. */
export interface RawIdmapLine {
  line: number;
  entry: IdmapEntry;
}

export function rawIdmapLineError(line: number, reason: string): EngineError {
  return EngineError.invalid(RAW_IDMAP_FIELD, `line ${line}: ${reason}`);
}

function parseId(text: string, range: string, line: number): number {
  // Digits only: LXD's ParseInt would also take "+5", which no one means.
  if (!/^[0-9]+$/.test(text))
    throw rawIdmapLineError(line, `Invalid ID "${text}" in range "${range}"`);
  const id = Number(text);
  if (id > MAX_ID)
    throw rawIdmapLineError(line, `ID ${text} in range "${range}" is above ${MAX_ID}`);
  return id;
}

function parseRange(range: string, line: number): { start: number; size: number } {
  const parts = range.split('-');
  if (parts.length > 2) throw rawIdmapLineError(line, `Invalid ID Map range "${range}"`);
  const [first = '', last] = parts;
  const start = parseId(first, range, line);
  if (last === undefined) return { start, size: 1 };
  const end = parseId(last, range, line);
  // LXD 5.0.2 accepts "5-3" and computes a negative size; refuse it.
  if (end < start)
    throw rawIdmapLineError(line, `Invalid ID Map range "${range}": end is below start`);
  return { start, size: end - start + 1 };
}

const KINDS: Record<string, Pick<IdmapEntry, 'isUid' | 'isGid'>> = {
  both: { isUid: true, isGid: true },
  uid: { isUid: true, isGid: false },
  gid: { isUid: false, isGid: true },
};

/** Builds the error for a problem on one numbered line (or entry). */
export type LineFailure = (line: number, reason: string) => EngineError;

/**
 * Throws if two entries of a shared kind overlap on the host side or in the
 * container. The kernel refuses such a map; LXD 5.0.2 silently lets a later
 * line replace an earlier one when only the container IDs overlap.
 */
export function assertNoOverlap(
  lines: readonly RawIdmapLine[],
  fail: LineFailure = rawIdmapLineError,
  label = 'line',
): void {
  lines.forEach(({ line, entry }, index) => {
    for (const earlier of lines.slice(0, index)) {
      if (!sameKind(entry, earlier.entry)) continue;
      if (
        rangesOverlap(entry.hostId, entry.maprange, earlier.entry.hostId, earlier.entry.maprange)
      ) {
        throw fail(
          line,
          `host IDs ${formatRange(entry.hostId, entry.maprange)} overlap ${label} ${earlier.line}`,
        );
      }
      if (rangesOverlap(entry.nsId, entry.maprange, earlier.entry.nsId, earlier.entry.maprange)) {
        throw fail(
          line,
          `container IDs ${formatRange(entry.nsId, entry.maprange)} overlap ${label} ${earlier.line}`,
        );
      }
    }
  });
}

/**
 * Checks an entry built in code (not parsed): a kind, whole IDs in range, a
 * positive size. Returns the reason it is wrong, or `undefined`.
 */
export function idmapEntryProblem(entry: IdmapEntry): string | undefined {
  if (!entry.isUid && !entry.isGid) return 'entry maps neither uids nor gids';
  const ids = [entry.hostId, entry.nsId, entry.maprange];
  if (!ids.every((id) => Number.isSafeInteger(id) && id >= 0)) {
    return 'IDs and size must be non-negative integers';
  }
  if (entry.maprange < 1) return 'size must be at least 1';
  if (entry.hostId + entry.maprange - 1 > MAX_ID || entry.nsId + entry.maprange - 1 > MAX_ID) {
    return `range goes past the largest ID (${MAX_ID})`;
  }
  return undefined;
}

/** `parseRawIdmap`, keeping each entry's line number. */
export function parseRawIdmapLines(text: string): RawIdmapLine[] {
  const parsed: RawIdmapLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    // LXD splits on single spaces and skips only truly empty lines; we accept any
    // whitespace (tabs, CRLF, trailing spaces) since the meaning is unambiguous.
    const trimmed = raw.trim();
    if (trimmed === '') return;
    const fields = trimmed.split(/\s+/);
    const [type = '', host = '', ns = ''] = fields;
    if (fields.length !== 3) throw rawIdmapLineError(line, `Invalid ID map line "${trimmed}"`);

    // Same order of checks as LXD: ranges, then sizes, then type.
    const hostRange = parseRange(host, line);
    const nsRange = parseRange(ns, line);
    if (hostRange.size !== nsRange.size) {
      throw rawIdmapLineError(line, `The ID map ranges are of different sizes "${trimmed}"`);
    }
    const kind = KINDS[type];
    if (kind === undefined) throw rawIdmapLineError(line, `Invalid ID map type "${trimmed}"`);

    parsed.push({
      line,
      entry: { ...kind, hostId: hostRange.start, nsId: nsRange.start, maprange: nsRange.size },
    });
  });
  assertNoOverlap(parsed);
  return parsed;
}

/**
 * Parses LXD's `raw.idmap`: lines of `uid|gid|both HOSTID[-HOSTEND] NSID[-NSEND]`
 * (inclusive ranges of equal length), blank lines ignored. Throws an
 * INVALID_ARGUMENT `EngineError` naming the line and the reason.
 */
export function parseRawIdmap(text: string): IdmapEntry[] {
  return parseRawIdmapLines(text).map(({ entry }) => entry);
}

/**
 * As LXD's `AllowedUnprivilegedOnlyMap`: throws if any raw.idmap entry maps host
 * root (ID 0) into the container, for hosts that only allow unprivileged
 * containers. Also throws on a malformed raw.idmap.
 */
export function allowedUnprivilegedOnlyMap(rawIdmap: string): void {
  for (const { line, entry } of parseRawIdmapLines(rawIdmap)) {
    // A range starts at its lowest ID, so it contains 0 only when it starts there.
    if (entry.hostId === 0) {
      throw rawIdmapLineError(
        line,
        'Cannot map root user into container as Berth was configured to only allow unprivileged containers',
      );
    }
  }
}
