import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../config/snapshot-schedule.ts';
import { scheduleFires } from './snapshot-schedule-match.ts';

const fires = (schedule: string, iso: string, startup = false) =>
  scheduleFires(parseSchedule(schedule), new Date(iso), parseSchedule, startup);

describe('scheduleFires', () => {
  it.each([
    ['*/15 * * * *', '2026-11-28T10:30:00Z', true],
    ['*/15 * * * *', '2026-11-28T10:31:00Z', false],
    ['0 6 * * *', '2026-11-28T06:00:59Z', true],
    ['0 6 * * *', '2026-11-28T07:00:00Z', false],
    ['@hourly', '2026-11-28T07:00:00Z', true],
    ['@hourly', '2026-11-28T07:01:00Z', false],
    ['@daily', '2026-11-28T00:00:00Z', true],
    ['@weekly', '2026-11-29T00:00:00Z', true], // a Sunday
    ['@weekly', '2026-11-28T00:00:00Z', false],
    ['@monthly', '2026-12-01T00:00:00Z', true],
    ['@yearly', '2027-01-01T00:00:00Z', true],
    ['@never', '2027-01-01T00:00:00Z', false],
    // Both day fields restricted: either may match (cron's OR rule).
    ['0 0 1 * 1', '2026-11-30T00:00:00Z', true], // Monday the 30th
    ['0 0 1 * 1', '2026-12-01T00:00:00Z', true], // Tuesday the 1st
    ['0 0 1 * 1', '2026-12-02T00:00:00Z', false],
    // One day field is *: both must match.
    ['0 0 * * 1', '2026-12-01T00:00:00Z', false],
    ['0 12 * * *, 0 0 * * *', '2026-11-28T12:00:00Z', true],
  ])('%s at %s → %s', (schedule, iso, want) => {
    expect(fires(schedule, iso)).toBe(want);
  });

  it('@startup fires only on the start-up pass', () => {
    expect(fires('@startup', '2026-11-28T12:00:00Z')).toBe(false);
    expect(fires('@startup', '2026-11-28T12:00:00Z', true)).toBe(true);
  });
});
