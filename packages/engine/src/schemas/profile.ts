import { z } from 'zod';
import { ConfigMap, DeviceMap, Timestamp } from './common.ts';

export const Profile = z.object({
  name: z.string(),
  description: z.string(),
  config: ConfigMap,
  devices: DeviceMap,
  /** API URLs of the instances using it, e.g. `/1.0/instances/c1?project=p`. */
  used_by: z.array(z.string()),
});
export type Profile = z.infer<typeof Profile>;

export const Project = z.object({
  name: z.string(),
  description: z.string(),
  config: ConfigMap,
  used_by: z.array(z.string()),
});
export type Project = z.infer<typeof Project>;

/** What `GET /1.0/projects/<name>/state` reports: usage against limits. */
export const ProjectState = z.object({
  resources: z.record(z.string(), z.object({ Limit: z.number(), Usage: z.number() })),
});
export type ProjectState = z.infer<typeof ProjectState>;

export const Operation = z.object({
  id: z.string(),
  class: z.enum(['task', 'websocket', 'token']),
  description: z.string(),
  created_at: Timestamp,
  updated_at: Timestamp,
  status: z.string(),
  status_code: z.number().int(),
  resources: z.record(z.string(), z.array(z.string())).nullable(),
  metadata: z.unknown(),
  may_cancel: z.boolean(),
  err: z.string(),
  location: z.string(),
});
export type Operation = z.infer<typeof Operation>;

export const Event = z.object({
  type: z.enum(['lifecycle', 'operation', 'logging']),
  timestamp: Timestamp,
  metadata: z.unknown(),
  location: z.string(),
  project: z.string(),
});
export type Event = z.infer<typeof Event>;

export const LifecycleMetadata = z.object({
  action: z.string(),
  source: z.string(),
  context: z.record(z.string(), z.unknown()).optional(),
  requestor: z
    .object({ username: z.string(), protocol: z.string(), address: z.string() })
    .optional(),
});
export type LifecycleMetadata = z.infer<typeof LifecycleMetadata>;
