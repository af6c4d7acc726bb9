// Backups and publishing of virtual machines against a real QEMU (TCG): the
// tiny VM (images/tiny-vm-image.ts) with its disk mounted on /mnt in the
// guest, written through the guest agent. A running VM is backed up (with
// a snapshot) and published while paused for the copy only, and runs on;
// its backup holds whole qcow2 disks in LXD's layout. The backup, imported
// under a new name after the VM is gone, boots with the VM's files and a
// restorable snapshot; so does the same backup with LXD's raw disks; a VM
// launched from the published image has them too. A backup whose disk
// names a host file as its backing file is refused, leaving nothing.
// Boots are few (each takes seconds to a minute under TCG): every boot
// checks several things. Every QEMU is stopped by its own pid file; no
// timing assertions, waits poll.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_DISK, ROOT_DISK } from '../../src/drivers/qemu/root-disk.ts';
import { NVRAM_FILE } from '../../src/drivers/qemu/vm-firmware.ts';
import { isAlive as alive } from '../../src/drivers/qemu/vm-runtime.ts';
import { errorOf, startTestEngine, testBridgeName, type TestEngine } from './helpers.ts';
import * as vm from './vm-helpers.ts';

const project = 'default';
const hex = randomBytes(3).toString('hex');
/** The VM backed up and published; its import (i), the import with raw disks (r), the VM from the image (p). */
const VM = `vm${hex}`;
const IMPORTED = `vm${hex}-i`;
const IMPORTED_RAW = `vm${hex}-r`;
const FROM_IMAGE = `vm${hex}-p`;
const HOSTILE = `vm${hex}-x`;
const ALL = [VM, IMPORTED, IMPORTED_RAW, FROM_IMAGE, HOSTILE];
const ALIAS = `published-${hex}`;
const bridge = testBridgeName();
const MIB = 1024 * 1024;
/** Stands in for OVMF's variables: what a backup must carry byte for byte. */
const nvram = randomBytes(128 * 1024);
const LIMITS = { 'limits.memory': '256MiB', 'limits.cpu': '1' };

let t: TestEngine;
let dataDir = '';
let imageDir = '';
let work = '';
/** The backup of the running VM, copied out before the VM (and its backups) went. */
let backupCopy = '';

// The shared helpers, on this file's engine and project.
const qemuPid = (name: string) => vm.qemuPid(dataDir, project, name);
const succeeded = (operation: Promise<{ id: string }>) => vm.succeeded(t.engine, operation);
const agentReady = (name: string) => vm.agentReady(t.engine, project, name);
const diskFiles = (name: string) => vm.diskFiles(t.engine, project, name);
const writeOnDisk = (name: string, file: string) => vm.writeOnDisk(t.engine, project, name, file);
const readOnDisk = (name: string, file: string) => vm.readOnDisk(t.engine, project, name, file);

async function start(name: string): Promise<void> {
  await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
}

/** Unpacks a backup tarball into a fresh folder; returns it. */
function unpack(tarball: string): string {
  const into = mkdtempSync(path.join(work, 'unpacked-'));
  execFileSync('tar', ['-xf', tarball, '-C', into]);
  return into;
}

/** What a crashed or failed import could leave: work folders in the pool and the backup dir. */
async function leftovers(): Promise<string[]> {
  const vms = path.dirname(
    (await t.engine.storage.instancePaths('default', project, VM, 'virtual-machine')).dir,
  );
  const inPool = existsSync(vms) ? readdirSync(vms).filter((n) => n.startsWith('.')) : [];
  const backups = path.join(dataDir, 'backups');
  const inBackups = existsSync(backups)
    ? readdirSync(backups).filter((n) => n.startsWith('.partial'))
    : [];
  return [...inPool, ...inBackups];
}

describe('backups and publishing of VMs (real QEMU)', () => {
  beforeAll(async () => {
    await vm.requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-qbackup-'));
    work = mkdtempSync(path.join(os.tmpdir(), 'berth-qbackup-work-'));
    imageDir = await vm.buildTinyVm({ disk: { sizeBytes: 32 * MIB } });
    t = await startTestEngine(dataDir, { network: bridge });
    await t.engine.instances.createAndWait(project, {
      name: VM,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { ...LIMITS, 'image.os': 'tiny', 'image.description': 'published tiny VM' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '64MiB' } },
    });
    await vm.placeTinyVmImage(t.engine, project, VM, imageDir);
  }, 300_000);

  afterAll(async () => {
    // The images it published, through the engine while it is open.
    const images = (await t?.engine.images.list(project).catch(() => [])) ?? [];
    for (const image of images)
      await t.engine.images.delete(project, image.fingerprint).catch(() => {});
    await vm.tearDownVmTest(t, {
      dataDir,
      project,
      vms: ALL,
      bridge,
      dirs: [dataDir, imageDir, work],
    });
  }, 120_000);

  it('backs up and publishes a running VM, held still for the copy only: whole qcow2 disks in LXD’s layout, and it runs on', async () => {
    await start(VM);
    await agentReady(VM);
    await writeOnDisk(VM, 'kept');
    // A UEFI VM's variable store (this tiny VM boots its kernel directly and has none of its own).
    const volume = (await t.engine.storage.instancePaths('default', project, VM, 'virtual-machine'))
      .dir;
    writeFileSync(path.join(volume, NVRAM_FILE), nvram);
    await succeeded(t.engine.snapshots.create(project, VM, { name: 'snap0' }));
    await writeOnDisk(VM, 'after');

    const backup = await succeeded(t.engine.backups.export(project, VM, { name: 'b0' }));
    expect(backup['name']).toBe('b0');
    // Resumed, its filesystems thawed: the guest writes on its disk again.
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    await writeOnDisk(VM, 'late');
    expect(await diskFiles(VM)).toEqual(['after', 'kept', 'late']);
    expect((await t.engine.backups.list(project, VM)).map((b) => b.name)).toEqual(['b0']);

    // The VM and its backups go together: keep a copy, as a user downloads it.
    backupCopy = path.join(work, 'b0.tar.gz');
    copyFileSync(t.engine.backups.files.tarball(project, VM, 'b0'), backupCopy);
    const unpacked = unpack(backupCopy);
    const b = path.join(unpacked, 'backup');
    const index = readFileSync(path.join(b, 'index.yaml'), 'utf8');
    expect(index).toMatch(/^type: virtual-machine$/m);
    expect(index).toMatch(/^snapshots:\n +- snap0$/m);
    expect(readFileSync(path.join(b, 'virtual-machine', 'backup.yaml'), 'utf8')).toContain(
      `name: ${VM}`,
    );
    expect(readdirSync(path.join(b, 'virtual-machine', 'boot')).sort()).toEqual([
      'cmdline',
      'initrd.img',
      'vmlinuz',
    ]);
    expect(existsSync(path.join(b, 'virtual-machine-snapshots', 'snap0', 'boot', 'vmlinuz'))).toBe(
      true,
    );
    // The variable store where LXD keeps it, for the VM and for its snapshot.
    expect(readFileSync(path.join(b, 'virtual-machine', NVRAM_FILE))).toEqual(nvram);
    expect(readFileSync(path.join(b, 'virtual-machine-snapshots', 'snap0', NVRAM_FILE))).toEqual(
      nvram,
    );
    for (const disk of [
      path.join(b, 'virtual-machine.img'),
      path.join(b, 'virtual-machine-snapshots', 'snap0.img'),
    ]) {
      // Taken while the VM ran, yet whole; one file standing alone, of the root device's size.
      expect(vm.checkDisk(disk)).toMatch(/No errors were found/);
      const info = vm.diskInfo(disk);
      expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': 64 * MIB });
      expect(info['backing-filename']).toBeUndefined();
    }
    // Only what the guest wrote is stored, not the 64 MiB it sees.
    expect(readFileSync(backupCopy).length).toBeLessThan(32 * MIB);

    const published = await succeeded(t.engine.backups.publish(project, VM, { alias: ALIAS }));
    const image = await t.engine.images.get(project, String(published['fingerprint']));
    expect(image.type).toBe('virtual-machine');
    expect(image.properties).toMatchObject({ os: 'tiny', description: 'published tiny VM' });
    expect((await t.engine.images.getAlias(project, ALIAS)).type).toBe('virtual-machine');
    expect((await t.engine.instances.get(project, VM)).status).toBe('Running');
    await writeOnDisk(VM, 'after-publish');
    // The image's tarball is LXD's VM layout (rootfs.img at the top) with Berth's boot/.
    const exported = await t.engine.images.exportTarball(project, image.fingerprint);
    const names = execFileSync('tar', ['-tzf', exported.path], { encoding: 'utf8' }).split('\n');
    expect(names).toEqual(
      expect.arrayContaining(['metadata.yaml', 'rootfs.img', 'boot/vmlinuz', 'boot/initrd.img']),
    );
    // A snapshot publishes too: its disk, standing alone in the store.
    const fromSnapshot = await succeeded(
      t.engine.backups.publish(project, VM, { snapshot: 'snap0' }),
    );
    expect(fromSnapshot['fingerprint']).not.toBe(image.fingerprint);
    const stored = path.join(dataDir, 'images', `${String(fromSnapshot['fingerprint'])}.rootfs`);
    expect(vm.checkDisk(path.join(stored, IMAGE_DISK))).toMatch(/No errors were found/);
    expect(vm.diskInfo(path.join(stored, IMAGE_DISK))['backing-filename']).toBeUndefined();
    expect(existsSync(path.join(stored, 'boot', 'vmlinuz'))).toBe(true);
    expect(await leftovers()).toEqual([]);
  }, 600_000);

  it('refuses a VM backup whose disk names a host file as its backing file, leaving nothing', async () => {
    const dir = mkdtempSync(path.join(work, 'hostile-'));
    mkdirSync(path.join(dir, 'backup'));
    writeFileSync(
      path.join(dir, 'backup', 'index.yaml'),
      [
        `name: ${HOSTILE}`,
        'backend: dir',
        'pool: default',
        'optimized: false',
        'type: virtual-machine',
        'config:',
        '  container:',
        `    name: ${HOSTILE}`,
        '    type: virtual-machine',
        '    architecture: x86_64',
        '    profiles: [default]',
        '    config: {}',
        '    devices: {}',
        '',
      ].join('\n'),
    );
    vm.createBackedDisk(path.join(dir, 'backup', 'virtual-machine.img'), '/etc/hostname');
    const tarball = path.join(work, 'hostile.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', dir, 'backup']);
    const volumesBefore = await t.engine.storage.listVolumes('default');

    const error = await errorOf(t.engine.backups.importAndWait(project, tarball));
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'tarball' });
    expect(error.message).toBe(
      'Backup tarball entry "backup/virtual-machine.img": the disk names a backing file ("/etc/hostname"); an image\'s disk must stand alone',
    );
    expect((await t.engine.instances.list(project)).map((i) => i.name)).not.toContain(HOSTILE);
    expect(await t.engine.storage.listVolumes('default')).toEqual(volumesBefore);
    expect(await leftovers()).toEqual([]);

    // A container's rootfs in a VM's backup: refused too, before anything is unpacked.
    mkdirSync(path.join(dir, 'backup', 'container', 'rootfs'), { recursive: true });
    const mixed = path.join(work, 'mixed.tar.gz');
    execFileSync('tar', ['-czf', mixed, '-C', dir, 'backup']);
    const mixedError = await errorOf(t.engine.backups.importAndWait(project, mixed));
    expect(mixedError).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'tarball' });
    expect(mixedError.message).toContain("holds a container's root filesystem");
    expect(await leftovers()).toEqual([]);
  }, 120_000);

  it('imports the backup after the VM is gone, also with LXD’s raw disks, and launches a VM from the published image: each boots with the files', async () => {
    await t.engine.instances.delete(project, VM, { force: true });
    expect(qemuPid(VM)).toBe(0);

    const imported = await t.engine.backups.importAndWait(project, backupCopy, { name: IMPORTED });
    expect(imported).toMatchObject({ name: IMPORTED, type: 'virtual-machine', status: 'Stopped' });
    expect(imported.config['image.os']).toBe('tiny');
    expect((await t.engine.snapshots.list(project, IMPORTED)).map((s) => s.name)).toEqual([
      'snap0',
    ]);
    // The backup's disk is the image disk of a fresh overlay named relatively, as a launch makes.
    const volume = (
      await t.engine.storage.instancePaths('default', project, IMPORTED, 'virtual-machine')
    ).dir;
    expect(vm.diskInfo(path.join(volume, ROOT_DISK))['backing-filename']).toBe(
      path.join('rootfs', IMAGE_DISK),
    );
    // The variable store came back beside the disk, where the firmware reads it.
    expect(readFileSync(path.join(volume, NVRAM_FILE))).toEqual(nvram);

    // LXD writes its disks raw: the same backup with raw disks imports too.
    const raw = unpack(backupCopy);
    for (const disk of [
      path.join(raw, 'backup', 'virtual-machine.img'),
      path.join(raw, 'backup', 'virtual-machine-snapshots', 'snap0.img'),
    ]) {
      execFileSync('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', disk, `${disk}.raw`]);
      execFileSync('mv', [`${disk}.raw`, disk]);
    }
    const rawTarball = path.join(work, 'raw.tar');
    execFileSync('tar', ['-cf', rawTarball, '-C', raw, 'backup']);
    await t.engine.backups.importAndWait(project, rawTarball, { name: IMPORTED_RAW });
    expect((await t.engine.snapshots.list(project, IMPORTED_RAW)).map((s) => s.name)).toEqual([
      'snap0',
    ]);

    await t.engine.instances.createAndWait(project, {
      name: FROM_IMAGE,
      type: 'virtual-machine',
      source: { type: 'image', alias: ALIAS },
      config: LIMITS,
    });

    for (const name of [IMPORTED, IMPORTED_RAW, FROM_IMAGE]) await start(name);
    for (const name of [IMPORTED, IMPORTED_RAW, FROM_IMAGE]) await agentReady(name);
    // As the backup held it: written before it, not after.
    expect(await diskFiles(IMPORTED)).toEqual(['after', 'kept']);
    expect(await readOnDisk(IMPORTED, 'kept')).toBe('kept\n');
    expect(await diskFiles(IMPORTED_RAW)).toEqual(['after', 'kept']);
    // As the VM was when published.
    expect(await diskFiles(FROM_IMAGE)).toEqual(['after', 'kept', 'late']);
    expect(await readOnDisk(FROM_IMAGE, 'late')).toBe('late\n');
    // Each writes its own disk.
    await writeOnDisk(IMPORTED, 'mine');
    expect(await diskFiles(IMPORTED_RAW)).toEqual(['after', 'kept']);
  }, 900_000);

  it('restores the snapshot that came with the backup', async () => {
    await succeeded(t.engine.snapshots.restore(project, IMPORTED, 'snap0'));
    expect((await t.engine.instances.get(project, IMPORTED)).status).toBe('Running');
    await agentReady(IMPORTED);
    expect(await diskFiles(IMPORTED)).toEqual(['kept']);
  }, 600_000);

  it('deletes the VMs with their snapshots and runtime', async () => {
    const pids = ALL.map(qemuPid);
    for (const name of [IMPORTED, IMPORTED_RAW, FROM_IMAGE])
      await t.engine.instances.delete(project, name, { force: true });
    for (const pid of pids) expect(pid === 0 || !alive(pid)).toBe(true);
    expect(await t.engine.storage.listVolumes('default')).toEqual([]);
  }, 120_000);
});
