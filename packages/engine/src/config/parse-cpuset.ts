import { EngineError } from '../errors';
import { quote } from './value-checks';

/**
 * The highest CPU id we accept: Linux's NR_CPUS tops out at 8192. It also
 * keeps `0-4000000000` from expanding into billions of ids.
 */
export const MAX_CPU_ID = 8191;

/** A parse that either gives a value or the reason it failed (no throwing in the tables). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

function fail<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

function cpuId(text: string, value: string): Parsed<number> {
  if (!/^[0-9]+$/.test(text)) {
    const why = text === '' ? 'empty entry' : `${quote(text)} is not a CPU number`;
    return fail(`Invalid CPU limit syntax: ${why} in ${quote(value)}`);
  }
  const id = Number(text);
  if (id > MAX_CPU_ID) return fail(`CPU ${text} is above the highest possible CPU (${MAX_CPU_ID})`);
  return { ok: true, value: id };
}

/**
 * Parses a cpuset list (`0-3,8,10-11`) as LXD's `IsValidCPUSet` checks it, but
 * stricter: a reversed range (`3-1`) is an error where LXD 5.0.2 accepts it
 * and then pins to nothing. Gives the ids sorted; a CPU named twice is an error.
 */
export function tryParseCpuset(value: string): Parsed<number[]> {
  const seen = new Set<number>();
  for (const part of value.split(',')) {
    if (part.startsWith('-'))
      return fail(`Invalid CPU limit syntax: negative CPU number in ${quote(value)}`);
    const bounds = part.split('-');
    if (bounds.length > 2)
      return fail(`Invalid CPU limit syntax: ${quote(part)} is not a CPU or a range`);
    const [lowText = '', highText] = bounds;
    const low = cpuId(lowText, value);
    if (!low.ok) return low;
    const high = highText === undefined ? low : cpuId(highText, value);
    if (!high.ok) return high;
    if (high.value < low.value) {
      return fail(`Invalid CPU range ${quote(part)}: start is greater than end`);
    }
    for (let id = low.value; id <= high.value; id++) {
      if (seen.has(id)) return fail(`Cannot define CPU multiple times (CPU ${id})`);
      seen.add(id);
    }
  }
  return { ok: true, value: [...seen].sort((a, b) => a - b) };
}

/** `parseCpuset('0-3,8,10-11')` → `[0, 1, 2, 3, 8, 10, 11]`; throws INVALID_ARGUMENT naming `field`. */
export function parseCpuset(value: string, field = 'cpuset'): number[] {
  const parsed = tryParseCpuset(value);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}

/** `limits.cpu` is either a number of CPUs (balanced by the engine) or a cpuset to pin to. */
export type CpuLimit = { kind: 'count'; count: number } | { kind: 'set'; cpus: number[] };

/**
 * Parses `limits.cpu`: a plain number is a count, anything else a cpuset (so
 * pinning to CPU 0 alone is `0-0`). Stricter than LXD 5.0.2, which accepts a
 * count of `0` (an instance that can run on no CPU) and reversed ranges.
 */
export function tryParseCpuLimit(value: string): Parsed<CpuLimit> {
  if (/^[0-9]+$/.test(value)) {
    const count = Number(value);
    if (count < 1) return fail('A CPU count must be at least 1 (to pin CPU 0 alone, use "0-0")');
    if (count > MAX_CPU_ID + 1) return fail(`A CPU count must be at most ${MAX_CPU_ID + 1}`);
    return { ok: true, value: { kind: 'count', count } };
  }
  const set = tryParseCpuset(value);
  return set.ok ? { ok: true, value: { kind: 'set', cpus: set.value } } : set;
}

export function parseCpuLimit(value: string, field = 'config["limits.cpu"]'): CpuLimit {
  const parsed = tryParseCpuLimit(value);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}
