import { EngineError } from '../errors';
import type { Parsed } from './parse-cpuset';

/**
 * LXD's expiry units (`shared.GetExpiry`): S seconds, M minutes, H hours,
 * d days, w weeks, m months, y years. Note the case: `30m` is thirty months.
 */
export const EXPIRY_UNITS = ['S', 'M', 'H', 'd', 'w', 'm', 'y'] as const;
export type ExpiryUnit = (typeof EXPIRY_UNITS)[number];
export type Expiry = Record<ExpiryUnit, number>;

const INVALID = 'Invalid expiry expression';

/**
 * Parses `snapshots.expiry` (`1d 2H`, `2w`): space-separated `<number><unit>`
 * terms, each unit at most once; the empty string means "never". LXD lets a
 * unit repeat when its first value is 0 (`0d 1d`); we refuse any repeat.
 */
export function tryParseExpiry(value: string): Parsed<Expiry> {
  const expiry: Expiry = { S: 0, M: 0, H: 0, d: 0, w: 0, m: 0, y: 0 };
  const text = value.trim();
  if (text === '') return { ok: true, value: expiry };
  const seen = new Set<ExpiryUnit>();
  // LXD splits on single spaces, so `1d  2H` (two spaces) is refused.
  for (const term of text.split(' ')) {
    const match = /^([0-9]+)(S|M|H|d|w|m|y)$/.exec(term);
    const unit = match?.[2] as ExpiryUnit | undefined;
    const amount = Number(match?.[1]);
    if (unit === undefined || seen.has(unit)) return { ok: false, reason: INVALID };
    if (!Number.isSafeInteger(amount))
      return { ok: false, reason: `${INVALID}: ${term} is too large` };
    seen.add(unit);
    expiry[unit] = amount;
  }
  return { ok: true, value: expiry };
}

export function parseExpiry(value: string, field = 'config["snapshots.expiry"]'): Expiry {
  const parsed = tryParseExpiry(value);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}

/**
 * When a snapshot taken at `from` expires, or `null` for no expiry. Calendar
 * units roll over as Go's `AddDate` does (Jan 31 + 1m = Mar 3), in UTC.
 */
export function expiryDate(from: Date, value: string): Date | null {
  const expiry = parseExpiry(value);
  if (Object.values(expiry).every((amount) => amount === 0)) return null;
  const date = new Date(
    Date.UTC(
      from.getUTCFullYear() + expiry.y,
      from.getUTCMonth() + expiry.m,
      from.getUTCDate() + expiry.d + expiry.w * 7,
      from.getUTCHours(),
      from.getUTCMinutes(),
      from.getUTCSeconds(),
      from.getUTCMilliseconds(),
    ),
  );
  return new Date(date.getTime() + ((expiry.H * 60 + expiry.M) * 60 + expiry.S) * 1000);
}
