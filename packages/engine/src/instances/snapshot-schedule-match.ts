// When `snapshots.schedule` fires: cron semantics over the parsed triggers
// (minute resolution, in the host's UTC clock, as LXD's scheduler runs).
import type { ScheduleTrigger } from '../config/snapshot-schedule.ts';

const aliasCron: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@annually': '0 0 1 1 *',
  '@yearly': '0 0 1 1 *',
};

function cronFires(t: Extract<ScheduleTrigger, { kind: 'cron' }>, at: Date): boolean {
  if (!t.minutes.includes(at.getUTCMinutes())) return false;
  if (!t.hours.includes(at.getUTCHours())) return false;
  if (!t.months.includes(at.getUTCMonth() + 1)) return false;
  const dom = t.daysOfMonth.includes(at.getUTCDate());
  // Cron numbers Sunday 0 (7 is folded to 0 by the parser).
  const dow = t.daysOfWeek.includes(at.getUTCDay());
  if (t.daysOfMonthStar || t.daysOfWeekStar) return dom && dow;
  return dom || dow;
}

/**
 * Whether any trigger fires in the minute of `at`. `@startup` fires only
 * when `startup` is true (the engine's first pass); `@never` never.
 */
export function scheduleFires(
  triggers: readonly ScheduleTrigger[],
  at: Date,
  parseCron: (value: string) => ScheduleTrigger[],
  startup = false,
): boolean {
  return triggers.some((t) => {
    if (t.kind === 'cron') return cronFires(t, at);
    if (t.alias === '@startup') return startup;
    if (t.alias === '@never') return false;
    const cron = aliasCron[t.alias];
    return cron !== undefined && parseCron(cron).some((c) => c.kind === 'cron' && cronFires(c, at));
  });
}
