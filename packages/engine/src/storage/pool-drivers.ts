// The storage drivers an LXD user names (`lxc storage create NAME DRIVER`)
// and what Berth does with each: `dir` runs; the others are refused with
// the reason, never with a bare "invalid option". For ZFS, as LXD does, the
// host is looked at first: without the kernel module (or its tools) that
// is what the user hears, since nothing else can be done until it is fixed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.ts';

/** LXD 5.0's storage drivers. */
export const LXD_POOL_DRIVERS = [
  'dir',
  'btrfs',
  'lvm',
  'zfs',
  'ceph',
  'cephfs',
  'cephobject',
] as const;
export type LxdPoolDriver = (typeof LXD_POOL_DRIVERS)[number];

/** The drivers Berth runs. */
export const SUPPORTED_POOL_DRIVERS: readonly LxdPoolDriver[] = ['dir'];

/** Where the host would have what ZFS needs (overridable for a test of the message). */
export interface ZfsHost {
  /** `/sys/module`: a loaded module has its folder there. */
  modules: string;
  /** Directories searched for `zpool` and `zfs`. */
  path: readonly string[];
}

const HOST: ZfsHost = {
  modules: '/sys/module',
  path: (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':'),
};

/** What is missing for ZFS on this host, in LXD's spirit ("Required tool 'zpool' is missing"); null when nothing. */
export function zfsMissing(host: ZfsHost = HOST): string | null {
  if (!existsSync(path.join(host.modules, 'zfs')))
    return 'the zfs kernel module is not loaded on this host (Debian 12 has it in contrib: zfs-dkms and zfsutils-linux, then `modprobe zfs`)';
  for (const tool of ['zpool', 'zfs'])
    if (!host.path.some((dir) => dir && existsSync(path.join(dir, tool))))
      return `required tool '${tool}' is missing (Debian: zfsutils-linux)`;
  return null;
}

/** Refuses a driver Berth does not run, saying why; `dir` passes. */
export function checkPoolDriver(driver: string, host: ZfsHost = HOST): void {
  if ((SUPPORTED_POOL_DRIVERS as readonly string[]).includes(driver)) return;
  if (!(LXD_POOL_DRIVERS as readonly string[]).includes(driver))
    throw EngineError.invalid(
      'driver',
      `unknown storage driver "${driver}" (LXD's are ${LXD_POOL_DRIVERS.join(', ')})`,
    );
  if (driver === 'zfs') {
    const missing = zfsMissing(host);
    if (missing) throw EngineError.invalid('driver', `ZFS is not available: ${missing}`);
  }
  throw new EngineError(
    'NOT_IMPLEMENTED',
    `driver: Berth does not run ${driver} pools yet (only ${SUPPORTED_POOL_DRIVERS.join(', ')})`,
    { field: 'driver' },
  );
}
