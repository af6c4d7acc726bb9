import { describe, expect, it } from 'vitest';
import { parseSchedule, SCHEDULE_ALIASES, tryParseSchedule } from './snapshot-schedule';

describe('parseSchedule (LXD validate.IsCron)', () => {
  it.each(SCHEDULE_ALIASES.map((alias) => [alias]))('accepts the alias %s', (alias) => {
    expect(parseSchedule(alias)).toEqual([{ kind: 'alias', alias }]);
  });

  it('accepts aliases in any case, as LXD lowercases the value', () => {
    expect(parseSchedule('@Daily')).toEqual([{ kind: 'alias', alias: '@daily' }]);
  });

  it('expands a five-field cron spec', () => {
    expect(parseSchedule('0 6 * * *')).toEqual([
      {
        kind: 'cron',
        minutes: [0],
        hours: [6],
        daysOfMonth: Array.from({ length: 31 }, (_, i) => i + 1),
        months: Array.from({ length: 12 }, (_, i) => i + 1),
        daysOfWeek: [0, 1, 2, 3, 4, 5, 6],
        daysOfMonthStar: true,
        daysOfWeekStar: true,
      },
    ]);
  });

  it.each([
    ['*/15 * * * *', 'minutes', [0, 15, 30, 45]],
    ['5/20 * * * *', 'minutes', [5, 25, 45]],
    ['1-3,10 * * * *', 'minutes', [1, 2, 3, 10]],
    ['0-10/5 * * * *', 'minutes', [0, 5, 10]],
    ['0 ? * * *', 'hours', Array.from({ length: 24 }, (_, i) => i)],
    ['0 0 * jan-mar *', 'months', [1, 2, 3]],
    ['0 0 * JUN,dec *', 'months', [6, 12]],
    ['0 0 * * mon-fri', 'daysOfWeek', [1, 2, 3, 4, 5]],
    ['0 0 * * sun,sat', 'daysOfWeek', [0, 6]],
    ['0 0 1,15 * *', 'daysOfMonth', [1, 15]],
  ])('%j → %s %j', (value, field, expected) => {
    const [trigger] = parseSchedule(value);
    expect(trigger).toMatchObject({ kind: 'cron', [field]: expected });
  });

  it('marks restricted day fields (cron ORs them when both are restricted)', () => {
    expect(parseSchedule('0 0 1 * mon')[0]).toMatchObject({
      daysOfMonthStar: false,
      daysOfWeekStar: false,
    });
    expect(parseSchedule('0 0 */2 * *')[0]).toMatchObject({
      daysOfMonthStar: false,
      daysOfWeekStar: true,
    });
  });

  it('splits triggers on ", " (comma and space), as LXD does', () => {
    const triggers = parseSchedule('0 6 * * *, 0 18 * * *, @startup');
    expect(triggers.map((trigger) => trigger.kind)).toEqual(['cron', 'cron', 'alias']);
  });

  const SHAPE =
    'Schedule must be of the form: <minute> <hour> <day-of-month> <month> <day-of-week>';
  it.each([
    ['not-cron', SHAPE],
    ['@every 1h', SHAPE],
    ['@reboot', SHAPE],
    ['* * * *', SHAPE],
    ['* * * * * *', SHAPE],
    ['0  6 * * *', SHAPE],
    ['0 6 * * *,0 18 * * *', SHAPE],
    ['61 * * * *', 'Error parsing schedule: end of range (61) above maximum (59): 61'],
    ['* 24 * * *', 'Error parsing schedule: end of range (24) above maximum (23): 24'],
    ['* * 0 * *', 'Error parsing schedule: beginning of range (0) below minimum (1): 0'],
    ['* * 32 * *', 'end of range (32) above maximum (31)'],
    ['* * * 13 *', 'end of range (13) above maximum (12)'],
    ['* * * * 7', 'end of range (7) above maximum (6)'],
    ['5-1 * * * *', 'beginning of range (5) beyond end of range (1): 5-1'],
    ['*/0 * * * *', 'step of range should be a positive number: */0'],
    ['1-2-3 * * * *', 'too many hyphens: 1-2-3'],
    ['*/2/3 * * * *', 'too many slashes: */2/3'],
    ['a * * * *', 'failed to parse int from "a"'],
    ['1,,2 * * * *', 'failed to parse int from ""'],
    ['* * * foo *', 'failed to parse int from "foo"'],
    ['*-5 * * * *', 'failed to parse int from "*"'],
    ['0 6 * * *, bogus', SHAPE],
  ])('refuses %j', (value, reason) => {
    const parsed = tryParseSchedule(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('throws naming snapshots.schedule', () => {
    expect(() => parseSchedule('61 * * * *')).toThrow(
      /^config\["snapshots\.schedule"\]: Error parsing schedule/,
    );
  });
});
