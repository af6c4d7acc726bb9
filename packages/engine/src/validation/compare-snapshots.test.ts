import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import { compareSnapshots, type ComparableSnapshot } from './compare-snapshots';

// Creation dates as LXD 5.0.2 writes them (seven-digit fractions are real).
const T1 = '2026-11-28T15:30:20.3000623Z';
const T2 = '2026-11-28T15:31:00.1Z';
const T3 = '2026-11-28T16:00:00Z';

const snap = (name: string, created_at: string | Date, id?: string): ComparableSnapshot =>
  id === undefined ? { name, created_at } : { name, created_at, id };

type Case = [string, ComparableSnapshot[], ComparableSnapshot[], string[], string[]];

/** Names, so failures read well; identity is checked separately. */
function names(result: { toSync: ComparableSnapshot[]; toDelete: ComparableSnapshot[] }) {
  return [result.toSync.map((s) => s.name), result.toDelete.map((s) => s.name)];
}

describe('compareSnapshots (LXD storage.CompareSnapshots)', () => {
  it.each<Case>([
    ['both empty', [], [], [], []],
    ['fresh copy: everything to sync', [snap('a', T1), snap('b', T2)], [], ['a', 'b'], []],
    ['source empty: everything to delete', [], [snap('a', T1), snap('b', T2)], [], ['a', 'b']],
    [
      'identical lists: nothing to do',
      [snap('a', T1), snap('b', T2)],
      [snap('a', T1), snap('b', T2)],
      [],
      [],
    ],
    [
      'order does not matter',
      [snap('a', T1), snap('b', T2)],
      [snap('b', T2), snap('a', T1)],
      [],
      [],
    ],
    ['a new source snapshot', [snap('a', T1), snap('b', T2)], [snap('a', T1)], ['b'], []],
    ['a snapshot gone from the source', [snap('a', T1)], [snap('a', T1), snap('b', T2)], [], ['b']],
    // Same name, different date: a different snapshot. LXD replaces it, so it
    // is both deleted from the target and synced from the source.
    [
      'same name, other date',
      [snap('a', T1), snap('b', T3)],
      [snap('a', T1), snap('b', T2)],
      ['b'],
      ['b'],
    ],
    [
      'mixed',
      [snap('keep', T1), snap('changed', T3), snap('new', T3)],
      [snap('old', T1), snap('changed', T2), snap('keep', T1)],
      ['changed', 'new'],
      ['old', 'changed'],
    ],
    // Instants are compared, as Go's Time.Equal does
    [
      'same instant, other offset',
      [snap('a', '2026-11-28T17:30:20.3000623+02:00')],
      [snap('a', T1)],
      [],
      [],
    ],
    [
      'same instant, trailing zeros',
      [snap('a', '2026-11-28T15:30:20.300062300Z')],
      [snap('a', T1)],
      [],
      [],
    ],
    [
      'a Date against a string',
      [snap('a', new Date('2026-11-28T16:00:00Z'))],
      [snap('a', T3)],
      [],
      [],
    ],
    // ...to the nanosecond, which a JavaScript Date would lose
    ['100 ns apart', [snap('a', '2026-11-28T15:30:20.3000624Z')], [snap('a', T1)], ['a'], ['a']],
    ['1 ns apart', [snap('a', '2026-11-28T16:00:00.000000001Z')], [snap('a', T3)], ['a'], ['a']],
    // LXD also compares the snapshot volume's ID; a missing ID counts as empty
    ['same ID', [snap('a', T1, 'uuid-1')], [snap('a', T1, 'uuid-1')], [], []],
    ['other ID, same date', [snap('a', T1, 'uuid-1')], [snap('a', T1, 'uuid-2')], ['a'], ['a']],
    ['ID on one side only', [snap('a', T1, 'uuid-1')], [snap('a', T1)], ['a'], ['a']],
    ['empty ID equals no ID', [snap('a', T1, '')], [snap('a', T1)], [], []],
    // names are exact
    ['names are case-sensitive', [snap('Snap0', T1)], [snap('snap0', T1)], ['Snap0'], ['snap0']],
    // LXD's zero time is a date like any other
    [
      'zero dates on both sides',
      [snap('a', '0001-01-01T00:00:00Z')],
      [snap('a', '0001-01-01T00:00:00Z')],
      [],
      [],
    ],
  ])('%s', (_label, source, target, toSync, toDelete) => {
    expect(names(compareSnapshots(source, target))).toEqual([toSync, toDelete]);
  });

  it("returns the caller's own objects, keeping their extra fields and input order", () => {
    const source = [
      { name: 'z', created_at: T3, size: 3 },
      { name: 'y', created_at: T2, size: 2 },
    ];
    const target = [
      { name: 'x', created_at: T1, pool: 'p' },
      { name: 'w', created_at: T1, pool: 'p' },
    ];
    const { toSync, toDelete } = compareSnapshots(source, target);
    expect(toSync).toEqual(source);
    expect(toSync[0]).toBe(source[0]);
    expect(toDelete[1]).toBe(target[1]);
    // typed as the caller's types
    expect(toSync.map((s) => s.size)).toEqual([3, 2]);
    expect(toDelete.map((s) => s.pool)).toEqual(['p', 'p']);
  });

  it('works on the real LXD 5.0.2 snapshot listing', () => {
    const url = new URL(
      '../../test/fixtures/lxd-5.0.2/GET_snapshots_recursion1.json',
      import.meta.url,
    );
    const listing = JSON.parse(readFileSync(url, 'utf8')) as { metadata: ComparableSnapshot[] };
    const source = listing.metadata;
    expect(compareSnapshots(source, source)).toEqual({ toSync: [], toDelete: [] });
    expect(names(compareSnapshots(source, []))).toEqual([['snap0'], []]);
  });

  it.each<[string, ComparableSnapshot[], ComparableSnapshot[], string]>([
    // LXD would let the last one win silently; an instance cannot have two
    [
      'a duplicate source name',
      [snap('a', T1), snap('a', T2)],
      [],
      'source[1].name: duplicate snapshot name "a"',
    ],
    [
      'a duplicate target name',
      [],
      [snap('b', T1), snap('a', T1), snap('a', T1)],
      'target[2].name: duplicate snapshot name "a"',
    ],
    [
      'a bad source date',
      [snap('a', T1), snap('b', 'soon')],
      [],
      'source[1].created_at: invalid RFC 3339 timestamp "soon"',
    ],
    [
      'a bad target date',
      [],
      [snap('a', '2026-02-30T00:00:00Z')],
      'target[0].created_at: invalid RFC 3339 timestamp "2026-02-30T00:00:00Z"',
    ],
    ['an invalid Date', [snap('a', new Date('nope'))], [], 'source[0].created_at: invalid date'],
  ])('refuses %s', (_label, source, target, expected) => {
    let caught: unknown;
    try {
      compareSnapshots(source, target);
    } catch (error) {
      caught = error;
    }
    expect(isEngineError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toBe(expected);
  });
});
