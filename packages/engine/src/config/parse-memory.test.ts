import { describe, expect, it } from 'vitest';
import { parseByteSize, parseMemory, tryParseByteSize, tryParseMemory } from './parse-memory';

describe('parseByteSize (LXD units.ParseByteSizeString)', () => {
  it.each([
    ['0', 0],
    ['128', 128],
    ['128B', 128],
    ['128 bytes', 128],
    ['512kB', 512_000],
    ['1MB', 1_000_000],
    ['1GB', 1e9],
    ['1TB', 1e12],
    ['2PB', 2e15],
    ['1KiB', 1024],
    ['512MiB', 512 * 2 ** 20],
    ['1GiB', 2 ** 30],
    ['3TiB', 3 * 2 ** 40],
    ['7PiB', 7 * 2 ** 50],
  ])('%j → %d bytes', (value, bytes) => {
    expect(parseByteSize(value)).toBe(bytes);
  });

  it.each([
    ['', 'Invalid value: '],
    ['abc', 'Invalid value: abc'],
    ['-1', 'Invalid value: -1'],
    ['1.5GiB', 'Invalid value: 1.5GiB'],
    ['128 MiB', 'Invalid value: 128 MiB'],
    ['1gb', 'Invalid value: 1gb'],
    ['1KB', 'Invalid value: 1KB'],
    ['1kiB', 'Invalid value: 1kiB'],
    ['MiB', 'Invalid value: MiB'],
    [' 1', 'Invalid value:  1'],
    ['1GiB ', 'Invalid value: 1GiB '],
  ])('refuses %j', (value, reason) => {
    expect(tryParseByteSize(value)).toEqual({ ok: false, reason });
  });

  it('refuses sizes past 2^53 bytes, where LXD (int64) would still count: 1EB, 8EiB', () => {
    expect(tryParseByteSize('1EB')).toEqual({ ok: false, reason: 'Value too large: 1EB' });
    expect(tryParseByteSize('8EiB')).toEqual({ ok: false, reason: 'Value too large: 8EiB' });
    expect(tryParseByteSize('99999999999999999999')).toMatchObject({ ok: false });
  });

  it('throws naming the field', () => {
    expect(() => parseByteSize('x', 'devices["root"]["size"]')).toThrow(
      'devices["root"]["size"]: Invalid value: x',
    );
  });
});

describe('parseMemory', () => {
  it.each([
    ['512MiB', { kind: 'bytes', bytes: 512 * 2 ** 20 }],
    ['1GB', { kind: 'bytes', bytes: 1e9 }],
    ['128', { kind: 'bytes', bytes: 128 }],
    ['1%', { kind: 'percent', percent: 1 }],
    ['50%', { kind: 'percent', percent: 50 }],
    ['100%', { kind: 'percent', percent: 100 }],
  ])('%j → %j', (value, limit) => {
    expect(parseMemory(value)).toEqual(limit);
  });

  it.each([
    ['0', "Memory limit can't be 0"],
    ['0MiB', "Memory limit can't be 0"],
    ['0%', "Memory limit can't be 0%"],
    ['-5%', 'Invalid value: -5%'],
    ['1.5%', 'Invalid value: 1.5%'],
    ['%', 'Invalid value: %'],
    ['abc', 'Invalid value: abc'],
    ['', 'Invalid value: '],
  ])('refuses %j', (value, reason) => {
    expect(tryParseMemory(value)).toEqual({ ok: false, reason });
  });

  it('LXD 5.0.2 accepts 101% (and -5%); a share of host memory is 1% to 100%, so we refuse them', () => {
    expect(tryParseMemory('101%')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('between 1% and 100%'),
    });
    expect(tryParseMemory('1000%').ok).toBe(false);
  });

  it('names limits.memory by default', () => {
    expect(() => parseMemory('0')).toThrow(`config["limits.memory"]: Memory limit can't be 0`);
  });
});
