// `backup/index.yaml`, as LXD writes and reads it (lxd/backup/backup_info.go
// and lxd/backup/config): the instance's name, storage backend and pool, the
// snapshot names, and `config` — the instance and its snapshots in their API
// shape (LXD's backup.yaml). Old LXD releases kept that `config` part in
// `backup/container/backup.yaml` (a VM's: `backup/virtual-machine/backup.yaml`)
// only; `parseBackupIndex` reads either. The `config` part names the
// instance `container` whatever its type, as LXD's does.
// Pure: no I/O, so the format is unit-tested on its own.
import { EngineError } from '../errors.ts';
import { parseYaml, writeYaml, type YamlValue, type YamlWritable } from '../images/safe-yaml.ts';
import type { InstanceType } from '../schemas/index.ts';

import {
  BACKUP_INDEX_PATH as INDEX_PATH,
  BACKUP_YAML_PATH,
  VM_BACKUP_YAML_PATH,
} from '../archive/backup-entry-check.ts';

export { INDEX_PATH, BACKUP_YAML_PATH, VM_BACKUP_YAML_PATH };

/** The old-style descriptions a tarball holds, by the instance type whose tree holds them. */
export type BackupYamls = Partial<Record<InstanceType, string | null>>;

/** The instance as a backup describes it (the part of LXD's api.Instance an import uses). */
export interface BackupInstance {
  name: string;
  type: InstanceType;
  architecture: string;
  description: string;
  ephemeral: boolean;
  stateful: boolean;
  profiles: string[];
  /** Local config, volatile keys included (as LXD stores it). */
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  createdAt: string;
  /** Informational: what the profiles made of it on the exporting host. */
  expandedConfig?: Record<string, string>;
  expandedDevices?: Record<string, Record<string, string>>;
}

export interface BackupSnapshot {
  name: string;
  description: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  createdAt: string;
  /** `0001-01-01T00:00:00Z` (LXD's zero time) or empty when it never expires. */
  expiresAt: string;
}

export interface BackupIndex {
  name: string;
  backend: string;
  pool: string;
  type: InstanceType;
  /** Snapshot names; empty for an instance-only backup. */
  snapshots: string[];
  /** A driver-specific binary dump (zfs send, btrfs send): Berth cannot read those. */
  optimized: boolean;
  instance: BackupInstance | null;
  /** Snapshot configs, by name (a snapshot may lack one in hand-made backups). */
  snapshotConfigs: BackupSnapshot[];
}

/** What `renderBackupIndex` needs beyond the index itself: the pool's API object. */
export interface RenderPool {
  name: string;
  driver: string;
  description?: string;
  config?: Record<string, string>;
}

const zeroTime = '0001-01-01T00:00:00Z';

// ------------------------------------------------------------------ render

function instanceYaml(i: BackupInstance, project: string): Record<string, YamlWritable> {
  return {
    architecture: i.architecture,
    config: i.config,
    devices: i.devices,
    ephemeral: i.ephemeral,
    profiles: i.profiles,
    stateful: i.stateful,
    description: i.description,
    created_at: i.createdAt,
    expanded_config: i.expandedConfig ?? i.config,
    expanded_devices: i.expandedDevices ?? i.devices,
    name: i.name,
    status: 'Stopped',
    status_code: 102,
    last_used_at: zeroTime,
    location: 'none',
    type: i.type,
    project,
  };
}

function snapshotYaml(s: BackupSnapshot, i: BackupInstance): Record<string, YamlWritable> {
  return {
    architecture: i.architecture,
    config: s.config,
    created_at: s.createdAt,
    devices: s.devices,
    ephemeral: false,
    expanded_config: s.config,
    expanded_devices: s.devices,
    expires_at: s.expiresAt || zeroTime,
    last_used_at: zeroTime,
    name: s.name,
    profiles: i.profiles,
    stateful: false,
    size: -1,
    description: s.description,
  };
}

/** The `config` part (LXD's backup.yaml): container, snapshots, pool. */
export function renderBackupConfig(
  index: BackupIndex,
  project: string,
  pool: RenderPool,
): Record<string, YamlWritable> {
  if (!index.instance) throw new EngineError('INTERNAL', 'a backup index needs its instance');
  const instance = index.instance;
  return {
    container: instanceYaml(instance, project),
    snapshots: index.snapshotConfigs.length
      ? index.snapshotConfigs.map((s) => snapshotYaml(s, instance))
      : undefined,
    pool: {
      name: pool.name,
      description: pool.description ?? '',
      driver: pool.driver,
      config: pool.config ?? {},
      status: 'Created',
      locations: ['none'],
    },
  };
}

export function renderBackupYaml(index: BackupIndex, project: string, pool: RenderPool): string {
  return writeYaml(renderBackupConfig(index, project, pool));
}

export function renderBackupIndex(index: BackupIndex, project: string, pool: RenderPool): string {
  return writeYaml({
    name: index.name,
    backend: index.backend,
    pool: index.pool,
    snapshots: index.snapshots.length ? index.snapshots : undefined,
    optimized: index.optimized,
    optimized_header: false,
    type: index.type,
    config: index.instance ? renderBackupConfig(index, project, pool) : undefined,
  });
}

// ------------------------------------------------------------------- parse

type Field = (name: string) => string;

function invalid(where: Field, name: string, reason: string): EngineError {
  return EngineError.invalid(where(name), reason);
}

function asMap(
  value: YamlValue | undefined,
  where: Field,
  name: string,
): Record<string, YamlValue> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid(where, name, 'must be a mapping');
  return value;
}

function asString(value: YamlValue | undefined, where: Field, name: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(where, name, 'must be a string');
  return value;
}

function asBool(value: YamlValue | undefined, where: Field, name: string): boolean {
  const text = asString(value, where, name);
  if (text === '' || text === 'false') return false;
  if (text === 'true') return true;
  throw invalid(where, name, `must be true or false, not "${text}"`);
}

function asStringList(value: YamlValue | undefined, where: Field, name: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(where, name, 'must be a list');
  return value.map((v, i) => {
    if (typeof v !== 'string' || v === '') throw invalid(where, `${name}[${i}]`, 'must be a name');
    return v;
  });
}

function asStringMap(
  value: YamlValue | undefined,
  where: Field,
  name: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(asMap(value, where, name))) {
    if (v === null) out[key] = '';
    else if (typeof v === 'string') out[key] = v;
    else throw invalid(where, `${name}["${key}"]`, 'must be a string');
  }
  return out;
}

function asDevices(
  value: YamlValue | undefined,
  where: Field,
  name: string,
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [dev, v] of Object.entries(asMap(value, where, name)))
    out[dev] = asStringMap(v, where, `${name}["${dev}"]`);
  return out;
}

function asType(value: YamlValue | undefined, where: Field, name: string): InstanceType {
  const text = asString(value, where, name) || 'container';
  if (text !== 'container' && text !== 'virtual-machine')
    throw invalid(where, name, `unknown instance type "${text}"`);
  return text;
}

function parseInstance(value: YamlValue | undefined, where: Field): BackupInstance | null {
  if (value === undefined || value === null) return null;
  const c = asMap(value, where, 'container');
  const at = (key: string) => `container.${key}`;
  return {
    name: asString(c['name'], where, at('name')),
    type: asType(c['type'], where, at('type')),
    architecture: asString(c['architecture'], where, at('architecture')),
    description: asString(c['description'], where, at('description')),
    ephemeral: asBool(c['ephemeral'], where, at('ephemeral')),
    stateful: asBool(c['stateful'], where, at('stateful')),
    profiles:
      c['profiles'] === undefined
        ? ['default']
        : asStringList(c['profiles'], where, at('profiles')),
    config: asStringMap(c['config'], where, at('config')),
    devices: asDevices(c['devices'], where, at('devices')),
    createdAt: asString(c['created_at'], where, at('created_at')),
    expandedConfig: asStringMap(c['expanded_config'], where, at('expanded_config')),
    expandedDevices: asDevices(c['expanded_devices'], where, at('expanded_devices')),
  };
}

function parseSnapshots(value: YamlValue | undefined, where: Field): BackupSnapshot[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(where, 'snapshots', 'must be a list');
  return value.map((raw, i) => {
    const s = asMap(raw, where, `snapshots[${i}]`);
    const at = (key: string) => `snapshots[${i}].${key}`;
    const name = asString(s['name'], where, at('name'));
    if (name === '') throw invalid(where, at('name'), 'is required');
    return {
      // LXD ≤ 4 wrote `c1/snap0`; the bare name is what follows the slash.
      name: name.includes('/') ? name.slice(name.indexOf('/') + 1) : name,
      description: asString(s['description'], where, at('description')),
      config: asStringMap(s['config'], where, at('config')),
      devices: asDevices(s['devices'], where, at('devices')),
      createdAt: asString(s['created_at'], where, at('created_at')),
      expiresAt: asString(s['expires_at'], where, at('expires_at')),
    };
  });
}

function parseDocument(text: string, file: string): YamlValue {
  return parseYaml(text, { file });
}

/**
 * Parses `index.yaml` (and, for backups that keep it apart, the instance's
 * `backup.yaml`: a string is the container's); throws INVALID_ARGUMENT
 * naming the file and field. Names are not validated here (the caller
 * knows which rules apply).
 */
export function parseBackupIndex(
  indexYaml: string,
  backupYamls?: string | null | BackupYamls,
): BackupIndex {
  const where: Field = (name) => `${INDEX_PATH}: ${name}`;
  const doc = asMap(parseDocument(indexYaml, INDEX_PATH), where, '(document)');
  const name = asString(doc['name'], where, 'name');
  if (name === '') throw invalid(where, 'name', 'is required');
  const type = asType(doc['type'], where, 'type');
  const yamls: BackupYamls =
    typeof backupYamls === 'string' ? { container: backupYamls } : (backupYamls ?? {});
  const backupYaml = yamls[type];
  const backupYamlPath = type === 'virtual-machine' ? VM_BACKUP_YAML_PATH : BACKUP_YAML_PATH;
  let config = doc['config'];
  let configWhere: Field = (field) => where(`config.${field}`);
  if ((config === undefined || config === null) && backupYaml) {
    config = parseDocument(backupYaml, backupYamlPath);
    configWhere = (field) => `${backupYamlPath}: ${field}`;
  }
  const configMap = asMap(config, where, 'config');
  return {
    name,
    backend: asString(doc['backend'], where, 'backend') || 'dir',
    pool: asString(doc['pool'], where, 'pool'),
    type,
    snapshots: asStringList(doc['snapshots'], where, 'snapshots'),
    optimized: asBool(doc['optimized'], where, 'optimized'),
    instance: parseInstance(configMap['container'], configWhere),
    snapshotConfigs: parseSnapshots(configMap['snapshots'], configWhere),
  };
}
