import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import { fixedRandom } from './fixed-random';
import { cryptoRandom, randomInt } from './random-source';

describe('cryptoRandom', () => {
  it('returns numbers in [0, 1) that vary', () => {
    const values = Array.from({ length: 200 }, () => cryptoRandom());
    for (const value of values) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
    expect(new Set(values).size).toBeGreaterThan(190);
  });
});

describe('randomInt', () => {
  it.each([
    [0, 256, 0],
    [0.5, 256, 128],
    [0.999999, 256, 255],
    [0.25, 16, 4],
    [0.99, 1, 0],
  ])('random %d, bound %d -> %d', (value, bound, expected) => {
    expect(randomInt(fixedRandom(value), bound)).toBe(expected);
  });

  it.each([1, -0.1, Number.NaN, Number.POSITIVE_INFINITY, 2])(
    'refuses a source that returns %d (INTERNAL)',
    (value) => {
      let caught: unknown;
      try {
        randomInt(() => value, 10);
      } catch (error) {
        caught = error;
      }
      expect(isEngineError(caught, 'INTERNAL')).toBe(true);
      expect((caught as Error).message).toContain('expected a number in [0, 1)');
    },
  );
});

describe('fixedRandom', () => {
  it('cycles through its values', () => {
    const random = fixedRandom(0.1, 0.2);
    expect([random(), random(), random()]).toEqual([0.1, 0.2, 0.1]);
  });

  it('needs a value', () => {
    expect(() => fixedRandom()).toThrow('at least one value');
  });
});
