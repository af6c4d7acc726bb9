import { RE2JS } from 're2js';

/**
 * LXD's rule for a string field: the filter value is a case-insensitive
 * regular expression, anchored with `^…$` unless it already contains `^` or
 * `$` anywhere. LXD anchors by plain concatenation, so `c1|c2` becomes
 * `^c1|c2$` ("starts with c1 or ends with c2"); that is kept as is.
 * A value that is not a valid expression is compared as text, ignoring case.
 */
export type TextMatcher = (actual: string) => boolean;

export function compileTextMatcher(value: string): TextMatcher {
  const pattern = compileLxdPattern(value);
  if (pattern !== undefined) return (actual) => pattern.test(actual);
  const wanted = value.toLowerCase();
  return (actual) => actual.toLowerCase() === wanted;
}

/**
 * LXD compiles with Go's RE2, and so does this: re2js is a port of Go's
 * regexp, so the syntax it refuses (lookaround, backreferences) is the same
 * and takes LXD's not-a-regex path. Above all it matches in time linear in
 * the value: a filter is any caller's text, and a backtracking engine
 * (JavaScript's RegExp) took seconds on `.*.*.*.*.*.*.*.*x`, with the event
 * loop, and so every other request, stalled for as long.
 */
function compileLxdPattern(value: string): RE2JS | undefined {
  const anchored = value.includes('^') || value.includes('$') ? value : `^${value}$`;
  try {
    return RE2JS.compile(anchored, RE2JS.CASE_INSENSITIVE);
  } catch {
    return undefined;
  }
}
