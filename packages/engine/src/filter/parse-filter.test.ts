import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { describeClause, parseFilter, type FilterClause } from './parse-filter';

type Expected = Omit<FilterClause, 'offset'> & { offset?: number };

function clause(partial: Partial<Expected> & Pick<Expected, 'field' | 'value'>): Expected {
  return { join: 'and', not: false, operator: 'eq', ...partial };
}

describe('parseFilter', () => {
  const cases: [string, Expected[]][] = [
    ['', []],
    ['   \t ', []],
    ['name eq c1', [clause({ field: 'name', value: 'c1', offset: 0 })]],
    ['  name   ne   c1  ', [clause({ field: 'name', operator: 'ne', value: 'c1', offset: 2 })]],
    ['config.limits.cpu eq 2', [clause({ field: 'config.limits.cpu', value: '2' })]],
    [
      'expanded_config.security.nesting eq true',
      [clause({ field: 'expanded_config.security.nesting', value: 'true' })],
    ],
    ['state.status eq Running', [clause({ field: 'state.status', value: 'Running' })]],
    ['description eq "my box"', [clause({ field: 'description', value: 'my box' })]],
    // Whitespace inside quotes is kept as written (LXD collapses it).
    ['description eq "my  \tbox "', [clause({ field: 'description', value: 'my  \tbox ' })]],
    // One-word and empty quoted values (LXD reports an unterminated quote).
    ['name eq "c1"', [clause({ field: 'name', value: 'c1' })]],
    ['config.limits.cpu eq ""', [clause({ field: 'config.limits.cpu', value: '' })]],
    // A quote ends a value only where it ends a word, as in LXD.
    ['description eq "say "hi there"', [clause({ field: 'description', value: 'say "hi there' })]],
    ['description eq "a"b c"', [clause({ field: 'description', value: 'a"b c' })]],
    // A quote inside an unquoted value is literal.
    ['description eq a"b', [clause({ field: 'description', value: 'a"b' })]],
    ['profiles eq ["default"]', [clause({ field: 'profiles', value: '["default"]' })]],
    ['profiles eq "["a", "b"]"', [clause({ field: 'profiles', value: '["a", "b"]' })]],
    ['not name eq c1', [clause({ field: 'name', value: 'c1', not: true, offset: 0 })]],
    // `not` is case-insensitive in LXD (strings.EqualFold).
    ['NOT name eq c1', [clause({ field: 'name', value: 'c1', not: true })]],
    ['Not name eq c1', [clause({ field: 'name', value: 'c1', not: true })]],
    [
      'name eq "my container" and status eq Running',
      [
        clause({ field: 'name', value: 'my container', offset: 0 }),
        clause({ field: 'status', value: 'Running', join: 'and', offset: 27 }),
      ],
    ],
    [
      'foo eq "bar egg" or not baz eq yuk',
      [
        clause({ field: 'foo', value: 'bar egg' }),
        clause({ field: 'baz', value: 'yuk', join: 'or', not: true, offset: 20 }),
      ],
    ],
    [
      'config.image.os eq ubuntu or devices.eth0.nictype eq bridged and ephemeral ne false',
      [
        clause({ field: 'config.image.os', value: 'ubuntu' }),
        clause({ field: 'devices.eth0.nictype', value: 'bridged', join: 'or' }),
        clause({ field: 'ephemeral', value: 'false', join: 'and', operator: 'ne' }),
      ],
    ],
    // Keywords are ordinary words where a field or value is expected, as in LXD.
    ['and eq or', [clause({ field: 'and', value: 'or' })]],
    ['name eq not', [clause({ field: 'name', value: 'not' })]],
  ];

  it.each(cases)('parses %j', (text, expected) => {
    const clauses = parseFilter(text);
    expect(clauses).toHaveLength(expected.length);
    expected.forEach((want, index) => {
      expect(clauses[index]).toMatchObject(want);
    });
  });

  const errors: [string, string][] = [
    ['not', 'incomplete not clause: "not" at offset 0'],
    ['name eq c1 and not', 'incomplete not clause: "not" at offset 15'],
    ['name', 'clause has no operator: "name" at offset 0'],
    ['not name', 'clause has no operator: "name" at offset 4'],
    ['name eq', 'clause has no value: "name eq" at offset 0'],
    ['name eq   ', 'clause has no value'],
    ['name gt 2', 'unknown operator "gt" at offset 5: expected eq or ne'],
    // Operators are case-sensitive in LXD.
    ['name EQ c1', 'unknown operator "EQ" at offset 5'],
    ['name == c1', 'unknown operator "=="'],
    ['"my field" eq x', 'unknown operator "field""'],
    ['description eq "my box', 'unterminated quote: the value at offset 15'],
    ['description eq "', 'unterminated quote'],
    ['description eq "my box"and name eq c1', 'unterminated quote'],
    ['name eq c1 and', 'unterminated compound clause: "and" at offset 11'],
    ['name eq c1 or   ', 'unterminated compound clause: "or" at offset 11'],
    ['description eq "bar egg" and', 'unterminated compound clause'],
    [
      'name eq c1 xor name eq c2',
      'invalid clause composition: expected "and" or "or" at offset 11, got "xor"',
    ],
    // `and`/`or` are case-sensitive in LXD.
    ['name eq c1 AND name eq c2', 'got "AND"'],
    ['name eq my box', 'got "box"'],
    ['name eq c1 and or', 'clause has no operator: "or" at offset 15'],
  ];

  it.each(errors)('rejects %j', (text, message) => {
    let thrown: unknown;
    try {
      parseFilter(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EngineError);
    const error = thrown as EngineError;
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.field).toBe('filter');
    expect(error.message).toMatch(/^filter: /);
    expect(error.message).toContain(message);
  });
});

describe('describeClause', () => {
  it.each([
    ['name eq c1', 'name eq c1'],
    ['not status ne "Stopped"', 'not status ne Stopped'],
    ['description eq "my box"', 'description eq "my box"'],
    ['config.limits.cpu eq ""', 'config.limits.cpu eq ""'],
  ])('writes %j back as %j', (text, written) => {
    const [parsed] = parseFilter(text);
    expect(parsed && describeClause(parsed)).toBe(written);
  });
});
