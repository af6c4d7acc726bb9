// Disk changes on a running VM, as LXD 5.0.2 makes them (driver_qemu.go:
// deviceAttachBlockDevice, deviceDetachBlockDevice): a custom block volume
// is hot-plugged (QMP `blockdev-add` of its raw disk, then `device_add` of a
// virtio-blk on a free PCIe root port) or unplugged (`device_del`, the guest
// releasing it through ACPI, then `blockdev-del`); a directory (a 9p share,
// a filesystem volume) cannot be, in LXD's words ("Cannot attach directory
// while instance is running"). Everything refusable is refused before
// anything is plugged; the VM's disk record (`shares.json`) follows each
// step, so it always says what QEMU holds.
import { stat } from 'node:fs/promises';
import { EngineError } from '../../errors.ts';
import { sleep } from '../driver-common.ts';
import {
  SPARE_HOTPLUG_PORTS,
  blockDeviceOptions,
  blockNodeOptions,
  hotplugPort,
  type QemuBlockDiskArgs,
} from './qemu-args.ts';
import type { Qmp } from './vm-live-limits.ts';
import {
  blockDiskArgs,
  blockIds,
  liveShareChanges,
  liveShareError,
  type HostDiskSpec,
  type PlannedDisk,
  type SharePlan,
} from './vm-shares.ts';

/** An ACPI eject under TCG takes the guest a moment; a guest that never answers is given up on. */
const UNPLUG_WAIT_MS = 30_000;
const STEP_MS = 200;

type BlockDisk = PlannedDisk & { kind: 'block' };

export interface DiskHotplugAccess {
  qmp: Qmp;
  /** The volume service: a custom volume's raw disk (a file) or folder. */
  attachVolume?: (spec: HostDiskSpec & { pool: string }) => Promise<string>;
  /** Called after each plug or unplug with the record as it now is. */
  record(plan: SharePlan): void;
}

const field = (device: string, key?: string) =>
  key ? `devices["${device}"]["${key}"]` : `devices["${device}"]`;

/**
 * Makes the running VM's volume disks what `wanted` says; refuses (before
 * any change) what cannot change while it runs. Returns the new record.
 */
export async function applyDiskChanges(
  plan: SharePlan,
  wanted: readonly HostDiskSpec[],
  access: DiskHotplugAccess,
): Promise<SharePlan> {
  const changes = await liveShareChanges(plan, wanted);
  if (changes.length === 0) return plan;
  const specs = new Map(wanted.map((w) => [w.device, w]));
  const planned = new Map(plan.disks.map((d) => [d.device, d]));
  const unplug: BlockDisk[] = [];
  const plug: BlockDisk[] = [];
  for (const change of changes) {
    const before = planned.get(change.device);
    if (change.kind !== 'attach' && before?.kind !== 'block') throw liveShareError(change);
    if (before?.kind === 'block') unplug.push(before);
    if (change.kind === 'detach') continue;
    const spec = specs.get(change.device);
    if (spec?.pool === undefined) throw liveShareError(change);
    plug.push(await resolveBlock({ ...spec, pool: spec.pool }, access, change.kind));
  }

  let current: SharePlan = { ...plan, disks: [...plan.disks] };
  for (const disk of unplug) {
    await unplugDisk(access.qmp, blockDiskArgs(disk));
    current = { ...current, disks: current.disks.filter((d) => d.device !== disk.device) };
    access.record(current);
  }
  for (const disk of plug) {
    disk.port = freePort(current, disk.device);
    await plugDisk(access.qmp, blockDiskArgs(disk));
    current = { ...current, disks: [...current.disks, disk] };
    access.record(current);
  }
  return current;
}

/** A volume to plug: it must be a block volume (a folder would be a share, which cannot be). */
async function resolveBlock(
  spec: HostDiskSpec & { pool: string },
  access: DiskHotplugAccess,
  kind: 'attach' | 'update',
): Promise<BlockDisk> {
  if (!access.attachVolume)
    throw new EngineError(
      'NOT_IMPLEMENTED',
      `${field(spec.device)}: custom volumes need the engine's volume service`,
    );
  const resolved = await access.attachVolume(spec);
  if (!(await stat(resolved)).isFile()) throw liveShareError({ device: spec.device, kind });
  if (spec.path)
    throw EngineError.invalid(
      field(spec.device, 'path'),
      'Custom block volumes cannot have a path defined',
    );
  return { ...spec, kind: 'block', resolved, ...blockIds(spec.device), port: '' };
}

function freePort(plan: SharePlan, device: string): string {
  const used = new Set(plan.disks.flatMap((d) => (d.kind === 'block' ? [d.port] : [])));
  for (let i = 0; i < (plan.ports ?? 0); i++) if (!used.has(hotplugPort(i))) return hotplugPort(i);
  throw new EngineError(
    'CONFLICT',
    `${field(device)}: Cannot attach disk while instance is running: all ${plan.ports ?? 0} of the VM's hot-plug slots are taken (each start gives it ${SPARE_HOTPLUG_PORTS} spare ones: restart it)`,
    { field: field(device) },
  );
}

async function plugDisk(qmp: Qmp, disk: QemuBlockDiskArgs): Promise<void> {
  await qmp('blockdev-add', blockNodeOptions(disk));
  try {
    await qmp('device_add', blockDeviceOptions(disk));
  } catch (error) {
    await qmp('blockdev-del', { 'node-name': `drive-${disk.id}` }).catch(() => {});
    throw new EngineError(
      'INTERNAL',
      `${field(disk.device)}: Failed to attach disk: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function unplugDisk(qmp: Qmp, disk: QemuBlockDiskArgs): Promise<void> {
  const id = `dev-${disk.id}`;
  await qmp('device_del', { id }).catch((error: Error) => {
    // Already gone (an earlier unplug the guest finished late) is what was asked.
    if (!/not found/i.test(error.message)) throw error;
  });
  const deadline = Date.now() + UNPLUG_WAIT_MS;
  while (await plugged(qmp, id)) {
    if (Date.now() > deadline)
      throw new EngineError(
        'CONFLICT',
        `${field(disk.device)}: Failed to detach disk: the guest did not release it within ${UNPLUG_WAIT_MS / 1000} s (it must handle ACPI hot-unplug)`,
        { field: field(disk.device) },
      );
    await sleep(STEP_MS);
  }
  await qmp('blockdev-del', { 'node-name': `drive-${disk.id}` });
}

async function plugged(qmp: Qmp, id: string): Promise<boolean> {
  const children = (await qmp('qom-list', { path: '/machine/peripheral' })) as { name: string }[];
  return children.some((c) => c.name === id);
}
