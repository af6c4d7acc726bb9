// The backup directory, `<dataDir>/backups`:
//   <project>_<instance>/<name>          the tarball, exactly as downloaded
//   <project>_<instance>/.<name>.json    its record (name, dates, instance_only, ...)
//   <project>_<instance>/.partial-<hex>  an export in progress (tarball or record)
//   .partial-import-<hex>                an upload being checked before import
//
// Records are files beside their tarball rather than database rows: the
// schema has no backups table, a record and its tarball then live and die
// together (deleting or renaming the folder moves both), and a backup name
// can never start with "." so `.<name>.json` cannot collide with a tarball.
// A backup exists when both files do; the tarball is renamed into place
// before its record, so a crash leaves at most an orphan tarball or a
// `.partial-` file, which `sweep` removes.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../errors.ts';
import { zeroTime } from '../schemas/common.ts';
import type { InstanceBackup } from '../schemas/instance.ts';
import { checkSegment, volumeDirName } from '../storage/pool-paths.ts';

export const BackupRecord = z.object({
  name: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  instance_only: z.boolean(),
  optimized_storage: z.boolean(),
  compression: z.enum(['gzip', 'none']),
  size: z.number(),
});
export type BackupRecord = z.infer<typeof BackupRecord>;

const PARTIAL = '.partial-';

export function toInstanceBackup(record: BackupRecord): InstanceBackup {
  return {
    name: record.name,
    created_at: record.created_at,
    expires_at: record.expires_at || zeroTime,
    instance_only: record.instance_only,
    optimized_storage: record.optimized_storage,
  };
}

export function randomHex(): string {
  return randomBytes(6).toString('hex');
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export class BackupFiles {
  readonly dir: string;
  #swept: Promise<void> | null = null;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'backups');
  }

  /** The first use sweeps what a previous process left half-written. */
  async ready(): Promise<void> {
    this.#swept ??= this.sweep();
    await this.#swept;
  }

  /** Backups of an instance the caller knows exists, as the API shows them. */
  async listExisting(project: string, instance: string): Promise<InstanceBackup[]> {
    await this.ready();
    return (await this.records(project, instance)).map(toInstanceBackup);
  }

  /** Backups of many instances known to exist, reading only the directories that exist. */
  async listMany(
    instances: readonly { project: string; name: string }[],
  ): Promise<InstanceBackup[][]> {
    await this.ready();
    const holds = await this.holders();
    return Promise.all(
      instances.map((i) => (holds(i.project, i.name) ? this.listExisting(i.project, i.name) : [])),
    );
  }

  instanceDir(project: string, instance: string): string {
    return path.join(this.dir, volumeDirName(project, instance));
  }

  /** Whether an instance may have backups: its directory exists (from one listing). */
  async holders(): Promise<(project: string, instance: string) => boolean> {
    const dirs = new Set(await readdir(this.dir).catch(() => [] as string[]));
    return (project, instance) => dirs.has(volumeDirName(project, instance));
  }

  tarball(project: string, instance: string, name: string): string {
    return path.join(this.instanceDir(project, instance), checkSegment('name', name));
  }

  recordFile(project: string, instance: string, name: string): string {
    return path.join(this.instanceDir(project, instance), `.${checkSegment('name', name)}.json`);
  }

  /** A fresh `.partial-` path in the instance's folder (which is created). */
  async partial(project: string, instance: string): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const dir = this.instanceDir(project, instance);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return path.join(dir, `${PARTIAL}${randomHex()}`);
  }

  /** A fresh `.partial-import-` path for an upload. */
  async importPartial(): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    return path.join(this.dir, `${PARTIAL}import-${randomHex()}`);
  }

  async records(project: string, instance: string): Promise<BackupRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.instanceDir(project, instance));
    } catch {
      return [];
    }
    const out: BackupRecord[] = [];
    for (const file of names) {
      const match = /^\.(.+)\.json$/.exec(file);
      if (!match?.[1] || file.startsWith(PARTIAL)) continue;
      const record = await this.record(project, instance, match[1]);
      if (record) out.push(record);
    }
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /** The record when both it and its tarball exist. */
  async record(project: string, instance: string, name: string): Promise<BackupRecord | null> {
    let text: string;
    try {
      text = await readFile(this.recordFile(project, instance, name), 'utf8');
    } catch {
      return null;
    }
    if (!(await exists(this.tarball(project, instance, name)))) return null;
    try {
      return BackupRecord.parse(JSON.parse(text));
    } catch (error) {
      throw new EngineError('INTERNAL', `Unreadable backup record for "${name}"`, {
        cause: error,
      });
    }
  }

  /** Moves a finished tarball into place, then writes its record (see the top comment). */
  async commit(
    project: string,
    instance: string,
    partialTarball: string,
    record: BackupRecord,
  ): Promise<void> {
    const recordPartial = await this.partial(project, instance);
    await writeFile(recordPartial, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    try {
      await rename(partialTarball, this.tarball(project, instance, record.name));
      await rename(recordPartial, this.recordFile(project, instance, record.name));
    } catch (error) {
      await rm(recordPartial, { force: true });
      await rm(this.tarball(project, instance, record.name), { force: true });
      throw error;
    }
  }

  async writeRecord(project: string, instance: string, record: BackupRecord): Promise<void> {
    const partial = await this.partial(project, instance);
    await writeFile(partial, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    await rename(partial, this.recordFile(project, instance, record.name));
  }

  /** Removes one backup: the record first (without it the backup is gone), then the tarball. */
  async remove(project: string, instance: string, name: string): Promise<void> {
    await rm(this.recordFile(project, instance, name), { force: true });
    await rm(this.tarball(project, instance, name), { force: true });
    await this.removeDirIfEmpty(project, instance);
  }

  /** An instance was renamed: its backups follow it. */
  async moveInstance(project: string, from: string, to: string): Promise<void> {
    try {
      await rename(this.instanceDir(project, from), this.instanceDir(project, to));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  async removeAll(project: string, instance: string): Promise<void> {
    await rm(this.instanceDir(project, instance), { recursive: true, force: true });
  }

  /** rmdir only succeeds on an empty folder: a backup being written keeps it. */
  async removeDirIfEmpty(project: string, instance: string): Promise<void> {
    try {
      await rmdir(this.instanceDir(project, instance));
    } catch {
      // gone already, or not empty
    }
  }

  /**
   * Removes what a crashed process left: `.partial-` files at the top and in
   * every instance folder, and tarballs without a record.
   */
  async sweep(): Promise<void> {
    let top: string[];
    try {
      top = await readdir(this.dir);
    } catch {
      return;
    }
    for (const entry of top) {
      const full = path.join(this.dir, entry);
      if (entry.startsWith(PARTIAL)) {
        await rm(full, { recursive: true, force: true });
        continue;
      }
      let inner: string[];
      try {
        inner = await readdir(full);
      } catch {
        continue;
      }
      const names = new Set(inner);
      for (const file of inner) {
        if (file.startsWith(PARTIAL)) await rm(path.join(full, file), { force: true });
        else if (!file.startsWith('.') && !names.has(`.${file}.json`))
          await rm(path.join(full, file), { force: true });
      }
      await rmdir(full).catch(() => {});
    }
  }
}
