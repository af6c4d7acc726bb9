// Virtual machine images in the store, against a real QEMU (TCG): the
// built-in busybox VM image (a Debian kernel, a busybox initramfs, a qcow2
// root disk and qemu-guest-agent) is built, listed with its type, launched
// as a VM that runs commands and takes files through its agent, exported
// and imported back as the same image; a container cannot be made from it,
// and hostile VM tarballs (a disk naming a host file as its backing file,
// a container's and a VM's layout at once) are refused with nothing kept.
// Every QEMU is stopped by its own pid; no timing assertions.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, testBridgeName, waitFor, type TestEngine } from './helpers.ts';
import {
  agentAnswers,
  createBackedDisk,
  qemuPid,
  requireQemu,
  succeeded,
  tearDownVmTest,
} from './vm-helpers.ts';

const project = 'default';
const vm = `vm${randomBytes(3).toString('hex')}`;
const alias = `busybox-vm-${randomBytes(2).toString('hex')}`;
const bridge = testBridgeName();

let t: TestEngine;
let dataDir = '';
let work = '';
let fingerprint = '';

/** A unified tarball of `files` (name → content or a file to copy), packed with GNU tar. */
function tarball(name: string, files: Record<string, string | { copy: string }>): string {
  const dir = mkdtempSync(path.join(work, 'tar-'));
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(dir, file);
    execFileSync('mkdir', ['-p', path.dirname(target)]);
    if (typeof content === 'string') writeFileSync(target, content);
    else execFileSync('cp', [content.copy, target]);
  }
  const out = path.join(work, name);
  execFileSync('tar', ['-czf', out, '-C', dir, ...Object.keys(files)]);
  return out;
}

const metadataYaml = 'architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: test\n';

describe('virtual machine images (real QEMU)', () => {
  beforeAll(async () => {
    await requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-images-'));
    work = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-images-work-'));
    t = await startTestEngine(dataDir, { network: bridge });
  }, 60_000);

  afterAll(async () => {
    await tearDownVmTest(t, { dataDir, project, vms: [vm], bridge, dirs: [dataDir, work] });
  }, 60_000);

  it('builds the busybox VM image and lists it as a virtual machine', async () => {
    const result = await succeeded(t.engine, t.engine.images.buildBusyboxVm(project, { alias }));
    fingerprint = String(result['fingerprint']);
    const image = await t.engine.images.get(project, fingerprint);
    expect(image.type).toBe('virtual-machine');
    expect(image.properties).toMatchObject({ os: 'busybox', variant: 'vm' });
    expect(image.properties['description']).toMatch(/^BusyBox v[\d.]+ VM \(Linux 6\.1\./);
    expect(image.aliases.map((a) => a.name)).toEqual([alias]);
    const entry = await t.engine.images.getAlias(project, alias);
    expect(entry).toMatchObject({ target: fingerprint, type: 'virtual-machine' });
    // The tarball is LXD's VM layout (rootfs.img at the top) plus Berth's boot/.
    const exported = await t.engine.images.exportTarball(project, fingerprint);
    const names = execFileSync('tar', ['-tzf', exported.path], { encoding: 'utf8' }).split('\n');
    expect(names).toEqual(expect.arrayContaining(['metadata.yaml', 'rootfs.img', 'boot/vmlinuz']));
    expect(names.some((n) => n.startsWith('rootfs/'))).toBe(false);
  }, 600_000);

  it('refuses a container from a VM image, with LXD’s words and nothing created', async () => {
    const error = await errorOf(
      t.engine.instances.create(project, {
        name: `c${randomBytes(3).toString('hex')}`,
        type: 'container',
        source: { type: 'image', alias },
      }),
    );
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'type' });
    expect(error.message).toContain(
      `Requested image's type "virtual-machine" doesn't match instance type "container"`,
    );
    expect((await t.engine.instances.list(project)).map((i) => i.name)).not.toContain(vm);
    expect(await t.engine.instances.list(project)).toHaveLength(0);
  });

  it('launches a VM from the image that runs commands and takes files through its agent', async () => {
    await t.engine.instances.createAndWait(project, {
      name: vm,
      type: 'virtual-machine',
      source: { type: 'image', alias },
      config: { 'limits.memory': '256MiB' },
      start: true,
    });
    const instance = await t.engine.instances.get(project, vm);
    expect(instance).toMatchObject({ type: 'virtual-machine', status: 'Running' });
    expect(instance.config['volatile.base_image']).toBe(fingerprint);
    expect(instance.config['image.os']).toBe('busybox');

    await agentAnswers(t.engine, project, vm);
    const uname = await t.engine.instances.exec(project, vm, { command: ['uname', '-r'] });
    expect(uname.stdout).toMatch(/^6\.1\.\d+-\d+-amd64\n$/);
    const failed = await t.engine.instances.exec(project, vm, { command: ['sh', '-c', 'exit 3'] });
    expect(failed.exitCode).toBe(3);

    await t.engine.instances.filePush(project, vm, '/root/hello.txt', {
      content: Buffer.from('from the host\n'),
      mode: 0o640,
    });
    const cat = await t.engine.instances.exec(project, vm, { command: ['cat', '/root/hello.txt'] });
    expect(cat.stdout).toBe('from the host\n');
    const pulled = await t.engine.instances.filePull(project, vm, '/etc/os-release');
    expect(pulled.content?.toString()).toContain('ID=berth-tiny');
    // The image's OS lives on its root disk, not in RAM.
    const mounts = await t.engine.instances.exec(project, vm, { command: ['cat', '/proc/mounts'] });
    expect(mounts.stdout).toMatch(/^\/dev\/vda \/ ext4 rw/m);

    // A terminal: a pty in the guest, its size set and changed, signals and exit code kept.
    const shell = await t.engine.instances.execInteractive(
      project,
      vm,
      { command: ['sh'], environment: { GREETING: 'hello' }, cwd: '/root' },
      { cols: 100, rows: 30 },
    );
    let screen = '';
    shell.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString()));
    const until = (pattern: RegExp) =>
      waitFor(
        'the terminal',
        async () => screen,
        (s) => pattern.test(s),
        60_000,
      );
    shell.stdin.write('tty; stty size; pwd; echo "$GREETING $((6*7))"\n');
    await until(/hello 42/);
    expect(screen).toMatch(/\/dev\/pts\/\d+\r\n30 100\r\n\/root\r\n/);
    shell.resize(120, 40);
    shell.stdin.write('stty size\n');
    await until(/40 120/);
    // Ctrl-C reaches the foreground command through the pty's line discipline.
    shell.stdin.write('sleep 600\n');
    await new Promise((r) => setTimeout(r, 500));
    shell.stdin.write('\x03');
    shell.stdin.write('echo after $?\n');
    await until(/after 130/);
    shell.stdin.write('exit 5\n');
    expect(await shell.wait()).toBe(5);
    // The session's port is unplugged: nothing of it is left in QEMU.
    const ports = await t.engine.instances.exec(project, vm, {
      command: ['sh', '-c', 'cat /sys/class/virtio-ports/*/name'],
    });
    expect(ports.stdout).not.toContain('org.berth.pty');

    await t.engine.instances.changeStateAndWait(project, vm, { action: 'stop', timeout: 60 });
    expect((await t.engine.instances.get(project, vm)).status).toBe('Stopped');
    expect(qemuPid(dataDir, project, vm)).toBe(0);
    await t.engine.instances.delete(project, vm);
  }, 600_000);

  it('exports the image and imports it back as the same virtual machine image', async () => {
    const exported = await t.engine.images.exportTarball(project, fingerprint);
    const copy = path.join(work, 'busybox-vm.tar.gz');
    execFileSync('cp', [exported.path, copy]);
    await t.engine.images.delete(project, fingerprint);
    expect(
      readdirSync(path.join(dataDir, 'images')).filter((n) => n.startsWith(fingerprint)),
    ).toEqual([]);
    const result = await succeeded(
      t.engine,
      t.engine.images.importTarball(project, copy, { aliases: [{ name: alias }] }),
    );
    expect(result['fingerprint']).toBe(fingerprint);
    const image = await t.engine.images.get(project, fingerprint);
    expect(image.type).toBe('virtual-machine');
    expect((await t.engine.images.getAlias(project, alias)).type).toBe('virtual-machine');
  }, 300_000);

  it('refuses VM tarballs whose disk names a host file, or that mix layouts, keeping nothing', async () => {
    const before = readdirSync(path.join(dataDir, 'images')).sort();
    const backed = path.join(work, 'backed.qcow2');
    createBackedDisk(backed, '/etc/hostname');
    const hostile = tarball('backed.tar.gz', {
      'metadata.yaml': metadataYaml,
      'rootfs.img': { copy: backed },
    });
    const op = await t.engine.images.importTarball(project, hostile, {});
    const done = await t.engine.operations.wait(op.id);
    expect(done.status).toBe('Failure');
    expect(done.err).toContain('names a backing file ("/etc/hostname")');

    const mixed = tarball('mixed.tar.gz', {
      'metadata.yaml': metadataYaml,
      'rootfs/etc/hostname': 'x\n',
      'rootfs.img': { copy: backed },
    });
    const mixedDone = await t.engine.operations.wait(
      (await t.engine.images.importTarball(project, mixed, {})).id,
    );
    expect(mixedDone.status).toBe('Failure');
    expect(mixedDone.err).toContain('both rootfs/');

    const bootOnly = tarball('boot-only.tar.gz', {
      'metadata.yaml': metadataYaml,
      'boot/vmlinuz': 'not a kernel',
    });
    const bootDone = await t.engine.operations.wait(
      (await t.engine.images.importTarball(project, bootOnly, {})).id,
    );
    expect(bootDone.status).toBe('Failure');
    expect(bootDone.err).toContain('no rootfs.img');

    expect(readdirSync(path.join(dataDir, 'images')).sort()).toEqual(before);
    expect((await t.engine.images.list(project)).map((i) => i.fingerprint)).toEqual([fingerprint]);
  }, 120_000);
});
