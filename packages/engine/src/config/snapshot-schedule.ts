import { EngineError } from '../errors';
import type { Parsed } from './parse-cpuset';

/** Shorthands LXD accepts for `snapshots.schedule`, besides five-field cron. */
export const SCHEDULE_ALIASES = [
  '@hourly',
  '@daily',
  '@midnight',
  '@weekly',
  '@monthly',
  '@annually',
  '@yearly',
  '@startup',
  '@never',
] as const;
export type ScheduleAlias = (typeof SCHEDULE_ALIASES)[number];

export type ScheduleTrigger =
  | { kind: 'alias'; alias: ScheduleAlias }
  | {
      kind: 'cron';
      minutes: number[];
      hours: number[];
      daysOfMonth: number[];
      months: number[];
      daysOfWeek: number[];
      /**
       * Cron's day rule: when either day field is `*` both must match (AND);
       * when both are restricted, either may match (OR).
       */
      daysOfMonthStar: boolean;
      daysOfWeekStar: boolean;
    };

interface FieldBounds {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: readonly FieldBounds[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 6, names: DAY_NAMES },
];

const SHAPE_ERROR =
  'Schedule must be of the form: <minute> <hour> <day-of-month> <month> <day-of-week>';

function parseNumber(text: string, expr: string, bounds: FieldBounds): Parsed<number> {
  const named = bounds.names?.indexOf(text) ?? -1;
  if (named >= 0) return { ok: true, value: named + (bounds.name === 'month' ? 1 : 0) };
  if (/^-[0-9]+$/.test(text))
    return { ok: false, reason: `negative number (${text}) not allowed: ${expr}` };
  if (!/^[0-9]+$/.test(text))
    return { ok: false, reason: `failed to parse int from ${JSON.stringify(text)}: ${expr}` };
  return { ok: true, value: Number(text) };
}

/** One comma-separated item of a field (`*`, `5`, `1-5`, `*\/15`, `10/5`), robfig/cron's rules and messages. */
function parseRange(
  expr: string,
  bounds: FieldBounds,
): Parsed<{ values: number[]; star: boolean }> {
  const rangeAndStep = expr.split('/');
  if (rangeAndStep.length > 2) return { ok: false, reason: `too many slashes: ${expr}` };
  const [range = '', stepText] = rangeAndStep;
  const lowAndHigh = range.split('-');
  let start: number;
  let end: number;
  let star = false;
  if (range === '*' || range === '?') {
    [start, end, star] = [bounds.min, bounds.max, true];
  } else {
    if (lowAndHigh.length > 2) return { ok: false, reason: `too many hyphens: ${expr}` };
    const [lowText = '', highText] = lowAndHigh;
    const low = parseNumber(lowText, expr, bounds);
    if (!low.ok) return low;
    const high = highText === undefined ? low : parseNumber(highText, expr, bounds);
    if (!high.ok) return high;
    [start, end] = [low.value, high.value];
  }
  let step = 1;
  if (stepText !== undefined) {
    const parsed = parseNumber(stepText, expr, { ...bounds, names: undefined });
    if (!parsed.ok) return parsed;
    step = parsed.value;
    // `N/step` means `N-max/step`, as in robfig/cron.
    if (!star && lowAndHigh.length === 1) end = bounds.max;
    if (step > 1) star = false;
  }
  if (start < bounds.min)
    return {
      ok: false,
      reason: `beginning of range (${start}) below minimum (${bounds.min}): ${expr}`,
    };
  if (end > bounds.max)
    return { ok: false, reason: `end of range (${end}) above maximum (${bounds.max}): ${expr}` };
  if (start > end)
    return {
      ok: false,
      reason: `beginning of range (${start}) beyond end of range (${end}): ${expr}`,
    };
  if (step === 0)
    return { ok: false, reason: `step of range should be a positive number: ${expr}` };
  const values: number[] = [];
  for (let value = start; value <= end; value += step) values.push(value);
  return { ok: true, value: { values, star } };
}

function parseField(
  text: string,
  bounds: FieldBounds,
): Parsed<{ values: number[]; star: boolean }> {
  const values = new Set<number>();
  let star = false;
  for (const item of text.split(',')) {
    const parsed = parseRange(item, bounds);
    if (!parsed.ok) return parsed;
    parsed.value.values.forEach((value) => values.add(value));
    star ||= parsed.value.star;
  }
  return { ok: true, value: { values: [...values].sort((a, b) => a - b), star } };
}

function parseTrigger(text: string): Parsed<ScheduleTrigger> {
  const alias = SCHEDULE_ALIASES.find((candidate) => candidate === text);
  if (alias !== undefined) return { ok: true, value: { kind: 'alias', alias } };
  // LXD splits on single spaces, so a double space is a sixth (empty) field.
  const fields = text.split(' ');
  if (fields.length !== 5) return { ok: false, reason: SHAPE_ERROR };
  const parsed: { values: number[]; star: boolean }[] = [];
  for (const [index, bounds] of FIELDS.entries()) {
    const field = parseField(fields[index] ?? '', bounds);
    if (!field.ok) return { ok: false, reason: `Error parsing schedule: ${field.reason}` };
    parsed.push(field.value);
  }
  const [minutes, hours, dom, months, dow] = parsed as [
    (typeof parsed)[0],
    (typeof parsed)[0],
    (typeof parsed)[0],
    (typeof parsed)[0],
    (typeof parsed)[0],
  ];
  return {
    ok: true,
    value: {
      kind: 'cron',
      minutes: minutes.values,
      hours: hours.values,
      daysOfMonth: dom.values,
      months: months.values,
      daysOfWeek: dow.values,
      daysOfMonthStar: dom.star,
      daysOfWeekStar: dow.star,
    },
  };
}

/**
 * Parses `snapshots.schedule` as LXD's `validate.IsCron`: one or more triggers
 * separated by `, ` (comma and space; a bare comma is a cron list), each an
 * alias or a five-field cron spec. Case-insensitive, as LXD lowercases it.
 */
export function tryParseSchedule(value: string): Parsed<ScheduleTrigger[]> {
  const triggers: ScheduleTrigger[] = [];
  for (const text of value.toLowerCase().split(', ')) {
    const trigger = parseTrigger(text);
    if (!trigger.ok) return trigger;
    triggers.push(trigger.value);
  }
  return { ok: true, value: triggers };
}

export function parseSchedule(
  value: string,
  field = 'config["snapshots.schedule"]',
): ScheduleTrigger[] {
  const parsed = tryParseSchedule(value);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}
