import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { DEFAULT_IDMAP_SIZE, defaultIdmapSet, IdmapSet } from './idmap-set';
import { parseRawIdmap, type IdmapEntry } from './raw-idmap';
import { parseSubidFile, type SubidRange } from './subid-file';

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

function caught(run: () => unknown): EngineError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    return error as EngineError;
  }
  throw new Error('expected an error');
}

const snap: SubidRange[] = [{ start: 1_000_000, size: 1_000_000_000 }];
const small: SubidRange[] = [{ start: 100_000, size: 65_536 }];

/** The default map on a host whose root owns 100000-165535 for both uids and gids. */
const base = IdmapSet.fromSubid(small, small);

describe('IdmapSet.fromSubid', () => {
  it.each<[string, SubidRange[], SubidRange[], number | undefined, IdmapEntry[]]>([
    [
      'maps container 0..65535 onto the start of the snap range',
      snap,
      snap,
      undefined,
      [uid(1_000_000, 0, 65_536), gid(1_000_000, 0, 65_536)],
    ],
    [
      'an exactly-sized range',
      small,
      small,
      undefined,
      [uid(100_000, 0, 65_536), gid(100_000, 0, 65_536)],
    ],
    [
      'skips ranges too small to be useful, like LXD',
      [
        { start: 5000, size: 1000 },
        { start: 300_000, size: 70_000 },
        { start: 900_000, size: 65_536 },
      ],
      [{ start: 400_000, size: 65_536 }],
      undefined,
      [uid(300_000, 0, 65_536), gid(400_000, 0, 65_536)],
    ],
    [
      'a custom size (security.idmap.size)',
      snap,
      small,
      1000,
      [uid(1_000_000, 0, 1000), gid(100_000, 0, 1000)],
    ],
    [
      'a bigger custom size needs a bigger range',
      snap,
      snap,
      200_000,
      [uid(1_000_000, 0, 200_000), gid(1_000_000, 0, 200_000)],
    ],
  ])('%s', (_label, subuid, subgid, size, expected) => {
    expect(IdmapSet.fromSubid(subuid, subgid, size).entries).toEqual(expected);
    expect(defaultIdmapSet(subuid, subgid, size).entries).toEqual(expected);
  });

  it('reads a real /etc/subuid', () => {
    const text = 'ubuntu:100000:65536\nroot:1000000:1000000000\n';
    const set = defaultIdmapSet(
      parseSubidFile(text, 'root'),
      parseSubidFile(text, 'root', '/etc/subgid'),
    );
    expect(set.toLxc()).toEqual(['u 0 1000000 65536', 'g 0 1000000 65536']);
    expect(DEFAULT_IDMAP_SIZE).toBe(65_536);
  });

  it.each<[string, SubidRange[], SubidRange[], number | undefined, string, string]>([
    [
      'no subuid range',
      [],
      small,
      undefined,
      '/etc/subuid',
      'no subordinate ID range with at least 65536 IDs',
    ],
    [
      'no subgid range',
      small,
      [],
      undefined,
      '/etc/subgid',
      'no subordinate ID range with at least 65536 IDs',
    ],
    [
      'only small ranges',
      [{ start: 1, size: 65_535 }],
      small,
      undefined,
      '/etc/subuid',
      'no subordinate ID range with at least 65536 IDs',
    ],
    [
      'a size bigger than the range',
      small,
      small,
      65_537,
      '/etc/subuid',
      'no subordinate ID range with at least 65537 IDs',
    ],
    ['a zero size', small, small, 0, 'size', 'must be a positive integer, got 0'],
    ['a fractional size', small, small, 1.5, 'size', 'must be a positive integer, got 1.5'],
  ])('refuses %s', (_label, subuid, subgid, size, field, reason) => {
    const error = caught(() => IdmapSet.fromSubid(subuid, subgid, size));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.field).toBe(field);
    expect(error.message).toBe(`${field}: ${reason}`);
  });
});

describe('IdmapSet.withRawIdmap: raw entries punch holes in the default map', () => {
  it.each<[string, string, IdmapEntry[]]>([
    ['no raw map', '', [uid(100_000, 0, 65_536), gid(100_000, 0, 65_536)]],
    [
      // The classic: share host user 1000 with container user 1000.
      'both 1000 1000',
      'both 1000 1000',
      [
        uid(100_000, 0, 1000),
        gid(100_000, 0, 1000),
        both(1000, 1000),
        uid(101_001, 1001, 64_535),
        gid(101_001, 1001, 64_535),
      ],
    ],
    [
      'uid only leaves the gid range whole',
      'uid 1000 1000',
      [uid(100_000, 0, 1000), gid(100_000, 0, 65_536), uid(1000, 1000), uid(101_001, 1001, 64_535)],
    ],
    [
      'a hole at container 0 (host user as container root)',
      'both 1000 0',
      [both(1000, 0), uid(100_001, 1, 65_535), gid(100_001, 1, 65_535)],
    ],
    [
      // LXD 5.0.2's Intersects misses the last ID of a range (an off-by-one),
      // appends this entry unsplit and hands LXC a map mapping 65535 twice.
      'a hole at the last container ID',
      'uid 1000 65535',
      [uid(100_000, 0, 65_535), gid(100_000, 0, 65_536), uid(1000, 65_535)],
    ],
    [
      'a range straddling the end of the default map',
      'gid 2000-2009 65530-65539',
      [uid(100_000, 0, 65_536), gid(100_000, 0, 65_530), gid(2000, 65_530, 10)],
    ],
    [
      'a range straddling the start (when the default map does not start at 0)',
      'uid 50-59 65531-65540',
      [uid(100_000, 0, 65_531), gid(100_000, 0, 65_536), uid(50, 65_531, 10)],
    ],
    [
      'container IDs outside the default map are simply added',
      'both 1000 70000',
      [uid(100_000, 0, 65_536), gid(100_000, 0, 65_536), both(1000, 70_000)],
    ],
    [
      'a raw map covering the whole default range replaces it',
      'both 200000-265535 0-65535',
      [both(200_000, 0, 65_536)],
    ],
    [
      'several holes',
      'both 1000 1000\nuid 2000-2001 3000-3001\ngid 33 33',
      [
        uid(100_000, 0, 1000),
        gid(100_000, 0, 33),
        gid(33, 33),
        gid(100_034, 34, 966),
        both(1000, 1000),
        uid(101_001, 1001, 1999),
        gid(101_001, 1001, 64_535),
        uid(2000, 3000, 2),
        uid(103_002, 3002, 62_534),
      ],
    ],
  ])('%s', (_label, raw, expected) => {
    const merged = base.withRawIdmap(raw);
    expect(merged.entries).toEqual(expected);
    // the same result from already-parsed entries
    expect(base.withRawIdmap(parseRawIdmap(raw)).entries).toEqual(expected);
  });

  it('maps every container ID exactly once after a merge', () => {
    const merged = base.withRawIdmap('both 1000 1000\nuid 2000-2001 3000-3001\ngid 33 33');
    for (const kind of ['uid', 'gid'] as const) {
      const ranges = merged.entries
        .filter((entry) => (kind === 'uid' ? entry.isUid : entry.isGid))
        .sort((a, b) => a.nsId - b.nsId);
      // contiguous from 0 with no overlap: each range starts where the last ended
      let next = 0;
      for (const range of ranges.filter((entry) => entry.nsId < 65_536)) {
        expect(range.nsId).toBe(next);
        next = range.nsId + range.maprange;
      }
      expect(next).toBe(65_536);
    }
    expect(merged.toHost('uid', 1000)).toBe(1000);
    expect(merged.toHost('gid', 33)).toBe(33);
    expect(merged.toHost('uid', 33)).toBe(100_033);
    expect(merged.toHost('uid', 3001)).toBe(2001);
    expect(merged.toHost('gid', 3001)).toBe(103_001);
  });

  it('does not change the set it was called on', () => {
    const before = [...base.entries];
    base.withRawIdmap('both 1000 1000');
    expect(base.entries).toEqual(before);
  });

  it.each([
    // LXD's message, plus which ranges clash
    [
      'uid 100500 500',
      'line 1: Host id is in the range of subids: host IDs 100500 overlap 100000-165535',
    ],
    [
      'both 99990-100009 0-19',
      'line 1: Host id is in the range of subids: host IDs 99990-100009 overlap 100000-165535',
    ],
    [
      'gid 165535 0',
      'line 1: Host id is in the range of subids: host IDs 165535 overlap 100000-165535',
    ],
    // even a host ID a previous line punched out of the map stays reserved
    [
      'uid 1000 0\nuid 100000 5',
      'line 2: Host id is in the range of subids: host IDs 100000 overlap 100000-165535',
    ],
    // parse errors come through unchanged
    ['uid 1000', 'line 1: Invalid ID map line "uid 1000"'],
    ['uid 1000 1000\nuid 1000 1001', 'line 2: host IDs 1000 overlap line 1'],
  ])('refuses %j', (raw, expected) => {
    const error = caught(() => base.withRawIdmap(raw));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.field).toBe('config["raw.idmap"]');
    expect(error.message).toBe(`config["raw.idmap"]: ${expected}`);
  });

  it('allows host IDs next to the subordinate range', () => {
    // LXD 5.0.2's HostidsIntersect counts touching ranges as overlapping (an
    // off-by-one); the IDs do not overlap, so we allow them.
    expect(base.withRawIdmap('uid 165536 70000\nuid 99999 70001').toHost('uid', 70_000)).toBe(
      165_536,
    );
  });

  it.each<[string, IdmapEntry[], string]>([
    ['a malformed entry', [uid(1, 1, 0)], 'line 1: size must be at least 1'],
    ['overlapping entries', [uid(1, 1), uid(2, 1)], 'line 2: container IDs 1 overlap line 1'],
  ])('refuses parsed entries with %s', (_label, entries, expected) => {
    expect(caught(() => base.withRawIdmap(entries)).message).toBe(
      `config["raw.idmap"]: ${expected}`,
    );
  });
});

describe('IdmapSet.fromEntries', () => {
  it('sorts entries by container ID, both before uid before gid', () => {
    const set = IdmapSet.fromEntries([gid(5, 5), uid(7, 5), both(9, 0), uid(1, 1)]);
    expect(set.entries).toEqual([both(9, 0), uid(1, 1), uid(7, 5), gid(5, 5)]);
  });

  it('copies its input', () => {
    const input = [uid(1, 1)];
    const set = IdmapSet.fromEntries(input);
    (input[0] as IdmapEntry).hostId = 99;
    expect(set.toHost('uid', 1)).toBe(1);
  });

  it.each<[string, IdmapEntry[], string]>([
    [
      'a kindless entry',
      [{ ...uid(1, 1), isUid: false }],
      'entry 1: entry maps neither uids nor gids',
    ],
    [
      'a negative ID',
      [uid(1, 1), gid(-1, 0)],
      'entry 2: IDs and size must be non-negative integers',
    ],
    [
      'overlapping host IDs',
      [both(10, 0, 5), gid(14, 100)],
      'entry 2: host IDs 14 overlap entry 1',
    ],
  ])('refuses %s', (_label, entries, expected) => {
    const error = caught(() => IdmapSet.fromEntries(entries));
    expect(error.field).toBe('idmap');
    expect(error.message).toBe(`idmap: ${expected}`);
  });

  it('splits a "both" entry when a raw entry punches only one kind', () => {
    const set = IdmapSet.fromEntries([both(100_000, 0, 10)]).withRawIdmap('uid 5 5');
    expect(set.toLxc()).toEqual(['u 0 100000 5', 'u 5 5 1', 'u 6 100006 4', 'g 0 100000 10']);
  });

  it('accepts an empty map', () => {
    expect(IdmapSet.fromEntries([]).toLxc()).toEqual([]);
  });
});

describe('IdmapSet lookups and LXC output', () => {
  const set = base.withRawIdmap('both 1000 1000\ngid 50 70000');

  it('writes lxc.idmap lines, uids first', () => {
    expect(set.toLxc()).toEqual([
      'u 0 100000 1000',
      'u 1000 1000 1',
      'u 1001 101001 64535',
      'g 0 100000 1000',
      'g 1000 1000 1',
      'g 1001 101001 64535',
      'g 70000 50 1',
    ]);
  });

  it.each<['uid' | 'gid', number, number | undefined]>([
    ['uid', 0, 100_000],
    ['uid', 999, 100_999],
    ['uid', 1000, 1000],
    ['uid', 65_535, 165_535],
    ['uid', 65_536, undefined],
    ['uid', 70_000, undefined],
    ['gid', 70_000, 50],
    ['gid', 70_001, undefined],
  ])('toHost(%s, %d) = %s', (kind, nsId, expected) => {
    expect(set.toHost(kind, nsId)).toBe(expected);
  });

  it.each<['uid' | 'gid', number, number | undefined]>([
    ['uid', 100_000, 0],
    ['uid', 101_000, undefined],
    ['uid', 1000, 1000],
    ['gid', 50, 70_000],
    ['uid', 50, undefined],
    ['uid', 0, undefined],
  ])('toNs(%s, %d) = %s', (kind, hostId, expected) => {
    expect(set.toNs(kind, hostId)).toBe(expected);
  });
});
