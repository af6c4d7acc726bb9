import { EngineError } from '../errors';
import type { Parsed } from './parse-cpuset';

/** LXD's byte-size suffixes (`units.ParseByteSizeString`): SI 1000-based, IEC 1024-based. */
const MULTIPLIERS: Record<string, number> = {
  '': 1,
  B: 1,
  ' bytes': 1,
  kB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  PB: 1e15,
  EB: 1e18,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  PiB: 2 ** 50,
  EiB: 2 ** 60,
};

/**
 * Parses `512MiB`, `1GB`, `128` (bytes) as LXD's `units.ParseByteSizeString`:
 * whole numbers only, suffix glued to the number, case-sensitive suffixes.
 * Unlike LXD (int64) we refuse sizes past 2^53 bytes (8 PiB), where a JS
 * number stops being exact; no memory or disk here comes near that.
 */
export function tryParseByteSize(value: string): Parsed<number> {
  const match = /^([0-9]+)(.*)$/s.exec(value);
  const digits = match?.[1];
  const suffix = match?.[2] ?? '';
  const multiplier = MULTIPLIERS[suffix];
  if (digits === undefined || multiplier === undefined)
    return { ok: false, reason: `Invalid value: ${value}` };
  const bytes = Number(digits) * multiplier;
  if (!Number.isSafeInteger(bytes)) return { ok: false, reason: `Value too large: ${value}` };
  return { ok: true, value: bytes };
}

export function parseByteSize(value: string, field = 'size'): number {
  const parsed = tryParseByteSize(value);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}

/** `limits.memory`: a fixed number of bytes or a share of the host's memory. */
export type MemoryLimit = { kind: 'bytes'; bytes: number } | { kind: 'percent'; percent: number };

/**
 * Parses `limits.memory` (`512MiB`, `1GB`, `50%`). Stricter than LXD 5.0.2,
 * which accepts any non-zero percentage (`101%`, even `-5%`): a share of the
 * host's memory is 1% to 100%.
 */
export function tryParseMemory(value: string): Parsed<MemoryLimit> {
  if (value.endsWith('%')) {
    const number = value.slice(0, -1);
    if (!/^[0-9]+$/.test(number)) return { ok: false, reason: `Invalid value: ${value}` };
    const percent = Number(number);
    if (percent === 0) return { ok: false, reason: "Memory limit can't be 0%" };
    if (percent > 100)
      return {
        ok: false,
        reason: `Memory limit must be between 1% and 100% of the host's memory, not ${value}`,
      };
    return { ok: true, value: { kind: 'percent', percent } };
  }
  const bytes = tryParseByteSize(value);
  if (!bytes.ok) return bytes;
  if (bytes.value === 0) return { ok: false, reason: "Memory limit can't be 0" };
  return { ok: true, value: { kind: 'bytes', bytes: bytes.value } };
}

export function parseMemory(value: string, field = 'config["limits.memory"]'): MemoryLimit {
  const parsed = tryParseMemory(value);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}
