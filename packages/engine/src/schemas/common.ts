import { z } from 'zod';

/** String→string maps: config, device entries. */
export const ConfigMap = z.record(z.string(), z.string());
export type ConfigMap = z.infer<typeof ConfigMap>;

/** Devices: name → { type, ...keys }. */
export const DeviceMap = z.record(z.string(), z.record(z.string(), z.string()));
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
