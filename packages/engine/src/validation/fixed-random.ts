import type { RandomSource } from './random-source';

/**
 * A deterministic `RandomSource` for tests: returns `values` in order, then
 * starts over. Not exported from the package index.
 */
export function fixedRandom(...values: number[]): RandomSource {
  if (values.length === 0) throw new Error('fixedRandom needs at least one value');
  let next = 0;
  return () => {
    const value = values[next % values.length] as number;
    next++;
    return value;
  };
}

/** The source value that makes `randomInt(source, bound)` return `n`. */
export function pickValue(n: number, bound: number): number {
  return (n + 0.5) / bound;
}
