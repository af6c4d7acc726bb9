// The id map an instance runs with: none when privileged, else root's
// subordinate range (/etc/subuid, /etc/subgid) with raw.idmap punched in.
import { readFileSync } from 'node:fs';
import { EngineError } from '../../errors.ts';
import type { ConfigMap } from '../../schemas/index.ts';
import { isTrue } from '../../config/index.ts';
import {
  IdmapSet,
  RAW_IDMAP_FIELD,
  allowedUnprivilegedOnlyMap,
  parseSubidFile,
  type IdmapEntry,
  type SubidRange,
} from '../../validation/index.ts';

export interface SubidFiles {
  subuid: string;
  subgid: string;
}

/** The map to run `config` with; `null` for a privileged container. */
/** The host's /etc/subuid and /etc/subgid (empty when missing). */
export function readSubidFiles(): SubidFiles {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  return { subuid: read('/etc/subuid'), subgid: read('/etc/subgid') };
}

export function instanceIdmap(config: ConfigMap, files: SubidFiles): IdmapSet | null {
  if (isTrue(config['security.privileged'])) return null;
  const subuid = parseSubidFile(files.subuid, 'root', '/etc/subuid');
  const subgid = parseSubidFile(files.subgid, 'root', '/etc/subgid');
  if (subuid.length === 0 || subgid.length === 0) {
    throw new EngineError(
      'DRIVER_UNAVAILABLE',
      'Unprivileged containers need a range for root in /etc/subuid and /etc/subgid ' +
        '(e.g. "root:1000000:1000000000"), or security.privileged=true',
    );
  }
  let map = IdmapSet.fromSubid(subuid, subgid);
  const raw = config['raw.idmap'] ?? '';
  if (raw.trim() !== '') {
    // Mapping host root into an "unprivileged" container would make it privileged in all but name.
    allowedUnprivilegedOnlyMap(raw);
    map = map.withRawIdmap(raw);
    assertDelegated(map, subuid, subgid);
  }
  return map;
}

function within(ranges: readonly SubidRange[], start: number, size: number): boolean {
  return ranges.some((range) => start >= range.start && start + size <= range.start + range.size);
}

/**
 * LXC writes the map with newuidmap/newgidmap when they are installed, and
 * those refuse host ids not delegated to root in /etc/subuid and /etc/subgid
 * (as LXD documents for raw.idmap). Say so before lxc-start fails obscurely.
 */
export function assertDelegated(
  map: IdmapSet,
  subuid: readonly SubidRange[],
  subgid: readonly SubidRange[],
): void {
  for (const entry of map.entries) {
    const kinds: ['uid' | 'gid', readonly SubidRange[], string][] = [];
    if (entry.isUid) kinds.push(['uid', subuid, '/etc/subuid']);
    if (entry.isGid) kinds.push(['gid', subgid, '/etc/subgid']);
    for (const [kind, ranges, file] of kinds) {
      if (!within(ranges, entry.hostId, entry.maprange)) {
        throw EngineError.invalid(
          RAW_IDMAP_FIELD,
          `host ${kind}s ${entry.hostId}-${entry.hostId + entry.maprange - 1} are not delegated to root in ${file} ` +
            `(add "root:${entry.hostId}:${entry.maprange}" there)`,
        );
      }
    }
  }
}

/** What the marker file stores: the map's entries, `[]` for no map (host ids as they are). */
export function serializeIdmap(map: IdmapSet | null): string {
  return `${JSON.stringify(map === null ? [] : map.entries)}\n`;
}

export function parseSerializedIdmap(text: string): IdmapSet | null {
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (error) {
    throw new EngineError('INTERNAL', `Unreadable id map marker: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!Array.isArray(entries))
    throw new EngineError('INTERNAL', 'Unreadable id map marker: not a list');
  return entries.length === 0 ? null : IdmapSet.fromEntries(entries as IdmapEntry[]);
}

export function sameIdmap(a: IdmapSet | null, b: IdmapSet | null): boolean {
  return serializeIdmap(a) === serializeIdmap(b);
}
