// Instance API objects in LXD's wire shape (shared/api/instance*.go).
import { z } from 'zod';
import { ConfigMap, DeviceMap, InstanceType, Timestamp } from './common.ts';
import { StatusCode, type InstanceStatus } from './status.ts';

export const Instance = z.object({
  name: z.string(),
  description: z.string(),
  type: InstanceType,
  architecture: z.string(),
  status: z.string(),
  status_code: z.number().int(),
  config: ConfigMap,
  devices: DeviceMap,
  profiles: z.array(z.string()),
  ephemeral: z.boolean(),
  stateful: z.boolean(),
  created_at: Timestamp,
  last_used_at: Timestamp,
  location: z.string(),
  project: z.string(),
  expanded_config: ConfigMap,
  expanded_devices: DeviceMap,
});
export type Instance = z.infer<typeof Instance>;

export const InstanceStateAddress = z.object({
  family: z.enum(['inet', 'inet6']),
  address: z.string(),
  netmask: z.string(),
  scope: z.string(),
});

export const InstanceStateNetwork = z.object({
  addresses: z.array(InstanceStateAddress),
  counters: z.object({
    bytes_received: z.number(),
    bytes_sent: z.number(),
    packets_received: z.number(),
    packets_sent: z.number(),
    errors_received: z.number(),
    errors_sent: z.number(),
    packets_dropped_outbound: z.number(),
    packets_dropped_inbound: z.number(),
  }),
  hwaddr: z.string(),
  host_name: z.string(),
  mtu: z.number(),
  state: z.string(),
  type: z.string(),
});

/**
 * The guest's OS, as its agent reports it (LXD's InstanceStateOSInfo). LXD
 * 5.0 has no `os_info` in its state; later LXD adds it under this name, and
 * Berth reports it for a VM whose agent answers.
 */
export const InstanceStateOSInfo = z.object({
  os: z.string(),
  os_version: z.string(),
  kernel_version: z.string(),
  hostname: z.string(),
  fqdn: z.string(),
});
export type InstanceStateOSInfo = z.infer<typeof InstanceStateOSInfo>;

export const InstanceState = z.object({
  status: z.string(),
  status_code: z.number().int(),
  disk: z.record(z.string(), z.object({ usage: z.number(), total: z.number().optional() })),
  memory: z.object({
    usage: z.number(),
    usage_peak: z.number(),
    swap_usage: z.number(),
    swap_usage_peak: z.number(),
  }),
  network: z.record(z.string(), InstanceStateNetwork).nullable(),
  pid: z.number().int(),
  processes: z.number().int(),
  cpu: z.object({ usage: z.number() }),
  os_info: InstanceStateOSInfo.optional(),
});
export type InstanceState = z.infer<typeof InstanceState>;

/** What an instance that runs nothing reports: `status` and zero use. */
export function idleInstanceState(status: InstanceStatus): InstanceState {
  return {
    status,
    status_code: StatusCode[status],
    disk: {},
    memory: { usage: 0, usage_peak: 0, swap_usage: 0, swap_usage_peak: 0 },
    network: null,
    pid: 0,
    processes: 0,
    cpu: { usage: 0 },
  };
}

export const InstanceSnapshot = z.object({
  name: z.string(),
  description: z.string(),
  architecture: z.string(),
  config: ConfigMap,
  devices: DeviceMap,
  ephemeral: z.boolean(),
  profiles: z.array(z.string()),
  stateful: z.boolean(),
  created_at: Timestamp,
  expires_at: Timestamp,
  last_used_at: Timestamp,
  expanded_config: ConfigMap,
  expanded_devices: DeviceMap,
  size: z.number().int(),
});
export type InstanceSnapshot = z.infer<typeof InstanceSnapshot>;

export const InstanceBackup = z.object({
  name: z.string(),
  created_at: Timestamp,
  expires_at: Timestamp,
  instance_only: z.boolean(),
  optimized_storage: z.boolean(),
});
export type InstanceBackup = z.infer<typeof InstanceBackup>;

/** `recursion=2`: the instance with its state, snapshots and backups. */
export const InstanceFull = Instance.extend({
  state: InstanceState.nullable(),
  snapshots: z.array(InstanceSnapshot).nullable(),
  backups: z.array(InstanceBackup).nullable(),
});
export type InstanceFull = z.infer<typeof InstanceFull>;
