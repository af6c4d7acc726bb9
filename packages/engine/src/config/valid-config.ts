import { EngineError } from '../errors';
import { parseRawIdmap, type IdmapEntry } from '../validation/raw-idmap';
import {
  CONFIG_KEY_NAMESPACES,
  type ConfigKeyDef,
  type ConfigKeyType,
  configKeys,
  defaultFor,
  type InstanceType,
  keyAppliesTo,
  lookupConfigKey,
} from './config-keys';
import { isEnvironmentName, isFalseOrEmpty, isTrue, quote, schemaProblem } from './value-checks';

export interface ValidConfigOptions {
  /** The config belongs to a profile (LXD validates these with instance type "any"). */
  profile: boolean;
  /** The config is an instance's expanded config (profiles then local), not what a user sent. */
  expanded: boolean;
  /** Only the engine writing its own state passes true: volatile.* keys are engine-owned. */
  allowVolatile: boolean;
  /** Ignored for profiles, which may serve either type. */
  instanceType?: InstanceType;
}

export interface ConfigProblem {
  key: string;
  /** `config["limits.cpu"]`, the field an API error names. */
  field: string;
  reason: string;
}

export function configField(key: string): string {
  return `config[${quote(key)}]`;
}

const TYPE_LABEL: Record<InstanceType, string> = {
  container: 'containers',
  'virtual-machine': 'virtual machines',
};

function keyProblem(key: string, value: string, options: ValidConfigOptions): string | undefined {
  // Same order as LXD's ValidConfig: where a key may live, then what it is, then its value.
  const local = !options.expanded;
  if (key.startsWith('volatile.')) {
    if (options.profile && local) return 'Volatile keys can only be set on instances';
    if (!options.allowVolatile)
      return 'Volatile keys are written by Berth itself and cannot be set';
  }
  if (key.startsWith('image.') && options.profile && local)
    return 'Image keys can only be set on instances';

  const namespace = CONFIG_KEY_NAMESPACES.find((prefix) => key === prefix);
  if (namespace !== undefined) return `${quote(namespace)} requires a subkey`;
  if (key.startsWith('environment.')) {
    const problem = isEnvironmentName(key.slice('environment.'.length));
    if (problem !== undefined) return problem;
  }

  const def = lookupConfigKey(key);
  if (def === undefined) return `Unknown configuration key: ${key}`;
  if (!keyAppliesTo(def, options.instanceType) && def.appliesTo !== 'both') {
    return `Configuration key ${quote(key)} only applies to ${TYPE_LABEL[def.appliesTo]}`;
  }
  return schemaProblem(def.validate, value);
}

/**
 * Every problem in a config map, sorted by key (so the first is stable). Keys
 * that only apply to the other instance type are ignored in expanded config:
 * a profile may serve containers and VMs alike (LXD skips such devices the
 * same way), but refused in what a user sets on an instance directly.
 */
export function configProblems(
  config: Record<string, string>,
  given: ValidConfigOptions,
): ConfigProblem[] {
  // A profile may serve either instance type (LXD validates profiles as "any").
  const options = given.profile ? { ...given, instanceType: undefined } : given;
  const problems: ConfigProblem[] = [];
  const add = (key: string, reason: string) =>
    problems.push({ key, field: configField(key), reason });
  const keys = Object.keys(config).sort();

  for (const key of keys) {
    const value = config[key] ?? '';
    const def = lookupConfigKey(key);
    if (options.expanded && def !== undefined && !keyAppliesTo(def, options.instanceType)) continue;
    const reason = keyProblem(key, value, options);
    if (reason !== undefined) add(key, reason);
  }

  // LXD silently ignores the ID map settings of a privileged container; say so instead.
  const applies = (key: string) => {
    const def = lookupConfigKey(key);
    return def !== undefined && keyAppliesTo(def, options.instanceType);
  };
  if (
    applies('security.privileged') &&
    isTrue(config['security.privileged']) &&
    isTrue(config['security.idmap.isolated'])
  ) {
    add(
      'security.idmap.isolated',
      'Cannot be used with security.privileged=true: a privileged container has no ID map to isolate',
    );
  }
  return problems;
}

/**
 * LXD's `instance.ValidConfig`: throws an INVALID_ARGUMENT `EngineError` for
 * the first problem (by key), naming the key and the reason, e.g.
 * `config["limits.cpu"]: Invalid CPU limit syntax ...`.
 */
export function validConfig(config: Record<string, string>, options: ValidConfigOptions): void {
  const [first] = configProblems(config, options);
  if (first !== undefined) throw EngineError.invalid(first.field, first.reason);
}

/** LXD's defaults for the `restricted.*` project keys that gate instance config. */
export const PROJECT_RESTRICTION_DEFAULTS: Readonly<Record<string, string>> = {
  'restricted.containers.lowlevel': 'block',
  'restricted.virtual-machines.lowlevel': 'block',
  'restricted.containers.nesting': 'block',
  'restricted.containers.privilege': 'unprivileged',
  'restricted.idmap.uid': '',
  'restricted.idmap.gid': '',
};

export interface RestrictedKeysOptions {
  /** Unset for profiles: then low-level keys need both container and VM low-level allowed, as in LXD. */
  instanceType?: InstanceType;
  /**
   * The project's config. Unset means a restricted project with every
   * `restricted.*` key at its default; a project without `restricted=true`
   * refuses nothing.
   */
  project?: Record<string, string>;
}

interface HostRange {
  start: number;
  size: number;
}

/** `restricted.idmap.uid`: `1000,2000-2999` (LXD's `ParseUint32Range`, end strictly above start). */
function parseHostRanges(list: string): HostRange[] | undefined {
  const ranges: HostRange[] = [];
  for (const item of list
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    const match = /^([0-9]+)(?:-([0-9]+))?$/.exec(item);
    if (match === null) return undefined;
    const start = Number(match[1]);
    const end = match[2] === undefined ? start : Number(match[2]);
    if (match[2] !== undefined && end <= start) return undefined;
    ranges.push({ start, size: end - start + 1 });
  }
  return ranges;
}

function covered(start: number, size: number, ranges: readonly HostRange[]): boolean {
  return ranges.some((range) => start >= range.start && start + size <= range.start + range.size);
}

/** LXD lets a restricted project use raw.idmap when every host ID is in restricted.idmap.uid/gid. */
function rawIdmapAllowed(value: string, restrictions: Record<string, string>): boolean {
  const uids = parseHostRanges(restrictions['restricted.idmap.uid'] ?? '');
  const gids = parseHostRanges(restrictions['restricted.idmap.gid'] ?? '');
  if (uids === undefined || gids === undefined) return false;
  let entries: IdmapEntry[];
  try {
    entries = parseRawIdmap(value);
  } catch {
    return false;
  }
  return entries.every(
    (entry) =>
      (!entry.isUid || covered(entry.hostId, entry.maprange, uids)) &&
      (!entry.isGid || covered(entry.hostId, entry.maprange, gids)),
  );
}

/**
 * The keys of `config` a restricted project refuses, sorted, as LXD's
 * `checkRestrictions`: low-level keys whenever set (raw.idmap unless its host
 * IDs are within `restricted.idmap.uid/gid`), `security.privileged` and
 * `security.nesting` when true, `security.idmap.isolated` when not true in a
 * project with `restricted.containers.privilege=isolated`. Like LXD it looks
 * at the keys present, so pass an instance's expanded config to judge the
 * instance (an absent `security.idmap.isolated` is not reported).
 */
export function restrictedKeysIn(
  config: Record<string, string>,
  options: RestrictedKeysOptions = {},
): string[] {
  const project = options.project;
  if (project !== undefined && !isTrue(project.restricted)) return [];
  const restrictions = { ...PROJECT_RESTRICTION_DEFAULTS, ...project };
  const setting = (key: string) => restrictions[key] ?? '';
  const lowLevelAllowed =
    options.instanceType === 'container'
      ? setting('restricted.containers.lowlevel') === 'allow'
      : options.instanceType === 'virtual-machine'
        ? setting('restricted.virtual-machines.lowlevel') === 'allow'
        : setting('restricted.containers.lowlevel') === 'allow' &&
          setting('restricted.virtual-machines.lowlevel') === 'allow';

  const refused = (key: string, value: string, def: ConfigKeyDef): boolean => {
    const rule = def.restricted;
    if (rule === false || !keyAppliesTo(def, options.instanceType)) return false;
    switch (rule.kind) {
      case 'low-level':
        if (lowLevelAllowed) return false;
        return key === 'raw.idmap' ? !rawIdmapAllowed(value, restrictions) : true;
      case 'when-true':
        return isTrue(value) && !rule.allows.includes(setting(rule.by));
      case 'unless-true':
        return isFalseOrEmpty(value) && rule.refusedWhen.includes(setting(rule.by));
    }
  };

  return Object.keys(config)
    .filter((key) => {
      const def = lookupConfigKey(key);
      return def !== undefined && refused(key, config[key] ?? '', def);
    })
    .sort();
}

export interface ConfigKeyHint {
  key: string;
  type: ConfigKeyType;
  default: string | undefined;
  description: string;
  liveUpdate: boolean;
  appliesTo: ConfigKeyDef['appliesTo'];
  engineOwned: boolean;
  /** Whether a restricted project may refuse it (see `restrictedKeysIn`). */
  restricted: boolean;
}

/** What a UI needs to offer config keys: every user-settable key (patterns as `environment.*`) for a type. */
export function configKeyHints(
  options: { instanceType?: InstanceType; includeEngineOwned?: boolean } = {},
): ConfigKeyHint[] {
  return Object.values(configKeys)
    .filter(
      (def) =>
        keyAppliesTo(def, options.instanceType) && (options.includeEngineOwned || !def.engineOwned),
    )
    .map((def) => ({
      key: def.key,
      type: def.type,
      default: defaultFor(def, options.instanceType),
      description: def.description,
      liveUpdate: def.liveUpdate,
      appliesTo: def.appliesTo,
      engineOwned: def.engineOwned,
      restricted: def.restricted !== false,
    }));
}
