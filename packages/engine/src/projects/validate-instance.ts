// The checks an instance's config must pass, in one place, for instance
// create/update/copy, snapshot restore, backup import and for profile
// updates that change the instances using the profile: local keys, then the
// expanded result, then the project's restrictions (on the expanded result,
// with disk sources resolved on the host).
import type { ConfigMap, DeviceMap, InstanceType } from '../schemas/index.ts';
import { validConfig } from '../config/valid-config.ts';
import { validDevices } from '../config/devices.ts';
import { checkEffectiveRestrictions } from './project-restrictions.ts';
import { EngineError } from '../errors.ts';

export interface InstanceShape {
  name: string;
  type: InstanceType;
  localConfig: ConfigMap;
  localDevices: DeviceMap;
  expandedConfig: ConfigMap;
  expandedDevices: DeviceMap;
}

/** Local config as a user sent it: no volatile keys. */
export function validateLocal(
  type: InstanceType,
  config: ConfigMap,
  devices: DeviceMap,
  allowVolatile = false,
): void {
  validConfig(config, { profile: false, expanded: false, allowVolatile, instanceType: type });
  validDevices(devices, { profile: false, expanded: false, instanceType: type });
}

/**
 * The instance as it would be: expanded config must be whole and the
 * project must allow it. `what` names it in messages (default: the instance;
 * a snapshot being restored, imported or copied names itself).
 */
export async function validateExpanded(
  instance: InstanceShape,
  projectConfig: ConfigMap,
  what = `instance "${instance.name}"`,
): Promise<void> {
  try {
    validConfig(instance.expandedConfig, {
      profile: false,
      expanded: true,
      allowVolatile: true,
      instanceType: instance.type,
    });
    validDevices(instance.expandedDevices, {
      profile: false,
      expanded: true,
      instanceType: instance.type,
    });
  } catch (error) {
    if (error instanceof EngineError) {
      const label = what.charAt(0).toUpperCase() + what.slice(1);
      throw new EngineError(error.code, `${label}: ${error.message}`, {
        field: error.field,
        cause: error,
      });
    }
    throw error;
  }
  await checkEffectiveRestrictions(projectConfig, {
    what,
    type: instance.type,
    config: instance.expandedConfig,
    devices: instance.expandedDevices,
  });
}
