// A container's split rootfs is a squashfs. Before `unsquashfs` writes
// anything, its listing (`unsquashfs -lln -d rootfs FILE`: one line per
// entry, numeric owners, paths under `rootfs/`) is run entry by entry
// through the image tarball's checker in `rootfs` mode, so a squashfs is
// held to the same rules as a tarball's rootfs/: no `..`, no relative
// symlink that climbs out of rootfs/, no entry of an unknown type.
//
// The listing is text, so it is read strictly: a line that is not an entry
// (a name or symlink target holding a newline) and a symlink line with more
// than one " -> " (where the name ends cannot be told) are refused rather
// than guessed at.
import { EngineError } from '../errors.ts';
import { ArchiveEntryChecker, type ArchiveEntry, type ArchiveWhere } from './image-entry-check.ts';

export const SQUASHFS_ROOTFS: ArchiveWhere = { label: 'Squashfs rootfs', field: 'rootfs' };

/** unsquashfs's first mode letter → node-tar's type names, which the checker reads. */
const TYPE_OF_MODE: Record<string, string> = {
  '-': 'File',
  d: 'Directory',
  l: 'SymbolicLink',
  c: 'CharacterDevice',
  b: 'BlockDevice',
  p: 'FIFO',
  s: 'Socket',
};

// `drwxr-xr-x 0/0   91 2026-12-03 14:48 rootfs/bin`; a device's size is `1,  3`.
const LINE =
  /^([-dlcbps])[-rwxsStT]{9} (\d+)\/(\d+) +(?:\d+|\d+, *\d+) \d{4,}-\d\d-\d\d \d\d:\d\d (rootfs(?:\/.*)?)$/;

const ARROW = ' -> ';

function refuse(reason: string): EngineError {
  return EngineError.invalid('rootfs', reason);
}

/** One listing line as an archive entry; throws on a line that is not one. */
export function parseListingLine(line: string): ArchiveEntry {
  const match = LINE.exec(line);
  if (!match)
    throw refuse(
      `the squashfs listing line "${line.slice(0, 200)}" is not an entry (names holding a newline are not supported)`,
    );
  const type = TYPE_OF_MODE[match[1]!]!;
  const rest = match[4]!;
  if (type !== 'SymbolicLink') return { path: rest, type };
  const first = rest.indexOf(ARROW);
  if (first === -1) return { path: rest, type }; // no target: the checker refuses it
  if (rest.indexOf(ARROW, first + 1) !== -1)
    throw refuse(
      `the squashfs symlink "${rest.slice(0, 200)}" has " -> " in its name or target, which its listing cannot tell apart`,
    );
  return { path: rest.slice(0, first), type, linkpath: rest.slice(first + ARROW.length) };
}

/** Checks every entry of an `unsquashfs -lln -d rootfs` listing; returns how many there were. */
export function checkSquashfsListing(listing: string): number {
  const checker = new ArchiveEntryChecker({ mode: 'rootfs', where: SQUASHFS_ROOTFS });
  const lines = listing.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw refuse('the squashfs lists no entries');
  for (const line of lines) checker.check(parseListingLine(line));
  return checker.count;
}
