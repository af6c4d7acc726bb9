// limits.cpu and limits.memory on a VM against a real QEMU (TCG):
// * a set pins each vCPU's thread to its host CPU; a set naming a CPU the
//   host lacks fails the start with the key named and leaves no QEMU
//   behind (a VM with no disk or kernel: its vCPUs exist once QEMU runs);
// * on a running VM (the busybox image, its agent answering), as LXD 5.0.2:
//   limits.memory lowered shrinks the guest's memory through the balloon
//   and raised back restores it, raising it past the boot size is refused
//   and not kept; a CPU count is hot-plugged and unplugged, and the guest
//   sees it; more CPUs than slots, or a change of pinning, are refused in
//   LXD's words;
// * disk.root.usage is what the VM's own overlay occupies, not its image's disk.
// Every QEMU is stopped by its own pid; no timing assertions.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_DISK, IMAGE_DISK } from '../../src/drivers/qemu/root-disk.ts';
import { isAlive } from '../../src/drivers/qemu/vm-runtime.ts';
import { errorOf, startTestEngine, waitFor, type TestEngine } from './helpers.ts';
import {
  BOOT_WAIT_MS,
  agentReady,
  qemuPid,
  requireQemu,
  succeeded,
  tearDownVmTest,
} from './vm-helpers.ts';

const project = 'default';
const pinned = `t-limits-pin-${randomBytes(3).toString('hex')}`;
const live = `t-limits-live-${randomBytes(3).toString('hex')}`;
const alias = `t-limits-img-${randomBytes(2).toString('hex')}`;
let t: TestEngine | undefined;
let dataDir = '';

const engine = () => {
  if (!t) throw new Error('no engine');
  return t.engine;
};

/** The host CPUs each QEMU thread may run on, by thread name (vCPU threads are "CPU n/TCG" or "CPU n/KVM"). */
function vcpuAffinity(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(
      readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'),
    )?.[1];
    if (/^CPU \d+/.test(name) && allowed) out[name.split('/')[0]!] = allowed;
  }
  return out;
}

async function guest(command: string[]) {
  const out = await engine().instances.exec(project, live, { command });
  expect(out.exitCode, `${command.join(' ')}: ${out.stderr}`).toBe(0);
  return out.stdout;
}

/** MemTotal in the guest, in KiB (the balloon takes its pages out of it). */
async function memTotalKiB(): Promise<number> {
  return Number(/MemTotal:\s+(\d+)/.exec(await guest(['cat', '/proc/meminfo']))?.[1]);
}

const onlineCpus = () => guest(['cat', '/sys/devices/system/cpu/online']).then((s) => s.trim());

/** The busybox VM image loads the balloon's driver at boot: it is bound to the VM's balloon device. */
async function balloonDriverBound(): Promise<void> {
  expect(await guest(['ls', '/sys/bus/virtio/drivers/virtio_balloon'])).toMatch(/virtio\d/);
}

describe('VM limits (real QEMU)', () => {
  beforeAll(async () => {
    await requireQemu();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-qemu-limits-'));
    t = await startTestEngine(dataDir);
  }, 60_000);

  afterAll(async () => {
    await tearDownVmTest(t, { dataDir, project, vms: [pinned, live], dirs: [dataDir] });
  }, 120_000);

  it('pins vCPU i to the i-th CPU of a set', async () => {
    const last = os.cpus().length - 1;
    await engine().instances.createAndWait(project, {
      name: pinned,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.cpu': `${last},0`, 'limits.memory': '64MiB' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '16MiB' } },
    });
    await engine().instances.changeStateAndWait(project, pinned, { action: 'start' });
    const affinity = vcpuAffinity(qemuPid(dataDir, project, pinned));
    // parseCpuLimit sorts the set: vCPU 0 on CPU 0, vCPU 1 on the last.
    expect(affinity).toEqual({ 'CPU 0': '0', 'CPU 1': String(last) });
    // Pinning cannot change while it runs (LXD 5.0.2's words), and the change is not kept.
    const error = await errorOf(
      engine().instances.setConfigKeys(project, pinned, { 'limits.cpu': '1' }),
    );
    expect(error.message).toBe(
      'Cannot update key "limits.cpu" when using CPU pinning and the VM is running',
    );
    expect((await engine().instances.get(project, pinned)).config['limits.cpu']).toBe(`${last},0`);
    await engine().instances.changeStateAndWait(project, pinned, { action: 'stop', force: true });
  }, 120_000);

  it('refuses to start on a CPU the host lacks, naming the key, with no QEMU left', async () => {
    await engine().instances.update(project, pinned, {
      config: { 'limits.cpu': '0,4095', 'limits.memory': '64MiB' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '16MiB' } },
    });
    const error = await errorOf(
      engine().instances.changeStateAndWait(project, pinned, { action: 'start' }),
    );
    expect(error.message).toMatch(/limits\.cpu|4095/);
    expect((await engine().instances.get(project, pinned)).status).toBe('Stopped');
    const pid = qemuPid(dataDir, project, pinned);
    expect(pid > 0 && isAlive(pid)).toBe(false);
    await engine().instances.delete(project, pinned);
  }, 120_000);

  it('builds the busybox VM image and boots a VM with 256MiB and 1 vCPU', async () => {
    await succeeded(engine(), engine().images.buildBusyboxVm(project, { alias }));
    await engine().instances.createAndWait(project, {
      name: live,
      type: 'virtual-machine',
      source: { type: 'image', alias },
      config: { 'limits.memory': '256MiB', 'limits.cpu': '1' },
    });
    await engine().instances.changeStateAndWait(project, live, { action: 'start' });
    await agentReady(engine(), project, live);
    await balloonDriverBound();
    expect(await onlineCpus()).toBe('0');
  }, 900_000);

  it("reports the VM's own overlay as disk.root.usage, not its image's disk", async () => {
    const { view } = await engine().instances.resolve(project, live);
    const overlay = statSync(path.join(view.paths.dir, ROOT_DISK));
    const image = statSync(path.join(view.paths.rootfs, IMAGE_DISK));
    const state = await engine().instances.state(project, live, {});
    expect(state.disk.root?.usage).toBe(overlay.blocks * 512);
    expect(state.disk.root!.usage).toBeLessThan(image.blocks * 512);
  }, 60_000);

  it('lowers limits.memory live through the balloon, and raises it back to the boot size', async () => {
    const boot = await memTotalKiB();
    await engine().instances.setConfigKeys(project, live, { 'limits.memory': '160MiB' });
    // The balloon is within 1% of its target once the update returns (LXD's check).
    expect(await memTotalKiB()).toBeLessThanOrEqual(boot - 90 * 1024);
    await engine().instances.setConfigKeys(project, live, { 'limits.memory': '256MiB' });
    expect(await memTotalKiB()).toBeGreaterThanOrEqual(boot - 2 * 1024);
  }, 180_000);

  it('refuses to raise limits.memory past the boot size, in LXD 5.0.2 words, and keeps the old value', async () => {
    const error = await errorOf(
      engine().instances.setConfigKeys(project, live, { 'limits.memory': '512MiB' }),
    );
    expect(error.message).toBe(
      'Failed updating memory limit: Cannot increase memory size beyond boot time size when VM is running (Boot time size 256MiB, new size 512MiB)',
    );
    expect(error.field).toBe('config["limits.memory"]');
    expect((await engine().instances.get(project, live)).config['limits.memory']).toBe('256MiB');
  }, 60_000);

  it('hot-plugs and unplugs vCPUs for a CPU count; the guest sees them', async () => {
    const slots = Math.max(1, os.cpus().length);
    if (slots >= 2) {
      await engine().instances.setConfigKeys(project, live, { 'limits.cpu': '2' });
      await waitFor('2 vCPUs online in the guest', onlineCpus, (s) => s === '0-1', BOOT_WAIT_MS);
      expect(await guest(['nproc'])).toBe('2\n');
      await engine().instances.setConfigKeys(project, live, { 'limits.cpu': '1' });
      await waitFor('1 vCPU online in the guest', onlineCpus, (s) => s === '0', BOOT_WAIT_MS);
    }
    const tooMany = await errorOf(
      engine().instances.setConfigKeys(project, live, { 'limits.cpu': String(slots + 1) }),
    );
    expect(tooMany.message).toBe(
      'Failed updating cpu limit: Cannot allocate more CPUs than available',
    );
    expect(tooMany.field).toBe('config["limits.cpu"]');
    const pin = await errorOf(
      engine().instances.setConfigKeys(project, live, { 'limits.cpu': '0-0' }),
    );
    expect(pin.message).toBe('Cannot change CPU pinning when VM is running');
    expect((await engine().instances.get(project, live)).config['limits.cpu']).toBe('1');
    await engine().instances.changeStateAndWait(project, live, { action: 'stop', force: true });
  }, 300_000);
});
