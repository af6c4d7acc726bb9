import { EngineError } from '../errors';

export type NameKind = 'instance' | 'snapshot';

/** Separates an instance from its snapshot in full names (`c1/snap0`), as in LXD. */
export const SNAPSHOT_DELIMITER = '/';

const utf8 = new TextEncoder();

// LXD measures names in bytes (Go `len`), so a non-ASCII name can fail on length first.
function byteLength(value: string): number {
  return utf8.encode(value).length;
}

function invalidName(message: string): EngineError {
  // Keep LXD's exact wording (it names the field already) so API errors read the same.
  return new EngineError('INVALID_ARGUMENT', message, { field: 'name' });
}

/**
 * LXD 5.0.2's `validate.IsHostname`, checks in the same order so the first
 * failing rule (and so the message) matches LXD's.
 */
function hostnameProblem(name: string): string | undefined {
  const length = byteLength(name);
  if (length < 1 || length > 63) return 'Name must be 1-63 characters long';
  if (name.startsWith('-')) return 'Name must not start with "-" character';
  if (name.endsWith('-')) return 'Name must not end with "-" character';
  if (/^[0-9]/.test(name)) return 'Name must not start with a number';
  if (!/^[-a-zA-Z0-9]+$/.test(name))
    return 'Name can only contain alphanumeric and hyphen characters';
  return undefined;
}

function instanceNameProblem(name: string): EngineError | undefined {
  // LXD checks the delimiter first, so `a/b` gets this message rather than the charset one.
  if (name.includes(SNAPSHOT_DELIMITER)) {
    return invalidName(`The character "${SNAPSHOT_DELIMITER}" is reserved for snapshots`);
  }
  const problem = hostnameProblem(name);
  return problem === undefined ? undefined : invalidName(`Invalid instance name: ${problem}`);
}

// Characters that would break the snapshot's URL segment (LXD's `IsURLSegmentSafe`).
const URL_UNSAFE = ['/', '?', '&', '+'] as const;
// Refused by newer LXD (`ValidSnapName`): glob and Windows path separators.
const PATH_UNSAFE = ['*', '\\'] as const;
// A snapshot becomes a directory / dataset name; longer would fail deep in storage.
const MAX_SNAPSHOT_NAME_BYTES = 255;

function snapshotNameProblem(name: string): EngineError | undefined {
  // LXD generates `snapN` for an empty name before validating; so does our caller.
  if (name === '') return invalidName('Invalid snapshot name: Name must not be empty');
  for (const char of URL_UNSAFE) {
    if (name.includes(char)) return invalidName(`Invalid snapshot name: Cannot contain "${char}"`);
  }
  if (name.includes(' ')) {
    return invalidName('Invalid instance snapshot name: Cannot contain space or / characters');
  }
  // Stricter than LXD 5.0.2, which only refuses the plain space.
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(name)) {
    return invalidName('Invalid snapshot name: Cannot contain whitespace or control characters');
  }
  for (const char of PATH_UNSAFE) {
    if (name.includes(char)) return invalidName(`Invalid snapshot name: Cannot contain "${char}"`);
  }
  if (name === '.' || name === '..') {
    return invalidName('Invalid snapshot name: Name must not be "." or ".."');
  }
  if (byteLength(name) > MAX_SNAPSHOT_NAME_BYTES) {
    return invalidName(
      `Invalid snapshot name: Name must be at most ${MAX_SNAPSHOT_NAME_BYTES} bytes long`,
    );
  }
  return undefined;
}

/**
 * The error `validName` would throw, or `undefined` when the name is valid.
 * For `snapshot`, `name` is the bare snapshot name (`snap0`, not `c1/snap0`).
 */
export function nameProblem(name: string, kind: NameKind): EngineError | undefined {
  switch (kind) {
    case 'instance':
      return instanceNameProblem(name);
    case 'snapshot':
      return snapshotNameProblem(name);
  }
}

/**
 * Throws an INVALID_ARGUMENT `EngineError` (field `name`) unless `name` is a
 * valid instance or bare snapshot name. Unlike LXD, the empty name is refused:
 * callers pick a random one (`randomInstanceName`) before validating.
 */
export function validName(name: string, kind: NameKind): void {
  const problem = nameProblem(name, kind);
  if (problem) throw problem;
}

export function validInstanceName(name: string): void {
  validName(name, 'instance');
}

export function validSnapshotName(name: string): void {
  validName(name, 'snapshot');
}
