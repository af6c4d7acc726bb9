import { z } from 'zod';

/**
 * A map that may come as `null`: LXD's Go client sends a nil map as null
 * (`lxc profile create p1` sends `"config": null, "devices": null`) and
 * LXD reads it as empty. Parsed, it is always a map.
 */
function nullableMap<V extends z.ZodType>(value: V) {
  return z
    .record(z.string(), value)
    .nullable()
    .transform((map): Record<string, z.output<V>> => map ?? {});
}

/** String→string maps: config, device entries. `null` is an empty map. */
export const ConfigMap = nullableMap(z.string());
export type ConfigMap = z.infer<typeof ConfigMap>;

/** Devices: name → { type, ...keys }. `null` is no devices. */
export const DeviceMap = nullableMap(z.record(z.string(), z.string()));
export type DeviceMap = z.infer<typeof DeviceMap>;

/** RFC 3339 timestamps, as LXD prints them. `0001-01-01T00:00:00Z` means unset. */
export const Timestamp = z.string();
export const zeroTime = '0001-01-01T00:00:00Z';

export const ProjectName = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'may contain letters, digits, "-", "_" and "." and must start with a letter or digit',
  )
  .refine((n) => n !== '.' && n !== '..', 'must not be "." or ".."');

export const InstanceType = z.enum(['container', 'virtual-machine']);
export type InstanceType = z.infer<typeof InstanceType>;
