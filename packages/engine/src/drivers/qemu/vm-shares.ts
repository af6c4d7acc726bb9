// Host directories in a VM: a disk device with a host `source` directory and
// a `path` (`lxc config device add v1 share disk source=/srv/share
// path=/mnt/share [readonly=true]`), as LXD shares them with its VMs.
//
// Transport: 9p (virtio-9p-pci over a `-fsdev local`), served by QEMU
// itself. LXD prefers virtiofs and falls back to 9p; virtiofs needs the
// virtiofsd daemon, which Debian 12's archive does not carry (QEMU 7.2 no
// longer ships its C one), so 9p is what this host can do. Its limit:
// QEMU has no command to add an fsdev to a running VM, so a share is set
// when QEMU starts. Adding, removing or changing one on a running VM is
// refused in LXD 5.0.2's words ("Cannot attach directory while instance is
// running"), and the change is not kept; it takes a stop and a start.
//
// Security model (QEMU runs as root; `security_model=passthrough`):
// * The guest's root is the host's root inside the share, as LXD maps it
//   for VM shares: a file the guest creates is owned on the host by the uid
//   and gid that created it in the guest (guest root → host root, guest uid
//   1000 → host uid 1000), with the guest's modes, setuid bits and xattrs
//   (file capabilities) included. Share only directories whose files no
//   unprivileged host user runs or trusts. Device nodes the guest makes are
//   real nodes on the host, but QEMU here (7.2 with CVE-2023-2861 fixed)
//   refuses to open them for the guest.
// * The host never follows a symlink out of the share: QEMU's 9p server
//   walks every path component under the exported directory with openat
//   and O_NOFOLLOW (its fix for CVE-2016-9602), and a `..` at the top stays
//   there. A symlink in the share reaches the guest as a symlink, which the
//   guest's kernel resolves in the guest: `share/etc -> /etc` is the
//   guest's /etc, never the host's.
// * `source` itself is resolved once, at start (realpath: a symlink as the
//   source is followed, as a container's bind mount follows it), and QEMU is
//   given the real directory; a restricted project has checked that very
//   path (projects/project-restrictions.ts) before the start.
// * `readonly=true` is enforced by QEMU on the host (the fsdev refuses every
//   write), not only by the guest's `ro` mount, which the guest's root could
//   remount.
//
// Custom storage volumes (`pool` + a volume `source`, `lxc storage volume
// attach`): a filesystem volume is shared the same way, from its folder
// (files at host ids: the guest's root is root in it, as for a directory); a
// block volume is its raw disk as a virtio disk whose serial is the device's
// name (`/dev/disk/by-id/virtio-<device>`, `/sys/block/vdX/serial`).
// A filesystem volume is set when QEMU starts, like a share. A block volume
// sits on a PCIe root port of its own and is hot-plugged into, or out of, a
// running VM as LXD does it (vm-block-hotplug.ts).
//
// Who mounts: LXD's lxd-agent mounts shares at boot; Berth's guests have
// qemu-guest-agent only, so the engine waits for the agent and runs
// `mkdir -p <path> && mount -t 9p -o trans=virtio,... <tag> <path>` through
// it (guest-exec), once per guest boot (the guest's boot_id: a reboot inside
// QEMU loses the mounts, and they are made again), also after an engine
// restart. What happened to each share is written to the VM's shares.log
// (`<logDir>/shares.log`) and its runtime record (`<runDir>/shares.json`);
// a failed mount is said there in so many words, never skipped in silence.
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isHostPathDisk } from '../../config/devices.ts';
import { isTrue } from '../../config/value-checks.ts';
import { EngineError } from '../../errors.ts';
import type { DeviceMap } from '../../schemas/index.ts';
import { runInGuest, type AgentAccess } from './agent-exec.ts';
import {
  MAX_SHARE_TAG,
  SPARE_HOTPLUG_PORTS,
  hotplugPort,
  type QemuBlockDiskArgs,
  type QemuShareArgs,
} from './qemu-args.ts';
import type { VmPaths } from './qemu-paths.ts';
import type { QgaClient } from './qga-client.ts';

/** A host-path or custom-volume disk device as configured (the part a running VM cannot change). */
export interface HostDiskSpec {
  device: string;
  /** A host path, or with `pool` the custom volume's name. */
  source: string;
  /** A custom volume's pool. */
  pool?: string;
  /** Unset: a VM takes the source as a block device (not supported yet). */
  path?: string;
  readonly: boolean;
  required: boolean;
}

/** What a start made of one host-path disk: a 9p share, or nothing (its source is missing and not required). */
export type PlannedDisk = HostDiskSpec &
  (
    | {
        kind: 'share';
        /** The real directory QEMU exports. */
        resolved: string;
        id: string;
        tag: string;
        /** In the guest's current boot. */
        mount: 'pending' | 'mounted' | { failed: string };
      }
    | {
        /** A custom block volume as a virtio disk. */
        kind: 'block';
        /** Its raw disk on the host. */
        resolved: string;
        id: string;
        /** What the guest reads as the disk's serial. */
        serial: string;
        /** Its PCIe root port (qemu-args.ts hotplugPort). */
        port: string;
      }
    | { kind: 'skipped'; reason: string }
  );

/** The record of a running VM's host-path disks (`<runDir>/shares.json`). */
export interface SharePlan {
  disks: PlannedDisk[];
  /** How many PCIe root ports QEMU was started with for volume disks (vm-block-hotplug.ts). */
  ports?: number;
  /** The guest boot whose mounts were made (`/proc/sys/kernel/random/boot_id`). */
  bootId?: string;
}

export const SHARE_PLAN_FILE = 'shares.json';
export const SHARE_LOG_FILE = 'shares.log';
/** Linux 6.1's virtio transport takes up to 512 KiB; 256 KiB is far above the 8 KiB older kernels start with. */
const MSIZE = 262_144;
const BOOT_ID = '/proc/sys/kernel/random/boot_id';
/** The guest's PATH may be empty under qemu-ga; modprobe is for guests that load 9p's transport on demand. */
const MOUNT_SCRIPT =
  'PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH; ' +
  'modprobe -q 9pnet_virtio 2>/dev/null; ' +
  'mkdir -p "$1" && mount -t 9p -o "$2" "$3" "$1"';

const field = (device: string, key?: string) =>
  key ? `devices["${device}"]["${key}"]` : `devices["${device}"]`;

/** A `disk` device naming a custom volume of a pool (not the root disk). */
function isVolumeDisk(device: DeviceMap[string]): boolean {
  const source = device.source ?? '';
  return (
    device.type === 'disk' &&
    Boolean(device.pool) &&
    device.path !== '/' &&
    source !== '' &&
    !source.startsWith('/')
  );
}

/** The host-path and custom-volume disks of a VM's devices, as configured; sorted by path, so a parent mounts before what is below it. */
export function hostDisksOf(devices: DeviceMap): HostDiskSpec[] {
  return Object.entries(devices)
    .filter(([, device]) => isHostPathDisk(device) || isVolumeDisk(device))
    .map(([name, device]) => ({
      device: name,
      source: device.source ?? '',
      ...(device.pool && isVolumeDisk(device) ? { pool: device.pool } : {}),
      ...(device.path ? { path: device.path } : {}),
      readonly: isTrue(device.readonly),
      required: device.required !== 'false' && !isTrue(device.optional),
    }))
    .sort((a, b) => (a.path ?? '').localeCompare(b.path ?? '') || a.device.localeCompare(b.device));
}

/**
 * The fsdev id and mount tag of a device: readable when the name fits (QEMU
 * ids take no ':'; a tag at most 31 bytes), else from a hash. The two forms
 * differ in their prefixes, so a name can never take another's hashed form.
 */
export function shareIds(device: string): { id: string; tag: string } {
  const plain = /^[A-Za-z0-9_.-]+$/.test(device);
  const hash = createHash('sha256').update(device).digest('hex').slice(0, 16);
  const id = plain ? `fs-${device}` : `fsh-${hash}`;
  const tag =
    plain && `berth_${device}`.length <= MAX_SHARE_TAG ? `berth_${device}` : `berthh_${hash}`;
  return { id, tag };
}

/** virtio-blk keeps at most 20 bytes of serial. */
const MAX_SERIAL = 20;

/** A block volume's drive id and serial: the device's name when it fits, else from a hash (in a form no name has). */
export function blockIds(device: string): { id: string; serial: string } {
  const plain = /^[A-Za-z0-9_.-]+$/.test(device);
  const hash = createHash('sha256').update(device).digest('hex').slice(0, 16);
  return {
    id: plain ? `vol-${device}` : `volh-${hash}`,
    serial: plain && device.length <= MAX_SERIAL ? device : `h-${hash}`,
  };
}

/** The `-o` of the guest's mount. */
export function shareMountOptions(readonly: boolean): string {
  return `trans=virtio,version=9p2000.L,msize=${MSIZE}${readonly ? ',ro' : ''}`;
}

/** The guest command that mounts one share (arguments, never spliced into the script). */
export function guestMountArgv(share: {
  path: string;
  tag: string;
  readonly: boolean;
}): [string, ...string[]] {
  return [
    '/bin/sh',
    '-c',
    MOUNT_SCRIPT,
    'sh',
    share.path,
    shareMountOptions(share.readonly),
    share.tag,
  ];
}

/** /proc/mounts, its fields unescaped (the kernel writes space, tab, newline and backslash as octal). */
export function parseProcMounts(text: string): { source: string; target: string; type: string }[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [source = '', target = '', type = ''] = line.split(' ');
      return { source: unescape(source), target: unescape(target), type };
    });
}

/**
 * Checks every host-path disk on the host, at start, before anything is
 * made: a directory with a `path` becomes a share; a missing source is an
 * error unless `required=false` (then skipped, and said so in shares.log).
 */
export async function planShares(
  devices: DeviceMap,
  attachVolume?: (spec: HostDiskSpec & { pool: string }) => Promise<string>,
): Promise<SharePlan> {
  const disks: PlannedDisk[] = [];
  for (const spec of hostDisksOf(devices)) {
    if (spec.pool !== undefined) {
      disks.push(await planVolume({ ...spec, pool: spec.pool }, attachVolume));
      continue;
    }
    const resolved = await realpath(spec.source).catch(() => undefined);
    const info = resolved === undefined ? undefined : await stat(resolved).catch(() => undefined);
    if (resolved === undefined || info === undefined) {
      if (!spec.required) {
        disks.push({ ...spec, kind: 'skipped', reason: `source "${spec.source}" does not exist` });
        continue;
      }
      // LXD's words.
      throw EngineError.invalid(
        field(spec.device, 'source'),
        `Missing source path "${spec.source}" for disk "${spec.device}"`,
      );
    }
    if (!info.isDirectory()) {
      if (spec.path) {
        throw EngineError.invalid(
          field(spec.device, 'path'),
          'File mounting to filesystem paths is not supported for virtual machines',
        );
      }
      throw new EngineError(
        'NOT_IMPLEMENTED',
        `${field(spec.device, 'source')}: "${spec.source}" is not a directory: a host file or block device as a VM disk is not supported by Berth yet (share a directory, with a "path")`,
        { field: field(spec.device, 'source') },
      );
    }
    if (!spec.path) {
      throw EngineError.invalid(field(spec.device, 'path'), 'Missing mount "path" setting');
    }
    disks.push({ ...spec, kind: 'share', resolved, ...shareIds(spec.device), mount: 'pending' });
  }
  const blocks = disks.filter((d) => d.kind === 'block');
  blocks.forEach((disk, i) => (disk.port = hotplugPort(i)));
  return { disks, ports: blocks.length + SPARE_HOTPLUG_PORTS };
}

/**
 * A custom volume, made ready by the engine's volume service (its folder
 * or its raw disk): a missing pool or volume is an error, whatever
 * `required` says, as LXD's.
 */
async function planVolume(
  spec: HostDiskSpec & { pool: string },
  attachVolume: ((spec: HostDiskSpec & { pool: string }) => Promise<string>) | undefined,
): Promise<PlannedDisk> {
  if (!attachVolume)
    throw new EngineError(
      'NOT_IMPLEMENTED',
      `${field(spec.device)}: custom volumes need the engine's volume service`,
    );
  const resolved = await attachVolume(spec);
  if ((await stat(resolved)).isFile()) {
    if (spec.path)
      throw EngineError.invalid(
        field(spec.device, 'path'),
        'Custom block volumes cannot have a path defined',
      );
    // Its port is given once every disk is planned (planShares) or when it is hot-plugged.
    return { ...spec, kind: 'block', resolved, ...blockIds(spec.device), port: '' };
  }
  if (!spec.path)
    throw EngineError.invalid(field(spec.device, 'path'), 'Missing mount "path" setting');
  return { ...spec, kind: 'share', resolved, ...shareIds(spec.device), mount: 'pending' };
}

/** What QEMU takes of a planned block volume. */
export function blockDiskArgs(disk: PlannedDisk & { kind: 'block' }): QemuBlockDiskArgs {
  return {
    device: disk.device,
    id: disk.id,
    serial: disk.serial,
    file: disk.resolved,
    readonly: disk.readonly,
    port: disk.port,
  };
}

/** The block volumes QEMU's command line attaches. */
export function qemuBlockDisks(plan: SharePlan): QemuBlockDiskArgs[] {
  return plan.disks.flatMap((disk) => (disk.kind === 'block' ? [blockDiskArgs(disk)] : []));
}

/** What QEMU's command line takes of a plan. */
export function qemuShares(plan: SharePlan): QemuShareArgs[] {
  return plan.disks.flatMap((disk) =>
    disk.kind === 'share'
      ? [
          {
            device: disk.device,
            id: disk.id,
            tag: disk.tag,
            source: disk.resolved,
            readonly: disk.readonly,
          },
        ]
      : [],
  );
}

/** A change to host-path disks a running VM refuses, named for the error (pure: sources already compared). */
export type LiveShareChange = {
  device: string;
  kind: 'attach' | 'detach' | 'update';
  /** A custom block volume (a disk), not a directory. */
  disk?: boolean;
};

/**
 * The disks that differ between what the VM runs with (`plan`) and `wanted`:
 * detached ones first, then attached and changed ones. `sameSource`
 * compares a source as written now with the planned one (a restricted
 * project hands the start resolved sources).
 */
export async function liveShareChanges(
  plan: SharePlan,
  wanted: readonly HostDiskSpec[],
  sameSource: (now: string, planned: PlannedDisk) => Promise<boolean> = sameSourceAs,
): Promise<LiveShareChange[]> {
  const planned = new Map(plan.disks.map((d) => [d.device, d]));
  const names = new Set(wanted.map((w) => w.device));
  const changes: LiveShareChange[] = [];
  for (const disk of plan.disks) {
    if (!names.has(disk.device))
      changes.push({ device: disk.device, kind: 'detach', ...blockFlag(disk) });
  }
  for (const spec of wanted) {
    const disk = planned.get(spec.device);
    if (!disk) changes.push({ device: spec.device, kind: 'attach' });
    else if (
      disk.pool !== spec.pool ||
      disk.path !== spec.path ||
      disk.readonly !== spec.readonly ||
      disk.required !== spec.required ||
      !(await sameSource(spec.source, disk))
    )
      changes.push({ device: spec.device, kind: 'update', ...blockFlag(disk) });
  }
  return changes;
}

/** A source as configured now against the one a start planned: the same text, or the same real directory. */
export async function sameSourceAs(now: string, planned: PlannedDisk): Promise<boolean> {
  if (now === planned.source) return true;
  if (planned.kind !== 'share' || planned.pool !== undefined) return false;
  return (await realpath(now).catch(() => undefined)) === planned.resolved;
}

const blockFlag = (disk: PlannedDisk) => (disk.kind === 'block' ? { disk: true } : {});

/** LXD 5.0.2's refusal, with what to do instead. */
export function liveShareError(change: LiveShareChange): EngineError {
  if (change.disk)
    return new EngineError(
      'CONFLICT',
      `${field(change.device)}: Cannot ${change.kind} disk while instance is running (Berth sets a VM's volume disks when it starts: stop the instance, change the device, then start it)`,
      { field: field(change.device) },
    );
  const what = {
    attach: 'Cannot attach directory while instance is running',
    detach: 'Cannot detach directory while instance is running',
    update: 'Cannot update directory while instance is running',
  }[change.kind];
  return new EngineError(
    'CONFLICT',
    `${field(change.device)}: ${what} (a VM's 9p shares are set when it starts: stop the instance, change the device, then start it)`,
    { field: field(change.device) },
  );
}

export function readSharePlan(runDir: string): SharePlan | undefined {
  try {
    return JSON.parse(readFileSync(path.join(runDir, SHARE_PLAN_FILE), 'utf8')) as SharePlan;
  } catch {
    return undefined;
  }
}

export function writeSharePlan(runDir: string, plan: SharePlan): void {
  writeFileSync(path.join(runDir, SHARE_PLAN_FILE), `${JSON.stringify(plan, null, 2)}\n`, {
    mode: 0o600,
  });
}

function describeShare(disk: PlannedDisk & { kind: 'share' }): string {
  const mode = disk.readonly ? 'read-only' : 'read-write';
  return `${disk.resolved} at ${disk.path} (9p tag ${disk.tag}, ${mode})`;
}

/** What the driver gives the share keeper: its VMs' agents and pids. */
export interface ShareKeeperDeps {
  agent(paths: VmPaths): Promise<QgaClient>;
  pid(paths: VmPaths): number;
}

/** How often a VM whose shares are mounted is asked whether it rebooted. */
const BOOT_CHECK_MS = 15_000;
/** How soon the agent is asked again while the guest boots. */
const AGENT_RETRY_MS = 2_000;
/** After this long without an agent, shares.log says the shares are waiting for it. */
const AGENT_LATE_MS = 120_000;

/**
 * Mounts each running VM's shares in the guest, once per guest boot: one
 * loop per VM, from its start (or the engine's reattach) until its QEMU
 * exits or the engine closes.
 */
export class ShareKeeper {
  readonly #deps: ShareKeeperDeps;
  readonly #loops = new Map<string, AbortController>();

  constructor(deps: ShareKeeperDeps) {
    this.#deps = deps;
  }

  /** A VM just started with `plan`: its record and a fresh shares.log, then the loop. */
  begin(paths: VmPaths, plan: SharePlan): void {
    writeSharePlan(paths.runDir, plan);
    const log = path.join(paths.logDir, SHARE_LOG_FILE);
    writeFileSync(log, '', { mode: 0o600 });
    for (const disk of plan.disks) {
      if (disk.kind === 'share')
        this.#log(paths, `disk "${disk.device}": sharing ${describeShare(disk)}`);
      else if (disk.kind === 'block')
        this.#log(
          paths,
          `disk "${disk.device}": volume ${disk.pool}/${disk.source} attached as a virtio disk, serial ${disk.serial}${disk.readonly ? ', read-only' : ''}`,
        );
      else this.#log(paths, `disk "${disk.device}": skipped: ${disk.reason} (required=false)`);
    }
    this.#run(paths);
  }

  /** A VM found running at engine start: its loop again, from its record. */
  resume(paths: VmPaths): void {
    if (readSharePlan(paths.runDir)) this.#run(paths);
  }

  close(): void {
    for (const loop of this.#loops.values()) loop.abort();
    this.#loops.clear();
  }

  #run(paths: VmPaths): void {
    this.#loops.get(paths.name)?.abort();
    const plan = readSharePlan(paths.runDir);
    if (!plan || !plan.disks.some((d) => d.kind === 'share')) {
      this.#loops.delete(paths.name);
      return;
    }
    const loop = new AbortController();
    this.#loops.set(paths.name, loop);
    void this.#keep(paths, loop.signal)
      .catch(() => {})
      .finally(() => {
        if (this.#loops.get(paths.name)?.signal === loop.signal) this.#loops.delete(paths.name);
      });
  }

  async #keep(paths: VmPaths, signal: AbortSignal): Promise<void> {
    const agent: AgentAccess = () => this.#deps.agent(paths);
    const since = Date.now();
    let late = false;
    while (!signal.aborted && this.#deps.pid(paths) > 0) {
      let wait = BOOT_CHECK_MS;
      try {
        const boot = await runInGuest(agent, ['/bin/cat', BOOT_ID]);
        const bootId = boot.stdout.toString('utf8').trim();
        if (boot.exitCode !== 0 || bootId === '') throw new Error(boot.stderr || 'no boot_id');
        const plan = readSharePlan(paths.runDir);
        if (!plan) return;
        if (plan.bootId !== bootId && !signal.aborted)
          await this.#mountAll(paths, plan, bootId, agent, signal);
      } catch {
        // No agent yet (the guest boots), or it went away with a reboot: ask again soon.
        wait = AGENT_RETRY_MS;
        if (!late && Date.now() - since > AGENT_LATE_MS) {
          late = true;
          this.#log(
            paths,
            'shares not mounted yet: the guest agent (qemu-guest-agent) does not answer; they are mounted when it does',
          );
        }
      }
      await sleep(wait, undefined, { signal, ref: false }).catch(() => {});
    }
  }

  async #mountAll(
    paths: VmPaths,
    plan: SharePlan,
    bootId: string,
    agent: AgentAccess,
    signal: AbortSignal,
  ): Promise<void> {
    const listed = await runInGuest(agent, ['/bin/cat', '/proc/mounts']);
    const mounts = parseProcMounts(listed.stdout.toString('utf8'));
    for (const disk of plan.disks) {
      // A newer start of this VM owns its record now.
      if (signal.aborted) return;
      if (disk.kind !== 'share' || !disk.path) continue;
      const target = disk.path;
      if (mounts.some((m) => m.type === '9p' && m.source === disk.tag && m.target === target)) {
        disk.mount = 'mounted';
        continue;
      }
      const result = await runInGuest(agent, guestMountArgv({ ...disk, path: target }));
      if (result.exitCode === 0) {
        disk.mount = 'mounted';
        this.#log(paths, `disk "${disk.device}": mounted ${describeShare(disk)}`);
      } else {
        const reason = `${result.stderr.trim() || result.stdout.toString('utf8').trim() || 'no output'} (exit ${result.exitCode})`;
        disk.mount = { failed: reason };
        this.#log(
          paths,
          `disk "${disk.device}": FAILED to mount ${describeShare(disk)}: ${reason}`,
        );
      }
    }
    // Said once per boot: a failure is not retried until the guest boots again (or the VM restarts).
    // Into the record as it is now: a disk hot-plugged meanwhile (vm-block-hotplug.ts) stays in it.
    const latest = readSharePlan(paths.runDir);
    if (!latest || signal.aborted || this.#deps.pid(paths) === 0) return;
    const mounted = new Map(plan.disks.map((d) => [d.device, d]));
    latest.disks = latest.disks.map((d) => {
      const done = mounted.get(d.device);
      return d.kind === 'share' && done?.kind === 'share' ? { ...d, mount: done.mount } : d;
    });
    latest.bootId = bootId;
    writeSharePlan(paths.runDir, latest);
  }

  #log(paths: VmPaths, line: string): void {
    try {
      appendFileSync(
        path.join(paths.logDir, SHARE_LOG_FILE),
        `${new Date().toISOString()} ${line}\n`,
        {
          mode: 0o600,
        },
      );
    } catch {
      // the VM's log dir went (deleted meanwhile)
    }
  }
}
