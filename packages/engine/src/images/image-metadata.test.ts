import { describe, expect, it } from 'vitest';
import { parseImageMetadata, writeImageMetadata, type ImageMetadata } from './image-metadata.ts';
import { parseYaml, writeYaml } from './yaml-subset.ts';

// What distrobuilder writes for images:debian/12 (abridged).
const distrobuilder = `architecture: x86_64
creation_date: 1700000000
expiry_date: 1702592000
properties:
  architecture: amd64
  description: Debian bookworm amd64 (20231114_05:24)
  name: debian-bookworm-amd64-default-20231114_05:24
  os: debian
  release: bookworm
  serial: "20231114_05:24"
  variant: default
templates:
  /etc/hostname:
    when:
    - create
    - copy
    create_only: false
    template: hostname.tpl
    properties: {}
  /etc/hosts:
    when: [create, copy]
    template: hosts.tpl
`;

describe('parseYaml', () => {
  it('reads block mappings, sequences (indented or not), quotes and flow collections', () => {
    expect(parseYaml(distrobuilder)).toMatchObject({
      architecture: 'x86_64',
      creation_date: '1700000000',
      properties: {
        serial: '20231114_05:24',
        name: 'debian-bookworm-amd64-default-20231114_05:24',
      },
      templates: {
        '/etc/hostname': {
          when: ['create', 'copy'],
          create_only: 'false',
          template: 'hostname.tpl',
          properties: {},
        },
        '/etc/hosts': { when: ['create', 'copy'] },
      },
    });
  });

  it('reads comments, escapes, block scalars and sequences of mappings', () => {
    const doc = parseYaml(`# a comment
a: "tab\\there" # trailing
b: 'it''s'
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
`);
    expect(doc).toEqual({
      a: 'tab\there',
      b: "it's",
      c: 'line one\nline two\n',
      d: 'folded text',
      e: [{ name: 'x', value: '1' }, { name: 'y' }],
      f: null,
    });
  });

  it('refuses tabs, duplicate keys and bad indentation with the line number', () => {
    expect(() => parseYaml('a:\n\tb: 1\n')).toThrow(/line 2: tabs/);
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow(/line 2: duplicate key "a"/);
    expect(() => parseYaml('a: 1\n    b: 2\n')).toThrow(/line 2/);
  });

  it('writes what it reads back, quoting what YAML would otherwise retype', () => {
    const value = {
      release: '1.35',
      yes: 'no',
      os: 'busybox',
      list: ['create', 'copy'],
      empty: {},
      nested: { '/etc/hosts': { when: ['a'] } },
      colon: 'a: b',
      n: 3,
    };
    const text = writeYaml(value);
    expect(text).toContain('release: "1.35"');
    expect(text).toContain('"yes": "no"');
    expect(parseYaml(text)).toEqual({ ...value, n: '3' });
  });
});

describe('image metadata', () => {
  it('parses distrobuilder metadata', () => {
    const m = parseImageMetadata(distrobuilder);
    expect(m.architecture).toBe('x86_64');
    expect(m.creationDate).toBe(1700000000);
    expect(m.expiryDate).toBe(1702592000);
    expect(m.properties.os).toBe('debian');
    expect(m.templates['/etc/hostname']).toEqual({
      when: ['create', 'copy'],
      template: 'hostname.tpl',
      properties: {},
    });
  });

  it('round-trips what it writes', () => {
    const m: ImageMetadata = {
      architecture: 'x86_64',
      creationDate: 1764343662,
      expiryDate: 0,
      properties: { description: 'BusyBox v1.35.0', os: 'busybox', release: '1.35' },
      templates: {
        '/etc/hostname': { when: ['create', 'copy', 'rename'], template: 'hostname.tpl' },
      },
    };
    expect(parseImageMetadata(writeImageMetadata(m))).toEqual(m);
  });

  it('names the field that is wrong', () => {
    expect(() => parseImageMetadata('creation_date: 1\n')).toThrow(
      /metadata.yaml: architecture: is required/,
    );
    expect(() => parseImageMetadata('architecture: x86_64\ncreation_date: soon\n')).toThrow(
      /creation_date: must be a unix timestamp/,
    );
    expect(() => parseImageMetadata('architecture: x86_64\nproperties:\n  os:\n    - a\n')).toThrow(
      /properties.os: must be a string/,
    );
    expect(() =>
      parseImageMetadata(
        'architecture: x86_64\ntemplates:\n  /etc/x:\n    template: ../../etc/shadow\n',
      ),
    ).toThrow(/must be a file name in templates/);
    expect(() => parseImageMetadata('- a\n')).toThrow(/must be a mapping/);
  });
});
