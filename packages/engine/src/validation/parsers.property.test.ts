// Property-based tests of every parser user input reaches (issue 14,
// "hostile input"): no input crashes a parser with anything but a clear
// INVALID_ARGUMENT naming its field, and what a parser accepts means what
// was written (values generated in the language are read back exactly).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { parseFilter, describeClause } from '../filter/parse-filter';
import { filterObjects } from '../filter/match-filter';
import { tryParseCpuset, MAX_CPU_ID } from '../config/parse-cpuset';
import { tryParseByteSize, tryParseMemory } from '../config/parse-memory';
import { tryParseSchedule } from '../config/snapshot-schedule';
import { scheduleFires } from '../instances/snapshot-schedule-match';
import { parseSchedule } from '../config/snapshot-schedule';
import { tryParseExpiry, EXPIRY_UNITS } from '../config/snapshot-expiry';
import { configKeys } from '../config/config-keys';
import { configProblems } from '../config/valid-config';
import { parseRawIdmap } from './raw-idmap';
import { nameProblem } from './valid-name';
import { nextSnapshotName } from '../instances/snapshots';

const runs = { numRuns: 400 };

/** Any text a user could send, control characters and astral planes included. */
const hostile = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .array(
      fc.constantFrom(' ', '-', ',', '"', "'", '\\', 'eq', 'ne', 'not', 'and', 'or', '0', '9', '*'),
    )
    .map((parts) => parts.join('')),
);

/** Either a value, or an EngineError INVALID_ARGUMENT that names a field: nothing else escapes. */
function clearOutcome(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('INVALID_ARGUMENT');
    expect((error as EngineError).message.length).toBeGreaterThan(0);
  }
}

describe('LXD filter syntax', () => {
  it('never crashes: any text parses or is refused as INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(hostile, (text) => clearOutcome(() => parseFilter(text))),
      runs,
    );
  });

  const field = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/);
  const value = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_.:/-]{1,12}$/),
    fc.stringMatching(/^[A-Za-z0-9 ]{0,12}$/).map((v) => v),
  );
  const clause = fc.record({
    not: fc.boolean(),
    field: field.filter((f) => !['not', 'and', 'or'].includes(f.toLowerCase())),
    operator: fc.constantFrom('eq' as const, 'ne' as const),
    value: value.filter((v) => !['not', 'and', 'or'].includes(v)),
  });

  it('reads back every clause of a filter written in the language', () => {
    fc.assert(
      fc.property(
        fc.array(clause, { minLength: 1, maxLength: 5 }),
        fc.array(fc.constantFrom('and', 'or'), { minLength: 4, maxLength: 4 }),
        (clauses, joins) => {
          const text = clauses
            .map(
              (c, i) =>
                `${i > 0 ? `${joins[i - 1]} ` : ''}${describeClause({ ...c, join: 'and', offset: 0 })}`,
            )
            .join(' ');
          const parsed = parseFilter(text);
          expect(
            parsed.map(({ not, field, operator, value }) => ({ not, field, operator, value })),
          ).toEqual(clauses);
          expect(parsed.map((c) => c.join)).toEqual(['and', ...joins.slice(0, clauses.length - 1)]);
        },
      ),
      runs,
    );
  });

  it('a name filter keeps exactly the instances with that name', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (names, pick) => {
          const wanted = names[pick % names.length]!;
          const objects = names.map((name) => ({ name }));
          expect(filterObjects(objects, `name eq ^${wanted}$`)).toEqual([{ name: wanted }]);
          expect(filterObjects(objects, `not name eq ^${wanted}$`).map((o) => o.name)).toEqual(
            names.filter((n) => n !== wanted),
          );
        },
      ),
      runs,
    );
  });
});

describe('cpusets (limits.cpu)', () => {
  it('never throws; refuses anything that is not a list of CPUs and ranges', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const parsed = tryParseCpuset(text);
        if (parsed.ok) expect(text).toMatch(/^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/);
        else expect(parsed.reason.length).toBeGreaterThan(0);
      }),
      runs,
    );
  });

  it('reads a set written as ranges back as exactly that set', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: MAX_CPU_ID }), { minLength: 1, maxLength: 40 }),
        (ids) => {
          const sorted = [...ids].sort((a, b) => a - b);
          // Runs of consecutive ids as `a-b`, the rest as single ids, in a shuffled order.
          const parts: string[] = [];
          for (let i = 0; i < sorted.length;) {
            let j = i;
            while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
            parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
            i = j + 1;
          }
          const parsed = tryParseCpuset(parts.reverse().join(','));
          expect(parsed).toEqual({ ok: true, value: sorted });
        },
      ),
      runs,
    );
  });

  it('refuses a CPU named twice and ids past the highest CPU', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_CPU_ID }), (id) => {
        expect(tryParseCpuset(`${id},${id}`).ok).toBe(false);
        expect(tryParseCpuset(`${id}-${MAX_CPU_ID + 1}`).ok).toBe(false);
      }),
      runs,
    );
  });
});

describe('byte sizes and memory limits', () => {
  const suffixes: Array<[string, number]> = [
    ['', 1],
    ['B', 1],
    ['kB', 1e3],
    ['MB', 1e6],
    ['GB', 1e9],
    ['KiB', 2 ** 10],
    ['MiB', 2 ** 20],
    ['GiB', 2 ** 30],
    ['TiB', 2 ** 40],
  ];

  it('never throws on any text', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        expect(typeof tryParseByteSize(text).ok).toBe('boolean');
        expect(typeof tryParseMemory(text).ok).toBe('boolean');
      }),
      runs,
    );
  });

  it('reads a number with a suffix as that many bytes, exactly', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.constantFrom(...suffixes), (n, [suffix, unit]) => {
        if (!Number.isSafeInteger(n * unit)) {
          // Past 2^53 a JS number is no longer exact: refused rather than misread.
          expect(tryParseByteSize(`${n}${suffix}`).ok).toBe(false);
          return;
        }
        expect(tryParseByteSize(`${n}${suffix}`)).toEqual({ ok: true, value: n * unit });
        // A memory limit of 0 is refused, as LXD refuses it.
        expect(tryParseMemory(`${n}${suffix}`)).toEqual(
          n === 0
            ? { ok: false, reason: "Memory limit can't be 0" }
            : { ok: true, value: { kind: 'bytes', bytes: n * unit } },
        );
      }),
      runs,
    );
  });

  it('refuses what would not be an exact whole number of bytes', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }), (n) => {
        expect(tryParseByteSize(`${n}`).ok).toBe(false);
      }),
      runs,
    );
  });
});

describe('snapshot schedules and expiry', () => {
  it('never throws on any text', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        expect(typeof tryParseSchedule(text).ok).toBe('boolean');
        expect(typeof tryParseExpiry(text).ok).toBe('boolean');
      }),
      runs,
    );
  });

  it('a cron line fires exactly in the minutes it names', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 23 }),
        fc.date({
          min: new Date('2020-01-01T00:00:00Z'),
          max: new Date('2030-12-31T23:59:00Z'),
          noInvalidDate: true,
        }),
        (minute, hour, at) => {
          const triggers = parseSchedule(`${minute} ${hour} * * *`);
          const fires = scheduleFires(triggers, at, (v) => parseSchedule(v));
          // Schedules are read in UTC, as LXD's are.
          expect(fires).toBe(at.getUTCMinutes() === minute && at.getUTCHours() === hour);
        },
      ),
      runs,
    );
  });

  it('reads an expiry written as amounts of units back as those amounts', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...EXPIRY_UNITS), {
          minLength: 1,
          maxLength: EXPIRY_UNITS.length,
        }),
        fc.array(fc.integer({ min: 1, max: 999 }), {
          minLength: EXPIRY_UNITS.length,
          maxLength: EXPIRY_UNITS.length,
        }),
        (units, amounts) => {
          const text = units.map((u, i) => `${amounts[i]}${u}`).join(' ');
          const parsed = tryParseExpiry(text);
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          for (const [i, u] of units.entries()) expect(parsed.value[u]).toBe(amounts[i]);
          for (const u of EXPIRY_UNITS.filter((x) => !units.includes(x)))
            expect(parsed.value[u]).toBe(0);
        },
      ),
      runs,
    );
  });
});

describe('raw.idmap', () => {
  it('never crashes: any text parses or is refused as INVALID_ARGUMENT naming the key', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        try {
          parseRawIdmap(text);
        } catch (error) {
          expect(error).toBeInstanceOf(EngineError);
          expect((error as EngineError).code).toBe('INVALID_ARGUMENT');
          expect((error as EngineError).message).toContain('raw.idmap');
        }
      }),
      runs,
    );
  });

  it('reads back lines written in the syntax', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('uid', 'gid', 'both'),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 1000 }),
        (type, host, ns, size) => {
          const range = (start: number) =>
            size === 1 ? `${start}` : `${start}-${start + size - 1}`;
          const [entry] = parseRawIdmap(`${type} ${range(host)} ${range(ns)}`);
          expect(entry).toMatchObject({
            isUid: type !== 'gid',
            isGid: type !== 'uid',
            hostId: host,
            nsId: ns,
            maprange: size,
          });
        },
      ),
      runs,
    );
  });
});

describe('names', () => {
  it('judges any text as a name without throwing, and never accepts a path or a control character', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        for (const kind of ['instance', 'snapshot'] as const) {
          const problem = nameProblem(text, kind);
          if (problem === undefined) {
            // eslint-disable-next-line no-control-regex
            expect(text).not.toMatch(/[/\u0000-\u001f\u007f]/);
            expect(['', '.', '..']).not.toContain(text);
          } else {
            expect(problem.code).toBe('INVALID_ARGUMENT');
          }
        }
      }),
      runs,
    );
  });

  it('accepts every LXD-valid instance name', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/), (name) => {
        expect(nameProblem(name, 'instance')).toBeUndefined();
      }),
      runs,
    );
  });

  it('snapshots.pattern always gives a fresh, valid snapshot name', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          'snap%d',
          'auto-%d',
          'nightly',
          'b%d-x',
          '{{ creation_date }}',
          'x{{creation_date}}-%d',
        ),
        fc.uniqueArray(fc.stringMatching(/^(snap|auto-|b|nightly)[0-9]{0,3}(-x)?$/), {
          maxLength: 12,
        }),
        (pattern, existing) => {
          const name = nextSnapshotName(pattern, existing);
          expect(existing).not.toContain(name);
          expect(nameProblem(name, 'snapshot')).toBeUndefined();
        },
      ),
      runs,
    );
  });
});

describe('config values', () => {
  const keys = Object.keys(configKeys).filter((k) => !k.includes('*'));

  it('judges any value of any key without throwing, naming the key of each problem', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 30 })), hostile, {
          maxKeys: 6,
        }),
        fc.boolean(),
        (config, profile) => {
          const problems = configProblems(config, {
            profile,
            expanded: false,
            allowVolatile: false,
            instanceType: 'container',
          });
          for (const p of problems) {
            expect(Object.keys(config)).toContain(p.key);
            // The key is quoted as a JSON string, so a key with a quote cannot forge a field.
            expect(p.field).toBe(`config[${JSON.stringify(p.key)}]`);
            expect(p.reason.length).toBeGreaterThan(0);
          }
        },
      ),
      runs,
    );
  });
});
