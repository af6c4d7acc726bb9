import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import {
  MAX_CPU_ID,
  parseCpuLimit,
  parseCpuset,
  tryParseCpuLimit,
  tryParseCpuset,
} from './parse-cpuset';

describe('parseCpuset', () => {
  it.each([
    ['0', [0]],
    ['7', [7]],
    ['0-3', [0, 1, 2, 3]],
    ['2-2', [2]],
    ['0,1', [0, 1]],
    ['0-3,8,10-11', [0, 1, 2, 3, 8, 10, 11]],
    ['8,0-1', [0, 1, 8]],
    ['10-11,3', [3, 10, 11]],
    [`${MAX_CPU_ID}`, [MAX_CPU_ID]],
  ])('%j → %j', (value, ids) => {
    expect(parseCpuset(value)).toEqual(ids);
  });

  it.each([
    ['', 'empty entry'],
    [',', 'empty entry'],
    ['0,', 'empty entry'],
    [',1', 'empty entry'],
    ['0,,1', 'empty entry'],
    ['0-', 'empty entry'],
    ['-1', 'negative CPU number'],
    ['1,-2', 'negative CPU number'],
    ['a', '"a" is not a CPU number'],
    ['1.5', '"1.5" is not a CPU number'],
    [' 1', '" 1" is not a CPU number'],
    ['1 ', '"1 " is not a CPU number'],
    ['0-1-2', 'is not a CPU or a range'],
    ['0x1', 'is not a CPU number'],
    ['3-1', 'Invalid CPU range "3-1": start is greater than end'],
    ['0-1,1', 'Cannot define CPU multiple times (CPU 1)'],
    ['1,1', 'Cannot define CPU multiple times'],
    ['0-3,2-5', 'Cannot define CPU multiple times (CPU 2)'],
    [`${MAX_CPU_ID + 1}`, 'above the highest possible CPU'],
    ['0-4000000000', 'above the highest possible CPU'],
  ])('refuses %j (%s)', (value, reason) => {
    const parsed = tryParseCpuset(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('LXD 5.0.2 accepts the reversed range 1-0 (and pins to nothing); we refuse it', () => {
    expect(() => parseCpuset('1-0')).toThrow(/start is greater than end/);
  });

  it('throws an INVALID_ARGUMENT EngineError naming the field', () => {
    try {
      parseCpuset('3-1', 'config["limits.cpu"]');
      expect.unreachable();
    } catch (error) {
      expect(isEngineError(error, 'INVALID_ARGUMENT')).toBe(true);
      if (isEngineError(error)) {
        expect(error.field).toBe('config["limits.cpu"]');
        expect(error.message).toMatch(/^config\["limits\.cpu"\]: Invalid CPU range "3-1"/);
      }
    }
  });
});

describe('parseCpuLimit', () => {
  it.each([
    ['1', { kind: 'count', count: 1 }],
    ['64', { kind: 'count', count: 64 }],
    ['0-0', { kind: 'set', cpus: [0] }],
    ['2-2', { kind: 'set', cpus: [2] }],
    ['0,2', { kind: 'set', cpus: [0, 2] }],
    ['0-3,8', { kind: 'set', cpus: [0, 1, 2, 3, 8] }],
  ])('%j → %j', (value, limit) => {
    expect(parseCpuLimit(value)).toEqual(limit);
  });

  it('LXD 5.0.2 accepts a count of 0 (an instance with no CPU); we refuse it and point at 0-0', () => {
    const parsed = tryParseCpuLimit('0');
    expect(parsed).toEqual({ ok: false, reason: expect.stringContaining('"0-0"') });
  });

  it('refuses counts beyond the largest CPU id', () => {
    expect(tryParseCpuLimit(String(MAX_CPU_ID + 2)).ok).toBe(false);
  });

  it('names limits.cpu by default', () => {
    expect(() => parseCpuLimit('x')).toThrow(/^config\["limits\.cpu"\]: Invalid CPU limit syntax/);
  });
});
