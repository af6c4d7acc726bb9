import { EngineError } from '../errors';

// RFC 3339 as Go writes and reads it (`time.RFC3339Nano`): LXD's `created_at`.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Nanoseconds since the Unix epoch for an RFC 3339 timestamp or a `Date`.
 * JavaScript dates stop at milliseconds, but LXD keeps nanoseconds
 * (`2023-11-28T15:38:12.123456789Z`) and compares instants exactly, so two
 * snapshots a microsecond apart must not compare equal. Offsets are honoured:
 * `…T12:00:00+02:00` equals `…T10:00:00Z`, as Go's `Time.Equal` says.
 */
export function timestampNanos(value: string | Date, field = 'created_at'): bigint {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw EngineError.invalid(field, 'invalid date');
    return BigInt(ms) * 1_000_000n;
  }

  const match = RFC3339.exec(value);
  if (match === null) {
    throw EngineError.invalid(field, `invalid RFC 3339 timestamp "${value}"`);
  }
  const [
    ,
    year,
    month,
    day,
    hour,
    minute,
    second,
    fraction = '',
    sign,
    offsetHours,
    offsetMinutes,
  ] = match.map((part) => part ?? '');
  const parts = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [y, mo, d, h, mi, s] = parts;

  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999, and
  // Go's zero time is year 1.
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  const roundTrips =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  const offsetH = Number(offsetHours || 0);
  const offsetM = Number(offsetMinutes || 0);
  if (!roundTrips || offsetH > 23 || offsetM > 59) {
    throw EngineError.invalid(field, `invalid RFC 3339 timestamp "${value}"`);
  }

  const offsetMs = (sign === '-' ? -1 : 1) * (offsetH * 60 + offsetM) * 60_000;
  // Go keeps nine digits and drops the rest.
  const nanos = BigInt(fraction.slice(0, 9).padEnd(9, '0'));
  return BigInt(date.getTime() - offsetMs) * 1_000_000n + nanos;
}
