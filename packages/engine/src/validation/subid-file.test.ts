import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { MAX_ID } from './raw-idmap';
import { parseSubidFile, type SubidRange } from './subid-file';

const ubuntu = `# /etc/subuid as written by useradd and the LXD snap
ubuntu:100000:65536
root:1000000:1000000000
lxd:1000000:1000000000
`;

describe('parseSubidFile', () => {
  it.each<[string, string, string, SubidRange[]]>([
    ['root on a typical host', ubuntu, 'root', [{ start: 1_000_000, size: 1_000_000_000 }]],
    ['another user', ubuntu, 'ubuntu', [{ start: 100_000, size: 65_536 }]],
    ['a user with no ranges', ubuntu, 'nobody', []],
    ['an empty file', '', 'root', []],
    ['only comments and blank lines', '# nothing\n\n   \n#root:1:2\n', 'root', []],
    [
      'several ranges, in file order',
      'root:500000:1000\nroot:100000:65536\n',
      'root',
      [
        { start: 500_000, size: 1000 },
        { start: 100_000, size: 65_536 },
      ],
    ],
    [
      'a trailing comment',
      'root:100000:65536 # for LXD\n',
      'root',
      [{ start: 100_000, size: 65_536 }],
    ],
    [
      'CRLF and surrounding spaces',
      '  root:100000:65536  \r\n',
      'root',
      [{ start: 100_000, size: 65_536 }],
    ],
    [
      'extra fields are ignored (as LXD does)',
      'root:100000:65536:extra',
      'root',
      [{ start: 100_000, size: 65_536 }],
    ],
    [
      'a numeric owner is matched literally',
      '0:100000:65536',
      '0',
      [{ start: 100_000, size: 65_536 }],
    ],
    // LXD compares names case-insensitively; Linux user names (and shadow's
    // tools) are case-sensitive, so ROOT's range is not root's.
    ['names match exactly', 'ROOT:100000:65536', 'root', []],
    ['a range ending at the largest ID', `root:${MAX_ID}:1`, 'root', [{ start: MAX_ID, size: 1 }]],
    [
      "another user's bad numbers are not our business",
      'bob:x:y\nroot:1:65536',
      'root',
      [{ start: 1, size: 65_536 }],
    ],
  ])('%s', (_label, text, user, expected) => {
    expect(parseSubidFile(text, user)).toEqual(expected);
  });

  // LXD skips the user's lines with bad numbers silently, leaving the host
  // with no map and no reason; we say which line is wrong.
  it.each([
    ['too few fields', 'root:100000', 'line 1: expected "name:start:count", got "root:100000"'],
    [
      'too few fields on another user',
      'root:1:65536\nbob',
      'line 2: expected "name:start:count", got "bob"',
    ],
    ['a bad start', 'root:abc:65536', 'line 1: invalid start ID "abc"'],
    ['a negative count', 'root:1:-5', 'line 1: invalid ID count "-5"'],
    ['an empty count', '\nroot:1:', 'line 2: invalid ID count ""'],
    [
      'a range past the largest ID',
      `root:${MAX_ID}:2`,
      `line 1: range ${MAX_ID}+2 goes past the largest ID (${MAX_ID})`,
    ],
  ])('%s', (_label, text, expected) => {
    let caught: unknown;
    try {
      parseSubidFile(text, 'root');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EngineError);
    expect((caught as EngineError).code).toBe('INVALID_ARGUMENT');
    expect((caught as EngineError).field).toBe('/etc/subuid');
    expect((caught as EngineError).message).toBe(`/etc/subuid: ${expected}`);
  });

  it('names the file it was given', () => {
    expect(() => parseSubidFile('root:x:1', 'root', '/etc/subgid')).toThrow(
      '/etc/subgid: line 1: invalid start ID "x"',
    );
  });
});
