// Device validation after LXD's `lxd/device/*.go` `validateConfig` methods,
// as one table per device type (device-disk, device-nic, device-unix-char,
// device-proxy): its keys (each with a validator) and the rules across
// keys. Checks that need host or database state (does the network exist, is
// the source path there, is the pool ready) belong to the services that own
// that state; everything here is pure.
import { EngineError } from '../errors';
import type { InstanceType } from './config-keys';
import { quote, schemaProblem } from './value-checks';
import {
  DEVICE_TYPES,
  type Device,
  type DeviceContext,
  type DeviceKeyType,
  type DeviceType,
  type DeviceTypeDef,
  type Devices,
} from './device-table';
import { disk, isRootDisk } from './device-disk';
import { nic } from './device-nic';
import { unixChar } from './device-unix-char';
import { proxy } from './device-proxy';

export {
  DEVICE_TYPES,
  type Device,
  type DeviceContext,
  type DeviceKeyDef,
  type DeviceKeyType,
  type DeviceRuleFailure,
  type DeviceType,
  type DeviceTypeDef,
  type Devices,
} from './device-table';
export { rootDiskOf, isHostPathDisk } from './device-disk';
export { containerProxyGap } from './device-proxy';
export * from './device-restrictions';

const none: DeviceTypeDef = {
  description: 'Hides a device of the same name inherited from a profile.',
  appliesTo: 'both',
  keys: {},
  rules: [],
};

/** The device table: type → keys and rules. */
export const deviceTypes: Readonly<Record<DeviceType, DeviceTypeDef>> = Object.freeze({
  disk,
  nic,
  'unix-char': unixChar,
  proxy,
  none,
});

function isDeviceType(type: string): type is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(type);
}

/**
 * LXD's `IsDeviceName`, stricter on one point: no `/`. A device name becomes
 * part of host paths (sockets, mount points) and volatile keys; LXD escapes it
 * for paths, we simply refuse it.
 */
export function deviceNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > 63) return 'Name must be 1-63 characters long';
  if (name.startsWith('.')) return 'Name must not start with "." character';
  if (name.includes('/')) return 'Name cannot contain "/" (it is used in host paths)';
  if (!/^[-.:_a-zA-Z0-9]+$/.test(name)) {
    return 'Name can only contain alphanumeric, hyphen, colon, underscore and full stop characters';
  }
  return undefined;
}

export interface ValidDevicesOptions {
  /** The devices belong to a profile (no instance type, no root disk needed). */
  profile: boolean;
  /**
   * The instance's expanded devices (profiles then local): a root disk is
   * required, and devices of a type the instance cannot use are skipped (a
   * profile may serve containers and VMs), as LXD's validDevices does.
   */
  expanded: boolean;
  instanceType?: InstanceType;
}

export interface DeviceProblem {
  device: string;
  key?: string;
  notImplemented?: boolean;
  /** `devices["eth0"]["mtu"]`, the field an API error names. */
  field: string;
  reason: string;
}

export function deviceField(device: string, key?: string): string {
  return key === undefined
    ? `devices[${quote(device)}]`
    : `devices[${quote(device)}][${quote(key)}]`;
}

const TYPE_LABEL: Record<InstanceType, string> = {
  container: 'containers',
  'virtual-machine': 'virtual machines',
};

function problemsOfDevice(
  name: string,
  device: Device,
  devices: Devices,
  options: ValidDevicesOptions,
): DeviceProblem[] | 'skip' {
  const problem = (reason: string, key?: string): DeviceProblem =>
    key === undefined
      ? { device: name, field: deviceField(name), reason }
      : { device: name, key, field: deviceField(name, key), reason };

  const nameProblem = deviceNameProblem(name);
  if (nameProblem !== undefined) return [problem(`Invalid device name: ${nameProblem}`)];

  const type = device.type ?? '';
  if (type === '') return [problem('Missing device type', 'type')];
  if (!isDeviceType(type)) {
    return [
      problem(
        `Unsupported device type ${quote(type)} (Berth supports ${DEVICE_TYPES.join(', ')})`,
        'type',
      ),
    ];
  }
  const def = deviceTypes[type];
  const instanceType = options.profile ? undefined : options.instanceType;
  if (instanceType !== undefined && def.appliesTo !== 'both' && def.appliesTo !== instanceType) {
    if (options.expanded) return 'skip';
    return [problem(`${type} devices are only supported on ${TYPE_LABEL[def.appliesTo]}`, 'type')];
  }

  const problems: DeviceProblem[] = [];
  for (const key of Object.keys(device).sort()) {
    if (key === 'type' || key.startsWith('user.')) continue;
    const keyDef = def.keys[key];
    if (keyDef === undefined) {
      problems.push(problem(`Invalid device option ${quote(key)} for ${type} devices`, key));
      continue;
    }
    // An empty required key is reported once, below, as missing.
    if (keyDef.required && !device[key]) continue;
    const reason = schemaProblem(keyDef.validate, device[key] ?? '');
    if (reason !== undefined) problems.push(problem(reason, key));
  }
  for (const [key, keyDef] of Object.entries(def.keys)) {
    if (keyDef.required && !device[key]) problems.push(problem('Required value', key));
  }
  problems.sort((a, b) => (a.key ?? '').localeCompare(b.key ?? ''));
  if (problems.length > 0) return problems;

  const context: DeviceContext = { name, device, devices, instanceType };
  for (const rule of def.rules) {
    const failure = rule(context);
    if (failure !== undefined) {
      const found = problem(failure.reason, failure.key);
      return [failure.notImplemented ? { ...found, notImplemented: true } : found];
    }
  }
  return [];
}

/** Every problem in a set of devices, by device name then key. */
export function deviceProblems(devices: Devices, options: ValidDevicesOptions): DeviceProblem[] {
  const problems: DeviceProblem[] = [];
  for (const name of Object.keys(devices).sort()) {
    const result = problemsOfDevice(name, devices[name] ?? {}, devices, options);
    if (result !== 'skip') problems.push(...result);
  }
  if (options.expanded && !options.profile) {
    const roots = Object.keys(devices).filter((name) => isRootDisk(devices[name] ?? {}));
    if (roots.length === 0) {
      problems.push({
        device: '',
        field: 'devices',
        reason: 'No root device could be found (a disk device with path=/ and a pool)',
      });
    } else if (roots.length > 1) {
      problems.push({
        device: '',
        field: 'devices',
        reason: `More than one root device found: ${roots.sort().join(', ')}`,
      });
    }
  }
  return problems;
}

/**
 * LXD's `validDevices`: throws an INVALID_ARGUMENT `EngineError` for the
 * first problem, naming the device and key, e.g.
 * `devices["eth0"]["mtu"]: Out of MTU range (1280-16384) "100"`.
 */
export function validDevices(devices: Devices, options: ValidDevicesOptions): void {
  const [first] = deviceProblems(devices, options);
  if (first === undefined) return;
  if (first.notImplemented) {
    throw new EngineError('NOT_IMPLEMENTED', `${first.field}: ${first.reason}`, {
      field: first.field,
    });
  }
  throw EngineError.invalid(first.field, first.reason);
}

export interface DeviceKeyHint {
  key: string;
  type: DeviceKeyType;
  required: boolean;
  default: string | undefined;
  description: string;
}

/** What a UI needs to offer a device type's keys. */
export function deviceKeyHints(type: DeviceType): DeviceKeyHint[] {
  return Object.entries(deviceTypes[type].keys).map(([key, def]) => ({
    key,
    type: def.type,
    required: def.required,
    default: def.default,
    description: def.description,
  }));
}
