// A VM's graphical console against a real QEMU (TCG): the busybox VM image
// booted, its VGA screen read over the VNC stream the engine hands out (an
// RFB handshake and one full update, which must show something: not one
// colour), two viewers at once, the stream ending when the VM stops; a
// stopped VM and a container are refused with what LXD says. Every QEMU is
// stopped by its own pid; no timing assertions.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';
import { readScreen } from './rfb-client.ts';
import { booted, requireQemu, tearDownVmTest } from './vm-helpers.ts';

const project = 'default';
const vm = `vm${randomBytes(3).toString('hex')}`;
const container = `c${randomBytes(3).toString('hex')}`;
const alias = `busybox-vm-${randomBytes(2).toString('hex')}`;

let t: TestEngine;
let dataDir = '';

describe('graphical console (real QEMU)', () => {
  beforeAll(async () => {
    await requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-vnc-'));
    // No managed network: the screen needs none.
    t = await startTestEngine(dataDir);
    const build = await t.engine.images.buildBusyboxVm(project, { alias });
    expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success', err: '' });
  }, 600_000);

  afterAll(async () => {
    await tearDownVmTest(t, { dataDir, project, vms: [vm], dirs: [dataDir] });
  }, 60_000);

  it('refuses a stopped VM as not running', async () => {
    await t.engine.instances.createAndWait(project, {
      name: vm,
      type: 'virtual-machine',
      source: { type: 'image', alias },
      config: { 'limits.memory': '256MiB' },
    });
    expect(await errorOf(t.engine.instances.graphicalConsole(project, vm))).toMatchObject({
      code: 'CONFLICT',
      message: `Instance "${vm}" is not running (Stopped)`,
    });
  }, 120_000);

  it('shows the running VM’s VGA screen over VNC, to two viewers at once', async () => {
    await t.engine.instances.changeStateAndWait(project, vm, { action: 'start' });
    await booted(t.engine, project, vm);
    const first = await t.engine.instances.graphicalConsole(project, vm);
    const second = await t.engine.instances.graphicalConsole(project, vm);
    try {
      const [a, b] = await Promise.all([readScreen(first), readScreen(second)]);
      // VGA text mode (80×25 cells of 9×16): what the firmware and the kernel left on it.
      expect(a).toMatchObject({ width: 720, height: 400 });
      expect(a.name).toContain(vm);
      expect(a.colours).toBeGreaterThan(1);
      expect(b).toMatchObject({ width: a.width, height: a.height });
    } finally {
      second.close();
    }

    // The stream ends when the VM goes.
    const ended = new Promise<void>((resolve) => first.output.once('end', resolve));
    first.output.resume();
    await t.engine.instances.changeStateAndWait(project, vm, { action: 'stop', force: true });
    await ended;
    first.close();
  }, 300_000);

  it('refuses a container with LXD’s words', async () => {
    await t.engine.instances.createAndWait(project, {
      name: container,
      type: 'container',
      source: { type: 'none' },
    });
    expect(await errorOf(t.engine.instances.graphicalConsole(project, container))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('VGA console is only supported by virtual machines'),
    });
  }, 60_000);
});
