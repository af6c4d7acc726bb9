import { EngineError } from '../errors';

/**
 * A source of uniformly distributed numbers in [0, 1), like `Math.random`.
 * Helpers that pick random values take one so tests can inject a fixed sequence.
 */
export type RandomSource = () => number;

/**
 * The default source: the Web Crypto API (global in Node 20 and browsers), so
 * this module stays free of Node imports.
 */
export const cryptoRandom: RandomSource = () => {
  const [value = 0] = globalThis.crypto.getRandomValues(new Uint32Array(1));
  return value / 2 ** 32;
};

/** An integer in [0, bound) drawn from `random`; throws if the source breaks its contract. */
export function randomInt(random: RandomSource, bound: number): number {
  const value = random();
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    // A broken injected source is a programming error, not bad user input.
    throw new EngineError(
      'INTERNAL',
      `random source returned ${value}, expected a number in [0, 1)`,
    );
  }
  return Math.floor(value * bound);
}
