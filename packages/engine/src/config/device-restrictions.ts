// What a restricted project allows of devices (LXD's `checkRestrictions`
// for devices), and the path arithmetic its disk rule needs.
import { isTrue } from './value-checks';
import { CLOUD_INIT_SOURCE } from './device-disk';
import type { Device, Devices } from './device-table';

/** LXD's defaults for the `restricted.devices.*` project keys. */
export const DEVICE_RESTRICTION_DEFAULTS: Readonly<Record<string, string>> = {
  'restricted.devices.unix-char': 'block',
  'restricted.devices.proxy': 'block',
  'restricted.devices.nic': 'managed',
  'restricted.devices.disk': 'managed',
  'restricted.devices.disk.paths': '',
};

/**
 * The components of an absolute path after `.`, `..` and repeated slashes
 * are resolved the way `path.posix.normalize` does (`..` at `/` stays at `/`);
 * undefined for a relative path. Kept free of `node:path`: this module is
 * shared with the browser.
 */
export function absolutePathComponents(value: string): string[] | undefined {
  if (!value.startsWith('/')) return undefined;
  const parts: string[] = [];
  for (const part of value.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}

/** `/a/b/../c` → `/a/c`; undefined for a relative path. */
export function normalizeAbsolutePath(value: string): string | undefined {
  const parts = absolutePathComponents(value);
  return parts === undefined ? undefined : `/${parts.join('/')}`;
}

/**
 * Whether `candidate` is `parent` or inside it, comparing whole path
 * components after normalisation: `/srv/sh` does not hold `/srv/share`, and
 * `/tmp/allowed/../../etc` is `/etc`. Pure: symlinks are the caller's to
 * resolve first (the engine passes host-resolved paths, see
 * project-restrictions.ts), and a relative path is never within anything.
 */
export function isPathWithin(candidate: string, parent: string): boolean {
  const inner = absolutePathComponents(candidate);
  const outer = absolutePathComponents(parent);
  if (inner === undefined || outer === undefined || outer.length > inner.length) return false;
  return outer.every((part, i) => inner[i] === part);
}

/** `restricted.devices.disk.paths` as a list (empty: any path, as in LXD). */
export function allowedDiskPaths(project: Record<string, string>): string[] {
  return (project['restricted.devices.disk.paths'] ?? '')
    .split(',')
    .map((path) => path.trim())
    .filter((path) => path !== '');
}

/**
 * The devices a restricted project refuses, sorted, as LXD's
 * `checkRestrictions`: unix-char and proxy unless allowed, NICs not on a
 * managed network, disks other than the root disk not backed by a pool, host
 * paths outside `restricted.devices.disk.paths` (by path component, after
 * `..` is resolved) and relative host paths. `project` unset means a
 * restricted project with defaults; a project without `restricted=true`
 * refuses nothing. (`restricted.networks.access` needs the network list, so
 * the network service checks it; symlinks on the host are resolved by the
 * engine before it asks, see `checkEffectiveRestrictions`.)
 */
export function restrictedDevicesIn(
  devices: Devices,
  options: {
    project?: Record<string, string>;
    /** `restricted.devices.disk.paths` as the host resolved them (default: the project's, as written). */
    diskPaths?: readonly string[];
  } = {},
): string[] {
  const project = options.project;
  if (project !== undefined && !isTrue(project.restricted)) return [];
  const restrictions = { ...DEVICE_RESTRICTION_DEFAULTS, ...project };
  const setting = (key: string) => restrictions[key] ?? '';

  const refused = (device: Device): boolean => {
    switch (device.type) {
      case 'unix-char':
        return setting('restricted.devices.unix-char') !== 'allow';
      case 'proxy':
        return setting('restricted.devices.proxy') !== 'allow';
      case 'nic': {
        const rule = setting('restricted.devices.nic');
        return rule === 'block' || (rule === 'managed' && !device.network);
      }
      case 'disk': {
        if (device.path === '/' && device.pool) return false;
        if (!device.path && device.source === CLOUD_INIT_SOURCE) return false;
        const rule = setting('restricted.devices.disk');
        if (rule === 'block') return true;
        if (rule === 'managed') return !device.pool;
        if (device.pool) return false;
        const source = device.source ?? '';
        // A relative host path means whatever the mounting process's directory is.
        if (!source.startsWith('/')) return true;
        const allowed = options.diskPaths ?? allowedDiskPaths(restrictions);
        return allowed.length > 0 && !allowed.some((path) => isPathWithin(source, path));
      }
      default:
        return false;
    }
  };
  return Object.keys(devices)
    .filter((name) => refused(devices[name] ?? {}))
    .sort();
}
