// Disk devices follow a running container, as LXD hot-plugs them: a disk
// added (or changed) is mounted into the container at once, one removed is
// unmounted. The mount itself is berth-mount.c (the new mount API: the
// source cloned on the host, moved onto its path inside the container's
// mount namespace, where the path and its symlinks resolve). The next start
// writes the same disks into LXC's config as before.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../../errors.ts';
import { compiledHelper } from '../../host/c-helper.ts';
import { runCommand } from '../../host/run-command.ts';
import { isTrue } from '../../config/value-checks.ts';
import type { DeviceMap } from '../../schemas/index.ts';

const SOURCE = fileURLToPath(new URL('./berth-mount.c', import.meta.url));

/** A disk as the container sees it (root disks never change live). */
export interface LiveDisk {
  name: string;
  source: string;
  /** The custom volume's pool when `source` names a volume, not a host path. */
  pool?: string;
  path: string;
  readonly: boolean;
  recursive: boolean;
  /** required=false (or optional=true): a missing source is no error. */
  optional: boolean;
}

export interface DiskPlan {
  detach: LiveDisk[];
  attach: LiveDisk[];
}

function liveDisks(devices: Readonly<DeviceMap>): Map<string, LiveDisk> {
  const disks = new Map<string, LiveDisk>();
  for (const [name, d] of Object.entries(devices)) {
    if (d.type !== 'disk' || d.path === '/' || !d.path || !d.source) continue;
    disks.set(name, {
      name,
      source: d.source,
      ...(d.pool && !d.source.startsWith('/') ? { pool: d.pool } : {}),
      path: d.path,
      readonly: isTrue(d.readonly),
      recursive: isTrue(d.recursive),
      optional: d.required === 'false' || isTrue(d.optional),
    });
  }
  return disks;
}

/** What changes between two sets of devices: changed disks are taken out, then put back. */
export function planDiskHotplug(
  previous: Readonly<DeviceMap>,
  next: Readonly<DeviceMap>,
): DiskPlan {
  const before = liveDisks(previous);
  const after = liveDisks(next);
  const same = (a: LiveDisk, b: LiveDisk) => JSON.stringify(a) === JSON.stringify(b);
  const detach = [...before.values()].filter((d) => {
    const now = after.get(d.name);
    return now === undefined || !same(d, now);
  });
  const attach = [...after.values()].filter((d) => {
    const was = before.get(d.name);
    return was === undefined || !same(d, was);
  });
  return { detach, attach };
}

export class DiskHotplug {
  #helper: Promise<string> | undefined;

  constructor(private readonly helperDir: string) {}

  /**
   * Applies `plan` to the container whose init is `pid`. `resolve` gives a
   * volume disk's host folder; `rootOnHost` is the container's root as the
   * host sees it (what a created mount point is owned by).
   */
  async apply(
    pid: number,
    plan: DiskPlan,
    rootOnHost: { uid: number; gid: number },
    resolve: (disk: LiveDisk) => Promise<string>,
  ): Promise<void> {
    if (plan.detach.length === 0 && plan.attach.length === 0) return;
    const helper = await this.#compiled();
    for (const disk of plan.detach) {
      await runCommand(helper, ['detach', String(pid), disk.path], { timeoutMs: 30_000 });
    }
    for (const disk of plan.attach) {
      const field = `devices["${disk.name}"]`;
      const source = disk.pool ? await resolve(disk) : disk.source;
      if (!existsSync(source)) {
        if (disk.optional) continue;
        throw EngineError.invalid(`${field}.source`, `Missing source path "${disk.source}"`);
      }
      if (path.normalize(disk.path).split('/').includes('..'))
        throw EngineError.invalid(`${field}.path`, 'must not contain ".."');
      const args = [
        'attach',
        String(pid),
        source,
        disk.path,
        String(rootOnHost.uid),
        String(rootOnHost.gid),
        ...(disk.readonly ? ['ro'] : []),
        ...(disk.recursive && statSync(source).isDirectory() ? ['recursive'] : []),
      ];
      try {
        await runCommand(helper, args, { timeoutMs: 30_000 });
      } catch (error) {
        throw new EngineError(
          'INTERNAL',
          `${field}: Failed to add the disk to the running container: ${(error as Error).message}`,
        );
      }
    }
  }

  #compiled(): Promise<string> {
    this.#helper ??= compiledHelper({ source: SOURCE, name: 'berth-mount' }, this.helperDir).catch(
      (error: unknown) => {
        this.#helper = undefined;
        throw error;
      },
    );
    return this.#helper;
  }
}
