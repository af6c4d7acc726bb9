// `unix-char` devices: as LXD does for containers, a device node is made on
// the host (in the instance's runtime directory, owned by the mapped ids),
// bind-mounted to `path` in the container, and allowed in the devices
// cgroup. A bind mount rather than mknod inside: an unprivileged container
// may not mknod. Applied when the container starts.
import { chmodSync, chownSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import { isFalseOrEmpty } from '../../config/index.ts';
import type { IdmapSet } from '../../validation/index.ts';
import { HOST_ENV } from './exec.ts';

export interface UnixDevicePlan {
  device: string;
  /** Absolute path inside the container. */
  path: string;
  major: number;
  minor: number;
  uid: number;
  gid: number;
  mode: number;
}

/** A node made on the host, ready for the config (lxc-config.ts). */
export interface ResolvedUnixDevice {
  device: string;
  path: string;
  node: string;
  major: number;
  minor: number;
}

export interface DeviceNodeInfo {
  isCharacterDevice: boolean;
  rdev: number | bigint;
}

/** glibc's major()/minor() of a dev_t. */
export function splitDeviceNumber(rdev: number | bigint): { major: number; minor: number } {
  const dev = BigInt(rdev);
  return {
    major: Number(((dev >> 32n) & 0xfffff000n) | ((dev >> 8n) & 0xfffn)),
    minor: Number(((dev >> 12n) & 0xffffff00n) | (dev & 0xffn)),
  };
}

function statNode(source: string): DeviceNodeInfo | undefined {
  try {
    const stat = statSync(source, { bigint: true });
    return { isCharacterDevice: stat.isCharacterDevice(), rdev: stat.rdev };
  } catch {
    return undefined;
  }
}

/**
 * The unix-char devices to make, with major/minor read from `source` when
 * not given. A missing source fails (naming the key) unless `required=false`,
 * which skips the device.
 */
export function planUnixDevices(
  devices: Record<string, Record<string, string>>,
  stat: (source: string) => DeviceNodeInfo | undefined = statNode,
): UnixDevicePlan[] {
  const plans: UnixDevicePlan[] = [];
  const entries = Object.entries(devices)
    .filter(([, device]) => device.type === 'unix-char')
    .sort(([a], [b]) => a.localeCompare(b));
  for (const [name, device] of entries) {
    const field = (key: string) => `devices["${name}"]["${key}"]`;
    const source = device.source || device.path || '';
    const target = device.path || device.source || '';
    if (!target.startsWith('/') || target.split('/').includes('..'))
      throw EngineError.invalid(field('path'), 'must be an absolute path without ".."');
    let major = device.major ? Number(device.major) : undefined;
    let minor = device.minor ? Number(device.minor) : undefined;
    if (major === undefined || minor === undefined) {
      const node = stat(source);
      if (node === undefined) {
        if (isFalseOrEmpty(device.required) && device.required !== undefined) continue;
        throw new EngineError(
          'NOT_FOUND',
          `${field('source')}: ${source} does not exist on the host (set required=false to skip it)`,
          { field: field('source') },
        );
      }
      if (!node.isCharacterDevice)
        throw EngineError.invalid(field('source'), `${source} is not a character device`);
      const numbers = splitDeviceNumber(node.rdev);
      major ??= numbers.major;
      minor ??= numbers.minor;
    }
    plans.push({
      device: name,
      path: target,
      major,
      minor,
      uid: Number(device.uid || 0),
      gid: Number(device.gid || 0),
      mode: parseInt(device.mode || '0660', 8),
    });
  }
  return plans;
}

/** Makes the planned nodes in `dir` (emptied first), owned by the container's mapped ids. */
export async function makeDeviceNodes(
  plans: readonly UnixDevicePlan[],
  dir: string,
  idmap: IdmapSet | null,
): Promise<ResolvedUnixDevice[]> {
  rmSync(dir, { recursive: true, force: true });
  if (plans.length === 0) return [];
  // The container's root traverses to the nodes for the bind mounts.
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  const resolved: ResolvedUnixDevice[] = [];
  for (const plan of plans) {
    const node = path.join(dir, `unix.${plan.device}`);
    const field = `devices["${plan.device}"]`;
    // Node has no mknod(2).
    await runCommand('mknod', [node, 'c', String(plan.major), String(plan.minor)], {
      timeoutMs: 10_000,
      inheritEnv: false,
      env: HOST_ENV,
    });
    const uid = idmap === null ? plan.uid : idmap.toHost('uid', plan.uid);
    const gid = idmap === null ? plan.gid : idmap.toHost('gid', plan.gid);
    if (uid === undefined || gid === undefined)
      throw EngineError.invalid(`${field}["uid"]`, 'the owner is not mapped in the container');
    chownSync(node, uid, gid);
    chmodSync(node, plan.mode);
    resolved.push({
      device: plan.device,
      path: plan.path,
      node,
      major: plan.major,
      minor: plan.minor,
    });
  }
  return resolved;
}
