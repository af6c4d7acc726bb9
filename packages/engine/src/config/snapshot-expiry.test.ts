import { describe, expect, it } from 'vitest';
import { expiryDate, parseExpiry, tryParseExpiry } from './snapshot-expiry';

const ZERO = { S: 0, M: 0, H: 0, d: 0, w: 0, m: 0, y: 0 };

describe('parseExpiry (LXD shared.GetExpiry)', () => {
  it.each([
    ['', ZERO],
    ['  ', ZERO],
    ['1d', { ...ZERO, d: 1 }],
    ['2w', { ...ZERO, w: 2 }],
    ['3M', { ...ZERO, M: 3 }],
    ['30m', { ...ZERO, m: 30 }],
    ['1y', { ...ZERO, y: 1 }],
    ['1H', { ...ZERO, H: 1 }],
    ['45S', { ...ZERO, S: 45 }],
    ['1d 2H', { ...ZERO, d: 1, H: 2 }],
    [' 1y 2m 3w 4d 5H 6M 7S ', { S: 7, M: 6, H: 5, d: 4, w: 3, m: 2, y: 1 }],
  ])('%j → %j', (value, expiry) => {
    expect(parseExpiry(value)).toEqual(expiry);
  });

  it.each(['abc', '-1d', '1', 'd', '1D', '1h', '1.5d', '1d2H', '1d  2H', '1d,2H', '1d 2d'])(
    'refuses %j',
    (value) => {
      expect(tryParseExpiry(value)).toMatchObject({
        ok: false,
        reason: expect.stringContaining('Invalid expiry expression'),
      });
    },
  );

  it('LXD lets a unit repeat after a zero (0d 1d); we refuse any repeat', () => {
    expect(tryParseExpiry('0d 1d').ok).toBe(false);
  });

  it('throws naming snapshots.expiry', () => {
    expect(() => parseExpiry('abc')).toThrow(
      'config["snapshots.expiry"]: Invalid expiry expression',
    );
  });
});

describe('expiryDate', () => {
  const from = new Date('2024-01-31T10:00:00.000Z');

  it.each([
    ['1d', '2024-02-01T10:00:00.000Z'],
    ['1w', '2024-02-07T10:00:00.000Z'],
    ['1m', '2024-03-02T10:00:00.000Z'], // Go's AddDate normalises Feb 31 to Mar 2 (leap year)
    ['1y', '2025-01-31T10:00:00.000Z'],
    ['1d 2H 30M 15S', '2024-02-01T12:30:15.000Z'],
  ])('%j after %s', (value, expected) => {
    expect(expiryDate(from, value)?.toISOString()).toBe(expected);
  });

  it('is null when there is no expiry', () => {
    expect(expiryDate(from, '')).toBeNull();
    expect(expiryDate(from, '0d')).toBeNull();
  });
});
