// What a restricted project refuses (LXD's lxd/project/permissions.go
// `checkRestrictions`). The rules live with the config and device tables
// (`restrictedKeysIn`, `restrictedDevicesIn`); this turns the first refusal
// into a FORBIDDEN error that names the field and the project setting.
import { EngineError } from '../errors.ts';
import { restrictedKeysIn } from '../config/valid-config.ts';
import { restrictedDevicesIn } from '../config/devices.ts';
import type { ConfigMap, DeviceMap, InstanceType } from '../schemas/index.ts';

export interface RestrictionSubject {
  /** e.g. `instance "c1"` or `profile "web"`, for the message. */
  what: string;
  /** Unset for profiles, which may serve either type. */
  type?: InstanceType;
  config: ConfigMap;
  devices: DeviceMap;
}

export function checkRestrictions(projectConfig: ConfigMap, subject: RestrictionSubject): void {
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
  const device = restrictedDevicesIn(subject.devices, { project: projectConfig })[0];
  if (device !== undefined) {
    const field = `devices["${device}"]`;
    const type = subject.devices[device]?.type ?? 'device';
    throw new EngineError(
      'FORBIDDEN',
      `${field}: this ${type} device is not allowed in a restricted project (${subject.what}); see restricted.devices.${type}`,
      {
        field,
      },
    );
  }
}
