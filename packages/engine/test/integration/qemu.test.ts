// The qemu driver against a real QEMU (TCG): a tiny VM (Debian kernel +
// busybox initramfs from images/tiny-vm-image.ts) created through the engine,
// booted, driven over its serial console, stopped gracefully and by force,
// found again by a restarted engine, and deleted without a trace. Every QEMU
// here is stopped by its own pid file.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleStream } from '../../src/drivers/driver.ts';
import { isAlive as alive } from '../../src/drivers/qemu/qemu-driver.ts';
import { vmPaths } from '../../src/drivers/qemu/qemu-paths.ts';
import { probeQemu } from '../../src/drivers/qemu/qemu-factory.ts';
import { TINY_VM_BANNER, buildTinyVmImage } from '../../src/images/tiny-vm-image.ts';
import { startTestEngine, waitFor, type TestEngine } from './helpers.ts';

const support = await probeQemu();
// Kernel packages are kept between runs (70 MB download otherwise).
const CACHE = path.join(os.tmpdir(), 'berth-tiny-vm-cache');
const name = `vm${randomBytes(3).toString('hex')}`;
const project = 'default';

let t: TestEngine;
let dataDir = '';
let imageDir = '';

function qemuPid(): number {
  try {
    return Number(readFileSync(vmPaths(dataDir, project, name).pidFile, 'utf8').trim());
  } catch {
    return 0;
  }
}

/** Reads the console until `pattern` shows up in what arrived since the call. */
function expectOutput(stream: ConsoleStream, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (pattern.test(seen)) {
        clearTimeout(timer);
        stream.output.off('data', onData);
        resolve(seen);
      }
    };
    const timer = setTimeout(() => {
      stream.output.off('data', onData);
      reject(new Error(`no ${pattern} on the console; got ${JSON.stringify(seen.slice(-300))}`));
    }, timeoutMs);
    stream.output.on('data', onData);
  });
}

async function booted(): Promise<void> {
  await waitFor(
    'the banner in the console log',
    () => t.engine.instances.consoleLog(project, name),
    (log) => log.includes(TINY_VM_BANNER),
    30_000,
  );
}

describe('qemu driver (real QEMU)', () => {
  beforeAll(async () => {
    // setup.sh installs QEMU: a missing driver is a failure here, not a skip.
    if (!support.available) throw new Error(`QEMU is unavailable: ${support.reason ?? '?'}`);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-qemu-'));
    imageDir = mkdtempSync(path.join(os.tmpdir(), 'berth-tiny-vm-'));
    await buildTinyVmImage({ cacheDir: CACHE, outDir: imageDir });
    t = await startTestEngine(dataDir);
  }, 180_000);

  afterAll(async () => {
    const pid = qemuPid();
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    await t?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(imageDir, { recursive: true, force: true });
  });

  it('reports the driver with its accelerator', () => {
    const info = t.engine.drivers().find((d) => d.type === 'virtual-machine');
    expect(info).toMatchObject({ name: 'qemu', available: true });
    expect(['kvm', 'tcg']).toContain(info?.details?.accel);
  });

  it('boots a VM, attaches its serial console and runs a command', async () => {
    await t.engine.instances.createAndWait(project, {
      name,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.memory': '256MiB', 'limits.cpu': '1' },
    });
    const { view } = await t.engine.instances.resolve(project, name);
    // What unpacking a VM image into the volume will do.
    cpSync(path.join(imageDir, 'boot'), path.join(view.paths.rootfs, 'boot'), { recursive: true });

    const started = Date.now();
    await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
    await booted();
    console.log(`tiny VM booted in ${Date.now() - started} ms`);

    const console_ = await t.engine.instances.console(project, name, { cols: 80, rows: 24 });
    try {
      const prompt = expectOutput(console_, /berth-vm# /);
      console_.input.write('\n');
      await prompt;
      const answer = expectOutput(console_, /\r?\n42\r?\n/);
      console_.input.write('echo $((6*7))\n');
      await answer;
    } finally {
      console_.close();
    }

    const state = await t.engine.instances.state(project, name);
    expect(state.status).toBe('Running');
    expect(state.pid).toBe(qemuPid());
    expect(state.memory.usage).toBe(256 * 1024 * 1024);
    expect(state.cpu.usage).toBeGreaterThan(0);
  }, 60_000);

  it('is found again, still running, by a restarted engine', async () => {
    const pid = qemuPid();
    await t.engine.close();
    t = await startTestEngine(dataDir);
    const state = await t.engine.instances.state(project, name);
    expect(state).toMatchObject({ status: 'Running', pid });
    // QMP answers again: pause and resume through the new connection.
    await t.engine.instances.changeStateAndWait(project, name, { action: 'freeze' });
    expect((await t.engine.instances.state(project, name)).status).toBe('Frozen');
    await t.engine.instances.changeStateAndWait(project, name, { action: 'unfreeze' });
    expect((await t.engine.instances.state(project, name)).status).toBe('Running');
    expect(await t.engine.instances.consoleLog(project, name)).toContain(TINY_VM_BANNER);
  });

  it('shuts down gracefully through the ACPI power button', async () => {
    const pid = qemuPid();
    const started = Date.now();
    await t.engine.instances.changeStateAndWait(project, name, { action: 'stop', timeout: 20 });
    expect(alive(pid)).toBe(false);
    expect(await t.engine.instances.consoleLog(project, name)).toMatch(/reboot: Power down/);
    expect((await t.engine.instances.state(project, name)).status).toBe('Stopped');
    console.log(`graceful shutdown in ${Date.now() - started} ms`);
  });

  it('notices a VM that powers itself off', async () => {
    await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
    await booted();
    const pid = qemuPid();
    const seen = t.events.length;
    const console_ = await t.engine.instances.console(project, name, { cols: 80, rows: 24 });
    // Typed before the shell has opened ttyS0, input is lost: wait for its prompt.
    const prompt = expectOutput(console_, /berth-vm# /);
    console_.input.write('\n');
    await prompt;
    console_.input.write('poweroff\n');
    await waitFor(
      'QEMU to exit',
      async () => alive(pid),
      (a) => !a,
      20_000,
    );
    console_.close();
    await waitFor(
      'the instance-stopped event',
      async () => t.events.slice(seen).map((e) => (e.metadata as { action?: string }).action),
      (actions) => actions.includes('instance-stopped'),
    );
    const instance = await t.engine.instances.get(project, name);
    expect(instance.status).toBe('Stopped');
    expect(instance.config['volatile.last_state.power']).toBe('STOPPED');
  }, 40_000);

  it('forces a VM that ignores the power button off after the timeout, and deletes it without a trace', async () => {
    await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
    await booted();
    const console_ = await t.engine.instances.console(project, name, { cols: 80, rows: 24 });
    try {
      const prompt = expectOutput(console_, /berth-vm# /);
      console_.input.write('\n');
      await prompt;
      // The shell expands $((0)): the typed line (echoed back) does not match, its output does.
      const done = expectOutput(console_, /acpid-0gone/);
      console_.input.write('killall acpid; echo acpid-$((0))gone\n');
      await done;
    } finally {
      console_.close();
    }
    const pid = qemuPid();
    const started = Date.now();
    await t.engine.instances.changeStateAndWait(project, name, { action: 'stop', timeout: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(alive(pid)).toBe(false);

    await t.engine.instances.delete(project, name);
    const paths = vmPaths(dataDir, project, name);
    expect(existsSync(paths.runDir)).toBe(false);
    expect(existsSync(paths.logDir)).toBe(false);
  }, 60_000);
});
