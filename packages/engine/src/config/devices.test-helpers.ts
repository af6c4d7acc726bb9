// What the device tests share: validation options per target, and the
// first problem validDevices finds as its message.
import { isEngineError } from '../errors';
import { validDevices, type Devices, type ValidDevicesOptions } from './devices';

export const CONTAINER: ValidDevicesOptions = {
  profile: false,
  expanded: false,
  instanceType: 'container',
};
export const VM: ValidDevicesOptions = {
  profile: false,
  expanded: false,
  instanceType: 'virtual-machine',
};
export const PROFILE: ValidDevicesOptions = { profile: true, expanded: false };

/** The INVALID_ARGUMENT message for `devices`, or undefined when they are valid. */
export function problemOf(
  devices: Devices,
  options: ValidDevicesOptions = CONTAINER,
): string | undefined {
  try {
    validDevices(devices, options);
    return undefined;
  } catch (error) {
    if (!isEngineError(error, 'INVALID_ARGUMENT')) throw error;
    return error.message;
  }
}
