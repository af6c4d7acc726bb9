// The qemu driver against a real QEMU (TCG): a tiny VM (Debian kernel +
// busybox initramfs with Debian's qemu-guest-agent, and a small qcow2 root
// disk, from images/tiny-vm-image.ts) created through the engine on its
// managed bridge (NAT off), booted on a qcow2 overlay of its disk, driven
// through the guest agent (exec with stdin and exit code, files, state) and
// its serial console, stopped gracefully (agent, ACPI) and by force, found
// again by a restarted engine, and deleted without a trace. Every QEMU here
// is stopped by its own pid file. No timing assertions: the machine is
// shared; waits poll.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleStream } from '../../src/drivers/driver.ts';
import { vmPaths } from '../../src/drivers/qemu/qemu-paths.ts';
import { IMAGE_DISK, ROOT_DISK } from '../../src/drivers/qemu/root-disk.ts';
import { tapName } from '../../src/drivers/qemu/vm-nics.ts';
import { isAlive as alive } from '../../src/drivers/qemu/vm-runtime.ts';
import type { InstanceState as VmState } from '../../src/schemas/index.ts';
import { TINY_VM_BANNER, TINY_VM_DISK_MARKER } from '../../src/images/tiny-vm-image.ts';
import { errorOf, startTestEngine, testBridgeName, waitFor, type TestEngine } from './helpers.ts';
import {
  BOOT_WAIT_MS,
  agentReady,
  booted,
  buildTinyVm,
  diskInfo,
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
let volumeDir = '';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function tap(): string {
  return tapName(path.resolve(dataDir), `${project}_${name}`, 'eth0');
}

/** Reads the console until `pattern` shows up in what arrived since the call. */
function expectOutput(stream: ConsoleStream, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
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

/** Types a line on the serial console once its shell prompts, and waits for `answer`. */
async function onConsole(line: string, answer: RegExp): Promise<void> {
  const console_ = await t.engine.instances.console(project, name, { cols: 80, rows: 24 });
  try {
    // Typed before the shell has opened ttyS0, input is lost: wait for its prompt.
    const prompt = expectOutput(console_, /berth-vm# /);
    console_.input.write('\n');
    await prompt;
    const done = expectOutput(console_, answer);
    console_.input.write(`${line}\n`);
    await done;
  } finally {
    console_.close();
  }
}

describe('qemu driver (real QEMU)', () => {
  beforeAll(async () => {
    await requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-qemu-'));
    imageDir = await buildTinyVm({ disk: { sizeBytes: 32 * MIB } });
    t = await startTestEngine(dataDir, { network: bridge });
  }, 300_000);

  afterAll(async () => {
    await tearDownVmTest(t, { dataDir, project, vms: [name], bridge, dirs: [dataDir, imageDir] });
  }, 60_000);

  it('reports the driver with its accelerator', () => {
    const info = t.engine.drivers().find((d) => d.type === 'virtual-machine');
    expect(info).toMatchObject({ name: 'qemu', available: true });
    expect(['kvm', 'tcg']).toContain(info?.details?.accel);
  });

  it('boots a VM on a qcow2 overlay of its image disk, attaches its serial console', async () => {
    await t.engine.instances.createAndWait(project, {
      name,
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'limits.memory': '256MiB', 'limits.cpu': '1' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '64MiB' } },
    });
    volumeDir = (await placeTinyVmImage(t.engine, project, name, imageDir)).dir;
    const imageHash = sha256(path.join(imageDir, IMAGE_DISK));

    const started = Date.now();
    await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
    await booted(t.engine, project, name);
    console.log(`tiny VM booted in ${Date.now() - started} ms`);

    // The overlay: in the volume, on the image's disk by a relative name, grown to `size`.
    const overlay = path.join(volumeDir, ROOT_DISK);
    expect(existsSync(overlay)).toBe(true);
    expect(diskInfo(overlay)).toMatchObject({
      format: 'qcow2',
      'virtual-size': 64 * MIB,
      'backing-filename': `rootfs/${IMAGE_DISK}`,
    });

    await onConsole('echo $((6*7))', /\r?\n42\r?\n/);

    const state = await t.engine.instances.state(project, name);
    expect(state.status).toBe('Running');
    expect(state.pid).toBe(qemuPid(dataDir, project, name));
    expect(state.memory.usage).toBe(256 * MIB);
    expect(state.cpu.usage).toBeGreaterThan(0);
    // The image's disk is read, never written.
    expect(sha256(path.join(imageDir, IMAGE_DISK))).toBe(imageHash);
  }, 300_000);

  it('runs commands through the guest agent: stdout, stderr, exit code, stdin, environment, cwd', async () => {
    await agentReady(t.engine, project, name);
    expect(await t.engine.instances.exec(project, name, { command: ['echo', 'hello'] })).toEqual({
      exitCode: 0,
      stdout: 'hello\n',
      stderr: '',
    });
    const failing = await t.engine.instances.exec(project, name, {
      command: ['sh', '-c', 'echo oops >&2; exit 3'],
    });
    expect(failing).toEqual({ exitCode: 3, stdout: '', stderr: 'oops\n' });
    const env = await t.engine.instances.exec(project, name, {
      command: ['sh', '-c', 'echo "$GREETING from $(pwd)"'],
      environment: { GREETING: 'hi' },
      cwd: '/etc',
    });
    expect(env.stdout).toBe('hi from /etc\n');

    // stdin streamed by the caller, ended: the command sees all of it, then EOF.
    const cat = await t.engine.instances.execProcess(project, name, {
      command: ['sh', '-c', 'wc -c; cat /dev/null'],
    });
    const out: Buffer[] = [];
    cat.stdout.on('data', (c: Buffer) => out.push(c));
    cat.stdin.write('abc');
    cat.stdin.write(Buffer.from('defg'));
    cat.stdin.end();
    expect(await cat.wait()).toBe(0);
    expect(Buffer.concat(out).toString('utf8').trim()).toBe('7');

    // What the guest sees of its disks: the overlay grown to 64 MiB, the image's filesystem on it.
    const disk = await t.engine.instances.exec(project, name, {
      command: ['sh', '-c', `cat /sys/block/vda/size; cat /mnt/${TINY_VM_DISK_MARKER}`],
    });
    expect(disk.stdout).toBe(`${(64 * MIB) / 512}\nthe tiny VM root disk\n`);
  }, 300_000);

  it('pushes, pulls and removes files through the agent', async () => {
    const bytes = randomBytes(100_000);
    await t.engine.instances.filePush(project, name, '/root/blob.bin', {
      content: bytes,
      mode: 0o600,
    });
    const pulled = await t.engine.instances.filePull(project, name, '/root/blob.bin');
    expect(pulled.content?.equals(bytes)).toBe(true);
    expect(pulled.entry).toMatchObject({
      type: 'file',
      mode: 0o600,
      uid: 0,
      gid: 0,
      size: 100_000,
    });

    // On the root disk, to be found again after a restart.
    await t.engine.instances.filePush(project, name, `/mnt/keep/note.txt`, {
      content: Buffer.from('kept\n'),
      createParents: true,
    });
    await t.engine.instances.filePush(project, name, '/root/link', {
      type: 'symlink',
      target: 'blob.bin',
    });
    expect((await t.engine.instances.filePull(project, name, '/root/link')).entry).toMatchObject({
      type: 'symlink',
      target: 'blob.bin',
    });
    expect((await t.engine.instances.filePull(project, name, '/root')).entries).toEqual([
      'blob.bin',
      'link',
    ]);

    await t.engine.instances.fileRemove(project, name, '/root/blob.bin');
    expect(
      await errorOf(t.engine.instances.filePull(project, name, '/root/blob.bin')),
    ).toMatchObject({ code: 'NOT_FOUND' });
  }, 120_000);

  it('shows the OS from the agent and the DHCP address on the managed bridge in state', async () => {
    const network = await t.engine.networks.get(bridge);
    const subnet = network.config['ipv4.address']!.split('.').slice(0, 3).join('.');
    const state = (await waitFor(
      'an IPv4 address on eth0',
      () => t.engine.instances.state(project, name),
      (s) => (s.network?.eth0?.addresses ?? []).some((a) => a.family === 'inet'),
      BOOT_WAIT_MS,
    )) as VmState;
    const instance = await t.engine.instances.get(project, name);
    const eth0 = state.network!.eth0!;
    expect(eth0.addresses.find((a) => a.family === 'inet')!.address.startsWith(`${subnet}.`)).toBe(
      true,
    );
    expect(eth0.hwaddr).toBe(instance.config['volatile.eth0.hwaddr']);
    expect(eth0.host_name).toBe(tap());
    expect(state.os_info).toMatchObject({
      os: 'Berth tiny VM',
      os_version: '1',
      hostname: 'berth-vm',
    });
    expect(state.os_info?.kernel_version).toMatch(/amd64/);
    // The tap is on the bridge.
    expect(path.basename(readlinkSync(`/sys/class/net/${tap()}/master`))).toBe(bridge);
  }, 180_000);

  it('refuses to raise limits.memory past the boot size while running, as LXD', async () => {
    const error = await errorOf(
      t.engine.instances.patch(project, name, { config: { 'limits.memory': '512MiB' } }),
    );
    expect(error).toMatchObject({
      code: 'CONFLICT',
      message:
        'Failed updating memory limit: Cannot increase memory size beyond boot time size when VM is running (Boot time size 256MiB, new size 512MiB)',
    });
    expect((await t.engine.instances.get(project, name)).config['limits.memory']).toBe('256MiB');
  });

  it('is found again, still running, by a restarted engine, and still execs', async () => {
    const pid = qemuPid(dataDir, project, name);
    await t.engine.close();
    t = await startTestEngine(dataDir, { network: bridge });
    const state = await t.engine.instances.state(project, name);
    expect(state).toMatchObject({ status: 'Running', pid });
    const exec = await t.engine.instances.exec(project, name, {
      command: ['cat', '/mnt/keep/note.txt'],
    });
    expect(exec).toEqual({ exitCode: 0, stdout: 'kept\n', stderr: '' });
    // QMP answers again: pause and resume through the new connection.
    await t.engine.instances.changeStateAndWait(project, name, { action: 'freeze' });
    expect((await t.engine.instances.state(project, name)).status).toBe('Frozen');
    await t.engine.instances.changeStateAndWait(project, name, { action: 'unfreeze' });
    expect((await t.engine.instances.state(project, name)).status).toBe('Running');
    expect(await t.engine.instances.consoleLog(project, name)).toContain(TINY_VM_BANNER);
  }, 120_000);

  it('shuts down gracefully through the agent (no acpid), removing the tap', async () => {
    // Without acpid the power button does nothing: only guest-shutdown can stop it in time.
    expect(
      (await t.engine.instances.exec(project, name, { command: ['killall', 'acpid'] })).exitCode,
    ).toBe(0);
    const pid = qemuPid(dataDir, project, name);
    await t.engine.instances.changeStateAndWait(project, name, { action: 'stop', timeout: 60 });
    expect(alive(pid)).toBe(false);
    expect(await t.engine.instances.consoleLog(project, name)).toMatch(/reboot: Power down/);
    expect((await t.engine.instances.state(project, name)).status).toBe('Stopped');
    expect(existsSync(`/sys/class/net/${tap()}`)).toBe(false);
  }, 120_000);

  it('keeps what was written on the root disk across a restart; notices a VM that powers itself off', async () => {
    await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
    await agentReady(t.engine, project, name);
    expect(
      (await t.engine.instances.exec(project, name, { command: ['cat', '/mnt/keep/note.txt'] }))
        .stdout,
    ).toBe('kept\n');
    const pid = qemuPid(dataDir, project, name);
    const seen = t.events.length;
    await onConsole('poweroff', /poweroff/);
    await waitFor(
      'QEMU to exit',
      async () => alive(pid),
      (a) => !a,
      60_000,
    );
    await waitFor(
      'the instance-stopped event',
      async () => t.events.slice(seen).map((e) => (e.metadata as { action?: string }).action),
      (actions) => actions.includes('instance-stopped'),
      30_000,
    );
    const instance = await t.engine.instances.get(project, name);
    expect(instance.status).toBe('Stopped');
    expect(instance.config['volatile.last_state.power']).toBe('STOPPED');
    await waitFor(
      'the tap to go',
      async () => existsSync(`/sys/class/net/${tap()}`),
      (present) => !present,
    );
  }, 300_000);

  it("without an agent: LXD's error, the lease address in state, forced off after the timeout; deletes without a trace", async () => {
    await t.engine.instances.changeStateAndWait(project, name, { action: 'start' });
    await agentReady(t.engine, project, name);
    // The shell expands $((0)): the typed line (echoed back) does not match, its output does.
    await onConsole('killall acpid qemu-ga; echo gone-$((0))', /gone-0/);
    const error = await errorOf(t.engine.instances.exec(project, name, { command: ['true'] }));
    expect(error).toMatchObject({ code: 'CONFLICT', message: "VM agent isn't currently running" });
    const state = (await t.engine.instances.state(project, name)) as VmState;
    expect(state.os_info).toBeUndefined();
    expect((state.network?.eth0?.addresses ?? []).some((a) => a.family === 'inet')).toBe(true);

    const pid = qemuPid(dataDir, project, name);
    await t.engine.instances.changeStateAndWait(project, name, { action: 'stop', timeout: 2 });
    expect(alive(pid)).toBe(false);

    await t.engine.instances.delete(project, name);
    const paths = vmPaths(dataDir, project, name);
    expect(existsSync(paths.runDir)).toBe(false);
    expect(existsSync(paths.logDir)).toBe(false);
    expect(existsSync(volumeDir)).toBe(false);
    expect(existsSync(`/sys/class/net/${tap()}`)).toBe(false);
  }, 300_000);
});
