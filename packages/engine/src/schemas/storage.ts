// Storage pools and volumes in LXD's wire shape (`GET /1.0/storage-pools`,
// `/1.0/storage-pools/<pool>/volumes`, `/resources`).
import { z } from 'zod';
import { ConfigMap, Timestamp } from './common.ts';

/** Any name: the pool service says which drivers run here and why the others do not (storage/pool-drivers.ts). */
export const StoragePoolDriver = z.string().min(1, 'must not be empty');
export type StoragePoolDriver = z.infer<typeof StoragePoolDriver>;

/** LXD's storage pool name rules: no slash, not `.`/`..`, no white space. */
export const StoragePoolName = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'may contain letters, digits, "-", "_" and "." and must start with a letter or digit',
  );

export const StoragePool = z.object({
  name: z.string(),
  description: z.string(),
  driver: z.string(),
  /** Created | Pending | Errored | Unknown */
  status: z.string(),
  config: ConfigMap,
  used_by: z.array(z.string()),
  locations: z.array(z.string()),
});
export type StoragePool = z.infer<typeof StoragePool>;

export const StoragePoolsPost = z.object({
  name: StoragePoolName,
  driver: StoragePoolDriver,
  description: z.string().default(''),
  config: ConfigMap.default({}),
});
export type StoragePoolsPost = z.input<typeof StoragePoolsPost>;

export const StoragePoolPut = z.object({
  description: z.string().default(''),
  config: ConfigMap.default({}),
});
export type StoragePoolPut = z.input<typeof StoragePoolPut>;

export const StorageVolume = z.object({
  /** `c1`, or `c1/snap0` for a snapshot's volume. */
  name: z.string(),
  description: z.string(),
  /** container | virtual-machine | image | custom */
  type: z.string(),
  config: ConfigMap,
  /** filesystem | block */
  content_type: z.string(),
  used_by: z.array(z.string()),
  location: z.string(),
  created_at: Timestamp,
  project: z.string(),
});
export type StorageVolume = z.infer<typeof StorageVolume>;

/** `GET /1.0/storage-pools/<pool>/resources`. */
export const StoragePoolResources = z.object({
  space: z.object({ used: z.number(), total: z.number() }),
  inodes: z.object({ used: z.number(), total: z.number() }),
});
export type StoragePoolResources = z.infer<typeof StoragePoolResources>;
