// What a restricted project refuses (LXD's lxd/project/permissions.go
// `checkRestrictions`). The rules live with the config and device tables
// (`restrictedKeysIn`, `restrictedDevicesIn`); this turns the first refusal
// into a FORBIDDEN error that names the field and the project setting.
//
// Restrictions bind everyone acting in the project, server admins included
// (as in LXD), and they are judged on what the instance will really be:
// its expanded config (profiles, then local) and its disk sources as the
// host resolves them. Every way an instance's config comes to be (create,
// update, copy, snapshot restore, backup import, profile edit) and every
// start goes through `checkEffectiveRestrictions`.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { restrictedKeysIn } from '../config/valid-config.ts';
import { allowedDiskPaths, isHostPathDisk, restrictedDevicesIn } from '../config/devices.ts';
import { isTrue } from '../config/value-checks.ts';
import type { ConfigMap, DeviceMap, InstanceType } from '../schemas/index.ts';

export interface RestrictionSubject {
  /** e.g. `instance "c1"`, `snapshot "c1/snap0"` or `profile "web"`, for the message. */
  what: string;
  /** Unset for profiles, which may serve either type. */
  type?: InstanceType;
  config: ConfigMap;
  devices: DeviceMap;
}

export interface HostPaths {
  /** Device name → its disk source as the host resolves it (see `resolveHostPath`). */
  sources: Readonly<Record<string, string>>;
  /** `restricted.devices.disk.paths`, resolved the same way. */
  allowed: readonly string[];
}

/**
 * The pure check: throws FORBIDDEN for the first key, then the first device,
 * the project refuses. With `hostPaths`, disk sources and allowed paths are
 * compared as the host resolved them; without, as written (normalised).
 */
export function checkRestrictions(
  projectConfig: ConfigMap,
  subject: RestrictionSubject,
  hostPaths?: HostPaths,
): void {
  const keys = restrictedKeysIn(subject.config, {
    project: projectConfig,
    ...(subject.type ? { instanceType: subject.type } : {}),
  });
  const key = keys[0];
  if (key !== undefined) {
    const field = `config["${key}"]`;
    throw new EngineError(
      'FORBIDDEN',
      `${field}: not allowed in a restricted project (${subject.what}); see the project's restricted.* settings`,
      { field },
    );
  }
  const judged = hostPaths
    ? Object.fromEntries(
        Object.entries(subject.devices).map(([name, device]) => {
          const source = hostPaths.sources[name];
          return [name, source === undefined ? device : { ...device, source }];
        }),
      )
    : subject.devices;
  const device = restrictedDevicesIn(judged, {
    project: projectConfig,
    ...(hostPaths ? { diskPaths: hostPaths.allowed } : {}),
  })[0];
  if (device === undefined) return;
  const config = subject.devices[device] ?? {};
  const type = config.type ?? 'device';
  const allowed = hostPaths?.allowed ?? allowedDiskPaths(projectConfig);
  if (
    type === 'disk' &&
    isHostPathDisk(config) &&
    projectConfig['restricted.devices.disk'] === 'allow'
  ) {
    const field = `devices["${device}"]["source"]`;
    const source = config.source ?? '';
    const real = judged[device]?.source ?? source;
    const where = !source.startsWith('/')
      ? 'is not an absolute path'
      : `${real === source ? '' : `resolves to ${JSON.stringify(real)}, which `}is outside restricted.devices.disk.paths (${allowed.join(', ')})`;
    throw new EngineError(
      'FORBIDDEN',
      `${field}: ${JSON.stringify(source)} ${where} (${subject.what}, restricted project)`,
      { field },
    );
  }
  const field = `devices["${device}"]`;
  throw new EngineError(
    'FORBIDDEN',
    `${field}: this ${type} device is not allowed in a restricted project (${subject.what}); see restricted.devices.${type}`,
    { field },
  );
}

/**
 * Where a host path really leads, as a bind mount of it would: the longest
 * prefix that exists, resolved by the kernel (`realpath`, which takes a
 * `..` after a symlink the way a mount does: `/a/link/..` is the parent of
 * the link's target, not `/a`), then the part that does not exist yet,
 * normalised on top. A relative path is returned as it is (refused later).
 */
export async function resolveHostPath(source: string): Promise<string> {
  if (!source.startsWith('/')) return source;
  const parts = source.split('/').filter((part) => part !== '');
  for (let n = parts.length; n >= 0; n--) {
    const real = await realpath(`/${parts.slice(0, n).join('/')}`).catch(() => undefined);
    if (real !== undefined) return path.posix.resolve(real, ...parts.slice(n));
  }
  return path.posix.normalize(source);
}

/** The host-path disks of `devices` and the project's allowed paths, resolved on the host. */
export async function resolveHostPaths(
  projectConfig: ConfigMap,
  devices: DeviceMap,
): Promise<HostPaths> {
  const sources: Record<string, string> = {};
  for (const [name, device] of Object.entries(devices)) {
    if (isHostPathDisk(device)) sources[name] = await resolveHostPath(device.source ?? '');
  }
  const allowed = await Promise.all(allowedDiskPaths(projectConfig).map(resolveHostPath));
  return { sources, allowed };
}

/**
 * The check every entry point uses: the subject's final, effective config
 * and devices (the caller expands profiles first) against the project's
 * restrictions, with disk sources resolved on the host now. Returns the
 * devices with their host sources replaced by the resolved paths, so a
 * start can mount exactly what was checked (a symlink swapped in later is
 * not followed).
 */
export async function checkEffectiveRestrictions(
  projectConfig: ConfigMap,
  subject: RestrictionSubject,
): Promise<DeviceMap> {
  if (!isTrue(projectConfig.restricted)) return subject.devices;
  const hostPaths = await resolveHostPaths(projectConfig, subject.devices);
  checkRestrictions(projectConfig, subject, hostPaths);
  return Object.fromEntries(
    Object.entries(subject.devices).map(([name, device]) => {
      const source = hostPaths.sources[name];
      return [name, source === undefined ? device : { ...device, source }];
    }),
  );
}
