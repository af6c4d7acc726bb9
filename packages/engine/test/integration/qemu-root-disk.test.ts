// A tiny VM that runs from its root disk, as a real VM does: the image
// (images/tiny-vm-image.ts with `rootDisk`) has a busybox OS on an ext4
// qcow2 disk and an initramfs that switch_roots into it. Booted by the qemu
// driver under TCG on the VM's qcow2 overlay of that disk, driven through
// the guest agent: / is /dev/vda, a file pushed under /root survives a
// graceful stop and a start, and a snapshot of the stopped VM brings back
// what was removed after it. Every QEMU here is stopped by its own pid
// file. No timing assertions: the machine is shared; waits poll.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive as alive } from '../../src/drivers/qemu/vm-runtime.ts';
import { startTestEngine, testBridgeName, type TestEngine } from './helpers.ts';
import {
  agentReady,
  buildTinyVm,
  placeTinyVmImage,
  qemuPid,
  requireQemu,
  tearDownVmTest,
} from './vm-helpers.ts';

const name = `vm${randomBytes(3).toString('hex')}`;
const project = 'default';
const bridge = testBridgeName();
const MIB = 1024 * 1024;

let t: TestEngine;
let dataDir = '';
let imageDir = '';

function count(text: string, what: string | RegExp): number {
  return text.split(what).length - 1;
}

/** Starts the VM and waits for its `boots`-th boot (the console log keeps them all) and its agent. */
async function start(boots: number): Promise<void> {
  await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
  await agentReady(t.engine, project, name, boots);
}

async function stopGracefully(): Promise<void> {
  const pid = qemuPid(dataDir, project, name);
  const before = count(await t.engine.instances.consoleLog(project, name), 'reboot: Power down');
  await t.engine.instances.changeStateAndWait(project, name, { action: 'stop', timeout: 90 });
  expect(alive(pid)).toBe(false);
  // The guest powered itself off (not forced): its shutdown ran.
  expect(
    count(await t.engine.instances.consoleLog(project, name), 'reboot: Power down'),
  ).toBeGreaterThan(before);
  expect((await t.engine.instances.state(project, name)).status).toBe('Stopped');
}

async function sh(script: string) {
  return t.engine.instances.exec(project, name, { command: ['sh', '-c', script] });
}

describe('a tiny VM on its root disk (real QEMU)', () => {
  beforeAll(async () => {
    await requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-qemu-root-'));
    imageDir = await buildTinyVm({ rootDisk: { sizeBytes: 64 * MIB } });
    t = await startTestEngine(dataDir, { network: bridge });
  }, 300_000);

  afterAll(async () => {
    await tearDownVmTest(t, { dataDir, project, vms: [name], bridge, dirs: [dataDir, imageDir] });
  }, 60_000);

  it('boots from its root disk: / is /dev/vda, read-write, with room to write', async () => {
    await t.engine.instances.createAndWait(project, {
      name,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.memory': '256MiB', 'limits.cpu': '1' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '128MiB' } },
    });
    await placeTinyVmImage(t.engine, project, name, imageDir);

    await start(1);
    expect(await t.engine.instances.consoleLog(project, name)).toContain(
      'berth: switching to the root disk /dev/vda',
    );
    const mounts = await t.engine.instances.exec(project, name, {
      command: ['cat', '/proc/mounts'],
    });
    expect(mounts.exitCode).toBe(0);
    expect(mounts.stdout).toMatch(/^\/dev\/vda \/ ext4 rw[ ,]/m);
    // Exit codes come back through the agent.
    expect(await sh('echo on-disk; exit 7')).toEqual({
      exitCode: 7,
      stdout: 'on-disk\n',
      stderr: '',
    });
    // The device grew to the root device's size; the filesystem is the image's 64 MiB, mostly free.
    const sizes = await sh('cat /sys/block/vda/size; df -k / | tail -n 1');
    const [sectors, df] = sizes.stdout.trim().split('\n');
    expect(Number(sectors)).toBe((128 * MIB) / 512);
    const [, totalKiB, , freeKiB] = (df ?? '').trim().split(/\s+/).map(Number);
    expect(totalKiB).toBeLessThanOrEqual(64 * 1024);
    expect(freeKiB).toBeGreaterThan(32 * 1024);
  }, 400_000);

  it('keeps a file pushed under /root across a graceful stop and a start', async () => {
    const blob = randomBytes(1024 * 1024);
    await t.engine.instances.filePush(project, name, '/root/note.txt', {
      content: Buffer.from('kept across a reboot\n'),
      mode: 0o600,
    });
    await t.engine.instances.filePush(project, name, '/root/data/blob.bin', {
      content: blob,
      createParents: true,
    });

    await stopGracefully();
    await start(2);

    const note = await t.engine.instances.filePull(project, name, '/root/note.txt');
    expect(note.content?.toString('utf8')).toBe('kept across a reboot\n');
    expect(note.entry).toMatchObject({ type: 'file', mode: 0o600, uid: 0, gid: 0 });
    const pulled = await t.engine.instances.filePull(project, name, '/root/data/blob.bin');
    expect(pulled.content?.equals(blob)).toBe(true);
    expect(
      (await t.engine.instances.exec(project, name, { command: ['cat', '/root/note.txt'] })).stdout,
    ).toBe('kept across a reboot\n');
    expect((await sh('cat /proc/mounts')).stdout).toMatch(/^\/dev\/vda \/ ext4 rw[ ,]/m);
    // The shutdown left / clean: mounted again without a journal recovery.
    const dmesg = (await sh('dmesg')).stdout;
    expect(dmesg).toMatch(/EXT4-fs \(vda\): mounted filesystem/);
    expect(dmesg).not.toMatch(/EXT4-fs \(vda\): recovery complete/);
  }, 400_000);

  it('restores the disk from a snapshot of the stopped VM', async () => {
    await stopGracefully();
    const op = await t.engine.snapshots.create(project, name, { name: 'before-rm' });
    expect(await t.engine.operations.wait(op.id)).toMatchObject({ status: 'Success' });

    await start(3);
    await t.engine.instances.fileRemove(project, name, '/root/note.txt');
    await t.engine.instances.filePush(project, name, '/root/after.txt', {
      content: Buffer.from('after the snapshot\n'),
    });
    await stopGracefully();

    const restore = await t.engine.snapshots.restore(project, name, 'before-rm');
    expect(await t.engine.operations.wait(restore.id)).toMatchObject({ status: 'Success' });
    await start(4);
    expect((await sh('cat /root/note.txt; ls /root')).stdout).toBe(
      'kept across a reboot\ndata\nnote.txt\n',
    );
  }, 600_000);
});
