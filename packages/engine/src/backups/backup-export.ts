// Backing an instance up: its volume (and snapshots) copied while it is
// held still, for the length of the copy only (a reflink where the
// filesystem can), then packed by GNU tar without holding the instance. A
// container is frozen and its private copy unshifted to container ids; a
// virtual machine is quiesced and its disks flattened (backup-export-vm.ts).
// Holding it still rather than taking a snapshot leaves no snapshot record
// or event behind and costs the same copy.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { apiUrl } from '../api-url.ts';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import { TAR_PACK_OWNERSHIP } from '../images/image-files.ts';
import { throttled, type Progress } from '../operations/progress.ts';
import type { OperationContext } from '../operations/operations.ts';
import { parseInput } from '../parse-input.ts';
import { BackupsPost, type Operation } from '../schemas/index.ts';
import { tempSiblingOf } from '../storage/pool-paths.ts';
import { copyTree, removeTree, treeUsage } from '../storage/tree-ops.ts';
import type { BackupContext } from './backup-context.ts';
import { stageVmBackup } from './backup-export-vm.ts';
import { randomHex } from './backup-files.ts';
import { renderBackupIndex, renderBackupYaml, type BackupIndex } from './backup-index.ts';
import { nextBackupName, validBackupName } from './backup-names.ts';
import { unshiftCopy, volumeShift } from '../storage/volume-ownership.ts';

const TAR_TIMEOUT_MS = 6 * 60 * 60_000;

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339, or '' for never: absent, null, empty and Go's zero date (`0001-01-01…`) alike. */
function parseExpiry(value: string | null | undefined): string {
  if (value === undefined || value === null || value === '' || value.startsWith('0001-')) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw EngineError.invalid('expires_at', `"${value}" is not an RFC 3339 date`);
  return rfc3339(date);
}

/** Backs the instance up as an operation; it ends with `{ name, size }`. */
export async function exportBackup(
  b: BackupContext,
  project: string,
  instance: string,
  post: BackupsPost,
): Promise<Operation> {
  const req = parseInput(BackupsPost, post);
  const compression = req.compression_algorithm || 'gzip';
  const expiresAt = parseExpiry(req.expires_at);
  await b.instances.resolve(project, instance);
  await b.ready();
  const existing = (await b.files.records(project, instance)).map((r) => r.name);
  const taken = (n: string) =>
    existing.includes(n) || b.reserved.has(`${project}/${instance}/${n}`);
  // An empty name is none, as LXD's clients send it.
  let name = req.name || undefined;
  if (name === undefined) {
    name = nextBackupName(existing);
    while (taken(name)) name = nextBackupName([...existing, name]);
  }
  validBackupName(name);
  if (taken(name))
    throw new EngineError('ALREADY_EXISTS', `Backup "${name}" already exists`, { field: 'name' });
  const key = `${project}/${instance}/${name}`;
  b.reserved.add(key);
  const backupName = name;
  try {
    return await b.operations.start({
      project,
      description: 'Backing up instance',
      mayCancel: true,
      resources: {
        instances: [apiUrl.instance(project, instance)],
        // LXD's form (its resources become /1.0/<kind>/<name>): `lxc export` strips
        // "/1.0/backups/" from it to learn the backup's name.
        backups: [`/1.0/backups/${encodeURIComponent(backupName)}`],
      },
      run: (ctx) =>
        runExport(
          b,
          project,
          instance,
          {
            name: backupName,
            instanceOnly: req.instance_only || req.container_only,
            compression,
            expiresAt,
          },
          ctx,
        ).finally(() => b.reserved.delete(key)),
    });
  } catch (error) {
    b.reserved.delete(key);
    throw error;
  }
}

async function runExport(
  b: BackupContext,
  project: string,
  instanceName: string,
  options: {
    name: string;
    instanceOnly: boolean;
    compression: 'gzip' | 'none';
    expiresAt: string;
  },
  ctx: OperationContext,
): Promise<Record<string, unknown>> {
  const progress = throttled(ctx);
  const signal = ctx.signal;
  const createdAt = new Date();
  const { instance: first, view: firstView } = await b.instances.resolve(project, instanceName);
  // The work copy lives in the pool (same filesystem: reflinks) under a
  // hidden `.snapshot-` name the pool sweeps at start-up after a crash.
  const work = tempSiblingOf(firstView.paths.dir, 'snapshot', randomHex());
  const stage = path.join(work, 'backup');
  let partial: string | null = null;
  try {
    await mkdir(stage, { recursive: true, mode: 0o700 });
    await progress(5, 'Copying instance');
    const copied =
      first.type === 'virtual-machine'
        ? await stageVmBackup(
            b,
            project,
            instanceName,
            stage,
            path.join(work, 'held'),
            options.instanceOnly,
            progress,
            signal,
          )
        : await stageContainerBackup(
            b,
            project,
            instanceName,
            stage,
            options.instanceOnly,
            progress,
            signal,
          );
    // The instance's own folder holds its description, as LXD's does (backup/container/, backup/virtual-machine/).
    const treeDir = copied.instance.type === 'virtual-machine' ? 'virtual-machine' : 'container';
    await removeTree(path.join(work, 'held'));

    const r = copied.instance.record;
    const index: BackupIndex = {
      name: instanceName,
      backend: 'dir',
      pool: copied.pool,
      type: copied.instance.type,
      snapshots: copied.snapshots.map((s) => s.name),
      optimized: false,
      instance: {
        name: r.name,
        type: copied.instance.type,
        architecture: r.architecture,
        description: r.description,
        ephemeral: r.ephemeral,
        stateful: r.stateful,
        profiles: r.profiles,
        config: r.config,
        devices: r.devices,
        createdAt: rfc3339(r.createdAt),
        expandedConfig: copied.instance.expandedConfig,
        expandedDevices: copied.instance.expandedDevices,
      },
      snapshotConfigs: copied.snapshots.map((s) => ({
        name: s.name,
        description: s.description,
        config: s.config,
        devices: s.devices,
        createdAt: rfc3339(s.createdAt),
        expiresAt: s.expiresAt ? rfc3339(s.expiresAt) : '',
      })),
    };
    const poolInfo = await b.storage.get(copied.pool);
    const renderPool = {
      name: poolInfo.name,
      driver: poolInfo.driver,
      description: poolInfo.description,
      config: poolInfo.config,
    };
    await writeFile(path.join(stage, 'index.yaml'), renderBackupIndex(index, project, renderPool), {
      mode: 0o644,
    });
    await writeFile(
      path.join(stage, treeDir, 'backup.yaml'),
      renderBackupYaml(index, project, renderPool),
      { mode: 0o644 },
    );

    await progress(50, 'Packing backup');
    partial = await b.files.partial(project, instanceName);
    await pack(work, partial, options.compression, copied.entries, progress, signal);
    const size = (await stat(partial)).size;
    await b.files.commit(project, instanceName, partial, {
      name: options.name,
      created_at: rfc3339(createdAt),
      expires_at: options.expiresAt,
      instance_only: options.instanceOnly,
      optimized_storage: false,
      compression: options.compression,
      size,
    });
    partial = null;
    b.events.lifecycle(
      project,
      'instance-backup-created',
      apiUrl.backup(project, instanceName, options.name),
    );
    await progress(100, 'Done');
    return { name: options.name, size };
  } finally {
    await removeTree(work);
    if (partial) await rm(partial, { force: true });
    await b.files.removeDirIfEmpty(project, instanceName);
  }
}

/**
 * A container's part: its rootfs (and each snapshot's) copied while it is
 * frozen, for the length of the copy only, then unshifted to container ids.
 */
async function stageContainerBackup(
  b: BackupContext,
  project: string,
  instanceName: string,
  stage: string,
  instanceOnly: boolean,
  progress: Progress,
  signal: AbortSignal,
) {
  await mkdir(path.join(stage, 'container'), { recursive: true, mode: 0o700 });
  const copied = await b.instances.locks.with(project, instanceName, 'backup', async () => {
    const { instance, view, pool } = await b.instances.resolve(project, instanceName);
    const driver = b.instances.driverFor(instance.type);
    const running = (await driver.status(view)) === 'Running';
    if (running) await driver.freeze(view);
    try {
      await copyTree(view.paths.rootfs, path.join(stage, 'container', 'rootfs'), signal);
    } finally {
      if (running) await driver.unfreeze(view);
    }
    const shift = await volumeShift(view.paths.dir);
    const snapshots = instanceOnly ? [] : await b.db.snapshots.list(instance.record.id);
    const snapshotShifts = new Map<string, Awaited<ReturnType<typeof volumeShift>>>();
    for (const [i, snapshot] of snapshots.entries()) {
      signal.throwIfAborted();
      await progress(10 + (30 * i) / snapshots.length, `Copying snapshot ${snapshot.name}`);
      const paths = await b.storage.snapshotPaths(
        pool,
        project,
        instanceName,
        instance.type,
        snapshot.name,
      );
      const into = path.join(stage, 'snapshots', snapshot.name);
      await mkdir(into, { recursive: true, mode: 0o700 });
      await copyTree(paths.rootfs, path.join(into, 'rootfs'), signal);
      snapshotShifts.set(snapshot.name, await volumeShift(paths.dir));
    }
    return { instance, pool, shift, snapshots, snapshotShifts };
  });

  await progress(40, 'Unshifting ownership');
  await unshiftCopy(path.join(stage, 'container', 'rootfs'), copied.shift);
  for (const snapshot of copied.snapshots) {
    signal.throwIfAborted();
    await unshiftCopy(
      path.join(stage, 'snapshots', snapshot.name, 'rootfs'),
      copied.snapshotShifts.get(snapshot.name) ?? null,
    );
  }
  return {
    instance: copied.instance,
    pool: copied.pool,
    snapshots: copied.snapshots,
    entries: ['backup/container', ...(copied.snapshots.length > 0 ? ['backup/snapshots'] : [])],
  };
}

/** GNU tar: index.yaml first (readers look for it), then the trees, ids numeric, capabilities kept. */
async function pack(
  work: string,
  out: string,
  compression: 'gzip' | 'none',
  entries: string[],
  progress: Progress,
  signal: AbortSignal,
): Promise<void> {
  const total = Math.max(1, await treeUsage(work));
  const timer = setInterval(() => {
    stat(out)
      .then((s) => progress(50 + Math.min(45, (45 * s.size) / total), 'Packing backup'))
      .catch(() => {});
  }, 500);
  try {
    await runCommand(
      'tar',
      [
        '-c',
        ...(compression === 'gzip' ? ['-z'] : []),
        '-f',
        out,
        ...TAR_PACK_OWNERSHIP,
        '--sort=name',
        '-C',
        work,
        '--no-recursion',
        'backup',
        'backup/index.yaml',
        '--recursion',
        ...entries,
      ],
      { timeoutMs: TAR_TIMEOUT_MS, signal },
    );
  } finally {
    clearInterval(timer);
  }
}
