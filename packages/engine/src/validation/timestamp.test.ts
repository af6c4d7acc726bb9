import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import { timestampNanos } from './timestamp';

const ms = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;

describe('timestampNanos', () => {
  it.each<[string, bigint]>([
    ['1970-01-01T00:00:00Z', 0n],
    ['1970-01-01T00:00:00.000000001Z', 1n],
    ['2023-11-28T15:38:12Z', ms('2023-11-28T15:38:12Z')],
    ['2023-11-28T15:38:12.5Z', ms('2023-11-28T15:38:12.500Z')],
    ['2023-11-28T15:38:12.123456789Z', ms('2023-11-28T15:38:12.123Z') + 456_789n],
    // Go keeps nine digits of fraction and drops the rest
    ['2023-11-28T15:38:12.1234567891234Z', ms('2023-11-28T15:38:12.123Z') + 456_789n],
    // offsets name the same instant
    ['2023-11-28T17:38:12+02:00', ms('2023-11-28T15:38:12Z')],
    ['2023-11-28T10:08:12-05:30', ms('2023-11-28T15:38:12Z')],
    ['2023-11-28T15:38:12+00:00', ms('2023-11-28T15:38:12Z')],
    // LXD's "never" (Go's zero time) must not be read as 1901
    ['0001-01-01T00:00:00Z', -62_135_596_800_000n * 1_000_000n],
    ['1969-12-31T23:59:59.999999999Z', -1n],
    ['2024-02-29T00:00:00Z', ms('2024-02-29T00:00:00Z')],
  ])('%s', (value, expected) => {
    expect(timestampNanos(value)).toBe(expected);
  });

  it('accepts a Date', () => {
    expect(timestampNanos(new Date('2023-11-28T15:38:12.123Z'))).toBe(
      ms('2023-11-28T15:38:12.123Z'),
    );
  });

  it.each([
    '',
    'yesterday',
    '2023-11-28',
    '2023-11-28 15:38:12Z',
    '2023-11-28T15:38:12',
    '2023-11-28T15:38:12.Z',
    '2023-11-28T15:38Z',
    '2023-13-01T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2023-11-31T00:00:00Z',
    '2023-11-28T24:00:00Z',
    '2023-11-28T15:60:00Z',
    '2023-11-28T15:38:60Z',
    '2023-11-28T15:38:12+24:00',
    '2023-11-28T15:38:12+02:60',
    '2023-11-28T15:38:12+0200',
    ' 2023-11-28T15:38:12Z',
  ])('refuses %j', (value) => {
    let caught: unknown;
    try {
      timestampNanos(value, 'source[0].created_at');
    } catch (error) {
      caught = error;
    }
    expect(isEngineError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toBe(
      `source[0].created_at: invalid RFC 3339 timestamp "${value}"`,
    );
  });

  it('refuses an invalid Date', () => {
    expect(() => timestampNanos(new Date(Number.NaN))).toThrow('created_at: invalid date');
  });
});
