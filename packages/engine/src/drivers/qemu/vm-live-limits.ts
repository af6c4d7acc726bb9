// `limits.memory` and `limits.cpu` on a running VM, as LXD 5.0.2 applies
// them (driver_qemu.go: Update, updateMemoryLimit, setCPUs), in its words:
// * memory through the virtio balloon (qemu-args.ts adds it), down from the
//   boot size and back up to it, never above it (QEMU's RAM is fixed at
//   start); the change counts once the guest's balloon is within 1% of it;
// * a CPU count through vCPU hotplug into the spare slots `-smp maxcpus`
//   leaves (vmMaxCpus), down to one; pinning (a set) cannot change live.
// LXD boots one vCPU and hotplugs the rest at start; Berth boots the count
// (no race with the guest's own CPU bring-up, and QEMU unplugs any vCPU but
// the first). A hot-added vCPU is brought online through the guest agent
// (guest-set-vcpus), where LXD leaves it to the guest's udev rules, which a
// minimal guest does not have.
import { parseCpuLimit, parseMemory } from '../../config/index.ts';
import { EngineError } from '../../errors.ts';
import type { ConfigMap } from '../../schemas/index.ts';
import { sleep } from '../driver-common.ts';
import type { QgaClient } from './qga-client.ts';

const MIB = 1024 * 1024;
/** LXD polls the balloon 10 × 500 ms; a TCG guest is slower, so longer. */
const BALLOON_WAIT_MS = 30_000;
/** x86 vCPU unplug needs the guest to eject it (ACPI); hot-added ones to be listed by its kernel. */
const VCPU_WAIT_MS = 30_000;
const STEP_MS = 250;

export type Qmp = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

export interface LiveLimitsAccess {
  qmp: Qmp;
  /** The guest agent, to bring hot-added vCPUs online; absent or failing, the guest's own rules must. */
  agent?: () => Promise<QgaClient>;
  hostMemoryBytes: number;
}

export interface HotpluggableCpu {
  type: string;
  'vcpus-count': number;
  props: Record<string, number>;
  'qom-path'?: string;
}

const field = (key: string) => `config["${key}"]`;

/** Applies the keys that changed between `previous` and `next` to the running VM; refuses in LXD's words. */
export async function applyLiveLimits(
  next: ConfigMap,
  previous: ConfigMap,
  access: LiveLimitsAccess,
): Promise<void> {
  if (next['limits.cpu'] !== previous['limits.cpu']) {
    const count = cpuCountChange(previous['limits.cpu'], next['limits.cpu']);
    try {
      await setCpus(count, access);
    } catch (error) {
      throw wrap(error, 'Failed updating cpu limit', 'limits.cpu');
    }
  }
  if (next['limits.memory'] !== previous['limits.memory']) {
    try {
      await updateMemoryLimit(next['limits.memory'], access);
    } catch (error) {
      throw wrap(error, 'Failed updating memory limit', 'limits.memory');
    }
  }
}

/** The vCPU count a live `limits.cpu` change asks for; LXD's refusals for pinning. */
export function cpuCountChange(oldValue: string | undefined, newValue: string | undefined): number {
  if (oldValue && parseCpuLimit(oldValue).kind === 'set')
    throw new EngineError(
      'CONFLICT',
      `Cannot update key "limits.cpu" when using CPU pinning and the VM is running`,
      { field: field('limits.cpu') },
    );
  // Unset is the default, one vCPU.
  const limit = parseCpuLimit(newValue || '1');
  if (limit.kind === 'set')
    throw new EngineError('CONFLICT', 'Cannot change CPU pinning when VM is running', {
      field: field('limits.cpu'),
    });
  return limit.count;
}

/** limits.memory in bytes, whole MiB up (as QEMU sizes RAM); a percentage is of the host's memory. */
export function memoryTarget(value: string, hostMemoryBytes: number): number {
  const limit = parseMemory(value);
  const bytes =
    limit.kind === 'bytes' ? limit.bytes : Math.floor((hostMemoryBytes * limit.percent) / 100);
  return Math.max(MIB, Math.ceil(bytes / MIB) * MIB);
}

/** LXD's check before it moves the balloon: null when there is nothing to do. */
export function memoryChange(
  target: number,
  bootBytes: number,
  currentBytes: number,
): { refuse?: string } | null {
  const newMiB = Math.floor(target / MIB);
  const baseMiB = Math.floor(bootBytes / MIB);
  if (Math.floor(currentBytes / MIB) === newMiB) return null;
  if (baseMiB < newMiB)
    return {
      refuse: `Cannot increase memory size beyond boot time size when VM is running (Boot time size ${baseMiB}MiB, new size ${newMiB}MiB)`,
    };
  return {};
}

async function updateMemoryLimit(value: string | undefined, access: LiveLimitsAccess) {
  // As LXD: unsetting it changes nothing until the next start.
  if (!value) return;
  const target = memoryTarget(value, access.hostMemoryBytes);
  const summary = (await access.qmp('query-memory-size-summary')) as { 'base-memory': number };
  const balloon = async () => ((await access.qmp('query-balloon')) as { actual: number }).actual;
  const change = memoryChange(target, summary['base-memory'], await balloon());
  if (!change) return;
  if (change.refuse) throw new EngineError('CONFLICT', change.refuse);
  await access.qmp('balloon', { value: target });
  // The guest moves its balloon at its own pace: within 1% of the target counts (LXD).
  const newMiB = Math.floor(target / MIB);
  let curMiB = 0;
  const deadline = Date.now() + BALLOON_WAIT_MS;
  for (;;) {
    curMiB = Math.floor((await balloon()) / MIB);
    if (Math.abs(curMiB - newMiB) <= Math.floor(newMiB / 100)) return;
    if (Date.now() > deadline) break;
    await sleep(STEP_MS);
  }
  throw new EngineError(
    'INTERNAL',
    `Failed setting memory to ${newMiB}MiB (currently ${curMiB}MiB) as it was taking too long`,
  );
}

/** vCPU 0 (socket, core and thread 0) cannot be unplugged. */
function isBootCpu(cpu: HotpluggableCpu): boolean {
  return Object.values(cpu.props).every((v) => v === 0);
}

/**
 * Which slots to fill and which vCPUs to unplug for `count`: new ones go
 * into the lowest free slots; the last plugged (highest slot) go first,
 * never vCPU 0. Throws LXD's refusal when the VM has too few slots.
 */
export function planCpus(
  cpus: readonly HotpluggableCpu[],
  count: number,
): { add: HotpluggableCpu[]; remove: HotpluggableCpu[] } {
  const present = cpus.filter((c) => c['qom-path']);
  const free = cpus.filter((c) => !c['qom-path']);
  if (count === present.length) return { add: [], remove: [] };
  if (count > present.length) {
    if (count > cpus.length)
      throw new EngineError('CONFLICT', 'Cannot allocate more CPUs than available');
    return { add: [...free].sort(bySlot).slice(0, count - present.length), remove: [] };
  }
  const removable = present
    .filter((c) => !isBootCpu(c))
    .sort(bySlot)
    .reverse();
  return { add: [], remove: removable.slice(0, present.length - count) };
}

function bySlot(a: HotpluggableCpu, b: HotpluggableCpu): number {
  for (const key of ['node-id', 'socket-id', 'die-id', 'core-id', 'thread-id']) {
    const d = (a.props[key] ?? 0) - (b.props[key] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A hot-added vCPU's device id, LXD's "cpu<socket><core><thread>" with separators (ids stay unique). */
export function cpuDeviceId(cpu: HotpluggableCpu): string {
  const p = cpu.props;
  return `cpu${p['socket-id'] ?? 0}-${p['core-id'] ?? 0}-${p['thread-id'] ?? 0}`;
}

async function setCpus(count: number, access: LiveLimitsAccess): Promise<void> {
  const query = async () => (await access.qmp('query-hotpluggable-cpus')) as HotpluggableCpu[];
  const { add, remove } = planCpus(await query(), count);
  if (add.length === 0 && remove.length === 0) return;
  for (const cpu of add) {
    await access
      .qmp('device_add', { driver: cpu.type, id: cpuDeviceId(cpu), ...cpu.props })
      .catch((error: unknown) => {
        throw new EngineError('INTERNAL', `Failed to add device: ${(error as Error).message}`);
      });
  }
  for (const cpu of remove) {
    // A QOM path names a vCPU that was there at boot as well as a hot-added one.
    await access.qmp('device_del', { id: cpu['qom-path'] }).catch((error: unknown) => {
      throw new EngineError('INTERNAL', `Failed to remove CPU: ${(error as Error).message}`);
    });
  }
  // Unplugging is the guest's to finish (it ejects the vCPU); wait so the answer is true.
  const deadline = Date.now() + VCPU_WAIT_MS;
  let present = 0;
  for (;;) {
    present = (await query()).filter((c) => c['qom-path']).length;
    if (present === count) break;
    if (Date.now() > deadline)
      throw new EngineError(
        'INTERNAL',
        `Failed to remove CPU: the guest still has ${present} vCPUs of the ${count} asked for`,
      );
    await sleep(STEP_MS);
  }
  if (add.length > 0 && access.agent) await onlineGuestCpus(access.agent, count).catch(() => {});
}

/** Brings the guest's offline vCPUs online once its kernel lists `count` of them (guest-set-vcpus). */
async function onlineGuestCpus(agent: () => Promise<QgaClient>, count: number): Promise<void> {
  const deadline = Date.now() + VCPU_WAIT_MS;
  for (;;) {
    const vcpus = await (
      await agent()
    ).execute<{ 'logical-id': number; online: boolean }[]>('guest-get-vcpus');
    const offline = vcpus.filter((v) => !v.online);
    if (vcpus.length >= count || Date.now() > deadline) {
      if (offline.length > 0)
        await (
          await agent()
        ).execute('guest-set-vcpus', {
          vcpus: offline.map((v) => ({ 'logical-id': v['logical-id'], online: true })),
        });
      return;
    }
    await sleep(STEP_MS);
  }
}

function wrap(error: unknown, prefix: string, key: string): EngineError {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof EngineError ? error.code : 'INTERNAL';
  return new EngineError(code, `${prefix}: ${message}`, { field: field(key), cause: error });
}
