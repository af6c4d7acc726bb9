import { EngineError } from '../errors';
import { compileTextMatcher, type TextMatcher } from './match-text';
import { describeClause, parseFilter, type FilterClause, type FilterJoin } from './parse-filter';
import { resolveField } from './resolve-field';

/** A compiled filter: patterns are built once, then applied to many objects. */
export type FilterPredicate = (obj: object) => boolean;

interface ClauseTest {
  join: FilterJoin;
  test: FilterPredicate;
}

/**
 * Compiles clauses into a predicate that folds them strictly left to right,
 * as LXD's `filter.Match` does: `result = result AND|OR clause`, starting from
 * `true`. There is no precedence, so `a or b and c` means `(a or b) and c`,
 * not boolean algebra's `a or (b and c)`; `a and b or c` agrees with it.
 * Every clause is evaluated (no short-circuit), so a type error in any clause
 * is reported whatever the clauses before it decided.
 */
export function compileFilter(clauses: readonly FilterClause[]): FilterPredicate {
  const tests = clauses.map(compileClause);
  return (obj) => {
    let match = true;
    for (const { join, test } of tests) {
      const clauseMatch = test(obj);
      match = join === 'and' ? match && clauseMatch : match || clauseMatch;
    }
    return match;
  };
}

/** Whether one object passes the filter (text or parsed clauses). */
export function matchFilter(obj: object, filter: string | readonly FilterClause[]): boolean {
  return compileFilter(typeof filter === 'string' ? parseFilter(filter) : filter)(obj);
}

/**
 * The objects that pass the filter, in their original order. The filter is
 * parsed before any object is looked at, so a syntax error is reported even
 * for an empty list; an empty filter keeps everything.
 */
export function filterObjects<T extends object>(
  list: readonly T[],
  filter: string | readonly FilterClause[],
): T[] {
  const clauses = typeof filter === 'string' ? parseFilter(filter) : filter;
  if (clauses.length === 0) return [...list];
  const matches = compileFilter(clauses);
  return list.filter((item) => matches(item));
}

function compileClause(clause: FilterClause, index: number): ClauseTest {
  const matchesText = compileTextMatcher(clause.value);
  const test: FilterPredicate = (obj) => {
    let match = valueEquals(resolveField(obj, clause.field), clause, index, matchesText);
    if (clause.operator === 'ne') match = !match;
    if (clause.not) match = !match;
    return match;
  };
  return { join: clause.join, test };
}

/**
 * `eq` for one field value, typed as LXD types it from the Go field: strings
 * by pattern, booleans and integers by parsed value, string lists by exact
 * JSON list. Values of other types cannot be compared and are an error, as in
 * LXD; a missing field equals nothing, as in LXD 5.0 (later LXD errors on it,
 * which breaks `devices.eth0.type eq nic` on any instance without eth0).
 */
function valueEquals(
  actual: unknown,
  clause: FilterClause,
  index: number,
  matchesText: TextMatcher,
): boolean {
  if (actual === undefined || actual === null) return false;
  if (typeof actual === 'string') return matchesText(actual);
  if (typeof actual === 'boolean') {
    return actual === parseValue(clause, index, 'a boolean (true or false)', parseGoBool);
  }
  if (typeof actual === 'number') {
    return actual === parseValue(clause, index, 'an integer', parseGoInteger);
  }
  if (Array.isArray(actual) && actual.every((item) => typeof item === 'string')) {
    const wanted = parseValue(
      clause,
      index,
      'a JSON list of strings like ["default"]',
      parseStringList,
    );
    return actual.length === wanted.length && actual.every((item, at) => item === wanted[at]);
  }

  const kind = Array.isArray(actual) ? 'a list of objects' : 'an object';
  throw clauseError(
    clause,
    index,
    `${clause.field} is ${kind}, which a filter cannot compare; name one of its fields`,
  );
}

function parseValue<T>(
  clause: FilterClause,
  index: number,
  expected: string,
  parse: (text: string) => T | undefined,
): T {
  const value = parse(clause.value);
  if (value === undefined) {
    throw clauseError(clause, index, `${clause.field} needs ${expected}, got "${clause.value}"`);
  }
  return value;
}

function clauseError(clause: FilterClause, index: number, reason: string): EngineError {
  return EngineError.invalid(
    'filter',
    `clause ${index + 1} (${describeClause(clause)}) at offset ${clause.offset}: ${reason}`,
  );
}

/** The spellings Go's `strconv.ParseBool` accepts. */
const GO_BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ...['1', 't', 'T', 'TRUE', 'true', 'True'].map((text) => [text, true] as const),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((text) => [text, false] as const),
]);

function parseGoBool(text: string): boolean | undefined {
  return GO_BOOLEANS.get(text);
}

/** Base-10 with an optional sign, as Go's `strconv.ParseInt(text, 10, 0)`. */
function parseGoInteger(text: string): number | undefined {
  return /^[+-]?\d+$/.test(text) ? Number(text) : undefined;
}

function parseStringList(text: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) return undefined;
  return parsed;
}
