// The shape of the device table (LXD's `lxd/device/*.go` validateConfig
// methods as data): a device type's keys, each with a validator, and its
// rules across keys. Each device type's entry lives in its own file.
import type { z } from 'zod';
import type { AppliesTo, InstanceType } from './config-keys';
import { type Check, isSingleLine, isUint32, schemaOf } from './value-checks';

export const DEVICE_TYPES = ['disk', 'nic', 'unix-char', 'proxy', 'none'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

export type Device = Record<string, string>;
export type Devices = Record<string, Device>;

export type DeviceKeyType =
  'string' | 'integer' | 'boolean' | 'bytes' | 'path' | 'mac' | 'address' | 'list';

export interface DeviceKeyDef {
  type: DeviceKeyType;
  validate: z.ZodType<string>;
  /** Must be set and non-empty. */
  required: boolean;
  default?: string;
  description: string;
}

export interface DeviceContext {
  name: string;
  device: Device;
  /** All devices being validated together (for uniqueness rules). */
  devices: Devices;
  instanceType: InstanceType | undefined;
}

/** A rule across keys failed; `key` names the key to blame, when there is one. */
export interface DeviceRuleFailure {
  key?: string;
  reason: string;
  /** Valid for LXD, but Berth cannot do it yet (default: INVALID_ARGUMENT). */
  notImplemented?: boolean;
}

export interface DeviceTypeDef {
  description: string;
  appliesTo: AppliesTo;
  keys: Readonly<Record<string, DeviceKeyDef>>;
  /** Rules across keys (and devices), run once every key is valid; first failure wins. */
  rules: readonly ((context: DeviceContext) => DeviceRuleFailure | undefined)[];
}

interface KeyInit {
  type: DeviceKeyType;
  check: Check;
  required?: boolean;
  default?: string;
  description: string;
}

export function keys(init: Record<string, KeyInit>): Record<string, DeviceKeyDef> {
  return Object.fromEntries(
    Object.entries(init).map(([key, { check, required = false, ...rest }]) => [
      key,
      { ...rest, required, validate: schemaOf(check) },
    ]),
  );
}

/** Host paths and mount options are written into the container's config, one line each. */
export const oneLine: Check = isSingleLine('Value');

/** A uid or gid (unix-char owners, proxy socket owners). */
export const unixId: Check = (value) =>
  isUint32(value) === undefined ? undefined : 'Invalid value for a UNIX ID';
