// Project config keys (LXD's lxd/project/project.go `projectValidateConfig`):
// features, limits and restrictions. Unknown keys are refused by name.
import { EngineError } from '../errors.ts';
import type { ConfigMap } from '../schemas/index.ts';

type Check = (value: string) => string | null;

const bool: Check = (v) => (['true', 'false', ''].includes(v) ? null : 'must be "true" or "false"');
const count: Check = (v) => (v === '' || /^\d+$/.test(v) ? null : 'must be a whole number');
const bytes: Check = (v) =>
  v === '' || /^\d+(\.\d+)?\s*(B|kB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)?$/.test(v)
    ? null
    : 'must be a size such as 512MiB or 2GB (percentages are not allowed in project limits)';
const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    v === '' || allowed.includes(v)
      ? null
      : `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`;

/** Keys, their check and their default. */
export const projectConfigKeys: Record<
  string,
  { check: Check; default?: string; description: string }
> = {
  'features.images': {
    check: bool,
    default: 'true',
    description: 'Separate set of images for the project',
  },
  'features.profiles': {
    check: bool,
    default: 'true',
    description: 'Separate set of profiles for the project',
  },
  'features.storage.volumes': {
    check: bool,
    default: 'true',
    description: 'Separate set of storage volumes',
  },
  'features.networks': { check: bool, default: 'false', description: 'Separate set of networks' },
  'limits.instances': { check: count, description: 'Maximum number of instances' },
  'limits.containers': { check: count, description: 'Maximum number of containers' },
  'limits.virtual-machines': { check: count, description: 'Maximum number of virtual machines' },
  'limits.cpu': { check: count, description: 'Maximum sum of limits.cpu over instances' },
  'limits.memory': { check: bytes, description: 'Maximum sum of limits.memory over instances' },
  'limits.processes': {
    check: count,
    description: 'Maximum sum of limits.processes over instances',
  },
  restricted: {
    check: bool,
    default: 'false',
    description: 'Block access to security-sensitive features',
  },
  'restricted.containers.nesting': {
    check: oneOf('block', 'allow'),
    default: 'block',
    description: 'Whether security.nesting=true is allowed',
  },
  'restricted.containers.privilege': {
    check: oneOf('unprivileged', 'isolated', 'allow'),
    default: 'unprivileged',
    description: 'Whether security.privileged=true is allowed',
  },
  'restricted.containers.lowlevel': {
    check: oneOf('block', 'allow'),
    default: 'block',
    description: 'Whether raw.lxc, raw.idmap and other low-level options are allowed',
  },
  'restricted.virtual-machines.lowlevel': {
    check: oneOf('block', 'allow'),
    default: 'block',
    description: 'Whether raw.qemu and other low-level options are allowed',
  },
  'restricted.devices.disk.paths': {
    check: () => null,
    description:
      'Host paths (comma-separated) that disk devices may bind when restricted.devices.disk=allow',
  },
  'restricted.idmap.uid': {
    check: (v) =>
      /^(\d+(-\d+)?)?(,\s*\d+(-\d+)?)*$/.test(v)
        ? null
        : 'must be a list of host uids or ranges such as 1000,2000-2999',
    description: 'Host uids raw.idmap may map',
  },
  'restricted.idmap.gid': {
    check: (v) =>
      /^(\d+(-\d+)?)?(,\s*\d+(-\d+)?)*$/.test(v)
        ? null
        : 'must be a list of host gids or ranges such as 1000,2000-2999',
    description: 'Host gids raw.idmap may map',
  },
  'restricted.devices.disk': {
    check: oneOf('block', 'managed', 'allow'),
    default: 'managed',
    description: 'Which disk devices are allowed (managed: pool-backed only)',
  },
  'restricted.devices.nic': {
    check: oneOf('block', 'managed', 'allow'),
    default: 'managed',
    description: 'Which nic devices are allowed (managed: network= only)',
  },
  'restricted.devices.unix-char': {
    check: oneOf('block', 'allow'),
    default: 'block',
    description: 'Whether unix-char devices are allowed',
  },
  'restricted.devices.unix-block': {
    check: oneOf('block', 'allow'),
    default: 'block',
    description: 'Whether unix-block devices are allowed',
  },
  'restricted.devices.proxy': {
    check: oneOf('block', 'allow'),
    default: 'block',
    description: 'Whether proxy devices are allowed',
  },
};

/** Features LXD turns on for a new project when the request does not say. */
export const defaultNewProjectFeatures: ConfigMap = {
  'features.images': 'true',
  'features.profiles': 'true',
  'features.storage.volumes': 'true',
};

export function validProjectConfig(config: ConfigMap): void {
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith('user.')) continue;
    const entry = projectConfigKeys[key];
    const field = `config["${key}"]`;
    if (!entry) throw EngineError.invalid(field, `unknown project configuration key "${key}"`);
    const problem = entry.check(value);
    if (problem) throw EngineError.invalid(field, `invalid value "${value}": ${problem}`);
  }
}

/** The effective value of a project key (its value, or the default). */
export function projectSetting(config: ConfigMap, key: keyof typeof projectConfigKeys): string {
  return config[key] ?? projectConfigKeys[key]?.default ?? '';
}
