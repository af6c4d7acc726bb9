import { describe, expect, it } from 'vitest';
import { cpuNsFromStat, isAlive } from './vm-runtime.ts';

describe('cpuNsFromStat', () => {
  it('adds utime and stime (ticks) after a comm with spaces and parentheses', () => {
    const stat = '1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 99';
    expect(cpuNsFromStat(stat)).toBe(3_000_000_000);
  });
});

describe('isAlive', () => {
  it('sees this process and not a pid that does not exist', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(2 ** 22 + 1)).toBe(false);
  });
});
