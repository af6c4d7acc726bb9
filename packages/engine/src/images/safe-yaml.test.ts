import { describe, expect, it } from 'vitest';
import { MAX_YAML_NESTING, parseYaml, writeYaml, yamlNesting } from './safe-yaml.ts';

const read = (text: string, maxBytes?: number) =>
  parseYaml(text, { file: 'metadata.yaml', ...(maxBytes ? { maxBytes } : {}) });

/** The classic billion laughs: 9^9 "lol"s from a few hundred bytes. */
function billionLaughs(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghi';
  for (let i = 1; i < names.length; i++) {
    const prev = `*${names[i - 1]}`;
    lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(prev).join(',')}]`);
  }
  return `${lines.join('\n')}\n`;
}

describe('parseYaml', () => {
  it('reads JSON-form YAML, keeping every scalar a string as Go reads it into LXD fields', () => {
    const json = JSON.stringify({
      architecture: 'x86_64',
      creation_date: 1700000000,
      properties: { release: 1.1, os: 'Busybox', empty: null },
      templates: { '/etc/hosts': { when: ['create', 'copy'], template: 'hosts.tpl' } },
    }).replace('1.1', '1.10');
    expect(read(json)).toEqual({
      architecture: 'x86_64',
      creation_date: '1700000000',
      properties: { release: '1.10', os: 'Busybox', empty: null },
      templates: { '/etc/hosts': { when: ['create', 'copy'], template: 'hosts.tpl' } },
    });
  });

  it('reads block YAML: comments, quotes, block scalars, sequences of mappings, nulls', () => {
    const doc = read(`# a comment
a: "tab\\there" # trailing
b: 'it''s [ # not a comment'
c: |
  line one
  line two
d: >-
  folded
  text
e:
- name: x
  value: 1
- name: y
f: ~
g:
h: "null"
i: !!str null
`);
    expect(doc).toEqual({
      a: 'tab\there',
      b: "it's [ # not a comment",
      c: 'line one\nline two\n',
      d: 'folded text',
      e: [{ name: 'x', value: '1' }, { name: 'y' }],
      f: null,
      g: null,
      h: 'null',
      i: 'null',
    });
    expect(read('')).toBeNull();
  });

  it('refuses a billion-laughs alias bomb with a clear error', () => {
    expect(() => read(billionLaughs())).toThrow(
      /^metadata.yaml: too many alias expansions \(a YAML alias bomb\?\)$/,
    );
    // A few aliases are still fine.
    expect(read('a: &x 1\nb: *x\n')).toEqual({ a: '1', b: '1' });
  });

  it('refuses text over the size cap before parsing it', () => {
    expect(() => read(`a: ${'x'.repeat(2048)}\n`, 1024)).toThrow(
      /^metadata.yaml: larger than 1024 bytes$/,
    );
    expect(() => read(`a: ${'x'.repeat(2 * 1024 * 1024)}\n`)).toThrow(/larger than 1048576 bytes/);
  });

  it('refuses deep nesting before the parser recurses into it', () => {
    expect(() => read(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toThrow(
      /nested more than 64 levels deep/,
    );
    expect(() => read(`${'- '.repeat(100_000)}x\n`)).toThrow(/nested more than 64 levels deep/);
    expect(yamlNesting('a: [[1], {b: [2]}]\nc: "[[[[["\n')).toBe(3);
    expect(yamlNesting('- - - x\n')).toBe(3);
    expect(yamlNesting(`${'['.repeat(MAX_YAML_NESTING)}${']'.repeat(MAX_YAML_NESTING)}`)).toBe(
      MAX_YAML_NESTING,
    );
  });

  it('refuses duplicate keys (in linear time), tags, complex keys and several documents', () => {
    expect(() => read('a: 1\na: 2\n')).toThrow(/^metadata.yaml: line 2: duplicate key "a"$/);
    expect(() => read('x:\n  a: 1\n  b: 2\n  a: 3\n')).toThrow(/line 4: duplicate key "a"/);
    expect(() => read('a: !!binary aGk=\n')).toThrow(/tags such as "tag:yaml.org,2002:binary"/);
    expect(() => read('a: !!js/function "x"\n')).toThrow(/metadata.yaml: .*tag/i);
    expect(() => read('a: !custom x\n')).toThrow(
      /^metadata.yaml: line 1: Unresolved tag: !custom$/,
    );
    expect(() => read('? [a]\n: b\n')).toThrow(/keys must be plain strings/);
    expect(() => read('a: 1\n---\nb: 2\n')).toThrow(/multiple documents/);
    expect(() => read('a:\n\tb: 1\n')).toThrow(
      /^metadata.yaml: line 2: Tabs are not allowed as indentation$/,
    );
    const many = Array.from({ length: 20_000 }, (_, i) => `k${i}: v`).join('\n');
    expect(Object.keys(read(many) as object)).toHaveLength(20_000);
  });

  it('writes what it reads back, quoting what YAML 1.1 readers (Go, LXD) would retype', () => {
    const value = {
      release: '1.35',
      yes: 'no',
      on: 'on',
      mode: '0755',
      os: 'busybox',
      list: ['create', 'copy'],
      empty: {},
      nested: { '/etc/hosts': { when: ['a'] } },
      colon: 'a: b',
      text: 'two\nlines\n',
      n: 3,
      flag: false,
      skipped: undefined,
    };
    const text = writeYaml(value);
    expect(text).toContain('release: "1.35"');
    expect(text).toContain('"yes": "no"');
    expect(text).toContain('mode: "0755"');
    expect(text).not.toContain('skipped');
    const { skipped: _skipped, ...written } = value;
    expect(read(text)).toEqual({ ...written, n: '3', flag: 'false' });
  });
});
