// Restoring a backup tarball as a new instance. The tarball is read once
// through the archive checks before GNU tar touches it, index.yaml is
// validated (backup-import-plan.ts), a virtual machine's disks checked
// (backup-import-vm.ts), then the instance is created through the instance
// service (same checks and limits as any create) and its volume filled;
// any failure undoes every step (reverter).
import { lstat, mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import { extractTarball } from '../images/image-files.ts';
import { throttled, type Progress } from '../operations/progress.ts';
import type { OperationContext } from '../operations/operations.ts';
import { Reverter } from '../reverter.ts';
import type { Instance, Operation } from '../schemas/index.ts';
import { tempSiblingOf } from '../storage/pool-paths.ts';
import { removeTree } from '../storage/tree-ops.ts';
import { validInstanceName } from '../validation/index.ts';
import type { BackupContext } from './backup-context.ts';
import { randomHex } from './backup-files.ts';
import { parseBackupIndex } from './backup-index.ts';
import { planImport, type ImportOptions } from './backup-import-plan.ts';
import { checkVmTree, placeVmTree, vmTreeOf } from './backup-import-vm.ts';
import {
  abandonArchiveSource,
  openArchiveSource,
  type ArchiveSource,
} from '../archive/archive-source.ts';
import { BackupScanner, backupCompressionOf, type BackupScan } from '../archive/backup-scan.ts';
import { unpackBudget } from '../archive/tar-scanner.ts';
import { IDMAP_MARKER, shiftImported, volumeShift } from '../storage/volume-ownership.ts';

export type { ImportOptions } from './backup-import-plan.ts';

/** A tarball to import: a file path or a byte stream (an HTTP upload). */
export type BackupSource = ArchiveSource;

async function isRealDirectory(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Replaces the empty directory `target` with the tree `from` (same filesystem). */
async function replaceEmptyDir(target: string, from: string): Promise<void> {
  await rmdir(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  await rename(from, target);
}

/** Restores a backup tarball as a new instance, as an operation ending with `{ name }`. */
export async function importBackup(
  b: BackupContext,
  project: string,
  source: BackupSource,
  options: ImportOptions,
): Promise<Operation> {
  return (await startImport(b, project, source, options)).operation;
}

/** Imports and waits; throws the import's own error (with its code) when it fails. */
export async function importBackupAndWait(
  b: BackupContext,
  project: string,
  source: BackupSource,
  options: ImportOptions,
): Promise<Instance> {
  const { operation, failure } = await startImport(b, project, source, options);
  const done = await b.operations.wait(operation.id);
  if (done.status !== 'Success') throw failure() ?? new EngineError('INTERNAL', done.err);
  const metadata = (done.metadata ?? {}) as { name?: unknown };
  return b.instances.get(project, String(metadata.name));
}

async function startImport(
  b: BackupContext,
  project: string,
  source: BackupSource,
  options: ImportOptions,
) {
  if (options.name !== undefined) validInstanceName(options.name);
  if (options.pool !== undefined) await b.storage.get(options.pool);
  if (!(await b.db.projects.get(project)))
    throw EngineError.notFound('Project', { field: 'project' });
  let error: unknown;
  const operation = await b.operations.start({
    project,
    description: 'Restoring backup',
    mayCancel: true,
    run: (ctx) =>
      runImport(b, project, source, options, ctx).catch((e: unknown) => {
        error = e;
        throw e;
      }),
  });
  return { operation, failure: () => error };
}

async function runImport(
  b: BackupContext,
  project: string,
  source: BackupSource,
  options: ImportOptions,
  ctx: OperationContext,
): Promise<Record<string, unknown>> {
  await b.ready();
  const progress = throttled(ctx);
  const signal = ctx.signal;
  const staged = await b.files.importPartial();
  let unpacked: string | null = null;
  const revert = new Reverter();
  try {
    await progress(0, 'Reading backup');
    const scan = await readSource(source, staged, progress, signal);
    const index = parseBackupIndex(scan.indexYaml, {
      container: scan.backupYaml,
      'virtual-machine': scan.vmBackupYaml,
    });
    const plan = await planImport(b, project, index, scan, options);

    await progress(40, 'Unpacking backup');
    const paths = await b.storage.instancePaths(plan.pool, project, plan.name, plan.type);
    // Beside the volume (same filesystem: the trees are renamed into
    // place), under a `.create-` name the pool sweeps after a crash.
    unpacked = tempSiblingOf(paths.dir, 'create', randomHex());
    await mkdir(unpacked, { mode: 0o700 });
    await extractTarball(staged, unpacked, signal).catch((error: unknown) => {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `Unpacking the backup failed: ${(error as Error).message}`,
        { field: 'tarball', cause: error },
      );
    });
    await rm(staged, { force: true });
    const vm = plan.type === 'virtual-machine';
    if (vm) {
      // Every disk checked before anything is created.
      for (const tree of [undefined, ...plan.snapshots.map((s) => s.name)].map(vmTreeOf))
        await checkVmTree(unpacked, tree, signal);
    } else {
      const trees = [
        path.join(unpacked, 'backup', 'container', 'rootfs'),
        ...plan.snapshots.map((s) =>
          path.join(unpacked as string, 'backup', 'snapshots', s.name, 'rootfs'),
        ),
      ];
      for (const tree of trees) {
        if (!(await isRealDirectory(tree)))
          throw EngineError.invalid(
            'tarball',
            `${path.relative(unpacked, tree)} is not a directory after unpacking`,
          );
      }
    }

    await progress(60, 'Creating instance');
    signal.throwIfAborted();
    const { operation } = await b.instances.create(project, {
      name: plan.name,
      type: plan.type,
      architecture: plan.architecture,
      description: plan.description,
      ephemeral: plan.ephemeral,
      profiles: plan.profiles,
      config: plan.config,
      devices: plan.devices,
      source: { type: 'none' },
    });
    // The create undoes itself when its operation fails; after that, we do.
    const created = await b.operations.wait(operation.id);
    if (created.status !== 'Success')
      throw new EngineError('INTERNAL', `Creating instance "${plan.name}" failed: ${created.err}`);
    revert.add(() => b.instances.delete(project, plan.name, { force: true }));

    await b.instances.locks.with(project, plan.name, 'import', async () => {
      const { instance, view, pool } = await b.instances.resolve(project, plan.name);
      await keepVolatile(b, instance.record.id, plan.volatile);
      // The new (empty) rootfs is shifted to the instance's map by now (a container's).
      const shift = vm ? null : await volumeShift(view.paths.dir);
      for (const [i, snapshot] of plan.snapshots.entries()) {
        signal.throwIfAborted();
        await progress(
          65 + (20 * i) / plan.snapshots.length,
          `Restoring snapshot ${snapshot.name}`,
        );
        // A copy of the still-empty volume gives the snapshot its folder and row.
        const snap = await b.storage.snapshotInstanceVolume(
          pool,
          project,
          plan.name,
          instance.type,
          snapshot.name,
        );
        if (vm) {
          // Its disk alone: a restore brings it back and the next start makes the overlay.
          await placeVmTree(unpacked as string, vmTreeOf(snapshot.name), snap.rootfs);
        } else {
          await replaceEmptyDir(
            snap.rootfs,
            path.join(unpacked as string, 'backup', 'snapshots', snapshot.name, 'rootfs'),
          );
          await shiftImported(snap.rootfs, shift);
        }
        await b.db.snapshots.create(instance.record.id, {
          name: snapshot.name,
          description: snapshot.description,
          createdAt: dateOr(snapshot.createdAt, new Date()),
          expiresAt: expiryOf(snapshot.expiresAt),
          config: snapshot.config,
          devices: snapshot.devices,
        });
      }
      if (vm) {
        await progress(85, 'Restoring disk');
        // The driver's create makes the overlay on it.
        await placeVmTree(unpacked as string, vmTreeOf(), view.paths.rootfs);
      } else {
        await progress(85, 'Restoring root filesystem');
        // The tree holds container ids: tell the driver it is unshifted, and its create shifts it.
        await rm(path.join(view.paths.dir, IDMAP_MARKER), { force: true });
        await replaceEmptyDir(
          view.paths.rootfs,
          path.join(unpacked as string, 'backup', 'container', 'rootfs'),
        );
      }
      await b.instances.driverFor(instance.type).create(view, {});
    });
    revert.success();
    for (const warning of plan.warnings) b.events.logging(project, 'warning', warning);
    await progress(100, 'Done');
    return { name: plan.name, warnings: plan.warnings };
  } catch (error) {
    await revert.fail();
    throw error;
  } finally {
    await rm(staged, { force: true });
    if (unpacked) await removeTree(unpacked);
  }
}

/**
 * One pass over the source: a private copy (a path could change between
 * the check and the unpack) and every entry through the checks.
 */
async function readSource(
  source: BackupSource,
  copyPath: string,
  progress: Progress,
  signal: AbortSignal,
): Promise<BackupScan> {
  const { chunks, total } = await openArchiveSource(source, 'source', signal);
  // What it unpacks to must fit where it is unpacked (beside the copy).
  const maxBytes = await unpackBudget(path.dirname(copyPath));
  const out = await open(copyPath, 'wx', 0o600);
  let scanner: BackupScanner | null = null;
  let head = Buffer.alloc(0);
  let size = 0;
  try {
    for await (const chunk of chunks) {
      await out.write(chunk);
      size += chunk.length;
      if (scanner === null) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 512) continue;
        backupCompressionOf(head);
        scanner = new BackupScanner({ maxBytes });
        scanner.write(head);
      } else scanner.write(chunk);
      if (total) await progress((size / total) * 35, 'Reading backup');
    }
  } catch (error) {
    abandonArchiveSource(source);
    throw error;
  } finally {
    await out.close();
  }
  if (size === 0) throw EngineError.invalid('tarball', 'the backup file is empty');
  if (scanner === null) {
    backupCompressionOf(head);
    scanner = new BackupScanner({ maxBytes });
    scanner.write(head);
  }
  return scanner.end();
}

/**
 * A restored instance keeps its MACs (so its DHCP lease and address) and
 * base image, unless another instance already uses that MAC (an import
 * alongside the original): then the fresh one the create assigned stays.
 */
async function keepVolatile(
  b: BackupContext,
  instanceId: number,
  volatile: Record<string, string>,
): Promise<void> {
  const current = await b.db.instances.getById(instanceId);
  if (!current) return;
  const taken = await b.db.instances.configValues({
    startsWith: 'volatile.',
    endsWith: '.hwaddr',
  });
  const others = new Set(taken);
  for (const [key, value] of Object.entries(current.config))
    if (key.endsWith('.hwaddr')) others.delete(value);
  const keep: Record<string, string> = {};
  for (const [key, value] of Object.entries(volatile)) {
    if (key.endsWith('.hwaddr')) {
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(value) || others.has(value)) continue;
      if (current.config[key] === undefined) continue;
    }
    keep[key] = value;
  }
  if (Object.keys(keep).length) await b.db.instances.setConfigKeys(instanceId, keep);
}

function dateOr(text: string, fallback: Date): Date {
  if (!text) return fallback;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1 ? fallback : date;
}

function expiryOf(text: string): Date | null {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1 ? null : date;
}
