// Snapshots, restores and copies of virtual machines against a real QEMU
// (TCG): the tiny VM (images/tiny-vm-image.ts) with its disk mounted on
// /mnt in the guest, written through the guest agent. A running VM is
// snapshotted and copied while paused (its guest filesystems frozen through
// the agent), and runs on afterwards; a restore brings its disk back (a
// running one is stopped, restored and started again); a copy, of the VM
// or of one of its snapshots, boots on its own disk with its own MAC.
// Boots are few (each takes seconds to a minute under TCG): every boot
// checks several things. Every QEMU is stopped by its own pid file; no
// timing assertions, waits poll.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmPaths } from '../../src/drivers/qemu/qemu-paths.ts';
import { IMAGE_DISK, ROOT_DISK } from '../../src/drivers/qemu/root-disk.ts';
import { isAlive as alive } from '../../src/drivers/qemu/vm-runtime.ts';
import { errorOf, startTestEngine, testBridgeName, waitFor, type TestEngine } from './helpers.ts';
import * as vm from './vm-helpers.ts';

const project = 'default';
const hex = randomBytes(3).toString('hex');
/** The VM snapshotted and restored, and its copies: running (r), of a snapshot (s), stopped (c). */
const VM = `vm${hex}`;
const RUNNING_COPY = `vm${hex}-r`;
const SNAPSHOT_COPY = `vm${hex}-s`;
const STOPPED_COPY = `vm${hex}-c`;
const ALL = [VM, RUNNING_COPY, SNAPSHOT_COPY, STOPPED_COPY];
const bridge = testBridgeName();
const MIB = 1024 * 1024;

let t: TestEngine;
let dataDir = '';
let imageDir = '';

// The shared helpers, on this file's engine and project.
const qemuPid = (name: string) => vm.qemuPid(dataDir, project, name);
const agentReady = (name: string) => vm.agentReady(t.engine, project, name);
const diskFiles = (name: string) => vm.diskFiles(t.engine, project, name);
const writeOnDisk = (name: string, file: string) => vm.writeOnDisk(t.engine, project, name, file);

async function volumeOf(name: string): Promise<string> {
  return (await t.engine.storage.instancePaths('default', project, name, 'virtual-machine')).dir;
}

async function snapshotDirOf(name: string, snapshot: string): Promise<string> {
  return (
    await t.engine.storage.snapshotPaths('default', project, name, 'virtual-machine', snapshot)
  ).dir;
}

async function waitDone(operation: Promise<{ id: string }>) {
  return t.engine.operations.wait((await operation).id);
}

async function snapshot(name: string, snap: string): Promise<void> {
  await vm.succeeded(t.engine, t.engine.snapshots.create(project, name, { name: snap }));
}

async function restore(name: string, snap: string): Promise<void> {
  await vm.succeeded(t.engine, t.engine.snapshots.restore(project, name, snap));
}

async function copy(target: string, source: string, extra: Record<string, unknown> = {}) {
  const created = t.engine.instances.create(project, {
    name: target,
    source: { type: 'copy', source, ...extra } as { type: 'copy'; source: string },
  });
  await vm.succeeded(
    t.engine,
    created.then((c) => c.operation),
  );
  return t.engine.instances.get(project, target);
}

async function start(name: string): Promise<void> {
  await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
}

async function hwaddrSeenByGuest(name: string): Promise<string | undefined> {
  const state = await t.engine.instances.state(project, name);
  return state.network?.eth0?.hwaddr;
}

describe('snapshots, restores and copies of VMs (real QEMU)', () => {
  beforeAll(async () => {
    await vm.requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-qsnap-'));
    imageDir = await vm.buildTinyVm({ disk: { sizeBytes: 32 * MIB } });
    t = await startTestEngine(dataDir, { network: bridge });
    await t.engine.instances.createAndWait(project, {
      name: VM,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.memory': '256MiB', 'limits.cpu': '1' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '64MiB' } },
    });
    await vm.placeTinyVmImage(t.engine, project, VM, imageDir);
  }, 300_000);

  afterAll(async () => {
    await vm.tearDownVmTest(t, { dataDir, project, vms: ALL, bridge, dirs: [dataDir, imageDir] });
  }, 120_000);

  it('snapshots and copies a running VM paused, whole, and running on afterwards; resumes it when the copy fails', async () => {
    await start(VM);
    await agentReady(VM);
    await writeOnDisk(VM, 'before');

    // With its memory only where migration.stateful allows it, as LXD; nothing is taken.
    expect(
      await errorOf(t.engine.snapshots.create(project, VM, { name: 'mem', stateful: true })),
    ).toMatchObject({
      code: 'CONFLICT',
      field: 'stateful',
      message: 'Stateful snapshot requires migration.stateful to be set to true',
    });

    await snapshot(VM, 'snap0');
    // Resumed, its filesystems thawed: the guest writes on its disk again.
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    await writeOnDisk(VM, 'after');
    expect(await diskFiles(VM)).toEqual(['after', 'before']);
    // The snapshot's overlay is a whole qcow2 on the image's disk, by the same relative name.
    const snap0 = await snapshotDirOf(VM, 'snap0');
    expect(vm.checkDisk(path.join(snap0, ROOT_DISK))).toMatch(/No errors were found/);
    expect(existsSync(path.join(snap0, 'rootfs', IMAGE_DISK))).toBe(true);

    // A copy of the running VM (LXD's rule for containers too: allowed, the source held still).
    const source = await t.engine.instances.get(project, VM);
    const copied = await copy(RUNNING_COPY, VM, { instance_only: true });
    expect(copied).toMatchObject({ status: 'Stopped', type: 'virtual-machine' });
    expect(copied.config['volatile.eth0.hwaddr']).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(copied.config['volatile.eth0.hwaddr']).not.toBe(source.config['volatile.eth0.hwaddr']);
    expect(copied.config['volatile.uuid']).not.toBe(source.config['volatile.uuid']);
    expect(vm.checkDisk(path.join(await volumeOf(RUNNING_COPY), ROOT_DISK))).toMatch(
      /No errors were found/,
    );
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    expect(await diskFiles(VM)).toEqual(['after', 'before']);

    // The copy fails while the VM is paused (a stray folder holds the snapshot's name): it runs on.
    const clash = await snapshotDirOf(VM, 'clash');
    mkdirSync(clash);
    try {
      const failed = await waitDone(t.engine.snapshots.create(project, VM, { name: 'clash' }));
      expect(failed.status).toBe('Failure');
      expect(failed.err).toContain('already exists');
    } finally {
      rmSync(clash, { recursive: true });
    }
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    await writeOnDisk(VM, 'still-writable');
    await t.engine.instances.fileRemove(project, VM, '/mnt/still-writable');

    // A VM its user paused stays paused through a snapshot.
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'freeze' });
    await snapshot(VM, 'paused');
    expect((await t.engine.instances.get(project, VM)).status).toBe('Frozen');
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'unfreeze' });
    expect((await t.engine.snapshots.list(project, VM)).map((s) => s.name)).toEqual([
      'snap0',
      'paused',
    ]);
  }, 600_000);

  it('restores a running VM: stopped, its disk as at the snapshot, started again', async () => {
    const pid = qemuPid(VM);
    await restore(VM, 'snap0');
    expect(alive(pid)).toBe(false);
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    await agentReady(VM);
    // Written before the snapshot: there; after it: gone.
    expect(await diskFiles(VM)).toEqual(['before']);
    expect(
      (await t.engine.instances.exec(project, VM, { command: ['cat', '/mnt/before'] })).stdout,
    ).toBe('before\n');
  }, 600_000);

  it('snapshots a stopped VM, restores it stopped, renames and deletes snapshots; copies of it and of a snapshot boot on their own disks', async () => {
    await writeOnDisk(VM, 'second');
    // Cleanly, through the agent: the guest writes out its disk before it goes.
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'stop', timeout: 60 });
    expect((await t.engine.instances.get(project, VM)).status).toBe('Stopped');
    await snapshot(VM, 'snap1');
    await t.engine.snapshots.rename(project, VM, 'snap1', 'kept');
    expect(existsSync(await snapshotDirOf(VM, 'snap1'))).toBe(false);
    expect(vm.checkDisk(path.join(await snapshotDirOf(VM, 'kept'), ROOT_DISK))).toMatch(
      /No errors were found/,
    );

    // Stopped, restored to snap0: `second` is gone again; it stays stopped.
    await restore(VM, 'snap0');
    expect((await t.engine.instances.get(project, VM)).status).toBe('Stopped');

    const source = await t.engine.instances.get(project, VM);
    const fromSnapshot = await copy(SNAPSHOT_COPY, `${VM}/kept`);
    const stoppedCopy = await copy(STOPPED_COPY, VM);
    for (const copied of [fromSnapshot, stoppedCopy]) {
      expect(copied.config['volatile.eth0.hwaddr']).not.toBe(source.config['volatile.eth0.hwaddr']);
    }
    expect(fromSnapshot.config['volatile.eth0.hwaddr']).not.toBe(
      stoppedCopy.config['volatile.eth0.hwaddr'],
    );
    expect(await t.engine.snapshots.list(project, SNAPSHOT_COPY)).toEqual([]);
    // A copy takes its source's snapshots along.
    expect((await t.engine.snapshots.list(project, STOPPED_COPY)).map((s) => s.name)).toEqual([
      'snap0',
      'paused',
      'kept',
    ]);
    // All four boot at once.
    for (const name of [VM, RUNNING_COPY, SNAPSHOT_COPY, STOPPED_COPY]) await start(name);
    for (const name of [VM, RUNNING_COPY, SNAPSHOT_COPY, STOPPED_COPY]) await agentReady(name);

    expect(await diskFiles(VM)).toEqual(['before']);
    expect(await diskFiles(STOPPED_COPY)).toEqual(['before']);
    expect(await diskFiles(SNAPSHOT_COPY)).toEqual(['before', 'second']);
    expect(await diskFiles(RUNNING_COPY)).toEqual(['after', 'before']);

    // What one writes, the others do not see.
    await writeOnDisk(STOPPED_COPY, 'copy-only');
    await writeOnDisk(SNAPSHOT_COPY, 'snapshot-copy-only');
    expect(await diskFiles(STOPPED_COPY)).toEqual(['before', 'copy-only']);
    expect(await diskFiles(SNAPSHOT_COPY)).toEqual(['before', 'second', 'snapshot-copy-only']);
    expect(await diskFiles(VM)).toEqual(['before']);

    // Each runs with its own MAC, the one in its config.
    const macs = await Promise.all(
      [VM, RUNNING_COPY, SNAPSHOT_COPY, STOPPED_COPY].map(async (name) => {
        const seen = await waitFor(
          `the guest's MAC of ${name}`,
          () => hwaddrSeenByGuest(name),
          (mac) => mac !== undefined,
          vm.BOOT_WAIT_MS,
        );
        expect(seen).toBe(
          (await t.engine.instances.get(project, name)).config['volatile.eth0.hwaddr'],
        );
        return seen;
      }),
    );
    expect(new Set(macs).size).toBe(4);

    // Snapshots of a running VM rename and go: nothing of them is in its runtime.
    await t.engine.snapshots.rename(project, VM, 'kept', 'kept2');
    await t.engine.snapshots.delete(project, VM, 'snap0');
    await t.engine.snapshots.delete(project, VM, 'paused');
    expect((await t.engine.snapshots.list(project, VM)).map((s) => s.name)).toEqual(['kept2']);
    expect(existsSync(await snapshotDirOf(VM, 'snap0'))).toBe(false);
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    expect(await diskFiles(VM)).toEqual(['before']);
    // The copy's snapshots are its own.
    expect((await t.engine.snapshots.list(project, STOPPED_COPY)).map((s) => s.name)).toEqual([
      'snap0',
      'paused',
      'kept',
    ]);
  }, 900_000);

  it("saves a running VM's memory: stateful snapshot and restore, stateful stop and start, stateless start", async () => {
    // Fewer guests under TCG: the copies have been checked.
    for (const name of [RUNNING_COPY, SNAPSHOT_COPY, STOPPED_COPY])
      await t.engine.instances.changeStateAndWait(project, name, { action: 'stop', force: true });
    expect(
      await errorOf(
        t.engine.instances.changeState(project, VM, { action: 'stop', stateful: true }),
      ),
    ).toMatchObject({
      code: 'CONFLICT',
      message: 'Stateful stop requires migration.stateful to be set to true',
    });
    await t.engine.instances.patch(project, VM, { config: { 'migration.stateful': 'true' } });

    // What only the guest's memory holds: a tmpfs and a process, gone with any boot.
    const guest = async (script: string) => {
      const out = await t.engine.instances.exec(project, VM, { command: ['sh', '-c', script] });
      expect(out.stderr).toBe('');
      expect(out.exitCode).toBe(0);
      return out.stdout.trim();
    };
    const volume = await volumeOf(VM);
    await guest('mkdir -p /run/mem && mount -t tmpfs mem /run/mem && echo one > /run/mem/mark');
    const sleeper = await guest('sleep 100000 >/dev/null 2>&1 & echo $!');
    const memory = () => guest('cat /run/mem/mark 2>/dev/null || echo booted');
    const sleeping = () => guest(`[ -d /proc/${sleeper} ] && echo alive || echo gone`);

    // A stateful snapshot: the state goes with the snapshot's copy; the VM runs on.
    await vm.succeeded(
      t.engine,
      t.engine.snapshots.create(project, VM, { name: 'live', stateful: true }),
    );
    expect(await t.engine.snapshots.get(project, VM, 'live')).toMatchObject({ stateful: true });
    expect(existsSync(path.join(await snapshotDirOf(VM, 'live'), 'state'))).toBe(true);
    expect(existsSync(path.join(volume, 'state'))).toBe(false);
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    await guest('echo two > /run/mem/mark');
    await guest(`kill ${sleeper}`);
    await writeOnDisk(VM, 'after-live');

    // A stateless restore of a stateless snapshot is refused with stateful; this one brings memory back.
    expect(
      await errorOf(t.engine.snapshots.restore(project, VM, 'kept2', { stateful: true })),
    ).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'stateful' });
    const before = qemuPid(VM);
    await vm.succeeded(
      t.engine,
      t.engine.snapshots.restore(project, VM, 'live', { stateful: true }),
    );
    expect(alive(before)).toBe(false);
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    await vm.agentAnswers(t.engine, project, VM);
    expect(await memory()).toBe('one');
    expect(await sleeping()).toBe('alive');
    // The disk is the snapshot's too, and the state was used up.
    expect(await diskFiles(VM)).toEqual(['before']);
    expect(existsSync(path.join(volume, 'state'))).toBe(false);

    // A stateful stop keeps memory for the next start, which `lxc start` (stateful unset) runs on from.
    await guest('echo three > /run/mem/mark');
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'stop', stateful: true });
    expect(await t.engine.instances.get(project, VM)).toMatchObject({
      status: 'Stopped',
      stateful: true,
    });
    expect(existsSync(path.join(volume, 'state'))).toBe(true);
    await start(VM);
    await vm.agentAnswers(t.engine, project, VM);
    expect(await memory()).toBe('three');
    expect(await sleeping()).toBe('alive');
    expect(await t.engine.instances.get(project, VM)).toMatchObject({ stateful: false });
    expect(existsSync(path.join(volume, 'state'))).toBe(false);

    // A stateless start (`lxc start --stateless`) drops a saved state and boots.
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'stop', stateful: true });
    await t.engine.instances.changeStateAndWait(project, VM, {
      action: 'start',
      stateful: false,
    });
    await vm.agentAnswers(t.engine, project, VM);
    expect(await memory()).toBe('booted');
    expect(await t.engine.instances.get(project, VM)).toMatchObject({ stateful: false });
    expect(existsSync(path.join(volume, 'state'))).toBe(false);
    // Asked for a state there is none of: LXD's words.
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'stop', force: true });
    expect(
      await errorOf(
        t.engine.instances.changeState(project, VM, { action: 'start', stateful: true }),
      ),
    ).toMatchObject({ code: 'CONFLICT', message: 'Instance has no existing state to restore' });
  }, 900_000);

  it('deletes the VMs with their snapshots and runtime, stopping them first', async () => {
    const pids = ALL.map(qemuPid);
    for (const name of ALL) await t.engine.instances.delete(project, name, { force: true });
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const name of ALL) {
      const paths = vmPaths(dataDir, project, name);
      expect(existsSync(paths.runDir)).toBe(false);
      expect(existsSync(await volumeOf(name))).toBe(false);
      expect(existsSync(path.dirname(await snapshotDirOf(name, 'x')))).toBe(false);
    }
    expect(await t.engine.storage.listVolumes('default')).toEqual([]);
  }, 120_000);
});
