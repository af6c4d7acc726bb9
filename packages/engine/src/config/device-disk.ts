// The disk device: the root disk (path=/ and a pool), a host path
// bind-mounted in (a container) or shared over 9p (a VM: a host directory
// and a `path`; drivers/qemu/vm-shares.ts checks the source on the host at
// start and has the security model), a custom volume from a pool, or a VM's
// cloud-init disk. These rules are the pure ones; what only the host can
// tell (does the source exist, is it a directory) is checked at start.
import { tryParseByteSize } from './parse-memory';
import {
  type Check,
  isAbsolutePath,
  isBool,
  isOneOf,
  isTrue,
  isUint32,
  lacks,
  optional,
  quote,
} from './value-checks';
import { keys, oneLine, type Device, type Devices, type DeviceTypeDef } from './device-table';

/** Disk I/O limits: `100iops` or a byte rate (`10MB`), as LXD's disk limit parser takes them. */
const isDiskLimit: Check = (value) => {
  if (/^[0-9]+iops$/.test(value)) return undefined;
  const parsed = tryParseByteSize(value);
  return parsed.ok
    ? undefined
    : `${parsed.reason} (use a byte rate like 10MB or a count like 100iops)`;
};

const isSize: Check = (value) => {
  const parsed = tryParseByteSize(value);
  return parsed.ok ? undefined : parsed.reason;
};

const PROPAGATION = [
  'private',
  'shared',
  'slave',
  'unbindable',
  'rshared',
  'rslave',
  'runbindable',
  'rprivate',
];

export const CLOUD_INIT_SOURCE = 'cloud-init:config';

export function isRootDisk(device: Device): boolean {
  // LXD's IsRootDiskDevice: the pool is checked by the disk rules, not here.
  return device.type === 'disk' && device.path === '/' && (device.source ?? '') === '';
}

export const disk: DeviceTypeDef = {
  description:
    'A disk: the root disk (path=/ and a pool), a host path bind-mounted in (a host directory shared over 9p in a VM), or a custom volume from a pool.',
  appliesTo: 'both',
  keys: keys({
    source: {
      type: 'string',
      check: oneLine,
      description:
        'Host path to bind-mount (a VM: a host directory to share), custom volume name (with pool), or cloud-init:config (VMs).',
    },
    path: {
      type: 'path',
      check: optional(isAbsolutePath),
      description: 'Where the disk appears in the instance ("/" for the root disk).',
    },
    pool: {
      type: 'string',
      check: optional(lacks('/', 'A pool name')),
      description: 'Storage pool holding the root disk or the custom volume.',
    },
    readonly: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Mount read-only (a VM share: QEMU refuses every write on the host too).',
    },
    required: {
      type: 'boolean',
      check: optional(isBool),
      default: 'true',
      description: 'Fail to start when the source is missing.',
    },
    optional: {
      type: 'boolean',
      check: optional(isBool),
      description: 'Deprecated opposite of required.',
    },
    recursive: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Bind-mount the source with its sub-mounts.',
    },
    shift: {
      type: 'boolean',
      check: optional(isBool),
      default: 'false',
      description: 'Shift host IDs to the container ID map for a host path.',
    },
    size: { type: 'bytes', check: optional(isSize), description: 'Quota of the root disk.' },
    'size.state': {
      type: 'bytes',
      check: optional(isSize),
      description: 'Extra root disk quota for VM state (stateful snapshots).',
    },
    'limits.read': {
      type: 'string',
      check: optional(isDiskLimit),
      description: 'Read limit: bytes per second (10MB) or operations per second (100iops).',
    },
    'limits.write': {
      type: 'string',
      check: optional(isDiskLimit),
      description: 'Write limit: bytes per second or iops.',
    },
    'limits.max': {
      type: 'string',
      check: optional(isDiskLimit),
      description: 'Read and write limit together.',
    },
    propagation: {
      type: 'string',
      check: optional(isOneOf(...PROPAGATION)),
      description: 'Mount propagation of a bind mount (private by default).',
    },
    'raw.mount.options': { type: 'string', check: oneLine, description: 'Extra mount options.' },
    'boot.priority': {
      type: 'integer',
      check: optional(isUint32),
      description: 'VM boot order: the highest boots first.',
    },
  }),
  rules: [
    ({ device }) =>
      device.required && device.optional
        ? {
            key: 'optional',
            reason:
              'Cannot use both "required" and deprecated "optional" properties at the same time',
          }
        : undefined,
    ({ device }) => {
      const source = device.source ?? '';
      const path = device.path ?? '';
      if (source === '' && path !== '/')
        return {
          key: 'source',
          reason: 'Disk entry is missing the required "source" or "path" property',
        };
      if (path === '/' && source !== '')
        return { key: 'source', reason: 'Root disk entry may not have a "source" property set' };
      if (path === '/' && !device.pool)
        return { key: 'pool', reason: 'Root disk entry must have a "pool" property set' };
      return undefined;
    },
    ({ device }) => {
      if (isRootDisk(device)) return undefined;
      if (device.size) return { key: 'size', reason: 'Only the root disk may have a size quota' };
      if (device['size.state'])
        return { key: 'size.state', reason: 'Only the root disk may have a migration size quota' };
      return undefined;
    },
    ({ device }) => {
      if (!device.recursive) return undefined;
      if (device.path === '/' || device.pool) {
        return {
          key: 'recursive',
          reason: 'The recursive option is only supported for additional bind-mounted paths',
        };
      }
      if (isTrue(device.recursive) && isTrue(device.readonly)) {
        return {
          key: 'recursive',
          reason: "Recursive read-only bind-mounts aren't currently supported by the kernel",
        };
      }
      return undefined;
    },
    ({ device, instanceType }) => {
      const source = device.source ?? '';
      if (source.startsWith('ceph:') || source.startsWith('cephfs:')) {
        return { key: 'source', reason: 'Ceph disk sources are not supported by Berth' };
      }
      if (source === CLOUD_INIT_SOURCE) {
        if (instanceType === 'container')
          return {
            key: 'source',
            reason: 'The cloud-init:config disk is for virtual machines only',
          };
        if (device.path)
          return { key: 'path', reason: 'The cloud-init:config disk cannot have a "path"' };
        return undefined;
      }
      if (device.pool) {
        if (device.shift) {
          return {
            key: 'shift',
            reason:
              'The "shift" property cannot be used with custom storage volumes (set "security.shifted=true" on the volume instead)',
          };
        }
        if (source.startsWith('/'))
          return { key: 'source', reason: 'Storage volumes cannot be specified as absolute paths' };
        return undefined;
      }
      if (source !== '' && !source.startsWith('/'))
        return { key: 'source', reason: 'Source path must be absolute for local sources' };
      return undefined;
    },
    ({ device, instanceType }) =>
      // A container mounts a file system somewhere; only a VM can take a disk as a block device.
      instanceType === 'container' && !device.path && (device.source ?? '') !== ''
        ? { key: 'path', reason: 'Disk devices on containers need a "path" to mount at' }
        : undefined,
    ({ name, device, devices }) => {
      if (!device.path) return undefined;
      const clash = Object.entries(devices).find(
        ([other, config]) =>
          other !== name && config.type === 'disk' && config.path === device.path,
      );
      return clash
        ? {
            key: 'path',
            reason: `More than one disk device uses the same path ${quote(device.path)}`,
          }
        : undefined;
    },
  ],
};

/** The root disk's name and config, if there is exactly one. */
export function rootDiskOf(devices: Devices): [string, Device] | undefined {
  const roots = Object.entries(devices).filter(([, device]) => isRootDisk(device));
  return roots.length === 1 ? roots[0] : undefined;
}
/** A disk that bind-mounts a host path (not the root disk, a pool volume or cloud-init). */
export function isHostPathDisk(device: Device): boolean {
  if (device.type !== 'disk' || device.pool) return false;
  if (device.path === '/' && !device.source) return false;
  if (!device.path && device.source === CLOUD_INIT_SOURCE) return false;
  return (device.source ?? '') !== '';
}
