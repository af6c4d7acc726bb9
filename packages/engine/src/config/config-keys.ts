import type { z } from 'zod';
import { isEngineError } from '../errors';
import { parseRawIdmap, RAW_IDMAP_FIELD } from '../validation/raw-idmap';
import { tryParseCpuLimit } from './parse-cpuset';
import { tryParseMemory } from './parse-memory';
import { tryParseRawLxc } from './raw-lxc';
import { tryParseExpiry } from './snapshot-expiry';
import { tryParseSchedule } from './snapshot-schedule';
import {
  type Check,
  isAny,
  isBool,
  isInt64,
  isInterfaceName,
  isMac,
  isUint32,
  isSingleLine,
  isUuid,
  optional,
  quote,
  schemaOf,
} from './value-checks';

/**
 * The one table of instance config keys, after LXD's
 * `lxd/instance/instancetype/instance.go`. Validation (`valid-config.ts`),
 * restricted-project checks and UI hints all read it. A key that no driver
 * implements yet is deliberately absent: accepting a key and then ignoring it
 * would quietly do nothing (e.g. a syscall deny list).
 */

export type InstanceType = 'container' | 'virtual-machine';
export type AppliesTo = InstanceType | 'both';

export type ConfigKeyType =
  | 'string'
  | 'blob'
  | 'integer'
  | 'boolean'
  | 'bytes'
  | 'cpuset'
  | 'schedule'
  | 'expiry'
  | 'uuid'
  | 'mac';

/** How a restricted project (`restricted=true`) treats a key, as LXD's `checkRestrictions`. */
export type ConfigKeyRestriction =
  /** Refused whenever set, unless `restricted.containers.lowlevel` / `restricted.virtual-machines.lowlevel` is `allow`. */
  | { kind: 'low-level' }
  /** Refused when true, unless the project's `by` key is one of `allows`. */
  | { kind: 'when-true'; by: string; allows: readonly string[] }
  /** Refused when not true, when the project's `by` key is one of `refusedWhen`. */
  | { kind: 'unless-true'; by: string; refusedWhen: readonly string[] };

export interface ConfigKeyDef {
  /** The key, or a pattern where `*` stands for any non-empty text (`environment.*`, `volatile.*.hwaddr`). */
  key: string;
  type: ConfigKeyType;
  /** Checks one value; reusable as a form or tRPC input schema. */
  validate: z.ZodType<string>;
  /** The value assumed when unset, per instance type where it differs; absent when there is none. */
  default?: string | Partial<Record<InstanceType, string>>;
  /** Whether a change reaches a running instance without a restart. */
  liveUpdate: boolean;
  restricted: ConfigKeyRestriction | false;
  description: string;
  appliesTo: AppliesTo;
  /** LXD refuses volatile.* and image.* in profiles. */
  inProfiles: boolean;
  /** volatile.*: written by the engine, never by users. */
  engineOwned: boolean;
}

interface KeyInit {
  type: ConfigKeyType;
  check: Check;
  default?: ConfigKeyDef['default'];
  liveUpdate: boolean;
  restricted?: ConfigKeyRestriction;
  description: string;
  appliesTo?: AppliesTo;
}

const LOW_LEVEL: ConfigKeyRestriction = { kind: 'low-level' };

/** A YAML document we cannot fully parse here (no YAML dependency), checked for the commonest mistake. */
const yamlProblem: Check = (value) => {
  const line = value.split('\n').findIndex((text) => text.startsWith('\t'));
  return line < 0 ? undefined : `YAML forbids tabs for indentation (line ${line + 1})`;
};

/** LXD's `IsCloudInitUserData`: `#cloud-config` documents must be YAML; other formats (scripts, MIME) pass. */
const cloudInitUserData: Check = (value) => {
  if (value !== '#cloud-config' && !value.startsWith('#cloud-config\n')) return undefined;
  return yamlProblem(value.slice('#cloud-config'.length));
};

const rawIdmapProblem: Check = (value) => {
  try {
    parseRawIdmap(value);
    return undefined;
  } catch (error) {
    if (!isEngineError(error)) throw error;
    const prefix = `${RAW_IDMAP_FIELD}: `;
    return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  }
};

function fromParse(parse: (value: string) => { ok: true } | { ok: false; reason: string }): Check {
  return (value) => {
    const parsed = parse(value);
    return parsed.ok ? undefined : parsed.reason;
  };
}

/** Snapshot names may not contain these; check the literal parts of a pattern (templates render later). */
const snapshotPatternProblem: Check = (value) => {
  const literal = value.replace(/\{\{.*?\}\}|\{%.*?%\}/gs, '');
  const bad = ['/', '\\', '*', ' '].find((character) => literal.includes(character));
  return bad === undefined ? undefined : `Snapshot names cannot contain ${quote(bad)}`;
};

/** environment.* values become process environment variables, one config line each. */
const environmentValue: Check = isSingleLine('Environment values');

const KEYS: Record<string, KeyInit> = {
  // Boot: read by the engine at host start and stop, so changes need no restart.
  'boot.autostart': {
    type: 'boolean',
    check: optional(isBool),
    liveUpdate: true,
    description:
      'Always start the instance when Berth starts (true), never (false), or restore its last state (unset).',
  },
  'boot.autostart.delay': {
    type: 'integer',
    check: optional(isInt64),
    default: '0',
    liveUpdate: true,
    description: 'Seconds to wait after starting this instance before starting the next one.',
  },
  'boot.autostart.priority': {
    type: 'integer',
    check: optional(isInt64),
    default: '0',
    liveUpdate: true,
    description: 'Start order at boot: the highest value starts first.',
  },
  'boot.stop.priority': {
    type: 'integer',
    check: optional(isInt64),
    default: '0',
    liveUpdate: true,
    description: 'Shutdown order when the host stops: the highest value stops first.',
  },
  'boot.host_shutdown_timeout': {
    type: 'integer',
    check: optional(isInt64),
    default: '30',
    liveUpdate: true,
    restricted: LOW_LEVEL,
    description: 'Seconds to wait for a clean shutdown when the host stops, before forcing it.',
  },

  // cloud-init, as LXD 5.0 names the keys; read at first boot only.
  'cloud-init.user-data': {
    type: 'blob',
    check: optional(cloudInitUserData),
    liveUpdate: false,
    description:
      'cloud-init user data (a #cloud-config YAML document or any format cloud-init takes).',
  },
  'cloud-init.vendor-data': {
    type: 'blob',
    check: optional(cloudInitUserData),
    liveUpdate: false,
    description: 'cloud-init vendor data; user data overrides it.',
  },
  'cloud-init.network-config': {
    type: 'blob',
    check: optional(yamlProblem),
    liveUpdate: false,
    description: 'cloud-init network configuration (YAML); by default DHCP on eth0.',
  },
  // The older user.* spellings that cloud-init images still read (cloud-init.* wins when both are set).
  'user.user-data': {
    type: 'blob',
    check: optional(cloudInitUserData),
    liveUpdate: false,
    description: 'Legacy spelling of cloud-init.user-data.',
  },
  'user.vendor-data': {
    type: 'blob',
    check: optional(cloudInitUserData),
    liveUpdate: false,
    description: 'Legacy spelling of cloud-init.vendor-data.',
  },
  'user.network-config': {
    type: 'blob',
    check: optional(yamlProblem),
    liveUpdate: false,
    description: 'Legacy spelling of cloud-init.network-config.',
  },
  'user.meta-data': {
    type: 'blob',
    check: optional(yamlProblem),
    liveUpdate: false,
    description: 'Extra cloud-init meta-data (YAML) appended to what Berth generates.',
  },

  // Resource limits.
  'limits.cpu': {
    type: 'cpuset',
    check: optional(fromParse(tryParseCpuLimit)),
    default: { 'virtual-machine': '1' },
    liveUpdate: true,
    description:
      'A number of CPUs (balanced by Berth) or a set to pin to (0-3,8). Pin one CPU with a range (0-0). Containers default to all host CPUs.',
  },
  'limits.memory': {
    type: 'bytes',
    check: optional(fromParse(tryParseMemory)),
    default: { 'virtual-machine': '1GiB' },
    liveUpdate: true,
    description:
      'Memory limit in bytes (512MiB, 2GB) or as a share of host memory (50%). Containers default to no limit.',
  },
  'limits.processes': {
    type: 'integer',
    check: optional(isInt64),
    liveUpdate: true,
    appliesTo: 'container',
    description: 'Maximum number of processes in the container (-1 or unset: no limit).',
  },

  // Migration: read when the state is saved, so changes need no restart.
  'migration.stateful': {
    type: 'boolean',
    check: optional(isBool),
    default: 'false',
    liveUpdate: true,
    description:
      'Allow stateful stops and snapshots of a VM: its memory and devices are saved in its volume, and a start runs on from them (containers would need CRIU, which Berth does not use).',
  },

  // Raw passthrough; the caller parses what it can.
  'raw.lxc': {
    type: 'blob',
    check: optional(fromParse((value) => tryParseRawLxc(value))),
    liveUpdate: false,
    restricted: LOW_LEVEL,
    appliesTo: 'container',
    description: 'LXC configuration lines (key = value) appended to the generated config.',
  },
  'raw.qemu': {
    type: 'blob',
    check: isAny,
    liveUpdate: false,
    restricted: LOW_LEVEL,
    appliesTo: 'virtual-machine',
    description: 'Extra arguments appended to the QEMU command line.',
  },
  'raw.idmap': {
    type: 'blob',
    check: optional(rawIdmapProblem),
    liveUpdate: false,
    restricted: LOW_LEVEL,
    description: 'Extra ID mappings, one per line: uid|gid|both HOST[-END] CONTAINER[-END].',
  },

  // Security.
  'security.privileged': {
    type: 'boolean',
    check: optional(isBool),
    default: 'false',
    liveUpdate: false,
    restricted: { kind: 'when-true', by: 'restricted.containers.privilege', allows: ['allow'] },
    appliesTo: 'container',
    description: 'Run the container without a user namespace (root inside is root on the host).',
  },
  'security.nesting': {
    type: 'boolean',
    check: optional(isBool),
    default: 'false',
    liveUpdate: true,
    restricted: { kind: 'when-true', by: 'restricted.containers.nesting', allows: ['allow'] },
    appliesTo: 'container',
    description: 'Allow running containers inside the container.',
  },
  'security.idmap.isolated': {
    type: 'boolean',
    check: optional(isBool),
    default: 'false',
    liveUpdate: false,
    restricted: {
      kind: 'unless-true',
      by: 'restricted.containers.privilege',
      refusedWhen: ['isolated'],
    },
    appliesTo: 'container',
    description: 'Give the container its own host ID range, not shared with other containers.',
  },
  'security.idmap.base': {
    type: 'integer',
    check: optional(isUint32),
    liveUpdate: false,
    restricted: LOW_LEVEL,
    appliesTo: 'container',
    description: 'First host ID of an isolated ID map (unset: Berth picks a free range).',
  },
  'security.idmap.size': {
    type: 'integer',
    check: optional(isUint32),
    liveUpdate: false,
    restricted: LOW_LEVEL,
    appliesTo: 'container',
    description: 'Number of IDs in an isolated ID map.',
  },
  'security.secureboot': {
    type: 'boolean',
    check: optional(isBool),
    default: 'true',
    // Accepted on a running VM (as LXD); the firmware's variables are remade at its next start.
    liveUpdate: false,
    appliesTo: 'virtual-machine',
    description:
      "UEFI Secure Boot with Microsoft's keys enrolled; a change resets the VM's UEFI variables at its next start.",
  },

  // Snapshots: read by the scheduler when it runs, so changes need no restart.
  'snapshots.schedule': {
    type: 'schedule',
    check: optional(fromParse(tryParseSchedule)),
    liveUpdate: true,
    description:
      'When to take snapshots: cron (0 6 * * *) or @hourly, @daily, @weekly, @monthly, @yearly, @startup, @never; several separated by ", ".',
  },
  'snapshots.schedule.stopped': {
    type: 'boolean',
    check: optional(isBool),
    default: 'false',
    liveUpdate: true,
    description: 'Also take scheduled snapshots while the instance is stopped.',
  },
  'snapshots.pattern': {
    type: 'string',
    check: optional(snapshotPatternProblem),
    default: 'snap%d',
    liveUpdate: true,
    description: 'Name template for snapshots; %d becomes the next free number.',
  },
  'snapshots.expiry': {
    type: 'expiry',
    check: fromParse(tryParseExpiry),
    liveUpdate: true,
    description:
      'How long snapshots live, e.g. "1d 2H": S seconds, M minutes, H hours, d days, w weeks, m months, y years.',
  },

  // Free-form namespaces.
  'environment.*': {
    type: 'string',
    check: environmentValue,
    liveUpdate: true,
    description:
      'An environment variable for commands run in the instance (exec); the init process sees it at next start.',
  },
  'user.*': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Free-form user metadata; Berth never interprets it.',
  },
  'image.*': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Properties copied from the image the instance was created from.',
  },

  // Engine-owned state (volatile.*).
  'volatile.apply_template': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Template trigger to apply at next start (create, copy, rename).',
  },
  'volatile.apply_quota': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Root disk quota to apply at next start.',
  },
  'volatile.base_image': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Fingerprint of the image the instance was created from.',
  },
  'volatile.cloud-init.instance-id': {
    type: 'uuid',
    check: optional(isUuid),
    liveUpdate: true,
    description: 'instance-id given to cloud-init.',
  },
  'volatile.evacuate.origin': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Cluster member the instance was evacuated from.',
  },
  'volatile.last_state.power': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Power state at the last host shutdown (RUNNING or STOPPED).',
  },
  'volatile.uuid': {
    type: 'uuid',
    check: optional(isUuid),
    liveUpdate: true,
    description: 'The instance UUID.',
  },
  'volatile.last_state.idmap': {
    type: 'string',
    check: isAny,
    appliesTo: 'container',
    liveUpdate: true,
    description: 'ID map the root filesystem is shifted to (JSON).',
  },
  'volatile.idmap.base': {
    type: 'integer',
    check: optional(isUint32),
    appliesTo: 'container',
    liveUpdate: true,
    description: 'First host ID of the container ID map.',
  },
  'volatile.idmap.current': {
    type: 'string',
    check: isAny,
    appliesTo: 'container',
    liveUpdate: true,
    description: 'ID map in use (JSON).',
  },
  'volatile.idmap.next': {
    type: 'string',
    check: isAny,
    appliesTo: 'container',
    liveUpdate: true,
    description: 'ID map for the next start (JSON).',
  },
  'volatile.vsock_id': {
    type: 'integer',
    check: optional(isInt64),
    appliesTo: 'virtual-machine',
    liveUpdate: true,
    description: 'vsock context id of the last start.',
  },
  'volatile.apply_nvram': {
    type: 'boolean',
    check: optional(isBool),
    appliesTo: 'virtual-machine',
    liveUpdate: true,
    description: 'Regenerate the VM NVRAM at next start.',
  },
  // Per device: volatile.<device>.<what>.
  'volatile.*.hwaddr': {
    type: 'mac',
    check: optional(isMac),
    liveUpdate: true,
    description: 'MAC address generated for a NIC device.',
  },
  'volatile.*.name': {
    type: 'string',
    check: optional(isInterfaceName),
    liveUpdate: true,
    description: 'Interface name of a NIC device inside the instance.',
  },
  'volatile.*.host_name': {
    type: 'string',
    check: optional(isInterfaceName),
    liveUpdate: true,
    description: 'Host-side interface name of a NIC device.',
  },
  'volatile.*.mtu': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Original MTU of a NIC device.',
  },
  'volatile.*.created': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Whether Berth created the host device.',
  },
  'volatile.*.id': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Host device id of a NIC device.',
  },
  'volatile.*.vlan': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Original VLAN of a NIC device.',
  },
  'volatile.*.spoofcheck': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Original spoof-check setting of a NIC device.',
  },
  'volatile.*.last_state.vf.parent': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Parent of an SR-IOV NIC.',
  },
  'volatile.*.apply_quota': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Disk quota to apply to a disk device at next start.',
  },
  'volatile.*.ceph_rbd': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'RBD path of a Ceph disk device.',
  },
  'volatile.*.driver': {
    type: 'string',
    check: isAny,
    liveUpdate: true,
    description: 'Host driver a device used before passthrough.',
  },
  'volatile.*.uuid': {
    type: 'uuid',
    check: optional(isUuid),
    liveUpdate: true,
    description: 'UUID of a device.',
  },
};

function build(key: string, init: KeyInit): ConfigKeyDef {
  const engineOwned = key.startsWith('volatile.');
  const def: ConfigKeyDef = {
    key,
    type: init.type,
    validate: schemaOf(init.check),
    liveUpdate: init.liveUpdate,
    restricted: init.restricted ?? false,
    description: init.description,
    appliesTo: init.appliesTo ?? 'both',
    inProfiles: !engineOwned && !key.startsWith('image.'),
    engineOwned,
  };
  if (init.default !== undefined) def.default = init.default;
  return def;
}

/** Every known key or key pattern, in a stable order (the table's). */
export const configKeys: Readonly<Record<string, ConfigKeyDef>> = Object.freeze(
  Object.fromEntries(Object.entries(KEYS).map(([key, init]) => [key, build(key, init)])),
);

const PATTERNS: readonly { regex: RegExp; def: ConfigKeyDef }[] = Object.values(configKeys)
  .filter((def) => def.key.includes('*'))
  .map((def) => ({
    regex: new RegExp(
      `^${def.key
        .split('*')
        .map((part) => part.replace(/[.]/g, '\\.'))
        .join('.+')}$`,
      's',
    ),
    def,
  }));

/** The table entry for a concrete key: exact match first, then patterns. */
export function lookupConfigKey(key: string): ConfigKeyDef | undefined {
  const exact = Object.hasOwn(configKeys, key) && !key.includes('*') ? configKeys[key] : undefined;
  return exact ?? PATTERNS.find(({ regex }) => regex.test(key))?.def;
}

/** Namespaces that take a sub-key (`environment.FOO`), for a clearer error on `environment.` alone. */
export const CONFIG_KEY_NAMESPACES = ['environment.', 'user.', 'image.', 'volatile.'] as const;

/** Whether a key applies to an instance type (`undefined`: a profile, which may serve either). */
export function keyAppliesTo(def: ConfigKeyDef, instanceType: InstanceType | undefined): boolean {
  return instanceType === undefined || def.appliesTo === 'both' || def.appliesTo === instanceType;
}

/** The default of a key for an instance type, if it has one. */
export function defaultFor(def: ConfigKeyDef, instanceType?: InstanceType): string | undefined {
  if (typeof def.default === 'string' || def.default === undefined) return def.default;
  return instanceType === undefined ? undefined : def.default[instanceType];
}
