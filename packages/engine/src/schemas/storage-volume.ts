// Custom storage volumes and their snapshots in LXD's wire shape
// (shared/api/storage_pool_volume.go, storage_pool_volume_snapshot.go):
// requests under `/1.0/storage-pools/<pool>/volumes/custom[/<name>[/snapshots]]`.
import { z } from 'zod';
import { ConfigMap, Timestamp } from './common.ts';

/** LXD's volume names: no slash (a slash names a snapshot), not `.`/`..`, no white space. */
export const StorageVolumeName = z
  .string()
  .min(1, 'No name provided')
  .max(255, 'must be at most 255 characters')
  .refine((n) => !n.includes('/'), 'Storage volume names may not contain slashes')
  .refine((n) => !/\s/.test(n), 'must not contain white space')
  .refine((n) => !n.startsWith('.'), 'must not start with "."');

export const StorageVolumeContentType = z.enum(['filesystem', 'block']);
export type StorageVolumeContentType = z.infer<typeof StorageVolumeContentType>;

/** A zero time or null from the Go client is "no expiry". */
const OptionalExpiry = z
  .string()
  .nullable()
  .optional()
  .transform((v) => (v === null || v === undefined || v.startsWith('0001-01-01') ? undefined : v));

export const StorageVolumeSource = z.object({
  /** `copy` (from a volume of this server) or empty (a new volume). */
  type: z.string().default(''),
  name: z.string().default(''),
  pool: z.string().default(''),
  project: z.string().optional(),
  /** Copy without the source's snapshots. */
  volume_only: z.boolean().default(false),
  refresh: z.boolean().default(false),
});

export const StorageVolumesPost = z.object({
  name: StorageVolumeName,
  /** Only `custom` may be created (LXD refuses every other type). */
  type: z.string().default('custom'),
  content_type: z
    .string()
    .default('')
    .transform((v) => (v === '' ? 'filesystem' : v))
    .pipe(StorageVolumeContentType),
  description: z.string().default(''),
  config: ConfigMap.default({}),
  source: StorageVolumeSource.nullable()
    .optional()
    .transform((s) => s ?? StorageVolumeSource.parse({})),
});
export type StorageVolumesPost = z.input<typeof StorageVolumesPost>;

export const StorageVolumePut = z.object({
  description: z.string().default(''),
  config: ConfigMap.default({}),
  /** A snapshot's name: restore the volume from it. */
  restore: z.string().optional(),
});
export type StorageVolumePut = z.input<typeof StorageVolumePut>;

export const StorageVolumePatch = z.object({
  description: z.string().optional(),
  config: ConfigMap.optional(),
  restore: z.string().optional(),
});
export type StorageVolumePatch = z.input<typeof StorageVolumePatch>;

/** `POST .../volumes/custom/<name>`: a rename, or a move to another pool or project. */
export const StorageVolumePost = z.object({
  name: StorageVolumeName,
  pool: z.string().optional(),
  project: z.string().optional(),
  migration: z.boolean().default(false),
  volume_only: z.boolean().default(false),
});
export type StorageVolumePost = z.input<typeof StorageVolumePost>;

export const StorageVolumeSnapshot = z.object({
  name: z.string(),
  description: z.string(),
  config: ConfigMap,
  content_type: z.string(),
  created_at: Timestamp,
  /** `0001-01-01T00:00:00Z` when it never expires, as LXD prints it. */
  expires_at: Timestamp,
});
export type StorageVolumeSnapshot = z.infer<typeof StorageVolumeSnapshot>;

export const StorageVolumeSnapshotsPost = z.object({
  /** Absent: from the volume's `snapshots.pattern` (default `snap%d`). */
  name: z.string().optional(),
  /** RFC 3339; absent: from the volume's `snapshots.expiry`. */
  expires_at: OptionalExpiry,
});
export type StorageVolumeSnapshotsPost = z.input<typeof StorageVolumeSnapshotsPost>;

export const StorageVolumeSnapshotPut = z.object({
  description: z.string().default(''),
  expires_at: OptionalExpiry,
});
export type StorageVolumeSnapshotPut = z.input<typeof StorageVolumeSnapshotPut>;

/** `GET .../volumes/custom/<name>/state` (LXD's StorageVolumeState). */
export const StorageVolumeState = z.object({
  usage: z.object({ used: z.number(), total: z.number() }).nullable(),
});
export type StorageVolumeState = z.infer<typeof StorageVolumeState>;
