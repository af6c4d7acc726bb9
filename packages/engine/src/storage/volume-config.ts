// The config keys a custom volume of a `dir` pool takes (LXD's
// validateVolumeCommonRules + poolAndVolumeCommonRules, the dir driver adds
// none): the quota, the snapshot schedule, id-shifting and the engine-owned
// `volatile.idmap.*` record. Pure, so it is unit-tested beside.
import { EngineError } from '../errors.ts';
import { tryParseByteSize } from '../config/parse-memory.ts';
import { tryParseExpiry } from '../config/snapshot-expiry.ts';
import { tryParseSchedule } from '../config/snapshot-schedule.ts';
import type { ConfigMap } from '../schemas/common.ts';

type Check = (value: string) => string | undefined;

const isBool: Check = (v) =>
  ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', ''].includes(v.toLowerCase())
    ? undefined
    : 'Invalid value for a boolean';

const isSize: Check = (v) => {
  if (v === '') return undefined;
  const parsed = tryParseByteSize(v);
  return parsed.ok ? undefined : parsed.reason;
};

const isSchedule: Check = (v) => {
  if (v === '') return undefined;
  const parsed = tryParseSchedule(v);
  return parsed.ok ? undefined : parsed.reason;
};

const isExpiry: Check = (v) => {
  const parsed = tryParseExpiry(v);
  return parsed.ok ? undefined : parsed.reason;
};

const isPattern: Check = (v) =>
  (v.match(/%d/g)?.length ?? 0) > 1 ? "Snapshot pattern may contain '%d' only once" : undefined;

const any: Check = () => undefined;

const rules: Record<string, Check> = {
  size: isSize,
  'snapshots.schedule': isSchedule,
  'snapshots.expiry': isExpiry,
  'snapshots.pattern': isPattern,
  'security.shifted': isBool,
  'security.unmapped': isBool,
};

/** Keys the engine writes itself; a user's value for them is kept as it was. */
export const VOLATILE_IDMAP_LAST = 'volatile.idmap.last';
export const VOLATILE_IDMAP_NEXT = 'volatile.idmap.next';

/** LXD's DefaultBlockSize: what a block volume without `size` gets. */
export const DEFAULT_BLOCK_SIZE = '10GiB';

/**
 * Checks a custom volume's config; throws INVALID_ARGUMENT with LXD's
 * "Invalid option for volume ..." / "Invalid value for volume ..." naming
 * the key.
 */
export function validateVolumeConfig(name: string, contentType: string, config: ConfigMap): void {
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith('user.')) continue;
    const field = `config["${key}"]`;
    const idmapKey = key === VOLATILE_IDMAP_LAST || key === VOLATILE_IDMAP_NEXT;
    // volatile.idmap.* only make sense for filesystem volumes (as LXD).
    const check = idmapKey && contentType === 'filesystem' ? any : rules[key];
    if (check === undefined) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `Invalid option for volume "${name}" option "${key}"`,
        {
          field,
        },
      );
    }
    const problem = check(value);
    if (problem !== undefined) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `Invalid value for volume "${name}" option "${key}": ${problem}`,
        { field },
      );
    }
  }
  if (isTrue(config['security.shifted']) && isTrue(config['security.unmapped'])) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      'security.unmapped and security.shifted are mutually exclusive',
      { field: 'config["security.shifted"]' },
    );
  }
  if (contentType === 'block' && (config['security.shifted'] || config['security.unmapped'])) {
    throw EngineError.invalid(
      'config["security.shifted"]',
      'id-shifting only applies to filesystem volumes',
    );
  }
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes', 'on'].includes(value.toLowerCase());
}

/** A request's config with the engine-owned keys as they are now (a user cannot set or drop them). */
export function withVolatileOf(current: ConfigMap, requested: ConfigMap): ConfigMap {
  const out = Object.fromEntries(
    Object.entries(requested).filter(([k]) => !k.startsWith('volatile.')),
  );
  for (const [k, v] of Object.entries(current)) if (k.startsWith('volatile.')) out[k] = v;
  return out;
}

/** Bytes of `size` (0: none), the value already validated. */
export function sizeBytes(value: string | undefined): number {
  if (!value) return 0;
  const parsed = tryParseByteSize(value);
  return parsed.ok ? parsed.value : 0;
}
