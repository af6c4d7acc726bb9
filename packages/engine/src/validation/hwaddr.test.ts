import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import { fixedRandom, pickValue } from './fixed-random';
import { HWADDR_PREFIX, isValidHwaddr, nextInterfaceHwaddr, validHwaddr } from './hwaddr';

/** Source values that make the generator emit bytes `a`, `b`, `c`. */
const bytes = (a: number, b: number, c: number): number[] =>
  [a, b, c].map((n) => pickValue(n, 256));

describe('isValidHwaddr (LXD validate.IsNetworkMAC)', () => {
  it.each([
    ['00:16:3e:ab:cd:ef', true],
    ['00:16:3E:AB:CD:EF', true],
    ['00:16:3e:AB:cd:01', true],
    ['ff:ff:ff:ff:ff:ff', true],
    ['00:00:00:00:00:00', true],
    ['0a:1b:2c:3d:4e:5f', true],
    ['', false],
    ['00:16:3e:ab:cd', false],
    ['00:16:3e:ab:cd:ef:01', false],
    ['00-16-3e-ab-cd-ef', false],
    ['0016.3eab.cdef', false],
    ['00:16:3e:ab:cd:eg', false],
    ['0:16:3e:ab:cd:ef', false],
    ['000:16:3e:ab:cd:ef', false],
    ['00:16:3e:ab:cd:ef ', false],
    [' 00:16:3e:ab:cd:ef', false],
    ['00:16:3e:ab:cd:ef\n', false],
    ['00:16:3e:ab:cd:e:f', false],
    ['00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01', false], // InfiniBand: not Ethernet
  ])('%j -> %s', (value, expected) => {
    expect(isValidHwaddr(value)).toBe(expected);
  });
});

describe('validHwaddr', () => {
  it('accepts a valid MAC', () => {
    expect(() => validHwaddr('02:16:3e:00:00:01')).not.toThrow();
  });

  it.each([
    ['nope', undefined, 'hwaddr'],
    ['00-16-3e-00-00-01', 'devices["eth0"].hwaddr', 'devices["eth0"].hwaddr'],
  ])('refuses %j naming the field', (value, field, expectedField) => {
    let caught: unknown;
    try {
      validHwaddr(value, field);
    } catch (error) {
      caught = error;
    }
    expect(isEngineError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect((caught as { field?: string }).field).toBe(expectedField);
    expect((caught as Error).message).toBe(
      `${expectedField}: Invalid MAC address, must be 6 bytes of hex separated by colons`,
    );
  });
});

describe('nextInterfaceHwaddr', () => {
  it('uses a locally administered, unicast prefix (LXD: 00:16:3e, globally administered)', () => {
    expect(HWADDR_PREFIX).toBe('02:16:3e');
    const firstOctet = parseInt(HWADDR_PREFIX.slice(0, 2), 16);
    expect(firstOctet & 0x02).toBe(0x02);
    expect(firstOctet & 0x01).toBe(0);
  });

  it.each<[number[], string]>([
    [bytes(0, 0, 0), '02:16:3e:00:00:00'],
    [bytes(1, 2, 3), '02:16:3e:01:02:03'],
    [bytes(0xab, 0xcd, 0xef), '02:16:3e:ab:cd:ef'],
    [bytes(255, 255, 255), '02:16:3e:ff:ff:ff'],
    [[0, 0.5, 0.999_999_9], '02:16:3e:00:80:ff'],
  ])('draws %j -> %s', (values, expected) => {
    expect(nextInterfaceHwaddr([], fixedRandom(...values))).toBe(expected);
  });

  it('is random, lower-case and valid by default', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const hwaddr = nextInterfaceHwaddr(seen);
      expect(hwaddr).toMatch(/^02:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
      expect(isValidHwaddr(hwaddr)).toBe(true);
      expect(seen.has(hwaddr)).toBe(false);
      seen.add(hwaddr);
    }
  });

  it.each([
    ['a Set', (macs: string[]) => new Set(macs)],
    ['an array', (macs: string[]) => macs],
    ['a generator', (macs: string[]) => macs.values()],
  ])('retries until unused, given %s', (_label, wrap) => {
    const random = fixedRandom(...bytes(1, 1, 1), ...bytes(2, 2, 2), ...bytes(3, 3, 3));
    const existing = wrap(['02:16:3e:01:01:01', '02:16:3e:02:02:02']);
    expect(nextInterfaceHwaddr(existing, random)).toBe('02:16:3e:03:03:03');
  });

  it('compares existing MACs case-insensitively', () => {
    const random = fixedRandom(...bytes(0xab, 0xcd, 0xef), ...bytes(0, 0, 1));
    expect(nextInterfaceHwaddr(['02:16:3E:AB:CD:EF'], random)).toBe('02:16:3e:00:00:01');
  });

  it('ignores existing MACs with another prefix', () => {
    const random = fixedRandom(...bytes(1, 2, 3));
    expect(nextInterfaceHwaddr(['00:16:3e:01:02:03'], random)).toBe('02:16:3e:01:02:03');
  });

  it('throws CONFLICT after 1000 collisions', () => {
    let calls = 0;
    const random = () => {
      calls++;
      return 0;
    };
    let caught: unknown;
    try {
      nextInterfaceHwaddr(['02:16:3e:00:00:00'], random);
    } catch (error) {
      caught = error;
    }
    expect(isEngineError(caught, 'CONFLICT')).toBe(true);
    expect((caught as Error).message).toBe(
      'hwaddr: no unused MAC address found after 1000 attempts',
    );
    expect(calls).toBe(3000);
  });

  it('refuses a broken random source', () => {
    let caught: unknown;
    try {
      nextInterfaceHwaddr([], () => 1);
    } catch (error) {
      caught = error;
    }
    expect(isEngineError(caught, 'INTERNAL')).toBe(true);
  });
});
