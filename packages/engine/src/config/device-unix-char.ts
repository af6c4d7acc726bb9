// The unix-char device: a character device node made inside a container.
import {
  type Check,
  isAbsolutePath,
  isBool,
  isOctalMode,
  isUint32,
  optional,
} from './value-checks';
import { keys, unixId, type DeviceTypeDef } from './device-table';

const unixDeviceNumber: Check = (value) =>
  isUint32(value) === undefined ? undefined : 'Invalid value for a UNIX device number';

export const unixChar: DeviceTypeDef = {
  description: 'A character device node (e.g. /dev/ttyUSB0) made inside a container.',
  appliesTo: 'container',
  keys: keys({
    source: {
      type: 'path',
      check: optional(isAbsolutePath),
      description: 'Host device to take major/minor from.',
    },
    path: {
      type: 'path',
      check: optional(isAbsolutePath),
      description: 'Where the node appears in the container (source when unset).',
    },
    major: {
      type: 'integer',
      check: optional(unixDeviceNumber),
      description: 'Device major number (from source when unset).',
    },
    minor: {
      type: 'integer',
      check: optional(unixDeviceNumber),
      description: 'Device minor number (from source when unset).',
    },
    uid: {
      type: 'integer',
      check: optional(unixId),
      default: '0',
      description: 'Owner inside the container.',
    },
    gid: {
      type: 'integer',
      check: optional(unixId),
      default: '0',
      description: 'Group inside the container.',
    },
    mode: {
      type: 'string',
      check: optional(isOctalMode),
      default: '0660',
      description: 'Octal permissions of the node.',
    },
    required: {
      type: 'boolean',
      check: optional(isBool),
      default: 'true',
      description: 'Fail to start when the source is missing.',
    },
  }),
  rules: [
    ({ device }) =>
      !device.source && !device.path
        ? {
            key: 'source',
            reason: 'Unix device entry is missing the required "source" or "path" property',
          }
        : undefined,
  ],
};
