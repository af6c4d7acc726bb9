// Custom storage volumes in a VM, against a real QEMU (TCG) and the tiny VM
// (images/tiny-vm-image.ts): a block volume is a virtio disk the guest finds
// by its serial (the device's name) and writes raw, what it wrote is on the
// volume's disk on the host; a filesystem volume is shared at its path,
// files going both ways. A running VM takes the block volume out and back
// in (hot-plug, the same data on it) but refuses to lose the shared one; a
// volume in use cannot be deleted; a block volume with a path is refused
// before QEMU starts. Every QEMU is stopped by its own pid file; no
// timing assertions, waits poll.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, testBridgeName, waitFor, type TestEngine } from './helpers.ts';
import * as vm from './vm-helpers.ts';

const project = 'default';
const hex = randomBytes(3).toString('hex');
const VM = `vm${hex}`;
const BLOCK = `t-blk-${hex}`;
const FILES = `t-fs-${hex}`;
const MARK = `berth-block-${hex}`;
const bridge = testBridgeName();
const MIB = 1024 * 1024;

let t: TestEngine;
let dataDir = '';
let imageDir = '';

async function guest(command: string[]) {
  return t.engine.instances.exec(project, VM, { command });
}

async function volumeDir(name: string) {
  return (await t.engine.storage.instancePaths('default', project, name, 'custom')).dir;
}

/** The first bytes of a file, without reading a whole disk. */
function head(file: string, bytes: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    readSync(fd, buffer, 0, bytes, 0);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The guest's disk (vdX) whose serial is `serial`; '' when it has none. */
async function diskNamed(serial: string): Promise<string> {
  const found = await guest([
    'sh',
    '-c',
    'for d in /sys/block/vd*; do [ "$(cat $d/serial 2>/dev/null)" = "$1" ] && echo ${d##*/}; done; true',
    'sh',
    serial,
  ]);
  expect(found.exitCode).toBe(0);
  return found.stdout.trim();
}

/** PUT the VM's devices (its local config stays). */
async function setDevices(devices: Record<string, Record<string, string>>) {
  const current = await t.engine.instances.get(project, VM);
  const config = Object.fromEntries(
    Object.entries(current.config).filter(([key]) => !key.startsWith('volatile.')),
  );
  return t.engine.instances.update(project, VM, {
    config,
    devices,
    profiles: current.profiles,
  });
}

const volumeDisks = {
  data: { type: 'disk', pool: 'default', source: BLOCK },
  files: { type: 'disk', pool: 'default', source: FILES, path: '/srv/files' },
};

describe('custom volumes in a VM (real QEMU)', () => {
  beforeAll(async () => {
    await vm.requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-qvol-'));
    imageDir = await vm.buildTinyVm({ disk: { sizeBytes: 32 * MIB } });
    t = await startTestEngine(dataDir, { network: bridge });
    await t.engine.volumes.create('default', project, {
      name: BLOCK,
      content_type: 'block',
      config: { size: '16MiB' },
    });
    await t.engine.volumes.create('default', project, { name: FILES });
    writeFileSync(path.join(await volumeDir(FILES), 'hello.txt'), 'from the host\n');
    await t.engine.instances.createAndWait(project, {
      name: VM,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.memory': '256MiB', 'limits.cpu': '1' },
      devices: {
        root: { type: 'disk', path: '/', pool: 'default', size: '64MiB' },
        ...volumeDisks,
      },
    });
    await vm.placeTinyVmImage(t.engine, project, VM, imageDir);
  }, 300_000);

  afterAll(async () => {
    await t?.engine.instances.delete(project, VM, { force: true }).catch(() => {});
    for (const name of [BLOCK, FILES])
      await t?.engine.volumes.delete('default', project, name).catch(() => {});
    await vm.tearDownVmTest(t, {
      dataDir,
      project,
      vms: [VM],
      bridge,
      dirs: [dataDir, imageDir],
    });
  }, 120_000);

  it('gives the guest the block volume as a disk named by its serial, and shares the filesystem volume', async () => {
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'start' });
    await vm.agentReady(t.engine, project, VM);

    // The disk whose serial is the device's name; the root disk is another.
    const dev = await diskNamed('data');
    expect(dev).toMatch(/^vd[b-z]$/);
    expect((await guest(['cat', `/sys/block/${dev}/size`])).stdout.trim()).toBe(
      String((16 * MIB) / 512),
    );
    const write = await guest(['sh', '-c', `printf %s ${MARK} > /dev/${dev} && sync`]);
    expect(write.exitCode).toBe(0);

    const hello = await waitFor(
      'the filesystem volume mounted at /srv/files',
      () => guest(['cat', '/srv/files/hello.txt']),
      (r) => r.exitCode === 0,
      vm.BOOT_WAIT_MS,
    );
    expect(hello.stdout).toBe('from the host\n');
    expect((await guest(['sh', '-c', 'echo from the guest > /srv/files/guest.txt'])).exitCode).toBe(
      0,
    );
    expect(readFileSync(path.join(await volumeDir(FILES), 'guest.txt'), 'utf8')).toBe(
      'from the guest\n',
    );
    expect((await t.engine.volumes.get('default', project, BLOCK)).used_by).toEqual([
      `/1.0/instances/${VM}`,
    ]);
  }, 600_000);

  it('hot-unplugs and hot-plugs the block volume on the running VM; a shared volume stays', async () => {
    const current = await t.engine.instances.get(project, VM);
    const { data: _data, ...withoutBlock } = current.devices;
    await setDevices(withoutBlock);
    await waitFor(
      'the disk to leave the guest',
      () => diskNamed('data'),
      (dev) => dev === '',
      vm.BOOT_WAIT_MS,
    );
    expect((await t.engine.volumes.get('default', project, BLOCK)).used_by).toEqual([]);

    await setDevices(current.devices);
    const dev = await waitFor(
      'the disk back in the guest',
      () => diskNamed('data'),
      (d) => d !== '',
      vm.BOOT_WAIT_MS,
    );
    // The same volume: what the guest wrote before the unplug is on it.
    expect((await guest(['head', '-c', String(MARK.length), `/dev/${dev}`])).stdout).toBe(MARK);

    const { files: _files, ...withoutShare } = current.devices;
    const error = await errorOf(setDevices(withoutShare));
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect(error.message).toContain('Cannot detach directory while instance is running');
    expect((await t.engine.instances.get(project, VM)).devices['files']).toBeDefined();
    expect(await errorOf(t.engine.volumes.delete('default', project, BLOCK))).toMatchObject({
      message: 'The storage volume is still in use',
    });
  }, 600_000);

  it('keeps what the guest wrote on the volume’s raw disk on the host', async () => {
    await t.engine.instances.changeStateAndWait(project, VM, { action: 'stop', force: true });
    expect(vm.qemuPid(dataDir, project, VM)).toBe(0);
    expect(head(path.join(await volumeDir(BLOCK), 'root.img'), MARK.length)).toBe(MARK);
  });

  it('refuses a block volume with a path before QEMU starts, naming the field', async () => {
    await t.engine.instances.patch(project, VM, {
      devices: { data: { ...volumeDisks.data, path: '/mnt/data' } },
    });
    const error = await errorOf(
      t.engine.instances.changeStateAndWait(project, VM, { action: 'start' }),
    );
    expect(error.message).toContain('Custom block volumes cannot have a path defined');
    expect(vm.qemuPid(dataDir, project, VM)).toBe(0);
  });
});
