// What a backup import will create, decided before anything is: index.yaml
// checked with the engine's config and device validation, the profiles
// this project has, the root disk's pool, and the instance and each
// snapshot as they would be expanded here. A container's backup carries
// root filesystems, a virtual machine's carries disks
// (archive/backup-entry-check.ts); one never holds the other's.
import { EngineError, isEngineError } from '../errors.ts';
import { expand } from '../config/expand-config.ts';
import { validateLocal } from '../projects/validate-instance.ts';
import { profileProjectOf } from '../projects/projects.ts';
import { rootDiskOf } from '../config/devices.ts';
import type { InstanceType } from '../schemas/index.ts';
import { validInstanceName, validSnapshotName } from '../validation/index.ts';
import type { BackupContext } from './backup-context.ts';
import { INDEX_PATH, type BackupIndex, type BackupSnapshot } from './backup-index.ts';
import type { BackupScan } from '../archive/backup-scan.ts';
import { VM_DISK_PATH, vmDiskPath } from '../archive/backup-entry-check.ts';

export interface ImportOptions {
  /** The new instance's name; default: the name in index.yaml. */
  name?: string;
  /** The pool for the root disk; default: the one the backup's devices and profiles name. */
  pool?: string;
}

/** What an import will create, once everything in the tarball was checked. */
export interface ImportPlan {
  name: string;
  type: InstanceType;
  pool: string;
  architecture: string;
  description: string;
  ephemeral: boolean;
  profiles: string[];
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  /** Volatile keys worth keeping (MACs, base image), applied when free. */
  volatile: Record<string, string>;
  snapshots: BackupSnapshot[];
  warnings: string[];
}

/** Re-throws a validation error about a backup's content, saying where it comes from. */
function fromBackup(error: unknown, where: string): never {
  if (!isEngineError(error)) throw error;
  throw new EngineError(error.code, `${INDEX_PATH}: ${where}${error.message}`, {
    ...(error.field === undefined ? {} : { field: error.field }),
    cause: error,
  });
}

/** The tarball holds what its type needs, and nothing of the other type's. */
function checkLayout(type: InstanceType, scan: BackupScan): void {
  if (type === 'container') {
    if (!scan.rootfsTrees.has('container'))
      throw EngineError.invalid('tarball', 'Backup tarball has no backup/container/rootfs/');
    if (scan.disks.size > 0)
      throw EngineError.invalid(
        'tarball',
        "Backup tarball of a container holds a virtual machine's disk (backup/virtual-machine*.img)",
      );
    return;
  }
  if (!scan.disks.has('virtual-machine'))
    throw EngineError.invalid('tarball', `Backup tarball has no ${VM_DISK_PATH} (the disk)`);
  if (scan.rootfsTrees.size > 0)
    throw EngineError.invalid(
      'tarball',
      "Backup tarball of a virtual machine holds a container's root filesystem (backup/container/rootfs/ or backup/snapshots/)",
    );
}

/** Everything checked before anything is created. */
export async function planImport(
  b: BackupContext,
  project: string,
  index: BackupIndex,
  scan: BackupScan,
  options: ImportOptions,
): Promise<ImportPlan> {
  if (index.optimized)
    throw EngineError.invalid(
      `${INDEX_PATH}: optimized`,
      `optimized backups hold a ${index.backend} stream, which a dir pool cannot read`,
    );
  const type = index.type;
  const source = index.instance;
  if (!source) throw EngineError.invalid(`${INDEX_PATH}: config.container`, 'is required');
  if (source.type !== type)
    throw EngineError.invalid(
      `${INDEX_PATH}: config.container.type`,
      `the instance is a ${source.type} but the backup is of type ${type}`,
    );

  try {
    validInstanceName(index.name);
  } catch (error) {
    fromBackup(error, 'name: ');
  }
  const name = options.name ?? index.name;
  if (await b.db.instances.get(project, name))
    throw new EngineError('ALREADY_EXISTS', `Instance "${name}" already exists`, {
      field: 'name',
    });
  checkLayout(type, scan);

  const local = (config: Record<string, string>) =>
    Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('volatile.')));
  const config = local(source.config);
  const devices = structuredClone(source.devices);
  try {
    validateLocal(type, config, devices);
  } catch (error) {
    fromBackup(error, 'container ');
  }

  const seen = new Set<string>();
  const snapshots: BackupSnapshot[] = [];
  for (const snapName of index.snapshots) {
    try {
      validSnapshotName(snapName);
    } catch (error) {
      fromBackup(error, `snapshots: "${snapName}": `);
    }
    if (seen.has(snapName))
      throw EngineError.invalid(`${INDEX_PATH}: snapshots`, `"${snapName}" is listed twice`);
    seen.add(snapName);
    if (type === 'container' && !scan.rootfsTrees.has(`snapshots/${snapName}`))
      throw EngineError.invalid(
        'tarball',
        `Backup tarball has no backup/snapshots/${snapName}/rootfs/`,
      );
    if (type === 'virtual-machine' && !scan.disks.has(`virtual-machine-snapshots/${snapName}`))
      throw EngineError.invalid(
        'tarball',
        `Backup tarball has no ${vmDiskPath(`virtual-machine-snapshots/${snapName}`)} (the disk of snapshot "${snapName}")`,
      );
    const recorded = index.snapshotConfigs.find((s) => s.name === snapName);
    const snapshot: BackupSnapshot = recorded
      ? { ...recorded, config: local(recorded.config) }
      : {
          name: snapName,
          description: '',
          config,
          devices,
          createdAt: '',
          expiresAt: '',
        };
    try {
      validateLocal(type, snapshot.config, snapshot.devices);
    } catch (error) {
      fromBackup(error, `snapshot "${snapName}" `);
    }
    snapshots.push(snapshot);
  }

  // Profiles this project has; the others are dropped with a warning.
  const warnings: string[] = [];
  const projectRecord = await b.db.projects.get(project);
  if (!projectRecord) throw EngineError.notFound('Project', { field: 'project' });
  const profileProject = profileProjectOf(project, projectRecord.config);
  const found = await b.db.profiles.getMany(profileProject, source.profiles);
  const profiles = source.profiles.filter((p) => found.some((f) => f.name === p));
  const missing = source.profiles.filter((p) => !profiles.includes(p));
  if (missing.length) {
    warnings.push(
      `Profiles ${missing.map((p) => `"${p}"`).join(', ')} of the backup do not exist in project "${project}": ${
        profiles.length ? 'left out' : 'using "default"'
      }`,
    );
  }
  if (profiles.length === 0) profiles.push('default');
  const layers = await b.db.profiles.getMany(profileProject, profiles);
  const ordered = profiles.flatMap((p) => layers.filter((l) => l.name === p));

  // The root disk's pool: the one asked for, else the one the backup's devices and profiles name.
  const root = rootDiskOf(expand(ordered, { config, devices }).devices);
  let pool = root?.[1].pool ?? 'default';
  if (options.pool !== undefined && options.pool !== pool) {
    pool = options.pool;
    const localRoot = rootDiskOf(devices);
    if (localRoot) devices[localRoot[0]] = { ...localRoot[1], pool };
    else devices[root?.[0] ?? 'root'] = { type: 'disk', path: '/', pool };
  } else {
    await b.storage.get(pool).catch((error: unknown) => {
      if (!isEngineError(error, 'NOT_FOUND')) throw error;
      throw EngineError.invalid(
        'pool',
        `the backup's root disk is on pool "${pool}", which does not exist here: choose a pool`,
      );
    });
  }

  // The instance and every snapshot as they would be expanded here, before
  // anything is unpacked: a snapshot is restorable later, so a forbidden
  // one (security.privileged, a host path disk) refuses the whole backup.
  try {
    await b.instances.checkWouldBe(
      project,
      { name, type, config, devices, profiles },
      `instance "${name}" of the backup`,
    );
    for (const snapshot of snapshots) {
      await b.instances.checkWouldBe(
        project,
        {
          name,
          type,
          config: snapshot.config,
          devices: snapshot.devices,
          profiles,
        },
        `snapshot "${name}/${snapshot.name}" of the backup`,
      );
    }
  } catch (error) {
    fromBackup(error, '');
  }

  const volatile: Record<string, string> = {};
  for (const [key, value] of Object.entries(source.config)) {
    if (/^volatile\.[^.]+\.hwaddr$/.test(key) || key === 'volatile.base_image')
      volatile[key] = value;
  }
  return {
    name,
    type,
    pool,
    architecture: source.architecture,
    description: source.description,
    ephemeral: source.ephemeral,
    profiles,
    config,
    devices,
    volatile,
    snapshots,
    warnings,
  };
}
