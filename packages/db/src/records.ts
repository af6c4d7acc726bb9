// What packages/db hands to the engine: plain data, no Prisma types.
import type { ConfigMap, DeviceMap } from './kv.ts';

export type { ConfigMap, DeviceMap };

export interface ProjectRecord {
  id: number;
  name: string;
  description: string;
  config: ConfigMap;
  createdAt: Date;
}

export interface ProfileRecord {
  id: number;
  project: string;
  name: string;
  description: string;
  config: ConfigMap;
  devices: DeviceMap;
}

export interface InstanceRecord {
  id: number;
  project: string;
  name: string;
  type: string;
  architecture: string;
  ephemeral: boolean;
  stateful: boolean;
  description: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  node: string;
  /** Local config only; expansion with profiles is the engine's job. */
  config: ConfigMap;
  devices: DeviceMap;
  /** Profile names in apply order. */
  profiles: string[];
}

export interface SnapshotRecord {
  id: number;
  project: string;
  instance: string;
  name: string;
  description: string;
  stateful: boolean;
  createdAt: Date;
  expiresAt: Date | null;
  config: ConfigMap;
  devices: DeviceMap;
}

export interface OperationRecord {
  id: string;
  project: string | null;
  class: string;
  description: string;
  status: string;
  statusCode: number;
  mayCancel: boolean;
  err: string;
  resources: Record<string, string[]>;
  metadata: unknown;
  location: string;
  createdAt: Date;
  updatedAt: Date;
}
