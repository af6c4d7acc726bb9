import { describe, expect, it } from 'vitest';
import { formatBytes, formatCpuTime, isFinished, progressOf } from './operations.ts';

describe('progressOf', () => {
  it('reads LXD-style string percents and the stage', () => {
    expect(progressOf({ progress: { percent: '42', stage: 'export' } })).toEqual({
      percent: 42,
      stage: 'export',
    });
  });
  it('accepts numbers and ignores missing or malformed progress', () => {
    expect(progressOf({ progress: { percent: 7 } })).toEqual({ percent: 7, stage: '' });
    expect(progressOf(null)).toBeNull();
    expect(progressOf({})).toBeNull();
    expect(progressOf({ progress: { percent: 'x' } })).toBeNull();
  });
});

describe('formatting', () => {
  it('formats bytes and CPU time', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(null)).toBe('—');
    expect(formatCpuTime(2_500_000_000)).toBe('2.5 s');
    expect(formatCpuTime(0)).toBe('—');
  });
  it('knows the final statuses', () => {
    expect(isFinished('Success')).toBe(true);
    expect(isFinished('Running')).toBe(false);
  });
});
