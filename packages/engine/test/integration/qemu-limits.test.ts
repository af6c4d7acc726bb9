// limits.cpu on a VM against a real QEMU: a set pins each vCPU's thread to
// its host CPU, a set naming a CPU the host lacks fails the start with the
// key named and leaves no QEMU behind. The VM has no disk or kernel: its
// vCPUs exist as soon as QEMU runs, which is all this needs.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeQemu } from '../../src/drivers/qemu/qemu-factory.ts';
import { vmPaths } from '../../src/drivers/qemu/qemu-paths.ts';
import { isAlive } from '../../src/drivers/qemu/vm-runtime.ts';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';

const support = await probeQemu();
const project = 'default';
const vm = `vm${randomBytes(3).toString('hex')}`;
let t: TestEngine;
let dataDir = '';

function qemuPid(): number {
  try {
    return Number(readFileSync(vmPaths(dataDir, project, vm).pidFile, 'utf8').trim());
  } catch {
    return 0;
  }
}

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

describe('VM CPU limits (real QEMU)', () => {
  beforeAll(async () => {
    if (!support.available) throw new Error(`QEMU is unavailable: ${support.reason ?? '?'}`);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-qemu-limits-'));
    t = await startTestEngine(dataDir);
  });

  afterAll(async () => {
    const pid = qemuPid();
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
    await t?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('pins vCPU i to the i-th CPU of a set', async () => {
    const last = os.cpus().length - 1;
    await t.engine.instances.createAndWait(project, {
      name: vm,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.cpu': `${last},0`, 'limits.memory': '64MiB' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '16MiB' } },
    });
    await t.engine.instances.changeStateAndWait(project, vm, { action: 'start' });
    const affinity = vcpuAffinity(qemuPid());
    // parseCpuLimit sorts the set: vCPU 0 on CPU 0, vCPU 1 on the last.
    expect(affinity).toEqual({ 'CPU 0': '0', 'CPU 1': String(last) });
    await t.engine.instances.changeStateAndWait(project, vm, { action: 'stop', force: true });
  });

  it('refuses to start on a CPU the host lacks, naming the key, with no QEMU left', async () => {
    await t.engine.instances.update(project, vm, {
      config: { 'limits.cpu': '0,4095', 'limits.memory': '64MiB' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '16MiB' } },
    });
    const error = await errorOf(
      t.engine.instances.changeStateAndWait(project, vm, { action: 'start' }),
    );
    expect(error.message).toMatch(/limits\.cpu|4095/);
    expect((await t.engine.instances.get(project, vm)).status).toBe('Stopped');
    expect(qemuPid() > 0 && isAlive(qemuPid())).toBe(false);
    await t.engine.instances.delete(project, vm);
  });
});
