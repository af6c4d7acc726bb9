import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import {
  allowedUnprivilegedOnlyMap,
  formatRange,
  idmapEntryProblem,
  MAX_ID,
  parseRawIdmap,
  parseRawIdmapLines,
  type IdmapEntry,
} from './raw-idmap';

const uid = (hostId: number, nsId: number, maprange = 1): IdmapEntry => ({
  isUid: true,
  isGid: false,
  hostId,
  nsId,
  maprange,
});
const gid = (hostId: number, nsId: number, maprange = 1): IdmapEntry => ({
  ...uid(hostId, nsId, maprange),
  isUid: false,
  isGid: true,
});
const both = (hostId: number, nsId: number, maprange = 1): IdmapEntry => ({
  ...uid(hostId, nsId, maprange),
  isGid: true,
});

/** The message thrown, checking it is an INVALID_ARGUMENT about raw.idmap. */
function failure(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('INVALID_ARGUMENT');
    expect((error as EngineError).field).toBe('config["raw.idmap"]');
    return (error as EngineError).message;
  }
  throw new Error('expected an error');
}

const P = 'config["raw.idmap"]: ';

describe('parseRawIdmap: valid input', () => {
  it.each<[string, string, IdmapEntry[]]>([
    ['empty', '', []],
    ['only blank lines', '\n\n  \n\t\n', []],
    ['a single uid', 'uid 1000 1000', [uid(1000, 1000)]],
    ['a single gid', 'gid 1000 0', [gid(1000, 0)]],
    ['both', 'both 1000 1000', [both(1000, 1000)]],
    ['ranges', 'both 1000-1009 2000-2009', [both(1000, 2000, 10)]],
    ['a one-ID range', 'uid 5-5 7-7', [uid(5, 7)]],
    ['a range on one side, a single ID on the other of equal size', 'uid 5-5 7', [uid(5, 7)]],
    ['host root (allowed here; see allowedUnprivilegedOnlyMap)', 'both 0 0', [both(0, 0)]],
    ['the largest ID', `uid ${MAX_ID} 0`, [uid(MAX_ID, 0)]],
    [
      'several lines in order, blank lines skipped',
      'uid 1000 1000\n\ngid 1001 1001\nboth 2000-2001 3000-3001\n',
      [uid(1000, 1000), gid(1001, 1001), both(2000, 3000, 2)],
    ],
    // LXD splits on single spaces only; any whitespace is as unambiguous.
    [
      'extra whitespace and CRLF',
      '  uid\t1000   1000 \r\ngid 1 1\r\n',
      [uid(1000, 1000), gid(1, 1)],
    ],
    // uid and gid ranges are separate namespaces: no overlap between them.
    [
      'uid and gid on the same IDs',
      'uid 1000 1000\ngid 1000 1000',
      [uid(1000, 1000), gid(1000, 1000)],
    ],
    [
      'adjacent ranges',
      'both 1000-1009 0-9\nboth 1010-1019 10-19',
      [both(1000, 0, 10), both(1010, 10, 10)],
    ],
  ])('%s', (_label, text, expected) => {
    expect(parseRawIdmap(text)).toEqual(expected);
  });

  it('keeps 1-based line numbers, counting blank lines', () => {
    expect(parseRawIdmapLines('\nuid 1 1\n\n gid 2 2')).toEqual([
      { line: 2, entry: uid(1, 1) },
      { line: 4, entry: gid(2, 2) },
    ]);
  });
});

describe('parseRawIdmap: errors name the line and the reason', () => {
  it.each([
    // LXD's own messages
    ['too few fields', 'uid 1000', 'line 1: Invalid ID map line "uid 1000"'],
    ['too many fields', 'uid 1 2 3', 'line 1: Invalid ID map line "uid 1 2 3"'],
    ['unknown type', 'user 1000 1000', 'line 1: Invalid ID map type "user 1000 1000"'],
    ['type is case-sensitive', 'UID 1 1', 'line 1: Invalid ID map type "UID 1 1"'],
    ['three-part range', 'uid 1-2-3 1', 'line 1: Invalid ID Map range "1-2-3"'],
    [
      'sizes differ',
      'uid 1000-1001 1000',
      'line 1: The ID map ranges are of different sizes "uid 1000-1001 1000"',
    ],
    [
      'sizes differ (both ranges)',
      'both 0-9 0-8',
      'line 1: The ID map ranges are of different sizes "both 0-9 0-8"',
    ],
    // our wording where LXD only passes strconv's error through
    ['not a number', 'uid abc 1', 'line 1: Invalid ID "abc" in range "abc"'],
    ['negative', 'uid -5 1', 'line 1: Invalid ID "" in range "-5"'],
    ['open range', 'uid 5- 5', 'line 1: Invalid ID "" in range "5-"'],
    ['plus sign', 'uid +5 5', 'line 1: Invalid ID "+5" in range "+5"'],
    ['decimal', 'uid 1.5 1', 'line 1: Invalid ID "1.5" in range "1.5"'],
    ['hex', 'uid 0x10 16', 'line 1: Invalid ID "0x10" in range "0x10"'],
    // stricter than LXD 5.0.2, which accepts these and computes a negative or
    // overflowing size the kernel then refuses
    ['reversed range', 'uid 10-5 0-5', 'line 1: Invalid ID Map range "10-5": end is below start'],
    [
      'ID above uid_t',
      `uid ${MAX_ID + 1} 0`,
      `line 1: ID ${MAX_ID + 1} in range "${MAX_ID + 1}" is above ${MAX_ID}`,
    ],
    [
      'huge ID',
      'uid 99999999999999999999 0',
      `line 1: ID 99999999999999999999 in range "99999999999999999999" is above ${MAX_ID}`,
    ],
    // ranges are checked before the type, as in LXD
    ['bad range and bad type', 'foo x 1', 'line 1: Invalid ID "x" in range "x"'],
    // the line number counts blank lines
    ['error on a later line', 'uid 1 1\n\nbogus', 'line 3: Invalid ID map line "bogus"'],
  ])('%s', (_label, text, expected) => {
    expect(failure(() => parseRawIdmap(text))).toBe(P + expected);
  });

  // Stricter than LXD 5.0.2: it refuses host overlap with the misleading
  // "Host id is in the range of subids" and, when only container IDs overlap,
  // silently drops the earlier line. The kernel refuses both maps.
  it.each([
    ['same line twice', 'uid 1000 1000\nuid 1000 1000', 'line 2: host IDs 1000 overlap line 1'],
    ['host IDs overlap', 'uid 1000-1009 0-9\nuid 1005 100', 'line 2: host IDs 1005 overlap line 1'],
    [
      'container IDs overlap',
      'uid 1000 1000\nuid 2000 1000',
      'line 2: container IDs 1000 overlap line 1',
    ],
    [
      'both overlaps uid',
      'both 1000-1001 0-1\n\nuid 5000-5009 1-10',
      'line 3: container IDs 1-10 overlap line 1',
    ],
    ['both overlaps gid', 'gid 7 7\nboth 7 8', 'line 2: host IDs 7 overlap line 1'],
  ])('overlap: %s', (_label, text, expected) => {
    expect(failure(() => parseRawIdmap(text))).toBe(P + expected);
  });
});

describe('allowedUnprivilegedOnlyMap', () => {
  it.each([
    ['', 'empty'],
    ['uid 1000 1000\ngid 1000 1000', 'ordinary IDs'],
    ['both 1-65535 1-65535', 'everything but root'],
    ['uid 1000 0', 'a host user as container root'],
  ])('accepts %j (%s)', (text) => {
    expect(allowedUnprivilegedOnlyMap(text)).toBeUndefined();
  });

  const refusal =
    'Cannot map root user into container as Berth was configured to only allow unprivileged containers';
  it.each([
    ['uid 0 0', 1],
    ['gid 0 1000', 1],
    ['both 0-65535 0-65535', 1],
    ['uid 1000 1000\n\nboth 0 5', 3],
  ])('refuses host root in %j (line %d)', (text, line) => {
    expect(failure(() => allowedUnprivilegedOnlyMap(text))).toBe(`${P}line ${line}: ${refusal}`);
  });

  it('reports a malformed map as such', () => {
    expect(failure(() => allowedUnprivilegedOnlyMap('uid 0'))).toBe(
      `${P}line 1: Invalid ID map line "uid 0"`,
    );
  });
});

describe('idmapEntryProblem and formatRange', () => {
  it.each<[IdmapEntry, string | undefined]>([
    [uid(1, 1), undefined],
    [both(0, 0, MAX_ID + 1), undefined],
    [{ ...uid(1, 1), isUid: false }, 'entry maps neither uids nor gids'],
    [uid(-1, 1), 'IDs and size must be non-negative integers'],
    [uid(1.5, 1), 'IDs and size must be non-negative integers'],
    [uid(1, 1, Number.NaN), 'IDs and size must be non-negative integers'],
    [uid(1, 1, 0), 'size must be at least 1'],
    [uid(MAX_ID, 0, 2), `range goes past the largest ID (${MAX_ID})`],
    [gid(0, MAX_ID, 2), `range goes past the largest ID (${MAX_ID})`],
  ])('%j -> %j', (entry, expected) => {
    expect(idmapEntryProblem(entry)).toBe(expected);
  });

  it.each([
    [5, 1, '5'],
    [5, 2, '5-6'],
    [0, 65536, '0-65535'],
  ])('formatRange(%d, %d) = %s', (start, size, expected) => {
    expect(formatRange(start, size)).toBe(expected);
  });
});
