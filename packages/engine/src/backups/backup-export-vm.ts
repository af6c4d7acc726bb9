// A virtual machine's part of a backup, in LXD's layout for a block volume
// (lxd/storage/drivers/generic_vfs.go, genericVFSBackupVolume):
//   backup/virtual-machine.img                   the disk, as the guest sees it
//   backup/virtual-machine/backup.yaml           (written by backup-export.ts)
//   backup/virtual-machine/boot/                 Berth's direct-kernel-boot files, when the VM has them
//   backup/virtual-machine/qemu.nvram            a UEFI VM's variable store, as LXD keeps it
//   backup/virtual-machine-snapshots/<name>.img  each snapshot's disk
//   backup/virtual-machine-snapshots/<name>/{boot/,qemu.nvram}
//
// The disk is one qcow2 with no backing file (the overlay merged with the
// image's disk, storage/vm-volume-disk.ts), where LXD writes a raw image.
// Raw would be the full virtual size in the tarball or need GNU sparse
// members, whose old-format extension headers the archive scanner cannot
// follow safely (archive/image-entry-check.ts refuses them); a qcow2 holds
// only what the guest wrote. Berth imports LXD's raw disks as they are.
//
// A running VM is held still (guest filesystems frozen, QEMU paused:
// withQuiescedStorage) only while its overlay is copied (a reflink where
// the filesystem can); the conversion runs afterwards, outside the lock.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { SnapshotRecord } from '@berth/db';
import type { ExpandedInstance } from '../config/expanded-instances.ts';
import { rootDiskPlan } from '../drivers/qemu/root-disk.ts';
import type { Progress } from '../operations/progress.ts';
import {
  copyVmBootFiles,
  copyVmNvram,
  flattenVmDisk,
  holdVmVolume,
} from '../storage/vm-volume-disk.ts';
import type { BackupContext } from './backup-context.ts';

export interface StagedVm {
  instance: ExpandedInstance;
  pool: string;
  snapshots: SnapshotRecord[];
  /** What `tar` packs after index.yaml, relative to the work folder. */
  entries: string[];
}

/** Fills `stage` (`<work>/backup`) with the VM's disks and boot files; `held` is a scratch folder beside it. */
export async function stageVmBackup(
  b: BackupContext,
  project: string,
  instanceName: string,
  stage: string,
  held: string,
  instanceOnly: boolean,
  progress: Progress,
  signal: AbortSignal,
): Promise<StagedVm> {
  await mkdir(path.join(stage, 'virtual-machine'), { recursive: true, mode: 0o700 });
  const taken = await b.instances.locks.with(project, instanceName, 'backup', async () => {
    const { instance, view, pool } = await b.instances.resolve(project, instanceName);
    const driver = b.instances.driverFor(instance.type);
    await driver.withQuiescedStorage(view, () =>
      holdVmVolume(view.paths.dir, path.join(held, 'instance'), { writable: true, signal }),
    );
    const snapshots = instanceOnly ? [] : await b.db.snapshots.list(instance.record.id);
    for (const snapshot of snapshots) {
      signal.throwIfAborted();
      const paths = await b.storage.snapshotPaths(
        pool,
        project,
        instanceName,
        instance.type,
        snapshot.name,
      );
      await holdVmVolume(paths.dir, path.join(held, 'snapshots', snapshot.name), {
        writable: false,
        signal,
      });
    }
    return { instance, pool, snapshots };
  });

  // A VM never started has no disk yet: the blank one its start would make, of its root device's size.
  const blankSizeBytes = rootDiskPlan(taken.instance.expandedDevices).sizeBytes;
  const flatten = (from: string, out: string) =>
    flattenVmDisk(from, out, { signal, ...(blankSizeBytes ? { blankSizeBytes } : {}) });
  await progress(10, 'Copying virtual machine disk');
  await flatten(path.join(held, 'instance'), path.join(stage, 'virtual-machine.img'));
  await copyVmBootFiles(path.join(held, 'instance'), path.join(stage, 'virtual-machine'));
  await copyVmNvram(path.join(held, 'instance'), path.join(stage, 'virtual-machine'));
  if (taken.snapshots.length > 0) {
    const snapshotsDir = path.join(stage, 'virtual-machine-snapshots');
    for (const [i, snapshot] of taken.snapshots.entries()) {
      signal.throwIfAborted();
      await progress(
        10 + (30 * (i + 1)) / (taken.snapshots.length + 1),
        `Copying snapshot ${snapshot.name}`,
      );
      const from = path.join(held, 'snapshots', snapshot.name);
      const into = path.join(snapshotsDir, snapshot.name);
      await mkdir(into, { recursive: true, mode: 0o700 });
      await flatten(from, path.join(snapshotsDir, `${snapshot.name}.img`));
      await copyVmBootFiles(from, into);
      await copyVmNvram(from, into);
    }
  }
  return {
    ...taken,
    entries: [
      'backup/virtual-machine',
      'backup/virtual-machine.img',
      ...(taken.snapshots.length > 0 ? ['backup/virtual-machine-snapshots'] : []),
    ],
  };
}
