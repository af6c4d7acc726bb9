// Inputs to the engine, shared by tRPC, REST and web forms. They check shape;
// the engine checks meaning (names, config keys, limits) and names the field.
import { z } from 'zod';
import { ConfigMap, DeviceMap, InstanceType } from './common.ts';

export const InstanceSource = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('image'),
    alias: z.string().optional(),
    fingerprint: z.string().optional(),
  }),
  z.object({ type: z.literal('none') }),
  /** LXD's local copy: `source` is `c1` or `c1/snap0`; `project` the source's, when not this one. */
  z.object({
    type: z.literal('copy'),
    source: z.string(),
    /** Without the source's snapshots (`container_only` is LXD's older name for it). */
    instance_only: z.boolean().default(false),
    container_only: z.boolean().optional(),
    project: z.string().optional(),
    /** LXD's incremental refresh of an existing copy: not supported. */
    refresh: z.boolean().default(false),
  }),
  z.object({ type: z.literal('backup') }),
]);
export type InstanceSource = z.infer<typeof InstanceSource>;

export const InstancesPost = z.object({
  /** Empty or absent: the engine picks a name, as LXD does. */
  name: z.string().optional(),
  type: InstanceType.default('container'),
  description: z.string().default(''),
  architecture: z.string().optional(),
  config: ConfigMap.default({}),
  devices: DeviceMap.default({}),
  /** Absent: `["default"]`. */
  profiles: z.array(z.string()).optional(),
  ephemeral: z.boolean().default(false),
  source: InstanceSource.default({ type: 'none' }),
  start: z.boolean().default(false),
});
export type InstancesPost = z.input<typeof InstancesPost>;

export const InstancePut = z.object({
  description: z.string().default(''),
  config: ConfigMap.default({}),
  devices: DeviceMap.default({}),
  profiles: z.array(z.string()).default([]),
  ephemeral: z.boolean().default(false),
});
export type InstancePut = z.input<typeof InstancePut>;

/** PATCH: only the given fields change; config and devices are merged. */
export const InstancePatch = z.object({
  description: z.string().optional(),
  config: ConfigMap.optional(),
  devices: DeviceMap.optional(),
  profiles: z.array(z.string()).optional(),
  ephemeral: z.boolean().optional(),
});
export type InstancePatch = z.input<typeof InstancePatch>;

export const InstanceStatePut = z.object({
  action: z.enum(['start', 'stop', 'restart', 'freeze', 'unfreeze']),
  timeout: z.number().int().min(-1).default(30),
  force: z.boolean().default(false),
  /**
   * stop: save the running state (migration.stateful); start: run on from
   * the saved one (true) or boot and drop it (false); unset, a start runs
   * on from a saved state when there is one, as `lxc start` asks.
   */
  stateful: z.boolean().optional(),
});
export type InstanceStatePut = z.input<typeof InstanceStatePut>;

export const RenamePost = z.object({ name: z.string() });
export type RenamePost = z.input<typeof RenamePost>;

export const ProfilesPost = z.object({
  name: z.string(),
  description: z.string().default(''),
  config: ConfigMap.default({}),
  devices: DeviceMap.default({}),
});
export type ProfilesPost = z.input<typeof ProfilesPost>;

export const ProfilePut = z.object({
  description: z.string().default(''),
  config: ConfigMap.default({}),
  devices: DeviceMap.default({}),
});
export type ProfilePut = z.input<typeof ProfilePut>;

export const ProjectsPost = z.object({
  name: z.string(),
  description: z.string().default(''),
  config: ConfigMap.default({}),
});
export type ProjectsPost = z.input<typeof ProjectsPost>;

export const ProjectPut = z.object({
  description: z.string().default(''),
  config: ConfigMap.default({}),
});
export type ProjectPut = z.input<typeof ProjectPut>;

export const SnapshotsPost = z.object({
  name: z.string().optional(),
  stateful: z.boolean().default(false),
  /** RFC 3339; absent: from `snapshots.expiry`. */
  expires_at: z.string().optional(),
});
export type SnapshotsPost = z.input<typeof SnapshotsPost>;

/** The instance keys of its snapshot schedule; the config key table validates their values. */
export const snapshotScheduleKeys = [
  'snapshots.schedule',
  'snapshots.schedule.stopped',
  'snapshots.expiry',
  'snapshots.pattern',
] as const;

/** A change of the schedule keys: "" (or absent) removes a key. */
export const SnapshotSchedulePut = z.partialRecord(z.enum(snapshotScheduleKeys), z.string());
export type SnapshotSchedulePut = z.input<typeof SnapshotSchedulePut>;

/** `POST /1.0/instances/<name>/backups` (LXD's InstanceBackupsPost). */
export const BackupsPost = z.object({
  /** Default: the next free `backup<N>`. */
  name: z.string().optional(),
  /** RFC 3339; absent, null or Go's zero date: never expires. */
  expires_at: z.string().nullable().optional(),
  /** Without the instance's snapshots (`container_only` is its older name). */
  instance_only: z.boolean().default(false),
  container_only: z.boolean().default(false),
  optimized_storage: z.boolean().default(false),
  /** Empty (what `lxc export` sends without --compression) is the default, gzip. */
  compression_algorithm: z
    .enum(['gzip', 'none', ''], 'must be "gzip" or "none" (empty: gzip)')
    .optional(),
});
export type BackupsPost = z.input<typeof BackupsPost>;

/** `POST /1.0/instances/<name>/exec` (LXD's InstanceExecPost). */
export const ExecPost = z.object({
  command: z.array(z.string()).min(1, 'must name a command'),
  environment: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  user: z.number().int().min(0).optional(),
  group: z.number().int().min(0).optional(),
  /** Give up after this many seconds (0: never). */
  timeout: z.number().min(0).default(0),
});
export type ExecPost = z.input<typeof ExecPost>;

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
