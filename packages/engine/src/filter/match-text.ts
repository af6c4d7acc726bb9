import { EngineError } from '../errors';

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
 * LXD compiles with Go's RE2; JavaScript's RegExp (without the `u` flag)
 * stands in for it. Lookaround and backreferences, which RE2 rejects, take
 * LXD's not-a-regex path. RE2 runs in linear time but a backtracking engine
 * can take exponential time on nested repetition, so such a value is refused.
 */
function compileLxdPattern(value: string): RegExp | undefined {
  const syntax = scanPattern(value);
  if (syntax === 'not-re2') return undefined;
  if (syntax === 'nested-repetition') {
    throw EngineError.invalid(
      'filter',
      `the pattern "${value}" repeats a group that itself repeats or alternates, ` +
        'which can take exponential time to match; simplify it',
    );
  }

  const anchored = value.includes('^') || value.includes('$') ? value : `^${value}$`;
  try {
    return new RegExp(anchored, 'i');
  } catch {
    return undefined;
  }
}

type PatternSyntax = 'ok' | 'not-re2' | 'nested-repetition';

interface Group {
  repeats: boolean;
  alternates: boolean;
}

/** Quantifier at `index`, if any: its length and whether it can repeat more than once. */
function quantifierAt(
  pattern: string,
  index: number,
): { length: number; repeats: boolean } | undefined {
  const char = pattern[index];
  if (char === '*' || char === '+') return { length: 1, repeats: true };
  if (char === '?') return { length: 1, repeats: false };
  if (char !== '{') return undefined;
  const braces = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(index));
  if (braces === null) return undefined;
  const [text, min = '0', comma, max] = braces;
  const upper = comma === undefined ? Number(min) : max === '' ? Infinity : Number(max);
  return { length: text.length, repeats: upper > 1 };
}

/**
 * A light scan, not a parser: enough to spot syntax RE2 lacks and a repeated
 * group whose body repeats or alternates, e.g. `(a+)+` or `(a|ab)*`.
 */
function scanPattern(pattern: string): PatternSyntax {
  const groups: Group[] = [{ repeats: false, alternates: false }];
  const current = (): Group => groups[groups.length - 1] ?? { repeats: false, alternates: false };

  let index = 0;
  while (index < pattern.length) {
    const char = pattern[index];

    if (char === '\\') {
      const next = pattern[index + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && pattern[index + 2] === '<')) return 'not-re2';
      index += 2;
    } else if (char === '[') {
      // A class is one atom; skip to its unescaped closing bracket.
      index++;
      while (index < pattern.length && pattern[index] !== ']') {
        index += pattern[index] === '\\' ? 2 : 1;
      }
      index++;
    } else if (char === '(') {
      if (/^\(\?(=|!|<=|<!)/.test(pattern.slice(index))) return 'not-re2';
      groups.push({ repeats: false, alternates: false });
      // `(?:`, `(?<name>`: the `?` is group syntax, not a quantifier.
      index += pattern[index + 1] === '?' ? 2 : 1;
      continue;
    } else if (char === ')') {
      const group = groups.length > 1 ? groups.pop() : undefined;
      index++;
      if (group === undefined) continue;
      const quantifier = quantifierAt(pattern, index);
      if (quantifier?.repeats && (group.repeats || group.alternates)) return 'nested-repetition';
      if (group.repeats || quantifier !== undefined) current().repeats = true;
      if (group.alternates) current().alternates = true;
      if (quantifier !== undefined) index += quantifier.length;
      continue;
    } else if (char === '|') {
      current().alternates = true;
      index++;
      continue;
    } else {
      index++;
    }

    // After an atom (escape, class or plain character): an optional quantifier.
    const quantifier = quantifierAt(pattern, index);
    if (quantifier !== undefined) {
      current().repeats = true;
      index += quantifier.length;
    }
  }
  return 'ok';
}
