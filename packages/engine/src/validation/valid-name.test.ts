import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import {
  nameProblem,
  validInstanceName,
  validName,
  validSnapshotName,
  type NameKind,
} from './valid-name';

interface LxdNameAnswer {
  name: string;
  accepted: boolean;
  error: string;
}

// A copy of ../shared/reference/lxd-5.0.2/validation.json (real LXD 5.0.2 answers),
// kept in the repo so the test runs on a clean clone.
const fixtureUrl = new URL('../../test/fixtures/lxd-5.0.2/validation.json', import.meta.url);
const sharedUrl = new URL(
  '../../../../../shared/reference/lxd-5.0.2/validation.json',
  import.meta.url,
);
const lxd = JSON.parse(readFileSync(fixtureUrl, 'utf8')) as { instance_names: LxdNameAnswer[] };

/** The message `validName` throws, or '' when it accepts. */
function verdict(name: string, kind: NameKind): string {
  try {
    validName(name, kind);
    return '';
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    const engineError = error as EngineError;
    expect(engineError.code).toBe('INVALID_ARGUMENT');
    expect(engineError.field).toBe('name');
    return engineError.message;
  }
}

describe('validName: instance names against real LXD 5.0.2', () => {
  it('has a fixture identical to the shared reference', () => {
    if (!existsSync(sharedUrl)) return; // the shared folder is not part of a clone
    const read = (url: URL): unknown => JSON.parse(readFileSync(url, 'utf8'));
    expect(read(fixtureUrl)).toEqual(read(sharedUrl));
  });

  it('covers a useful number of LXD answers', () => {
    expect(lxd.instance_names.length).toBeGreaterThanOrEqual(20);
  });

  // Our one deliberate difference: LXD accepts '' because it then picks a random
  // name itself; our callers call randomInstanceName() first, so '' reaching the
  // validator is a bug and is refused.
  const deviations: Record<string, string> = {
    '': 'Invalid instance name: Name must be 1-63 characters long',
  };

  it.each(lxd.instance_names.map((answer) => [JSON.stringify(answer.name), answer] as const))(
    '%s',
    (_label, answer) => {
      const expected = deviations[answer.name] ?? (answer.accepted ? '' : answer.error);
      expect(verdict(answer.name, 'instance')).toBe(expected);
    },
  );
});

describe('validName: instance names, more cases', () => {
  it.each([
    // accepted
    ['a', ''],
    ['Z9', ''],
    ['web-01', ''],
    ['a'.repeat(63), ''],
    ['UPPER-lower-123', ''],
    // length is checked first, in bytes like LXD (Go's len)
    ['a'.repeat(64), 'Invalid instance name: Name must be 1-63 characters long'],
    ['-', 'Invalid instance name: Name must not start with "-" character'],
    ['é'.repeat(32), 'Invalid instance name: Name must be 1-63 characters long'],
    [
      'é'.repeat(31),
      'Invalid instance name: Name can only contain alphanumeric and hyphen characters',
    ],
    // then the leading and trailing hyphen, then a leading digit, then the charset
    ['-1', 'Invalid instance name: Name must not start with "-" character'],
    ['1-', 'Invalid instance name: Name must not end with "-" character'],
    ['9lives', 'Invalid instance name: Name must not start with a number'],
    ['1_', 'Invalid instance name: Name must not start with a number'],
    ['a\tb', 'Invalid instance name: Name can only contain alphanumeric and hyphen characters'],
    ['a\n', 'Invalid instance name: Name can only contain alphanumeric and hyphen characters'],
    ['a*', 'Invalid instance name: Name can only contain alphanumeric and hyphen characters'],
    // the snapshot delimiter is checked before anything else
    ['/', 'The character "/" is reserved for snapshots'],
    ['1/a', 'The character "/" is reserved for snapshots'],
    ['c1/snap0', 'The character "/" is reserved for snapshots'],
  ])('%j -> %j', (name, expected) => {
    expect(verdict(name, 'instance')).toBe(expected);
  });
});

describe('validName: snapshot names', () => {
  it.each([
    // LXD 5.0.2 accepts far more than instance names
    ['snap0', ''],
    ['0', ''],
    ['-', ''],
    ['before_upgrade', ''],
    ['2023-11-28T15:38:12', ''],
    ['ünïcode', ''],
    ['a.b', ''],
    ['...', ''],
    ['x'.repeat(255), ''],
    // refused by LXD 5.0.2's API (IsURLSegmentSafe), same text
    ['a/b', 'Invalid snapshot name: Cannot contain "/"'],
    ['a?b', 'Invalid snapshot name: Cannot contain "?"'],
    ['a&b', 'Invalid snapshot name: Cannot contain "&"'],
    ['a+b', 'Invalid snapshot name: Cannot contain "+"'],
    // refused by LXD 5.0.2's instance.ValidName, same text
    ['a b', 'Invalid instance snapshot name: Cannot contain space or / characters'],
    [' ', 'Invalid instance snapshot name: Cannot contain space or / characters'],
  ])('%j -> %j', (name, expected) => {
    expect(verdict(name, 'snapshot')).toBe(expected);
  });

  // Stricter than LXD 5.0.2, where it is plainly wrong:
  it.each([
    // '' : LXD picks `snapN` itself before validating; reaching us empty is a bug.
    ['', 'Invalid snapshot name: Name must not be empty'],
    // '.' and '..' become the snapshot's directory name and point at the parent
    // (newer LXD refuses '..' too).
    ['.', 'Invalid snapshot name: Name must not be "." or ".."'],
    ['..', 'Invalid snapshot name: Name must not be "." or ".."'],
    // Tabs, newlines and control characters break logs, shells and file names;
    // LXD only looks for the plain space.
    ['a\tb', 'Invalid snapshot name: Cannot contain whitespace or control characters'],
    ['a\nb', 'Invalid snapshot name: Cannot contain whitespace or control characters'],
    ['a\u00a0b', 'Invalid snapshot name: Cannot contain whitespace or control characters'],
    ['a\u0000b', 'Invalid snapshot name: Cannot contain whitespace or control characters'],
    ['a\u007fb', 'Invalid snapshot name: Cannot contain whitespace or control characters'],
    // '*' and '\' are refused by newer LXD (ValidSnapName) as path/glob hazards.
    ['a*', 'Invalid snapshot name: Cannot contain "*"'],
    ['a\\b', 'Invalid snapshot name: Cannot contain "\\"'],
    // A path component longer than 255 bytes fails in every storage driver.
    ['x'.repeat(256), 'Invalid snapshot name: Name must be at most 255 bytes long'],
    ['é'.repeat(128), 'Invalid snapshot name: Name must be at most 255 bytes long'],
  ])('stricter than LXD: %j -> %j', (name, expected) => {
    expect(verdict(name, 'snapshot')).toBe(expected);
  });

  it('reports the first problem in LXD order (URL-unsafe before space)', () => {
    expect(verdict('a b/c', 'snapshot')).toBe('Invalid snapshot name: Cannot contain "/"');
  });
});

describe('validInstanceName / validSnapshotName / nameProblem', () => {
  it('are validName with the kind fixed', () => {
    expect(() => validInstanceName('c1')).not.toThrow();
    expect(() => validInstanceName('1c')).toThrow('Name must not start with a number');
    expect(() => validSnapshotName('1c')).not.toThrow();
    expect(() => validSnapshotName('a/b')).toThrow('Cannot contain "/"');
  });

  it('returns the error instead of throwing', () => {
    expect(nameProblem('c1', 'instance')).toBeUndefined();
    const problem = nameProblem('c_1', 'instance');
    expect(problem).toBeInstanceOf(EngineError);
    expect(problem?.code).toBe('INVALID_ARGUMENT');
    expect(problem?.message).toBe(
      'Invalid instance name: Name can only contain alphanumeric and hyphen characters',
    );
  });
});
