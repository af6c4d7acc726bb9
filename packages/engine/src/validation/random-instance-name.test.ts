import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import { fixedRandom, pickValue } from './fixed-random';
import { NAME_ADJECTIVES, NAME_NOUNS, randomInstanceName } from './random-instance-name';
import { nameProblem } from './valid-name';

const adjectives = NAME_ADJECTIVES.length;
const nouns = NAME_NOUNS.length;

/** A source that picks adjective `a` and noun `n`. */
function picking(a: number, n: number): number[] {
  return [pickValue(a, adjectives), pickValue(n, nouns)];
}

describe('randomInstanceName', () => {
  it('builds adjective-noun from the injected source', () => {
    const random = fixedRandom(...picking(0, 0));
    expect(randomInstanceName([], random)).toBe(`${NAME_ADJECTIVES[0]}-${NAME_NOUNS[0]}`);
    const last = fixedRandom(...picking(adjectives - 1, nouns - 1));
    expect(randomInstanceName([], last)).toBe(`${NAME_ADJECTIVES.at(-1)}-${NAME_NOUNS.at(-1)}`);
  });

  it('always produces a valid instance name (every pair of words)', () => {
    for (const adjective of NAME_ADJECTIVES) {
      for (const noun of NAME_NOUNS) {
        expect(nameProblem(`${adjective}-${noun}`, 'instance')).toBeUndefined();
      }
    }
  });

  it('has lower-case, unique words and enough pairs to rarely collide', () => {
    for (const words of [NAME_ADJECTIVES, NAME_NOUNS]) {
      expect(new Set(words).size).toBe(words.length);
      for (const word of words) expect(word).toMatch(/^[a-z]+$/);
    }
    expect(adjectives * nouns).toBeGreaterThanOrEqual(5000);
  });

  it('uses the crypto source by default', () => {
    const names = new Set(Array.from({ length: 50 }, () => randomInstanceName()));
    for (const name of names) expect(nameProblem(name, 'instance')).toBeUndefined();
    expect(names.size).toBeGreaterThan(40);
  });

  it.each([
    ['a Set', (names: string[]) => new Set(names)],
    ['an array', (names: string[]) => names],
    ['a generator', (names: string[]) => names.values()],
  ])('skips names already taken, given as %s', (_label, wrap) => {
    const taken = `${NAME_ADJECTIVES[0]}-${NAME_NOUNS[0]}`;
    const free = `${NAME_ADJECTIVES[1]}-${NAME_NOUNS[2]}`;
    const random = fixedRandom(...picking(0, 0), ...picking(1, 2));
    expect(randomInstanceName(wrap([taken]), random)).toBe(free);
  });

  it('compares taken names case-insensitively', () => {
    const taken = `${NAME_ADJECTIVES[0]}-${NAME_NOUNS[0]}`.toUpperCase();
    const random = fixedRandom(...picking(0, 0), ...picking(3, 4));
    expect(randomInstanceName([taken], random)).toBe(`${NAME_ADJECTIVES[3]}-${NAME_NOUNS[4]}`);
  });

  it('gives up with CONFLICT after 100 collisions, like LXD', () => {
    const taken = `${NAME_ADJECTIVES[0]}-${NAME_NOUNS[0]}`;
    let calls = 0;
    const random = () => {
      calls++;
      return 0;
    };
    let caught: unknown;
    try {
      randomInstanceName([taken], random);
    } catch (error) {
      caught = error;
    }
    expect(isEngineError(caught, 'CONFLICT')).toBe(true);
    expect((caught as Error).message).toBe(
      "name: Couldn't generate a new unique name after 100 tries",
    );
    expect(calls).toBe(200);
  });

  it('succeeds on the 100th try', () => {
    const taken = `${NAME_ADJECTIVES[0]}-${NAME_NOUNS[0]}`;
    const values = [...Array.from({ length: 99 }, () => picking(0, 0)).flat(), ...picking(5, 6)];
    expect(randomInstanceName([taken], fixedRandom(...values))).toBe(
      `${NAME_ADJECTIVES[5]}-${NAME_NOUNS[6]}`,
    );
  });
});
