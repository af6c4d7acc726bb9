import { describe, expect, it } from 'vitest';
import { compileTextMatcher } from './match-text';

describe('compileTextMatcher', () => {
  it.each<[string, string, boolean]>([
    // Anchored and case-insensitive.
    ['c1', 'c1', true],
    ['c1', 'C1', true],
    ['c1', 'c10', false],
    ['c1', 'xc1', false],
    ['running', 'Running', true],
    ['RUNNING', 'Running', true],
    // A regular expression.
    ['c1.*', 'c1', true],
    ['c1.*', 'c1-web', true],
    ['c1.*', 'c2', false],
    ['c[0-9]+', 'c42', true],
    ['c[0-9]+', 'c4x', false],
    ['web-.', 'web-1', true],
    ['x86_64', 'x86_64', true],
    ['1\\.35', '1.35', true],
    ['1.35', '1x35', true],
    // A ^ or $ anywhere turns the anchoring off.
    ['^c1', 'c1-web', true],
    ['web$', 'c1-web', true],
    ['^c1$', 'c1-web', false],
    ['[^x]1', 'ac1b', true],
    // LXD anchors by concatenation: `c1|c2` is `^c1|c2$`.
    ['c1|c2', 'c2', true],
    ['c1|c2', 'c1-web', true],
    ['c1|c2', 'web-c2', true],
    ['c1|c2', 'web-c2-x', false],
    ['(c1|c2)', 'c1-web', false],
    // Not a valid expression: compared as text, ignoring case.
    ['[', '[', true],
    ['[', 'x', false],
    ['*abc', '*ABC', true],
    ['(a', '(A', true],
    // Syntax RE2 lacks takes the same text path.
    ['(?=c)c1', '(?=c)C1', true],
    ['(?=c)c1', 'c1', false],
    ['(a)\\1', '(a)\\1', true],
    ['(a)\\1', 'aa', false],
    // Empty value: only the empty string.
    ['', '', true],
    ['', 'c1', false],
    // Spaces are ordinary characters.
    ['my box', 'My Box', true],
    ['my box', 'my  box', false],
    // Safe repetition is allowed.
    ['(ab)+', 'abab', true],
    ['(?:web|db)-[0-9]+', 'db-7', true],
    ['(a?)', 'a', true],
  ])('%j against %j → %s', (value, actual, expected) => {
    expect(compileTextMatcher(value)(actual)).toBe(expected);
  });

  // Go's RE2 accepts these and so does LXD: a linear-time engine has nothing to fear from them.
  it.each<[string, string, boolean]>([
    ['(a+)+', 'aaaa', true],
    ['(a*)*b', 'aaab', true],
    ['(a|ab)*', 'abab', true],
    ['(x+x+)+y', 'xxxxy', true],
    ['(x+x+)+y', 'xxxxz', false],
    ['(\\d+)*', '123', true],
  ])('matches nested repetition %j against %j → %s as RE2 does', (value, actual, expected) => {
    expect(compileTextMatcher(value)(actual)).toBe(expected);
  });

  // Each of these took a backtracking engine far too long (seconds to forever) on such values;
  // the answer coming back at all is what counts.
  it.each<[string, string, boolean]>([
    ['.*.*.*.*.*.*.*.*x', 'a'.repeat(100_000), false],
    ['.*.*.*.*.*.*.*.*x', `${'a'.repeat(100_000)}x`, true],
    ['(a+)+$', `${'a'.repeat(100_000)}!`, false],
    ['(x+x+)+y', 'x'.repeat(100_000), false],
    ['(a|aa)*c', 'a'.repeat(100_000), false],
  ])('answers %j on a 100 kB value (%#)', (value, actual, expected) => {
    expect(compileTextMatcher(value)(actual)).toBe(expected);
  });
});
