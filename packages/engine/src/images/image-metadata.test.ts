import { describe, expect, it } from 'vitest';
import { parseImageMetadata, writeImageMetadata, type ImageMetadata } from './image-metadata.ts';

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

  it("parses LXD's test image metadata, written in JSON form", () => {
    // lxd/test/deps/import-busybox writes metadata.yaml with json.dumps.
    const json = JSON.stringify({
      architecture: 'x86_64',
      creation_date: 1700000000,
      properties: {
        name: 'busybox-x86_64',
        os: 'Busybox',
        release: '1.10',
        description: 'Busybox',
      },
      templates: {
        '/template': { when: ['create', 'copy'], template: 'template.tpl', properties: {} },
      },
    });
    expect(parseImageMetadata(json)).toEqual({
      architecture: 'x86_64',
      creationDate: 1700000000,
      expiryDate: 0,
      properties: {
        name: 'busybox-x86_64',
        os: 'Busybox',
        release: '1.10',
        description: 'Busybox',
      },
      templates: {
        '/template': { when: ['create', 'copy'], template: 'template.tpl', properties: {} },
      },
    });
  });

  it('refuses a metadata.yaml larger than a real one could be', () => {
    const text = `architecture: x86_64\nproperties:\n  description: ${'x'.repeat(300 * 1024)}\n`;
    expect(() => parseImageMetadata(text)).toThrow(/metadata.yaml: larger than 262144 bytes/);
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
